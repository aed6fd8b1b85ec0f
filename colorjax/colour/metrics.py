"""Colourisation metrics in jax.numpy: batched, jit-able, per image.

Inputs are named by colour space: `*_lab` are CIELAB (..., H, W, 3) with L in
[0, 100]; `*_rgb` are sRGB in [0, 1]. Every function returns one value per
image (shape = the leading batch dims), so callers can average, mask or keep
them per image. The per-image functions take an optional `mask` (..., H, W)
of valid pixels, so images of different sizes can share one padded array
(and one compiled program); None means every pixel counts.
"""

from typing import Dict, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from colorjax import names
from colorjax.colour import spaces
from colorjax.colour import swd

__all__ = ['ab_accuracy_auc', 'colourfulness', 'colourfulness_of_moments',
           'delta_e_ciede2000', 'lab_accuracy_nazeri',
           'lab_accuracy_term_project', 'masked_sums', 'mean_abs_delta_l',
           'MIN_TRUE_COLOURFULNESS', 'opponent', 'psnr', 'score_ab',
           'score_rgb', 'ssim', 'ssim_map', 'ssim_radius', 'summarize']

# Below this mean colourfulness (0-255 scale) the originals are greyscale.
MIN_TRUE_COLOURFULNESS = 1.0


def _mean(x: jax.Array, mask: Optional[jax.Array],
          axes: Tuple[int, ...] = (-2, -1)) -> jax.Array:
  """Mean over the pixel `axes` of x (..., H, W[, ...]), weighted by `mask`."""
  if mask is None:
    return jnp.mean(x, axis=axes)
  m = mask.reshape(mask.shape + (1,) * (x.ndim - mask.ndim)).astype(x.dtype)
  m = jnp.broadcast_to(m, x.shape)
  return jnp.sum(x * m, axis=axes) / jnp.maximum(jnp.sum(m, axis=axes), 1e-6)


def _safe_sqrt(x: jax.Array) -> jax.Array:
  return jnp.sqrt(jnp.maximum(x, 1e-30))


def delta_e_ciede2000(lab1: jax.Array, lab2: jax.Array) -> jax.Array:
  """CIEDE2000 colour difference (kL = kC = kH = 1), per pixel (...).

  Follows Sharma, Wu & Dalal (2005), including their notes on hue
  wrap-around and on achromatic pairs (C' = 0).
  """
  l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
  l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
  c_bar7 = ((jnp.hypot(a1, b1) + jnp.hypot(a2, b2)) / 2) ** 7
  g = 0.5 * (1 - jnp.sqrt(c_bar7 / (c_bar7 + 25.0**7)))
  a1p, a2p = (1 + g) * a1, (1 + g) * a2
  c1p, c2p = jnp.hypot(a1p, b1), jnp.hypot(a2p, b2)
  h1p = jnp.where((a1p == 0) & (b1 == 0), 0.0,
                  jnp.degrees(jnp.arctan2(b1, a1p)) % 360)
  h2p = jnp.where((a2p == 0) & (b2 == 0), 0.0,
                  jnp.degrees(jnp.arctan2(b2, a2p)) % 360)
  chroma_zero = c1p * c2p == 0
  dh = h2p - h1p
  dh = jnp.where(dh > 180, dh - 360, jnp.where(dh < -180, dh + 360, dh))
  dh = jnp.where(chroma_zero, 0.0, dh)
  d_l = l2 - l1
  d_c = c2p - c1p
  d_h = 2 * _safe_sqrt(c1p * c2p) * jnp.sin(jnp.radians(dh) / 2)
  l_bar = (l1 + l2) / 2
  c_bar = (c1p + c2p) / 2
  h_sum = h1p + h2p
  h_bar = jnp.where(
      jnp.abs(h1p - h2p) <= 180, h_sum / 2,
      jnp.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2))
  h_bar = jnp.where(chroma_zero, h_sum, h_bar)
  t = (1 - 0.17 * jnp.cos(jnp.radians(h_bar - 30)) +
       0.24 * jnp.cos(jnp.radians(2 * h_bar)) +
       0.32 * jnp.cos(jnp.radians(3 * h_bar + 6)) -
       0.20 * jnp.cos(jnp.radians(4 * h_bar - 63)))
  d_theta = 30 * jnp.exp(-jnp.square((h_bar - 275) / 25))
  r_c = 2 * jnp.sqrt(c_bar**7 / (c_bar**7 + 25.0**7))
  s_l = 1 + 0.015 * jnp.square(l_bar - 50) / jnp.sqrt(
      20 + jnp.square(l_bar - 50))
  s_c = 1 + 0.045 * c_bar
  s_h = 1 + 0.015 * c_bar * t
  r_t = -jnp.sin(jnp.radians(2 * d_theta)) * r_c
  terms = (jnp.square(d_l / s_l) + jnp.square(d_c / s_c) +
           jnp.square(d_h / s_h) + r_t * (d_c / s_c) * (d_h / s_h))
  return _safe_sqrt(terms) * (terms > 0)


def _to_opencv8(lab: jax.Array) -> jax.Array:
  """Float CIELAB to OpenCV's 8-bit LAB (L * 255 / 100, a + 128, b + 128)."""
  scaled = jnp.stack([lab[..., 0] * 255 / 100, lab[..., 1] + 128,
                      lab[..., 2] + 128], axis=-1)
  return jnp.clip(jnp.round(scaled), 0, 255)


def lab_accuracy_term_project(pred_lab: jax.Array, true_lab: jax.Array,
                              threshold: float = 12.75,
                              mask: Optional[jax.Array] = None) -> jax.Array:
  """The term project's LAB accuracy, per image.

  Both images in OpenCV's 8-bit LAB; a pixel is correct when |dL|, |da| and
  |db| are all below `threshold` (12.75 = 5% of 255).
  """
  diff = jnp.abs(_to_opencv8(pred_lab) - _to_opencv8(true_lab))
  ok = jnp.all(diff < threshold, axis=-1)
  return _mean(ok.astype(jnp.float32), mask)


def lab_accuracy_nazeri(pred_lab: jax.Array, true_lab: jax.Array,
                        threshold: float = 0.02,
                        mask: Optional[jax.Array] = None) -> jax.Array:
  """Nazeri et al.'s LAB accuracy, per image.

  On rounded CIELAB, a pixel is correct when |dL| <= threshold * 100 and |da|,
  |db| <= threshold * 220 (2%: 2 and 4.4).
  """
  diff = jnp.abs(jnp.round(pred_lab) - jnp.round(true_lab))
  ok = ((diff[..., 0] <= threshold * 100 + 1e-6) &
        (diff[..., 1] <= threshold * 220 + 1e-6) &
        (diff[..., 2] <= threshold * 220 + 1e-6))
  return _mean(ok.astype(jnp.float32), mask)


def ab_accuracy_auc(pred_lab: jax.Array, true_lab: jax.Array,
                    max_threshold: int = 150,
                    mask: Optional[jax.Array] = None) -> jax.Array:
  """Area under accuracy-vs-threshold on ab distance (Zhang et al.), per image.

  Accuracy at t is the fraction of pixels whose ab Euclidean error is <= t,
  for t = 0, 1, ..., max_threshold; the area is their mean, in [0, 1].
  """
  dist = jnp.sqrt(jnp.sum(jnp.square(pred_lab[..., 1:] - true_lab[..., 1:]),
                          axis=-1))
  # A pixel counts at the thresholds t >= its distance: T + 1 - ceil(dist)
  # of them. Per pixel, not per (pixel, threshold): a full-resolution
  # painting's memory stays that of its image.
  n = max_threshold + 1
  share = jnp.clip(n - jnp.ceil(dist), 0, n) / n
  return _mean(share, mask)


def mean_abs_delta_l(pred_lab: jax.Array, true_lab: jax.Array,
                     mask: Optional[jax.Array] = None) -> jax.Array:
  """Mean |dL| per image: a colouriser must keep the input's lightness."""
  return _mean(jnp.abs(pred_lab[..., 0] - true_lab[..., 0]), mask)


def psnr(pred_rgb: jax.Array, true_rgb: jax.Array,
         mask: Optional[jax.Array] = None) -> jax.Array:
  """Peak signal-to-noise ratio in dB per image, RGB in [0, 1]."""
  spaces.check_unit_rgb(pred_rgb, 'pred_rgb')
  spaces.check_unit_rgb(true_rgb, 'true_rgb')
  mse = _mean(jnp.square(pred_rgb - true_rgb), mask, (-3, -2, -1))
  return 10 * jnp.log10(1.0 / jnp.maximum(mse, 1e-12))


def _gaussian_filter_valid(x: jax.Array, sigma: float,
                           radius: int) -> jax.Array:
  """Separable Gaussian blur over (H, W) of (..., H, W, C), VALID borders."""
  taps = jnp.exp(-0.5 * jnp.square(jnp.arange(-radius, radius + 1) / sigma))
  taps = (taps / taps.sum()).astype(x.dtype)
  lead, (h, w, c) = x.shape[:-3], x.shape[-3:]
  y = x.reshape((-1, h, w, c))
  # Two depthwise 1-D convolutions: the memory of the image, not of a sum of
  # 2 x 11 shifted copies (which XLA:CPU kept: 0.5 GB per megapixel).
  for kernel in (taps[:, None, None, None], taps[None, :, None, None]):
    y = jax.lax.conv_general_dilated(
        y, jnp.broadcast_to(kernel, kernel.shape[:2] + (1, c)), (1, 1),
        'VALID', dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
        feature_group_count=c, precision=jax.lax.Precision.HIGHEST)
  return y.reshape(lead + y.shape[1:])


def ssim(pred_rgb: jax.Array, true_rgb: jax.Array, sigma: float = 1.5,
         mask: Optional[jax.Array] = None) -> jax.Array:
  """Structural similarity per image (Wang et al. 2004), RGB in [0, 1].

  Gaussian window (sigma 1.5, 11 taps), population covariances, data range 1,
  averaged over channels and over the pixels whose window fits in the image:
  the same as `skimage.metrics.structural_similarity(..., channel_axis=-1,
  gaussian_weights=True, use_sample_covariance=False, data_range=1)`. With a
  mask, over the windows that lie wholly inside the valid pixels.
  """
  spaces.check_unit_rgb(pred_rgb, 'pred_rgb')
  spaces.check_unit_rgb(true_rgb, 'true_rgb')
  s, inside = ssim_map(pred_rgb, true_rgb, sigma, mask)
  if inside is None:
    return jnp.mean(s, axis=(-3, -2, -1))
  return _mean(s, inside, (-3, -2, -1))


def ssim_radius(sigma: float = 1.5) -> int:
  """The Gaussian window's radius (5 for sigma 1.5: 11 taps)."""
  return int(3.5 * sigma + 0.5)


def ssim_map(pred_rgb: jax.Array, true_rgb: jax.Array, sigma: float = 1.5,
             mask: Optional[jax.Array] = None
             ) -> Tuple[jax.Array, Optional[jax.Array]]:
  """`ssim`'s map (..., H - 2r, W - 2r, 3) over the windows that fit, and
  which of them lie wholly inside `mask`'s valid pixels (None: all)."""
  blur = lambda v: _gaussian_filter_valid(v, sigma, ssim_radius(sigma))
  c1, c2 = 0.01**2, 0.03**2
  mu_x, mu_y = blur(pred_rgb), blur(true_rgb)
  var_x = blur(pred_rgb * pred_rgb) - mu_x**2
  var_y = blur(true_rgb * true_rgb) - mu_y**2
  cov = blur(pred_rgb * true_rgb) - mu_x * mu_y
  s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2) /
       ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)))
  if mask is None:
    return s, None
  return s, blur(mask[..., None].astype(s.dtype))[..., 0] > 1 - 1e-4


def opponent(rgb: jax.Array) -> Tuple[jax.Array, jax.Array]:
  """Hasler & Suesstrunk's opponent channels (rg, yb) of RGB in [0, 1], on
  the 0-255 scale as in the paper."""
  rgb = rgb * 255.0
  return (rgb[..., 0] - rgb[..., 1],
          0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2])


def colourfulness_of_moments(mean_rg, mean_yb, var_rg, var_yb):
  """Hasler & Suesstrunk's colourfulness from the opponent channels' means
  and variances (arrays or floats): grey is 0, vivid photos ~100."""
  return ((var_rg + var_yb) ** 0.5 +
          0.3 * (mean_rg ** 2 + mean_yb ** 2) ** 0.5)


def colourfulness(rgb: jax.Array, mask: Optional[jax.Array] = None
                  ) -> jax.Array:
  """Hasler & Suesstrunk (2003) colourfulness per image, RGB in [0, 1]."""
  spaces.check_unit_rgb(rgb)
  rg, yb = opponent(rgb)
  mean_rg, mean_yb = _mean(rg, mask), _mean(yb, mask)
  var = lambda v, m: _mean(jnp.square(v - m[..., None, None]), mask)
  return colourfulness_of_moments(mean_rg, mean_yb, var(rg, mean_rg),
                                  var(yb, mean_yb))


def score_rgb(pred_rgb: jax.Array, true_rgb: jax.Array,
              mask: Optional[jax.Array] = None) -> Dict[str, jax.Array]:
  """Per-image metrics of a colourisation against the original, both sRGB.

  Args:
    pred_rgb: (B, H, W, 3) colourised images in [0, 1].
    true_rgb: (B, H, W, 3) the originals in [0, 1].
    mask: (B, H, W) valid pixels (None: all).

  Returns:
    A dict of (B,) arrays.
  """
  spaces.check_unit_rgb(pred_rgb, 'pred_rgb')
  spaces.check_unit_rgb(true_rgb, 'true_rgb')
  true_lab, pred_lab = spaces.rgb_to_lab(true_rgb), spaces.rgb_to_lab(pred_rgb)
  cf_pred, cf_true = colourfulness(pred_rgb, mask), colourfulness(true_rgb,
                                                                  mask)
  return {
      names.DELTA_E: _mean(delta_e_ciede2000(pred_lab, true_lab), mask),
      names.LAB_ACC_TERM: lab_accuracy_term_project(pred_lab, true_lab,
                                                    mask=mask),
      names.LAB_ACC_NAZERI: lab_accuracy_nazeri(pred_lab, true_lab, mask=mask),
      names.AB_AUC: ab_accuracy_auc(pred_lab, true_lab, mask=mask),
      names.PSNR: psnr(pred_rgb, true_rgb, mask),
      names.SSIM: ssim(pred_rgb, true_rgb, mask=mask),
      names.MEAN_ABS_DL: mean_abs_delta_l(pred_lab, true_lab, mask),
      names.COLOURFULNESS: cf_pred,
      names.COLOURFULNESS_TRUE: cf_true,
      names.DELTA_CF: jnp.abs(cf_pred - cf_true),
      names.AB_SWD: swd.sliced_wasserstein_ab(pred_lab, true_lab, mask),
  }


def score_ab(l: jax.Array, pred_ab: jax.Array, true_rgb_uint8: jax.Array,
             ab_scale: float) -> Dict[str, jax.Array]:
  """Per-image metrics of predicted ab (model range) against the originals.

  Scores what a viewer sees: L + predicted ab is converted to sRGB (clipped
  to the gamut) and back to CIELAB before comparison with the original image
  (`score_rgb`), plus the L1 of the raw prediction.

  Args:
    l: (B, H, W, 1) input lightness in the model range.
    pred_ab: (B, H, W, 2) predicted ab in the model range.
    true_rgb_uint8: (B, H, W, 3) the original colour images.
    ab_scale: the model range's a, b scale (`colorjax.colour.spaces`).

  Returns:
    A dict of (B,) arrays.
  """
  true_rgb = true_rgb_uint8.astype(jnp.float32) / 255.0
  _, true_ab = spaces.rgb_uint8_to_model(true_rgb_uint8, ab_scale)
  return {names.L1: jnp.mean(jnp.abs(pred_ab - true_ab), axis=(1, 2, 3)),
          **score_rgb(spaces.model_to_rgb(l, pred_ab, ab_scale), true_rgb)}


def masked_sums(per_image: Dict[str, jax.Array],
                mask: jax.Array) -> Dict[str, jax.Array]:
  """Sums of per-image values where mask is 1, plus their 'count'."""
  mask = mask.astype(jnp.float32)
  sums = {k: jnp.sum(v * mask) for k, v in per_image.items()}
  sums['count'] = jnp.sum(mask)
  return sums


def summarize(batch_sums: Sequence[Dict[str, jax.Array]],
              prefix: str = '') -> Dict[str, float]:
  """Means from the `masked_sums` of several batches, plus the colourfulness
  ratio (near 1: as colourful as the originals; near 0: grey; NaN for
  originals that are themselves grey)."""
  fetched = jax.device_get(list(batch_sums))
  totals = {k: float(np.sum([s[k] for s in fetched])) for k in fetched[0]}
  count = totals.pop('count')
  means = {k: v / count for k, v in totals.items()}
  # Originals with (almost) no colour have no meaningful ratio.
  means[names.COLOURFULNESS_RATIO] = (
      means[names.COLOURFULNESS] / means[names.COLOURFULNESS_TRUE]
      if means[names.COLOURFULNESS_TRUE] >= MIN_TRUE_COLOURFULNESS
      else float('nan'))
  return {prefix + k: v for k, v in means.items()}
