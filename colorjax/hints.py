"""Colour hints: simulated for training, propagated, and Levin et al.'s solve.

A hint map is a pair (hint_ab, mask): hint_ab (B, H, W, 2) holds a, b in the
model range where mask (B, H, W, 1) is 1, and 0 elsewhere. Zero hints (mask
all 0) is automatic colourisation, so one model serves both.

* `simulate`: hints drawn from the ground truth as Zhang, Zhu et al. 2017
  ("Real-Time User-Guided Image Colorization with Learned Deep Priors") did:
  per image a geometric number of points (P(0) = 1/8), each at a uniform
  position revealing the mean a, b of a square patch (1-3 px at 32 px, scaled
  with the image size). Pure JAX, drawn from the step's key.
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

import dataclasses
from typing import Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

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


def _patch_means(ab: jax.Array, y0: jax.Array, x0: jax.Array,
                 size: jax.Array) -> jax.Array:
  """Mean a, b of the squares [y0, y0 + size) x [x0, x0 + size) of one image
  (H, W, 2), for K squares at once: (K, 2)."""
  s = jnp.pad(jnp.cumsum(jnp.cumsum(ab, 0), 1), ((1, 0), (1, 0), (0, 0)))
  y1, x1 = y0 + size, x0 + size
  total = s[y1, x1] - s[y0, x1] - s[y1, x0] + s[y0, x0]
  return total / (size * size)[:, None].astype(jnp.float32)


def paint(shape: Tuple[int, int], y0: jax.Array, x0: jax.Array,
          size: jax.Array, ab: jax.Array, keep: jax.Array
          ) -> Tuple[jax.Array, jax.Array]:
  """A hint map (H, W, 2), (H, W, 1) of K squares of one image, averaged
  where they overlap; `keep` (K,) marks the squares that are given."""
  h, w = shape
  ys, xs = jnp.arange(h)[None, :, None], jnp.arange(w)[None, None, :]
  inside = ((ys >= y0[:, None, None]) & (ys < (y0 + size)[:, None, None]) &
            (xs >= x0[:, None, None]) & (xs < (x0 + size)[:, None, None]) &
            keep[:, None, None]).astype(jnp.float32)  # (K, H, W)
  count = jnp.sum(inside, 0)[..., None]
  total = jnp.einsum('khw,kc->hwc', inside, ab)
  mask = (count > 0).astype(jnp.float32)
  return total / jnp.maximum(count, 1.0), mask


def _salient_positions(rng: jax.Array, ab: jax.Array, side: int,
                       count: int, sharpness: float
                       ) -> Tuple[jax.Array, jax.Array]:
  """`count` top-left corners of side x `side` squares of one image (H, W,
  2), drawn with probability growing with the chroma of the square's mean
  colour (chroma ** sharpness): where a person clicks first."""
  h, w = ab.shape[:2]
  s = jnp.pad(jnp.cumsum(jnp.cumsum(ab.astype(jnp.float32), 0), 1),
              ((1, 0), (1, 0), (0, 0)))
  means = (s[side:, side:] - s[:-side, side:] - s[side:, :-side] +
           s[:-side, :-side]) / (side * side)
  chroma = jnp.sqrt(jnp.sum(jnp.square(means), -1) + 1e-8)
  logits = sharpness * jnp.log(chroma + 1e-3).reshape(-1)
  flat = jax.random.categorical(rng, logits, shape=(count,))
  return flat // (w - side + 1), flat % (w - side + 1)


def simulate(rng: jax.Array, ab: jax.Array, num_points: jax.Array,
             max_points: int, patch_sizes: Sequence[int],
             salient: jax.Array = None, sharpness: float = 2.0
             ) -> Tuple[jax.Array, jax.Array]:
  """Hints revealed from the true a, b of a batch.

  Args:
    rng: a key.
    ab: (B, H, W, 2) the true a, b (model range).
    num_points: (B,) int, the number of points of each image (<= max_points).
    max_points: the static bound on `num_points`.
    patch_sizes: the sides a point's square may have (uniform among them).
    salient: (B,) bool, or None: images whose points fall on colourful
      patches (`_salient_positions`) rather than uniformly.
    sharpness: how strongly salient points prefer colourful patches.

  Returns:
    (hint_ab (B, H, W, 2), mask (B, H, W, 1)).
  """
  b, h, w = ab.shape[:3]
  k_size, k_y, k_x = jax.random.split(rng, 3)
  sizes = jnp.asarray(patch_sizes, jnp.int32)[jax.random.randint(
      k_size, (b, max_points), 0, len(patch_sizes))]
  y0 = (jax.random.uniform(k_y, (b, max_points)) *
        (h - sizes + 1)).astype(jnp.int32)
  x0 = (jax.random.uniform(k_x, (b, max_points)) *
        (w - sizes + 1)).astype(jnp.int32)
  keep = jnp.arange(max_points)[None] < num_points[:, None]
  if salient is not None:
    side = max(patch_sizes)
    sy, sx = jax.vmap(lambda k, a: _salient_positions(
        k, a, side, max_points, sharpness))(jax.random.split(k_y, b), ab)
    y0 = jnp.where(salient[:, None], sy, y0).astype(jnp.int32)
    x0 = jnp.where(salient[:, None], sx, x0).astype(jnp.int32)

  def one(ab_i, y0_i, x0_i, s_i, keep_i):
    means = _patch_means(ab_i.astype(jnp.float32), y0_i, x0_i, s_i)
    return paint((h, w), y0_i, x0_i, s_i, means, keep_i)

  return jax.vmap(one)(ab, y0, x0, sizes, keep)


def training_counts(rng: jax.Array, batch: int, p_none: float,
                    max_points: int) -> jax.Array:
  """(batch,) geometric point counts: P(n) = p (1 - p) ** n, capped."""
  n = jax.random.geometric(rng, p_none, (batch,)) - 1
  return jnp.minimum(n, max_points).astype(jnp.int32)


def patch_sizes(image_size: int) -> Tuple[int, ...]:
  """Sides of a simulated hint's square: 1-3 px at 32 px, scaled."""
  scale = max(1, round(image_size / 32))
  return tuple(s * scale for s in (1, 2, 3))


@dataclasses.dataclass(frozen=True)
class Simulation:
  """How a train step draws hints: a geometric count per image, P(0) =
  `p_none`, at most `max_points`, squares of `patch_sizes`; a share
  `p_salient` of the images get them on colourful patches, as a person
  places them, the others uniformly; with `salient_points` > 0 those get
  1 to `salient_points` of them (uniformly), as a person's first clicks."""
  p_none: float
  max_points: int
  patch_sizes: Tuple[int, ...]
  p_salient: float = 0.0
  salient_points: int = 0

  @classmethod
  def from_config(cls, config) -> 'Simulation':
    return cls(float(config.hints.p_none), int(config.hints.max_points),
               patch_sizes(config.image_size), float(config.hints.p_salient),
               int(config.hints.salient_points))

  def draw(self, rng: jax.Array, ab: jax.Array
           ) -> Tuple[jax.Array, jax.Array, jax.Array]:
    """(hint_ab, mask, salient) for a batch of true a, b (B, H, W, 2);
    `salient` (B,) bool marks the images whose hints sit on colourful
    patches."""
    count_rng, salient_rng, few_rng, rng = jax.random.split(rng, 4)
    counts = training_counts(count_rng, ab.shape[0], self.p_none,
                             self.max_points)
    salient = (jax.random.uniform(salient_rng, (ab.shape[0],)) <
               self.p_salient)
    if self.p_salient > 0 and self.salient_points > 0:
      few = jax.random.randint(few_rng, counts.shape, 1,
                               self.salient_points + 1)
      counts = jnp.where(salient, few, counts).astype(jnp.int32)
    hint_ab, mask = simulate(rng, ab, counts, self.max_points,
                             self.patch_sizes,
                             salient if self.p_salient > 0 else None)
    return hint_ab, mask, salient
