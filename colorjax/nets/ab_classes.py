"""Colour as classes (Zhang, Isola & Efros, "Colorful Image Colorization", 2016).

An L1 (or L2) regression of a, b averages the plausible colours of a pixel
into a muted one. Predicting a distribution over the quantised ab gamut keeps
the alternatives apart; its *annealed mean* (the mean of the softmax at a
temperature T < 1) then chooses how far to lean towards the mode: T = 1 is the
plain mean, T -> 0 the most likely colour. T is an inference-time knob.

* `bin_centres()`: the centres (CIELAB a, b) of the 10x10 ab cells that some
  sRGB colour falls in (about 300 of them).
* `soft_targets()`: each true ab spread over its 5 nearest centres with a
  Gaussian (sigma 5), as in the paper.
* `class_weights()`: rebalancing, so rare saturated colours are not drowned
  by the common browns: w ~ 1 / ((1 - lam) * p_smooth + lam / Q), with
  sum(p_smooth * w) = 1.
* `loss()`: the rebalanced cross-entropy; `annealed_mean()`: the decoding.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from colorjax.colour import spaces

__all__ = ['annealed_mean', 'bin_centres', 'class_weights', 'GRID', 'loss',
           'nearest_class', 'NEIGHBOURS', 'num_classes', 'SIGMA',
           'soft_targets']

GRID = 10.0  # ab cell size (CIELAB units).
NEIGHBOURS = 5
SIGMA = 5.0


@functools.lru_cache(maxsize=None)
def bin_centres() -> np.ndarray:
  """(Q, 2) float32 CIELAB a, b of every grid cell the sRGB gamut reaches."""
  levels = np.linspace(0.0, 1.0, 65, dtype=np.float32)
  rgb = np.stack(np.meshgrid(levels, levels, levels, indexing='ij'), -1)
  ab = np.asarray(spaces.rgb_to_lab(rgb.reshape(-1, 3)))[:, 1:]
  cells = np.unique(np.round(ab / GRID).astype(np.int32), axis=0)
  return (cells * GRID).astype(np.float32)


def num_classes() -> int:
  return len(bin_centres())


def _sq_distances(ab: jax.Array) -> jax.Array:
  """(..., Q) squared distances of CIELAB ab (..., 2) to the bin centres."""
  centres = jnp.asarray(bin_centres())
  return (jnp.sum(ab**2, -1, keepdims=True) - 2 * ab @ centres.T +
          jnp.sum(centres**2, -1))


def soft_targets(ab: jax.Array) -> jax.Array:
  """(..., Q) target distributions of CIELAB ab (..., 2)."""
  d2, idx = jax.lax.top_k(-_sq_distances(ab), NEIGHBOURS)
  w = jax.nn.softmax(d2 / (2 * SIGMA**2), axis=-1)  # exp(-d^2/2s^2), normed.
  return jnp.sum(jax.nn.one_hot(idx, num_classes()) * w[..., None], axis=-2)


def nearest_class(ab: jax.Array) -> jax.Array:
  """(...) int32 index of the nearest bin centre of CIELAB ab (..., 2)."""
  return jnp.argmin(_sq_distances(ab), axis=-1).astype(jnp.int32)


def class_weights(images: np.ndarray, mix: float = 0.5,
                  chunk: int = 256) -> np.ndarray:
  """Rebalancing weights (Q,) from the ab histogram of uint8 RGB `images`.

  Args:
    images: (N, H, W, 3) uint8, the training images.
    mix: lambda, the weight of the uniform distribution in the mix (0: full
      rebalancing by inverse frequency; 1: no rebalancing).
    chunk: images per histogram call.
  """
  q = num_classes()

  @jax.jit
  def counts(rgb):
    ab = spaces.rgb_to_lab(jnp.asarray(rgb, jnp.float32) / 255.0)[..., 1:]
    idx = nearest_class(ab).reshape(-1)
    return jnp.bincount(idx, length=q)

  hist = sum(np.asarray(counts(images[i:i + chunk]), np.float64)
             for i in range(0, len(images), chunk))
  p = hist / max(hist.sum(), 1.0)
  centres = bin_centres().astype(np.float64)
  d2 = np.sum((centres[:, None] - centres[None]) ** 2, -1)
  kernel = np.exp(-d2 / (2 * SIGMA**2))
  p_smooth = kernel @ p / kernel.sum(1)
  p_smooth /= p_smooth.sum()
  w = 1.0 / ((1.0 - mix) * p_smooth + mix / q)
  return (w / np.sum(p_smooth * w)).astype(np.float32)


def loss(logits: jax.Array, target_ab: jax.Array, weights: jax.Array,
         ab_scale: float) -> jax.Array:
  """Mean rebalanced cross-entropy of logits (..., Q) against model-range ab
  (at `ab_scale`).

  Each pixel's cross-entropy with its soft target is weighted by the weight
  of its nearest class.
  """
  ab = spaces.ab_from_model(target_ab.astype(jnp.float32), ab_scale)
  log_p = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  ce = -jnp.sum(soft_targets(ab) * log_p, axis=-1)
  return jnp.mean(ce * jnp.asarray(weights)[nearest_class(ab)])


def annealed_mean(logits: jax.Array, temperature: float,
                  ab_scale: float) -> jax.Array:
  """Model-range ab (..., 2) at `ab_scale` of logits (..., Q): the mean at
  `temperature`."""
  p = jax.nn.softmax(logits.astype(jnp.float32) / temperature, axis=-1)
  return spaces.ab_to_model(p @ jnp.asarray(bin_centres()), ab_scale)
