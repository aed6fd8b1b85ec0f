"""Colour hints: propagated (on the device and as Levin et al.'s exact solve)
and gated; `colorjax.hints.simulation` draws them for training.

A hint map is a pair (hint_ab, mask): hint_ab (B, H, W, 2) holds a, b in the
model range where mask (B, H, W, 1) is 1, and 0 elsewhere. Zero hints (mask
all 0) is automatic colourisation, so one model serves both.

* `propagate`: Levin, Lischinski & Weiss 2004 ("Colorization using
  Optimization"): every pixel without a hint is the affinity-weighted mean of
  its 3x3 neighbours, with affinities from lightness. Solved on the device
  by Jacobi iterations from coarse to fine (the fixed point is the exact
  solution); where no hint exists anywhere the prior colour remains. The
  hint models read it as two more input channels and refine it.
* `propagate_local`: the same propagation with a pull toward "no hint":
  each step of the walk from a pixel to a hint keeps only (1 - eps) of the
  hint's weight, so a hint's influence fades over `reach` (a fraction of the
  image's longer side) and faster across lightness edges, where the
  affinities lead away from it. Returns the hints' colour where they reach,
  the confidence (how strongly each pixel is connected to any hint: 1 on a
  hint, 0 far from all) and their blend with the prior colour. A hint
  model's first click then colours its region, not the whole painting.
* `levin`: the same linear system solved exactly with `scipy.sparse` (the
  baseline of `evaluate --hints`, and the check of `propagate`).
"""

from typing import Tuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ['affinities', 'gate', 'levin', 'propagate', 'propagate_local']

# The 8 neighbours of a pixel in its 3x3 window.
_OFFSETS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                 if (dy, dx) != (0, 0))
# Levin et al.'s published code: the variance is scaled by 0.6 and floored so
# that the nearest neighbour keeps at least a 1% weight.
_VAR_SCALE = 0.6
_MIN_VAR = 2e-6


def _shift(x: jax.Array, dy: int, dx: int) -> jax.Array:
  """x[..., y + dy, x + dx, :] with zeros outside (B, H, W, C)."""
  h, w = x.shape[1:3]
  x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  return x[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]


def affinities(y: jax.Array) -> jax.Array:
  """Row-normalised 3x3 affinities of lightness y in [0, 1] (B, H, W, 1).

  Returns (B, H, W, 8): the weight of each neighbour in `_OFFSETS` order;
  neighbours outside the image weigh 0.
  """
  y = jnp.asarray(y, jnp.float32)
  inside = jnp.ones_like(y)
  ny = jnp.concatenate([_shift(y, dy, dx) for dy, dx in _OFFSETS], -1)
  nin = jnp.concatenate([_shift(inside, dy, dx) for dy, dx in _OFFSETS], -1)
  count = 1 + jnp.sum(nin, -1, keepdims=True)
  mean = (y + jnp.sum(ny * nin, -1, keepdims=True)) / count
  var = ((y - mean) ** 2 + jnp.sum(nin * (ny - mean) ** 2, -1,
                                   keepdims=True)) / count
  d2 = (ny - y) ** 2
  nearest = jnp.min(jnp.where(nin > 0, d2, jnp.inf), -1, keepdims=True)
  var = jnp.maximum(jnp.maximum(var * _VAR_SCALE, nearest / np.log(100.0)),
                    _MIN_VAR)
  w = jnp.exp(-d2 / var) * nin
  return w / jnp.sum(w, -1, keepdims=True)


def _jacobi(x: jax.Array, w: jax.Array, hint: jax.Array, mask: jax.Array,
            iterations: int, keep: float = 1.0) -> jax.Array:
  """Sweeps x = keep * (affinity-weighted mean of the 3x3 neighbours) off the
  hints, x = hint on them (keep 1: Levin et al.'s system)."""
  def step(_, x):
    mean = sum(w[..., k:k + 1] * _shift(x, dy, dx)
               for k, (dy, dx) in enumerate(_OFFSETS))
    return jnp.where(mask > 0, hint, keep * mean if keep != 1.0 else mean)
  return jax.lax.fori_loop(0, iterations, step, x)


def _down(x: jax.Array) -> jax.Array:
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).mean((2, 4))


def _pyramid(l: jax.Array, hint_ab: jax.Array, mask: jax.Array) -> list:
  """[(L, hint a, b x mask, mask)] from full size down, halving while the
  sides stay even and >= 8: the levels of the coarse-to-fine sweeps."""
  levels = [(l, hint_ab * mask, mask)]
  while all(s % 2 == 0 and s >= 8 for s in levels[-1][0].shape[1:3]):
    y, h, m = levels[-1]
    levels.append((_down(y), _down(h), _down(m)))
  return levels


def propagate(l: jax.Array, hint_ab: jax.Array, mask: jax.Array,
              prior_ab: jax.Array, iterations: int = 40) -> jax.Array:
  """Levin et al.'s propagation of the hints over the image, on the device.

  Args:
    l: (B, H, W, 1) lightness in the model range [-1, 1].
    hint_ab: (B, H, W, 2) hint a, b (model range) where `mask` is 1.
    mask: (B, H, W, 1) 1 where a hint is given.
    prior_ab: (2,) the colour of images without any hint.
    iterations: Jacobi sweeps per level of the pyramid (halving while the
      sides stay even and >= 4, coarsest first).

  Returns:
    (B, H, W, 2) a, b in the model range, equal to the hints where given.
  """
  l = jnp.asarray(l, jnp.float32)
  hint_ab = jnp.asarray(hint_ab, jnp.float32)
  mask = jnp.asarray(mask, jnp.float32)
  levels = _pyramid(l, hint_ab, mask)
  y, h, m = levels[-1]
  ab = jnp.broadcast_to(jnp.asarray(prior_ab, jnp.float32),
                        y.shape[:3] + (2,))
  for i, (y, h, m) in enumerate(reversed(levels)):
    if i:
      ab = jnp.repeat(jnp.repeat(ab, 2, 1), 2, 2)
    # A coarse cell is a hint where any of its pixels is: its mean colour.
    given = (m > 0).astype(jnp.float32)
    hint = h / jnp.maximum(m, 1e-6)
    ab = _jacobi(jnp.where(given > 0, hint, ab), affinities((y + 1) / 2),
                 hint, given, iterations)
  return ab


def _decay(reach_px: float) -> float:
  """The per-step loss eps of a walk whose influence fades over `reach_px`
  pixels in a region of uniform lightness: the continuous limit of the 3x3
  walk (mean squared step 1.5 px^2) is a screened diffusion of length
  sqrt(1.5 / (4 eps))."""
  return min(0.5, 0.375 / max(reach_px, 1e-3) ** 2)


def propagate_local(l: jax.Array, hint_ab: jax.Array, mask: jax.Array,
                    prior_ab: jax.Array, reach: float,
                    iterations: int = 40
                    ) -> Tuple[jax.Array, jax.Array, jax.Array]:
  """Levin et al.'s propagation whose influence fades away from the hints.

  Solves x = (1 - eps) * sum_k w_k x_k off the hints, x = (hint a, b, 1) on
  them, for the three channels at once: the third is the confidence c, the
  first two the hints' colour weighted by it. With eps = 0 this is
  `propagate` (c = 1 wherever a hint exists); with eps > 0 a hint reaches
  about `reach` of the longer side through uniform lightness and less across
  edges. Jacobi sweeps from coarse to fine, as `propagate`.

  Args:
    l: (B, H, W, 1) lightness in the model range [-1, 1].
    hint_ab: (B, H, W, 2) hint a, b (model range) where `mask` is 1.
    mask: (B, H, W, 1) 1 where a hint is given.
    prior_ab: (2,) the colour far from every hint.
    reach: the fading length as a fraction of the longer side (> 0).
    iterations: Jacobi sweeps per level of the pyramid.

  Returns:
    (colour, confidence, blend): colour (B, H, W, 2) the hints' a, b where
    they reach (the prior where c is 0), confidence (B, H, W, 1) in [0, 1],
    blend = c * colour + (1 - c) * prior.
  """
  l = jnp.asarray(l, jnp.float32)
  hint_ab = jnp.asarray(hint_ab, jnp.float32)
  mask = jnp.asarray(mask, jnp.float32)
  prior_ab = jnp.asarray(prior_ab, jnp.float32)
  levels = _pyramid(l, hint_ab, mask)
  reach_px = reach * max(l.shape[1:3])
  x = jnp.zeros(levels[-1][0].shape[:3] + (3,), jnp.float32)
  for i, (y, h, m) in enumerate(reversed(levels)):
    level = len(levels) - 1 - i
    if i:
      x = jnp.repeat(jnp.repeat(x, 2, 1), 2, 2)
    given = (m > 0).astype(jnp.float32)
    hint = jnp.concatenate([h / jnp.maximum(m, 1e-6), jnp.ones_like(m)], -1)
    keep = 1.0 - _decay(reach_px / 2 ** level)
    x = _jacobi(jnp.where(given > 0, hint, x), affinities((y + 1) / 2),
                hint, given, iterations, keep)
  weighted, confidence = x[..., :2], jnp.clip(x[..., 2:], 0.0, 1.0)
  colour = jnp.where(confidence > 1e-6,
                     weighted / jnp.maximum(confidence, 1e-6), prior_ab)
  blend = weighted + (1.0 - confidence) * prior_ab
  return colour, confidence, blend


def gate(l: jax.Array, hint_ab: jax.Array, mask: jax.Array, reach: float,
         low: float, high: float, iterations: int = 150,
         cast: Tuple[float, float] = (0.0, 0.0)) -> jax.Array:
  """How much of the hints' answer each pixel takes (B, H, W, 1) in [0, 1]:
  the confidence of `propagate_local` (how strongly the pixel is connected
  to any hint, through similar lightness) mapped from [low, high] to [0, 1].
  A hint model at inference blends its answer with the hints (weight g) and
  its automatic answer (1 - g): far from every hint, and across lightness
  edges, the painting keeps its automatic colours; among many hints, g is 1
  nearly everywhere.

  `cast` (lo, hi), chroma in the hints' a, b units (hi > 0): hints this dull
  speak for the painting's overall cast as much as for their region, and
  travel everywhere: g rises toward 1 by s = (hi - C) / (hi - lo), clipped
  to [0, 1], where C is the chroma of the image's most colourful hint pixel,
  so one colourful hint keeps them all local."""
  hint_ab = jnp.asarray(hint_ab, jnp.float32)
  mask = jnp.asarray(mask, jnp.float32)
  _, confidence, _ = propagate_local(l, hint_ab * mask, mask,
                                     jnp.zeros(2, jnp.float32), reach,
                                     iterations)
  g = jnp.clip((confidence - low) / (high - low), 0.0, 1.0)
  lo, hi = cast
  if hi > 0:
    chroma = jnp.sqrt(jnp.sum(jnp.square(hint_ab), -1, keepdims=True)) * mask
    most = jnp.max(chroma, axis=(1, 2, 3), keepdims=True)
    travel = jnp.clip((hi - most) / (hi - lo), 0.0, 1.0)
    g = g + (1.0 - g) * jnp.where(jnp.max(mask, axis=(1, 2, 3),
                                          keepdims=True) > 0, travel, 0.0)
  return jax.lax.stop_gradient(g)


def levin(l: np.ndarray, hint_ab: np.ndarray, mask: np.ndarray,
          prior_ab: np.ndarray, reach: float = 0.0) -> np.ndarray:
  """The exact solution of `propagate`'s system for one image (scipy); with
  `reach` > 0, of `propagate_local`'s (its blend).

  Args:
    l: (H, W, 1) lightness in the model range.
    hint_ab: (H, W, 2) hint a, b where `mask` (H, W, 1) is 1.
    prior_ab: (2,) the answer when there is no hint (with `reach`, far from
      every hint).
    reach: 0 (Levin et al.) or `propagate_local`'s fading length.

  Returns:
    (H, W, 2) float32 a, b in the model range.
  """
  from scipy import sparse  # pylint: disable=g-import-not-at-top
  from scipy.sparse import linalg  # pylint: disable=g-import-not-at-top
  h, w = l.shape[:2]
  given = np.asarray(mask).reshape(-1) > 0
  if not given.any():
    return np.broadcast_to(np.asarray(prior_ab, np.float32),
                           (h, w, 2)).copy()
  weights = np.asarray(affinities(((np.asarray(l, np.float32) + 1) / 2)[None])
                       )[0].reshape(h * w, 8)
  idx = np.arange(h * w).reshape(h, w)
  keep = 1.0 - _decay(reach * max(h, w)) if reach > 0 else 1.0
  rows, cols, vals = [np.arange(h * w)], [np.arange(h * w)], [np.ones(h * w)]
  for k, (dy, dx) in enumerate(_OFFSETS):
    ys, xs = np.mgrid[0:h, 0:w]
    ny, nx = ys + dy, xs + dx
    ok = ((ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)).reshape(-1) & ~given
    src = idx.reshape(-1)[ok]
    rows.append(src)
    cols.append(idx[np.clip(ny, 0, h - 1), np.clip(nx, 0, w - 1)].reshape(-1)
                [ok])
    vals.append(-keep * weights[ok, k])
  a = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                np.concatenate(cols))),
                        shape=(h * w, h * w))
  rhs = np.where(given[:, None], np.concatenate(
      [np.asarray(hint_ab).reshape(-1, 2), np.ones((h * w, 1))], -1), 0.0)
  out = linalg.spsolve(a.tocsc(), rhs)
  # The third column is the confidence (1 everywhere when reach is 0).
  blend = out[:, :2] + (1.0 - out[:, 2:]) * np.asarray(prior_ab) if (
      reach > 0) else out[:, :2]
  return np.asarray(blend, np.float32).reshape(h, w, 2)
