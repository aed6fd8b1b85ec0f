"""Colour hints simulated from the ground truth, for training and the hint
curves of `evaluate --hints`.

Hints are drawn as Zhang, Zhu et al. 2017 ("Real-Time User-Guided Image
Colorization with Learned Deep Priors") did: per image a geometric number of
points (P(0) = 1/8), each at a uniform position revealing the mean a, b of a
square patch (1-3 px at 32 px, scaled with the image size); a share of the
images may get them on colourful patches instead, where a person clicks
first, and a share where the network's own answer without hints is most
wrong, where a person correcting it clicks next; the colours may be off by
a person's error. Pure JAX, drawn from the step's key. The hint map is
`colorjax.hints.propagation`' (hint_ab, mask).
"""

import dataclasses
from typing import Optional, Sequence, Tuple

import jax
import jax.numpy as jnp

__all__ = ['paint', 'patch_sizes', 'simulate', 'Simulation', 'training_counts']


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


def _square_means(x: jax.Array, side: int) -> jax.Array:
  """The mean of every side x `side` square of one image (H, W, C), at its
  top-left corner: (H - side + 1, W - side + 1, C)."""
  s = jnp.pad(jnp.cumsum(jnp.cumsum(x.astype(jnp.float32), 0), 1),
              ((1, 0), (1, 0), (0, 0)))
  return (s[side:, side:] - s[:-side, side:] - s[side:, :-side] +
          s[:-side, :-side]) / (side * side)


def _positions_by(rng: jax.Array, score: jax.Array, count: int,
                  sharpness: float) -> Tuple[jax.Array, jax.Array]:
  """`count` top-left corners drawn from a map of square scores (h, w) > 0,
  with probability growing as score ** sharpness."""
  logits = sharpness * jnp.log(score + 1e-3).reshape(-1)
  flat = jax.random.categorical(rng, logits, shape=(count,))
  return flat // score.shape[1], flat % score.shape[1]


def _salient_positions(rng: jax.Array, ab: jax.Array, side: int,
                       count: int, sharpness: float
                       ) -> Tuple[jax.Array, jax.Array]:
  """`count` top-left corners of side x `side` squares of one image (H, W,
  2), drawn with probability growing with the chroma of the square's mean
  colour (chroma ** sharpness): where a person clicks first."""
  means = _square_means(ab, side)
  return _positions_by(rng, jnp.sqrt(jnp.sum(jnp.square(means), -1) + 1e-8),
                       count, sharpness)


def _worst_positions(rng: jax.Array, ab: jax.Array, answer_ab: jax.Array,
                     side: int, count: int, sharpness: float
                     ) -> Tuple[jax.Array, jax.Array]:
  """`count` top-left corners of side x `side` squares of one image, drawn
  with probability growing with the mean a, b error of `answer_ab` (H, W,
  2) in the square (error ** sharpness): where a person correcting that
  answer clicks."""
  error = jnp.sqrt(jnp.sum(jnp.square(answer_ab.astype(jnp.float32) - ab),
                           -1, keepdims=True) + 1e-8)
  return _positions_by(rng, _square_means(error, side)[..., 0], count,
                       sharpness)


def simulate(rng: jax.Array, ab: jax.Array, num_points: jax.Array,
             max_points: int, patch_sizes: Sequence[int],
             salient: Optional[jax.Array] = None, sharpness: float = 2.0,
             worst: Optional[jax.Array] = None,
             answer_ab: Optional[jax.Array] = None,
             colour_sigma: Optional[jax.Array] = None
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
    sharpness: how strongly salient (and worst) points prefer colourful
      (most wrong) patches.
    worst: (B,) bool, or None: images whose points fall where `answer_ab`
      is most wrong (`_worst_positions`); they take precedence over
      `salient`.
    answer_ab: (B, H, W, 2) an answer to correct (model range), with `worst`.
    colour_sigma: (B,) or None: each revealed colour is off by a Gaussian
      error of this standard deviation per channel (model range), as a
      person's colour is not the painted one.

  Returns:
    (hint_ab (B, H, W, 2), mask (B, H, W, 1)).
  """
  b, h, w = ab.shape[:3]
  k_size, k_y, k_x = jax.random.split(rng, 3)
  k_colour = jax.random.fold_in(rng, 1)  # Leaves the other draws as they were.
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
  if worst is not None:
    side = max(patch_sizes)
    wy, wx = jax.vmap(lambda k, a, p: _worst_positions(
        k, a, p, side, max_points, 2.0 * sharpness))(
            jax.random.split(k_x, b), ab, answer_ab)
    y0 = jnp.where(worst[:, None], wy, y0).astype(jnp.int32)
    x0 = jnp.where(worst[:, None], wx, x0).astype(jnp.int32)
  error = jnp.zeros((b, max_points, 2), jnp.float32)
  if colour_sigma is not None:
    error = (jax.random.normal(k_colour, (b, max_points, 2)) *
             colour_sigma[:, None, None])

  def one(ab_i, y0_i, x0_i, s_i, keep_i, error_i):
    means = _patch_means(ab_i.astype(jnp.float32), y0_i, x0_i, s_i)
    return paint((h, w), y0_i, x0_i, s_i, means + error_i, keep_i)

  return jax.vmap(one)(ab, y0, x0, sizes, keep, error)


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
  places them first, a share `p_worst` where the network's answer without
  hints is most wrong, as a person correcting it clicks, the others
  uniformly; with `salient_points` > 0 the salient images get 1 to
  `salient_points` of them (uniformly), as a person's first clicks. With
  `colour_sigma` > 0 (model range) each image's colours are off by a
  Gaussian error whose standard deviation is drawn uniformly in [0,
  colour_sigma], as a person's colour is not the painted one."""
  p_none: float
  max_points: int
  patch_sizes: Tuple[int, ...]
  p_salient: float = 0.0
  salient_points: int = 0
  p_worst: float = 0.0
  colour_sigma: float = 0.0

  @classmethod
  def from_config(cls, config) -> 'Simulation':
    return cls(float(config.hints.p_none), int(config.hints.max_points),
               patch_sizes(config.image_size), float(config.hints.p_salient),
               int(config.hints.salient_points),
               float(config.hints.p_worst),
               float(config.hints.colour_sigma) / float(config.ab_scale))

  def draw(self, rng: jax.Array, ab: jax.Array,
           answer_ab: Optional[jax.Array] = None
           ) -> Tuple[jax.Array, jax.Array, jax.Array]:
    """(hint_ab, mask, salient) for a batch of true a, b (B, H, W, 2);
    `salient` (B,) bool marks the images whose hints sit on colourful
    patches. With `p_worst` > 0, `answer_ab` (B, H, W, 2) is the answer
    without hints whose errors place those images' hints."""
    if self.p_worst > 0 and answer_ab is None:
      raise ValueError('Simulation.p_worst > 0 places hints where the answer '
                       'without hints is most wrong: pass answer_ab.')
    count_rng, salient_rng, few_rng, rng = jax.random.split(rng, 4)
    counts = training_counts(count_rng, ab.shape[0], self.p_none,
                             self.max_points)
    u = jax.random.uniform(salient_rng, (ab.shape[0],))
    salient = u < self.p_salient
    if self.p_salient > 0 and self.salient_points > 0:
      few = jax.random.randint(few_rng, counts.shape, 1,
                               self.salient_points + 1)
      counts = jnp.where(salient, few, counts).astype(jnp.int32)
    worst = sigma = None
    if self.p_worst > 0:
      worst = (~salient) & (u < self.p_salient + self.p_worst)
    if self.colour_sigma > 0:
      sigma = self.colour_sigma * jax.random.uniform(
          jax.random.fold_in(few_rng, 1), (ab.shape[0],))
    hint_ab, mask = simulate(rng, ab, counts, self.max_points,
                             self.patch_sizes,
                             salient if self.p_salient > 0 else None,
                             worst=worst, answer_ab=answer_ab,
                             colour_sigma=sigma)
    return hint_ab, mask, salient
