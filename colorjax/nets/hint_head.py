"""What a hint generator adds to its network: the hint channels and the
propagation it refines (`hint_input`), the zero-initialised head that
refines it (`refine`), and the blend of the hinted answer with the
automatic one by the gate (`stacked`, `hint_inputs`, `hint_answer`), shared
by `colorjax.nets.models`' U-Net and CNN.
"""

from typing import Any, Optional, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from colorjax.hints import propagation as hints_lib

__all__ = ['hint_answer', 'hint_input', 'hint_inputs', 'refine', 'stacked']


def hint_input(l: jax.Array, hint_ab: Optional[jax.Array],
               hint_mask: Optional[jax.Array], prior_ab: Tuple[float, float],
               iterations: int, reach: float = 0.0
               ) -> Tuple[jax.Array, jax.Array]:
  """The input of a hint generator and the propagation it refines.

  Args:
    l: model-range L (B, H, W, 1).
    hint_ab: model-range hint a, b (B, H, W, 2), or None (no hints).
    hint_mask: 1 where a hint was given (B, H, W, 1), or None.
    prior_ab: the model-range colour where no hint reaches.
    iterations: Jacobi sweeps per level of the propagation.
    reach: 0: Levin et al.'s propagation (`hints.propagate`: one hint
      colours the whole image); > 0: `hints.propagate_local`, whose
      influence fades over `reach` of the longer side.

  Returns:
    The input and the propagation the head refines. With reach 0: (L, hint
    a, b, mask, propagation), 6 channels; with reach > 0: (L, hint a, b,
    mask, blend, the hints' colour, confidence), 9 channels, refining the
    blend (the prior far from every hint).
  """
  l = l.astype(jnp.float32)
  if hint_ab is None:
    hint_ab = jnp.zeros(l.shape[:-1] + (2,), jnp.float32)
    hint_mask = jnp.zeros_like(l)
  hint_mask = hint_mask.astype(jnp.float32)
  hint_ab = hint_ab.astype(jnp.float32) * hint_mask
  prior = jnp.asarray(prior_ab, jnp.float32)
  if reach <= 0:
    base = jax.lax.stop_gradient(hints_lib.propagate(
        l, hint_ab, hint_mask, prior, iterations))
    return jnp.concatenate([l, hint_ab, hint_mask, base], -1), base
  colour, confidence, base = jax.lax.stop_gradient(hints_lib.propagate_local(
      l, hint_ab, hint_mask, prior, reach, iterations))
  return jnp.concatenate([l, hint_ab, hint_mask, base, colour, confidence],
                         -1), base


def refine(base: jax.Array, features: jax.Array, dtype: Any) -> jax.Array:
  """ab = tanh(atanh(base) + head(features)), the head zero-initialised, so a
  hint generator starts as the propagation and learns what it gets wrong."""
  head = nn.Dense(2, kernel_init=nn.initializers.zeros, dtype=dtype,
                  name='head')(features)
  return jnp.tanh(jnp.arctanh(jnp.clip(base, -0.995, 0.995)) +
                  head.astype(jnp.float32))


def stacked(module, train: bool) -> bool:
  """Whether a hint generator also computes its automatic answer (no hint),
  stacked below the hinted one on the batch, to blend the two: always with
  a learned gate (it trains through the blend), at inference with a fixed
  one."""
  return module.hints and (module.learned_gate or
                           (not train and module.gate[0] > 0))


def hint_inputs(module, l, hint_ab, hint_mask, stacked):
  """(input, base) of a hint generator; when `stacked`, for the hints and,
  below them in the batch, for no hint (the automatic answer)."""
  args = (module.prior_ab, module.propagation_iterations, module.reach)
  x, base = hint_input(l, hint_ab, hint_mask, *args)
  if stacked:
    x_auto, base_auto = hint_input(l, None, None, *args)
    x, base = (jnp.concatenate([x, x_auto]), jnp.concatenate([base, base_auto]))
  return x, base


def hint_answer(module, features, base, l, hint_ab, hint_mask, stacked):
  """A hint generator's ab from its last features: the refined propagation,
  and when `stacked` the hints' answer blended with the automatic one (the
  two halves of the batch) by the gate: with `learned_gate`, a sigmoid of a
  1x1 head on the hinted features, trained through the blend; otherwise
  `hints.gate`, fixed (how strongly each pixel connects to a hint)."""
  ab = refine(base, features, module.dtype)
  if not stacked:
    return ab
  hinted, auto = jnp.split(ab, 2)
  if module.learned_gate:
    # Zero-initialised: the blend starts half and half.
    logit = nn.Dense(1, kernel_init=nn.initializers.zeros, dtype=module.dtype,
                     name='gate_head')(jnp.split(features, 2)[0])
    g = jax.nn.sigmoid(logit.astype(jnp.float32))
  elif hint_ab is None:
    return auto
  else:
    g = hints_lib.gate(l, hint_ab, hint_mask, *module.gate,
                       module.propagation_iterations, module.cast_chroma)
  return g * hinted + (1.0 - g) * auto
