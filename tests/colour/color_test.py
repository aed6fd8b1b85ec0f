"""colorjax.colour.spaces against scikit-image, round trips and gradients."""

import itertools
import warnings

import cv2
import jax
import jax.numpy as jnp
import numpy as np
from skimage import color as skcolor

from colorjax.colour import spaces as color


def _random_rgb(n=2000, seed=0):
  rgb = np.random.default_rng(seed).random((n, 3)).astype(np.float32)
  corners = np.array(list(itertools.product((0.0, 1.0), repeat=3)), np.float32)
  return np.concatenate([rgb, corners])


def test_rgb_to_lab_matches_skimage():
  rgb = _random_rgb()
  np.testing.assert_allclose(color.rgb_to_lab(rgb), skcolor.rgb2lab(rgb),
                             atol=1e-3)


def test_lab_to_rgb_matches_skimage_in_and_out_of_gamut():
  rng = np.random.default_rng(1)
  lab = np.concatenate([
      skcolor.rgb2lab(_random_rgb()),  # In gamut.
      rng.uniform([0, -128, -128], [100, 128, 128], (2000, 3)),  # Mostly not.
  ])
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')  # skimage warns about negative z.
    expected = skcolor.lab2rgb(lab)
  np.testing.assert_allclose(color.lab_to_rgb(lab), expected, atol=1e-3)


def test_round_trip():
  rgb = _random_rgb(1992).reshape(-1, 4, 2, 3)  # Any batch shape.
  out = color.lab_to_rgb(color.rgb_to_lab(rgb))
  np.testing.assert_allclose(out, rgb, atol=1e-4)


def test_jit_and_gradients_are_finite():
  rgb = jnp.asarray(_random_rgb(200))
  lab = jax.jit(color.rgb_to_lab)(rgb)
  g1 = jax.grad(lambda x: color.rgb_to_lab(x).sum())(rgb)
  g2 = jax.grad(lambda x: color.lab_to_rgb(x, clip=False).sum())(lab)
  assert np.isfinite(g1).all() and np.isfinite(g2).all()
  assert np.abs(g1).max() > 0


def test_gamut_scale_covers_the_srgb_gamut_tightly():
  grid = np.stack(np.meshgrid(*[np.linspace(0, 1, 33)] * 3), -1).reshape(-1, 3)
  l, ab = color.lab_to_model(color.rgb_to_lab(grid), color.GAMUT_AB_SCALE)
  assert -1 - 1e-6 <= l.min() and l.max() <= 1 + 1e-6
  # Every sRGB colour is strictly inside (-1, 1), and the scale is not loose.
  assert 0.95 < np.abs(ab).max() < 1.0
  # The reference's scale holds the gamut too, with more room.
  _, ab = color.lab_to_model(color.rgb_to_lab(grid), color.REFERENCE_AB_SCALE)
  assert 0.8 < np.abs(ab).max() < 0.9


def test_reference_scale_is_the_reference_preprocess():
  # karoly-hars/GAN_image_colorizing datasets.preprocess: cv2 BGR2LAB on
  # float32 BGR in [0, 1], then L / 50 - 1 and a, b / 127.
  rgb8 = (_random_rgb() * 255).round().astype(np.uint8).reshape(1, -1, 3)
  lab = cv2.cvtColor(np.ascontiguousarray(rgb8[..., ::-1]).astype(np.float32)
                     / 255.0, cv2.COLOR_BGR2LAB)
  ref = np.concatenate([lab[..., :1] / 50 - 1, lab[..., 1:] / 127], -1)
  l, ab = color.rgb_uint8_to_model(rgb8, color.REFERENCE_AB_SCALE)
  # OpenCV's float conversion interpolates its gamma in a table and its D65
  # white differs from scikit-image's in the 4th digit: within 0.2 L and
  # 0.5 a, b units of ours.
  np.testing.assert_allclose(np.concatenate([l, ab], -1), ref, atol=4e-3)


def test_model_conversions_invert():
  for scale in (color.REFERENCE_AB_SCALE, color.GAMUT_AB_SCALE):
    lab = skcolor.rgb2lab(_random_rgb())
    l, ab = color.lab_to_model(lab, scale)
    np.testing.assert_allclose(color.model_to_lab(l, ab, scale), lab,
                               atol=1e-4)
    rgb8 = (_random_rgb() * 255).round().astype(np.uint8)
    l, ab = color.rgb_uint8_to_model(rgb8, scale)
    np.testing.assert_allclose(color.model_to_rgb(l, ab, scale) * 255, rgb8,
                               atol=0.05)
