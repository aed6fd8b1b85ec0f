"""sRGB (D65) <-> CIELAB in jax.numpy, and the scaling to the models' range.

Every function is elementwise over a trailing channel axis, so it works on any
batch shape, under `jax.jit`, and is differentiable everywhere (the branch
points of the sRGB gamma and the LAB cube root are guarded so that gradients
stay finite). Constants follow scikit-image's `rgb2lab` / `lab2rgb`
(illuminant D65, 2 degree observer) so the two agree to float precision.

Model range:
  * L in [0, 100] maps to [-1, 1] as `L / 50 - 1`.
  * a, b map to `ab / ab_scale`. The scale is a setting of each run
    (`config.ab_scale`), passed to every conversion here:
    `REFERENCE_AB_SCALE` (127) is the reference implementation's
    (karoly-hars/GAN_image_colorizing, `datasets.preprocess` /
    `postprocess`), the default of its recipes; `GAMUT_AB_SCALE` (110) is
    the smallest round scale that holds the sRGB gamut (a in [-86.2, 98.2],
    b in [-107.9, 94.5]) strictly inside (-1, 1), so a tanh never has to
    saturate to reach a displayable colour.
"""

from typing import Tuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ['ab_from_model', 'ab_to_model', 'check_unit_rgb', 'GAMUT_AB_SCALE',
           'l_to_model', 'lab_to_model', 'lab_to_rgb',
           'lab_to_rgb_keep_lightness', 'model_to_lab', 'model_to_rgb',
           'REFERENCE_AB_SCALE', 'rgb_to_lab', 'rgb_uint8_to_model']

REFERENCE_AB_SCALE = 127.0
GAMUT_AB_SCALE = 110.0

# sRGB primaries -> CIE XYZ (D65), as in scikit-image. NumPy, not jnp:
# importing colorjax must not start a JAX backend (jax.distributed needs to
# initialise first).
_XYZ_FROM_RGB = np.array([
    [0.412453, 0.357580, 0.180423],
    [0.212671, 0.715160, 0.072169],
    [0.019334, 0.119193, 0.950227],
])
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_FROM_RGB)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])

# CIE LAB companding thresholds (scikit-image's values).
_EPS = 0.008856
_KAPPA = 7.787
_INV_EPS = 0.2068966  # cube root of _EPS: the same threshold on the other side.


def _srgb_to_linear(c: jax.Array) -> jax.Array:
  high = ((jnp.maximum(c, 0.04045) + 0.055) / 1.055) ** 2.4
  return jnp.where(c > 0.04045, high, c / 12.92)


def _linear_to_srgb(c: jax.Array) -> jax.Array:
  high = 1.055 * jnp.maximum(c, 0.0031308) ** (1 / 2.4) - 0.055
  return jnp.where(c > 0.0031308, high, c * 12.92)


def check_unit_rgb(rgb: jax.Array, what: str = 'rgb') -> None:
  """One error for an image outside [0, 1] where sRGB in [0, 1] is expected
  (a uint8 array, or 0-255 floats, would give a PSNR of -22 dB or a
  colourfulness of 35,606 without a word).

  Checked only on concrete values, outside `jax.jit`, where they are known;
  traced values pass (check once outside jit).

  Raises:
    ValueError: integer pixels, or values beyond [0, 1].
  """
  dtype = getattr(rgb, 'dtype', None)
  if dtype is not None and np.dtype(dtype).kind in 'iub':
    raise ValueError(f'{what} has dtype {np.dtype(dtype)}; give float sRGB '
                     'in [0, 1] (uint8 / 255).')
  try:
    values = np.asarray(rgb)
  except (jax.errors.TracerArrayConversionError,
          jax.errors.ConcretizationTypeError):
    return
  if values.size and values.dtype.kind == 'f':
    high, low = np.nanmax(values), np.nanmin(values)
    if high > 1.5 or low < -0.5:  # Beyond any rounding of [0, 1].
      raise ValueError(f'{what} holds values in [{low:g}, {high:g}]; give '
                       'sRGB in [0, 1] (divide 0-255 values by 255).')


def rgb_to_lab(rgb: jax.Array) -> jax.Array:
  """Converts sRGB in [0, 1] (..., 3) to CIELAB (..., 3) with L in [0, 100].

  Raises:
    ValueError: outside jit, an integer image or values beyond [0, 1]
      (`check_unit_rgb`).
  """
  check_unit_rgb(rgb)
  rgb = jnp.asarray(rgb, jnp.float32)
  xyz = _srgb_to_linear(rgb) @ _XYZ_FROM_RGB.T / _WHITE_D65
  f = jnp.where(xyz > _EPS, jnp.cbrt(jnp.maximum(xyz, _EPS)),
                _KAPPA * xyz + 16.0 / 116.0)
  fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
  return jnp.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)],
                   axis=-1)


def lab_to_rgb(lab: jax.Array, clip: bool = True) -> jax.Array:
  """Converts CIELAB (..., 3) to sRGB (..., 3), clipped to [0, 1] by default.

  Out-of-gamut LAB values (which a generator can produce) are clipped the way
  `skimage.color.lab2rgb` clips them: z is floored at 0 before the inverse
  companding and the final RGB is clipped to [0, 1].
  """
  lab = jnp.asarray(lab, jnp.float32)
  fy = (lab[..., 0] + 16.0) / 116.0
  fx = lab[..., 1] / 500.0 + fy
  fz = jnp.maximum(fy - lab[..., 2] / 200.0, 0.0)
  f = jnp.stack([fx, fy, fz], axis=-1)
  xyz = jnp.where(f > _INV_EPS, f**3, (f - 16.0 / 116.0) / _KAPPA) * _WHITE_D65
  rgb = _linear_to_srgb(xyz @ _RGB_FROM_XYZ.T)
  return jnp.clip(rgb, 0.0, 1.0) if clip else rgb


def l_to_model(l: jax.Array) -> jax.Array:
  """CIELAB L in [0, 100] to the model's input range [-1, 1] (any array)."""
  return l / 50.0 - 1.0


def ab_from_model(ab: jax.Array, ab_scale: float) -> jax.Array:
  """The model's ab in (-1, 1) to CIELAB a, b (any array)."""
  return ab * ab_scale


def ab_to_model(ab: jax.Array, ab_scale: float) -> jax.Array:
  """CIELAB a, b to the model's range (any array)."""
  return ab / ab_scale


def lab_to_model(lab: jax.Array, ab_scale: float
                 ) -> Tuple[jax.Array, jax.Array]:
  """Splits LAB (..., 3) into the model's inputs L (..., 1) and targets ab (..., 2)."""
  return l_to_model(lab[..., :1]), ab_to_model(lab[..., 1:], ab_scale)


def model_to_lab(l: jax.Array, ab: jax.Array, ab_scale: float) -> jax.Array:
  """Inverse of `lab_to_model`: L (..., 1) and ab (..., 2) in [-1, 1] to LAB."""
  return jnp.concatenate([(l + 1.0) * 50.0, ab_from_model(ab, ab_scale)],
                         axis=-1)


def rgb_uint8_to_model(rgb: jax.Array, ab_scale: float
                       ) -> Tuple[jax.Array, jax.Array]:
  """uint8 sRGB images (..., 3) to the model's (L, ab), both in [-1, 1]."""
  return lab_to_model(rgb_to_lab(jnp.asarray(rgb, jnp.float32) / 255.0),
                      ab_scale)


def model_to_rgb(l: jax.Array, ab: jax.Array, ab_scale: float) -> jax.Array:
  """The model's (L, ab) back to sRGB in [0, 1]."""
  return lab_to_rgb(model_to_lab(l, ab, ab_scale))


def lab_to_rgb_keep_lightness(lab: jax.Array, iterations: int = 12
                              ) -> jax.Array:
  """LAB to sRGB in [0, 1], desaturating out-of-gamut colours instead of clipping.

  Clipping an out-of-gamut colour changes its lightness. Here each pixel's
  (a, b) is scaled by the largest s in [0, 1] (found by bisection) that keeps
  it displayable; the grey with the same L always is, so L is kept up to the
  bisection's resolution (2 ** -iterations of the chroma).
  """
  lab = jnp.asarray(lab, jnp.float32)
  l, ab = lab[..., :1], lab[..., 1:]

  def in_gamut(s):
    rgb = lab_to_rgb(jnp.concatenate([l, ab * s], -1), clip=False)
    return jnp.all((rgb >= -1e-4) & (rgb <= 1 + 1e-4), axis=-1, keepdims=True)

  def step(_, bounds):
    lo, hi = bounds
    mid = (lo + hi) / 2
    ok = in_gamut(mid)
    return jnp.where(ok, mid, lo), jnp.where(ok, hi, mid)

  ones = jnp.ones_like(l)
  lo, _ = jax.lax.fori_loop(0, iterations, step, (jnp.zeros_like(l), ones))
  scale = jnp.where(in_gamut(ones), ones, lo)
  return lab_to_rgb(jnp.concatenate([l, ab * scale], -1))
