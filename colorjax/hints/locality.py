"""Does a hint colour its region and leave the rest alone? Hints as a person
places them, scored near them and far from them.

A person's first click goes on the most colourful thing in the painting (a
sky, a robe); the next ones on other colourful things of other hues. For
each painting (at the evaluation size) `person_hints` places N such hints:
the 3x3 patches (at 32 px; scaled with the size) whose true mean colour has
the highest chroma, each at least `min_hue_gap` degrees of hue from the ones
already placed (when such a patch exists) and apart from them, revealing
that mean colour. `score` then measures, per painting, Delta-E00

* near the hints: pixels within 4 px (at 32 px) of a hint's centre;
* far from them: pixels more than 12 px from every hint's centre;

for the hint model with those hints, the same model without any hint
(`automatic`: what a hint should leave alone far away), Levin et al.'s
propagation of the same hints (which colours everything), and the grey and
prior answers, with the share of paintings whose far field the hints make
worse by more than `worse_by` (0.5) and the whole-image Delta-E00 and
colourfulness ratio.
"""

from typing import Callable, Dict, List, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from colorjax import names
from colorjax.colour import metrics
from colorjax.colour import spaces
from colorjax.hints import propagation as hints_lib

__all__ = ['AUTO', 'FAR_PX', 'HINTED', 'LEVIN', 'METHODS', 'NEAR_PX',
           'person_hints', 'score', 'table', 'zones']

HINTED, AUTO, LEVIN = 'hint model', 'hint model, no hint', 'Levin et al. 2004'
METHODS = (HINTED, AUTO, LEVIN, 'grey', 'prior')
NEAR_PX, FAR_PX = 4.0, 12.0  # At 32 px; scaled with the size.


def _scale(size: int) -> float:
  return size / 32.0


def person_hints(true_ab: np.ndarray, count: int, min_hue_gap: float = 45.0
                 ) -> Tuple[np.ndarray, np.ndarray, List[Tuple[float, float]]]:
  """`count` hints on one image's most colourful patches, of different hues.

  Args:
    true_ab: (H, W, 2) the true a, b (model range).
    count: how many hints.
    min_hue_gap: the least hue difference (degrees) from the hints already
      placed; where no patch has one, the most colourful patch that is far
      enough away is taken.

  Returns:
    (hint_ab (H, W, 2), mask (H, W, 1), centres [(y, x), ...]).
  """
  h, w = true_ab.shape[:2]
  side = max(1, round(3 * _scale(max(h, w))))
  side = min(side, h, w)
  spacing = FAR_PX * _scale(max(h, w)) / 2
  csum = np.pad(np.cumsum(np.cumsum(true_ab.astype(np.float64), 0), 1),
                ((1, 0), (1, 0), (0, 0)))
  means = (csum[side:, side:] - csum[:-side, side:] - csum[side:, :-side] +
           csum[:-side, :-side]) / (side * side)  # (H-s+1, W-s+1, 2)
  chroma = np.hypot(means[..., 0], means[..., 1])
  hue = np.degrees(np.arctan2(means[..., 1], means[..., 0]))
  order = np.argsort(-chroma, axis=None, kind='stable')
  ys, xs = np.unravel_index(order, chroma.shape)
  hint_ab = np.zeros((h, w, 2), np.float32)
  mask = np.zeros((h, w, 1), np.float32)
  chosen: List[Tuple[int, int]] = []
  for strict in (True, False):
    for y, x in zip(ys, xs, strict=True):
      if len(chosen) == count:
        break
      cy, cx = y + (side - 1) / 2, x + (side - 1) / 2
      if any(np.hypot(cy - py - (side - 1) / 2, cx - px - (side - 1) / 2)
             < spacing for py, px in chosen):
        continue
      if strict and any(
          abs((hue[y, x] - hue[py, px] + 180) % 360 - 180) < min_hue_gap
          for py, px in chosen):
        continue
      chosen.append((int(y), int(x)))
      hint_ab[y:y + side, x:x + side] = means[y, x]
      mask[y:y + side, x:x + side] = 1
  centres = [(y + (side - 1) / 2, x + (side - 1) / 2) for y, x in chosen]
  return hint_ab, mask, centres


def zones(shape: Tuple[int, int], centres: Sequence[Tuple[float, float]]
          ) -> Tuple[np.ndarray, np.ndarray]:
  """(near, far) boolean (H, W) masks around the hint `centres`."""
  h, w = shape
  ys, xs = np.mgrid[0:h, 0:w]
  if not centres:
    return np.zeros((h, w), bool), np.ones((h, w), bool)
  dist = np.min([np.hypot(ys - cy, xs - cx) for cy, cx in centres], 0)
  s = _scale(max(h, w))
  return dist <= NEAR_PX * s, dist > FAR_PX * s


@jax.jit
def _per_pixel(l, ab, rgb, scale):
  """(B, H, W) Delta-E00 of L + ab (model range, through sRGB) against
  uint8 rgb, and the per-image metrics of `metrics.score_ab`."""
  true_lab = spaces.rgb_to_lab(rgb.astype(jnp.float32) / 255.0)
  pred_lab = spaces.rgb_to_lab(spaces.model_to_rgb(l, ab, scale))
  return (metrics.delta_e_ciede2000(pred_lab, true_lab),
          metrics.score_ab(l, ab, rgb, scale))


def score(images: np.ndarray, counts: Sequence[int],
          predict: Callable, ab_scale: float, prior_ab: np.ndarray,
          worse_by: float = 0.5, batch_size: int = 32
          ) -> Dict[int, Dict[str, object]]:
  """{N: report} of N person-placed hints on uint8 images (B, S, S, 3).

  Args:
    images: the evaluation images (centre crops at the model's size).
    counts: the hint counts N (>= 1).
    predict: (l, hint_ab, hint_mask) -> model-range a, b of the hint model.
    ab_scale: its a, b scale; `prior_ab` (2,) is in its range.
    prior_ab: its training set's mean a, b.
    worse_by: the far-field Delta-E00 increase that counts a painting as
      made worse by the hints.
    batch_size: images per call.

  Returns:
    {N: {'near': {method: mean Delta-E00}, 'far': {...}, 'whole': {method:
    metrics}, 'far_worse_share': share of paintings whose far field the
    hint model with hints scores more than `worse_by` above itself without,
    'far_change': the mean of that difference, 'num_images',
    'num_near', 'num_far': paintings with pixels in each zone}}.
  """
  out = {}
  for n in counts:
    near = {m: [] for m in METHODS}
    far = {m: [] for m in METHODS}
    whole = {m: [] for m in METHODS}
    for start in range(0, len(images), batch_size):
      rgb = images[start:start + batch_size]
      l, true_ab = (np.asarray(x) for x in
                    spaces.rgb_uint8_to_model(rgb, ab_scale))
      placed = [person_hints(t, n) for t in true_ab]
      hint_ab = np.stack([p[0] for p in placed])
      mask = np.stack([p[1] for p in placed])
      none_ab, none_mask = np.zeros_like(hint_ab), np.zeros_like(mask)
      answers = {
          HINTED: predict(l, hint_ab, mask),
          AUTO: predict(l, none_ab, none_mask),
          LEVIN: np.stack([hints_lib.levin(l[i], hint_ab[i], mask[i],
                                           prior_ab)
                           for i in range(len(rgb))]),
          'grey': np.zeros_like(true_ab),
          'prior': np.broadcast_to(prior_ab, true_ab.shape),
      }
      zone = [zones(rgb.shape[1:3], p[2]) for p in placed]
      for m, ab in answers.items():
        de, per_image = jax.device_get(_per_pixel(
            l, np.asarray(ab, np.float32), rgb, ab_scale))
        whole[m].append(per_image)
        for i, (zn, zf) in enumerate(zone):
          near[m].append(de[i][zn].mean() if zn.any() else np.nan)
          far[m].append(de[i][zf].mean() if zf.any() else np.nan)
    near = {m: np.asarray(v, np.float64) for m, v in near.items()}
    far = {m: np.asarray(v, np.float64) for m, v in far.items()}
    change = far[HINTED] - far[AUTO]
    has_far = ~np.isnan(change)
    out[n] = {
        'near': {m: float(np.nanmean(v)) for m, v in near.items()},
        'far': {m: float(np.nanmean(v)) for m, v in far.items()},
        'whole': {m: metrics.summarize([metrics.masked_sums(
            p, np.ones(len(next(iter(p.values())))))
                                        for p in v])
                  for m, v in whole.items()},
        'far_change': float(np.mean(change[has_far])),
        'far_worse_share': float(np.mean(change[has_far] > worse_by)),
        'worse_by': worse_by,
        'num_images': len(images),
        'num_near': int(np.sum(~np.isnan(near[HINTED]))),
        'num_far': int(np.sum(has_far)),
    }
  return out


def table(results: Dict[int, Dict[str, object]]) -> str:
  """A Markdown table: per count, Delta-E00 near and far per method, the
  whole image's Delta-E00 and colourfulness ratio."""
  lines = ['| hints | method | near (<= 4 px) | far (> 12 px) | whole | '
           'colourful/true |', '|---|---|---|---|---|---|']
  for n in sorted(results):
    r = results[n]
    for m in METHODS:
      lines.append(
          f'| {n} | {m} | {r["near"][m]:.2f} | {r["far"][m]:.2f} | '
          f'{r["whole"][m][names.DELTA_E]:.2f} | '
          f'{r["whole"][m][names.COLOURFULNESS_RATIO]:.2f} |')
  summary = [f'{n} hint(s): far field {results[n]["far_change"]:+.2f} against '
             f'no hint; {results[n]["far_worse_share"]:.0%} of '
             f'{results[n]["num_far"]} paintings worse there by more than '
             f'{results[n]["worse_by"]:g}'
             for n in sorted(results)]
  return '\n'.join(lines + [''] + summary)
