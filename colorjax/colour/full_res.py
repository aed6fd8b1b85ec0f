"""Metrics of a painting at its own size, scored in strips of rows.

`metrics.score_rgb` on a whole multi-megapixel painting holds dozens of
full-size temporaries (both images in CIELAB, CIEDE2000's terms, SSIM's
blurred maps): about 0.6 GB a megapixel. Here each strip of STRIP_ROWS rows
is scored alone, read with a halo of SSIM's window radius above and below,
and only sums leave it: of every per-pixel metric over the strip's own rows,
of SSIM over the windows centred in them, of the squared error, and of the
opponent colour channels and their squares (the colourfulness), and the
counts of the projected a, b of the sliced Wasserstein distance
(`swd.SwdHistograms`). The values equal `score_rgb`'s, the distance
within `swd.SWD_BIN` (tests/metrics_test.py); the memory is a strip's,
whatever the painting's size.
"""

from typing import Any, Callable, Dict, List, Sequence, Tuple

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from colorjax import names
from colorjax.colour import metrics
from colorjax.colour import spaces
from colorjax.colour import swd
from colorjax.datasets import sources
from colorjax.errors import is_out_of_memory
from colorjax.errors import one_line

__all__ = ['score', 'score_paintings', 'STRIP_ROWS', 'WIDTH_BUCKET']

STRIP_ROWS = 64
# Strips are padded to a multiple of this many columns.
WIDTH_BUCKET = 256
_R = metrics.ssim_radius()
# Per-image means of score_rgb that are plain per-pixel means.
_PIXEL_MEANS = (names.DELTA_E, names.LAB_ACC_TERM, names.LAB_ACC_NAZERI,
                names.AB_AUC, names.MEAN_ABS_DL)


@jax.jit
def _strip_sums(pred: jax.Array, true: jax.Array, mask: jax.Array):
  """Sums over one strip (1, R + 2r, W, 3 sRGB in 0-255; mask (1, R + 2r,
  W)) whose own rows are [r, r + R); and its own rows' a, b."""
  pred_rgb, true_rgb = pred / 255.0, true / 255.0
  rows = jnp.arange(mask.shape[1])[None, :, None]
  own = mask * ((rows >= _R) & (rows < mask.shape[1] - _R))
  pred_lab, true_lab = spaces.rgb_to_lab(pred_rgb), spaces.rgb_to_lab(true_rgb)
  n = jnp.sum(own)
  sums = {
      names.DELTA_E: metrics.delta_e_ciede2000(pred_lab, true_lab),
      names.LAB_ACC_TERM: metrics.lab_accuracy_term_project(
          pred_lab, true_lab, mask=own),
      names.LAB_ACC_NAZERI: metrics.lab_accuracy_nazeri(
          pred_lab, true_lab, mask=own),
      names.AB_AUC: metrics.ab_accuracy_auc(pred_lab, true_lab, mask=own),
      names.MEAN_ABS_DL: metrics.mean_abs_delta_l(pred_lab, true_lab, own),
  }
  # The per-image functions give means over `own`: times n, its sums.
  sums = {k: (jnp.sum(v * own) if v.ndim > 1 else v[0] * n)
          for k, v in sums.items()}
  sums['count'] = n
  sums['sse'] = jnp.sum(jnp.square(pred_rgb - true_rgb) * own[..., None])
  for side, rgb in (('pred', pred_rgb), ('true', true_rgb)):
    rg, yb = metrics.opponent(rgb)
    for name, v in (('rg', rg), ('yb', yb)):
      sums[f'{side}_{name}'] = jnp.sum(v * own)
      sums[f'{side}_{name}2'] = jnp.sum(jnp.square(v) * own)
  # The valid convolution's rows are the windows centred on the own rows.
  s, inside = metrics.ssim_map(pred_rgb, true_rgb, mask=mask)
  sums['ssim'] = jnp.sum(s * inside[..., None])
  sums['ssim_windows'] = 3 * jnp.sum(inside)
  return sums, pred_lab[0, _R:-_R, :, 1:], true_lab[0, _R:-_R, :, 1:]


def _colourfulness(sums: Dict[str, float], side: str) -> float:
  n = sums['count']
  mean = {c: sums[f'{side}_{c}'] / n for c in ('rg', 'yb')}
  var = {c: max(sums[f'{side}_{c}2'] / n - mean[c]**2, 0.0)
         for c in ('rg', 'yb')}
  return float(metrics.colourfulness_of_moments(mean['rg'], mean['yb'],
                                                var['rg'], var['yb']))


def _strip(image: np.ndarray, rows: np.ndarray,
           cols: np.ndarray) -> np.ndarray:
  """(1, len(rows), len(cols), 3) float32 of `image` at those rows and
  columns (indices clipped into it: its edge repeated)."""
  h, w = image.shape[:2]
  return image[np.clip(rows, 0, h - 1)[:, None],
               np.minimum(cols, w - 1)[None, :]][None].astype(np.float32)


def score(pred: np.ndarray, true: np.ndarray) -> Dict[str, np.ndarray]:
  """`metrics.score_rgb` of one painting at its own size, strip by strip.

  Each strip is cut from the painting with its edge repeated past the
  borders, its width padded to a multiple of WIDTH_BUCKET (paintings of
  similar widths share one compiled program), and masked to the painting's
  own pixels: nothing of the painting's size is allocated.

  Args:
    pred: (H, W, 3) the colourisation, sRGB 0-255 (any real dtype).
    true: (H, W, 3) the original, likewise.

  Returns:
    The score_rgb dict with (1,) arrays.
  """
  h, w = true.shape[:2]
  cols = np.arange(-(-w // WIDTH_BUCKET) * WIDTH_BUCKET)
  inside_cols = (cols < w)[None, :]
  totals = {}
  histograms = swd.SwdHistograms()
  for y in range(0, h, STRIP_ROWS):
    rows = np.arange(y - _R, y + STRIP_ROWS + _R)
    mask = (((rows >= 0) & (rows < h))[:, None] & inside_cols).astype(
        np.float32)
    sums, pab, tab = jax.device_get(_strip_sums(
        _strip(pred, rows, cols), _strip(true, rows, cols), mask[None]))
    for k, v in sums.items():
      totals[k] = totals.get(k, 0.0) + float(v)
    own = mask[_R:_R + STRIP_ROWS] > 0
    histograms.add(pab[own], tab[own])
  n = max(totals['count'], 1e-6)
  out = {k: totals[k] / n for k in _PIXEL_MEANS}
  out[names.PSNR] = 10 * np.log10(1.0 / max(totals['sse'] / (3 * n), 1e-12))
  out[names.SSIM] = totals['ssim'] / max(totals['ssim_windows'], 1e-6)
  out[names.COLOURFULNESS] = _colourfulness(totals, 'pred')
  out[names.COLOURFULNESS_TRUE] = _colourfulness(totals, 'true')
  out[names.DELTA_CF] = abs(out[names.COLOURFULNESS] -
                            out[names.COLOURFULNESS_TRUE])
  out[names.AB_SWD] = histograms.distance()
  return {k: np.asarray([v], np.float32) for k, v in out.items()}


def score_paintings(paths: Sequence[str], image_size: int,
                    score_one: Callable[[np.ndarray, int], Any]
                    ) -> Tuple[List[Any], int]:
  """`score_one(rgb, index)` of each painting of `paths` that a split at
  `image_size` holds (the others are counted where the split is loaded), one
  at a time. A painting that runs out of memory is one warning line and
  left out whole (every answer of it, so all are scored on the same
  paintings); the others are scored.

  Returns:
    (the results in order, how many paintings ran out of memory).
  """
  results, skipped = [], 0
  for index, path in enumerate(paths):
    rgb = sources.read_usable(path, image_size)
    if rgb is None:
      continue
    try:
      results.append(score_one(rgb, index))
    except Exception as e:  # pylint: disable=broad-except
      if not is_out_of_memory(e):
        raise
      skipped += 1
      logging.warning(one_line(
          f'{path} ({rgb.shape[1]} x {rgb.shape[0]}): out of memory at full '
          'resolution; left out of the full-resolution tables, the other '
          'paintings are scored.'))
  return results, skipped
