"""Metrics against published data, scikit-image, OpenCV and hand-made cases."""

import cv2
import numpy as np
import pytest
from skimage import color as skcolor
from skimage import metrics as skmetrics

from colorjax import names
from colorjax.colour import metrics
from colorjax.colour import spaces as color
from colorjax.colour import swd

# Sharma, Wu & Dalal (2005), Table 1: L1, a1, b1, L2, a2, b2, dE00.
SHARMA_2005 = np.array([
    (50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425),
    (50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615),
    (50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485, 3.4412),
    (50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, -1.1848, -84.8006, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, -0.9009, -85.5211, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669),
    (50.0000, -1.0000, 2.0000, 50.0000, 0.0000, 0.0000, 2.3669),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0010, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0012, 7.2195),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0010, -2.4900, 4.8045),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900, 4.7461),
    (50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065),
    (50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492),
    (50.0000, 2.5000, 0.0000, 61.0000, -5.0000, 29.0000, 22.8977),
    (50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030),
    (50.0000, 2.5000, 0.0000, 58.0000, 24.0000, 15.0000, 19.4535),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.2972, 0.0000, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 1.8634, 0.5757, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.2592, 0.3350, 1.0000),
    (60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644),
    (63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.2630),
    (61.2901, 3.7196, -5.3901, 61.4292, 2.2480, -4.9620, 1.8731),
    (35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645),
    (22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373),
    (36.4612, 47.8580, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146),
    (90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441),
    (90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381),
    (6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377),
    (2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082),
])


def test_ciede2000_matches_the_published_table():
  lab1, lab2, expected = SHARMA_2005[:, :3], SHARMA_2005[:, 3:6], SHARMA_2005[:, 6]
  got = np.asarray(metrics.delta_e_ciede2000(lab1, lab2))
  np.testing.assert_allclose(got, expected, atol=1e-4)
  # Symmetric, as the formula is.
  np.testing.assert_allclose(metrics.delta_e_ciede2000(lab2, lab1), expected,
                             atol=1e-4)


def test_ciede2000_matches_skimage_on_random_pairs_with_hue_wrap():
  rng = np.random.default_rng(0)
  lab1 = rng.uniform([0, -100, -100], [100, 100, 100], (5000, 3))
  lab2 = rng.uniform([0, -100, -100], [100, 100, 100], (5000, 3))
  # Pairs either side of the a axis (hue ~0 / ~360) and achromatic pairs.
  lab2[:1000] = lab1[:1000] * [1, 1, -1] + rng.normal(0, 2, (1000, 3))
  lab1[1000:1100, 1:] = 0
  np.testing.assert_allclose(metrics.delta_e_ciede2000(lab1, lab2),
                             skcolor.deltaE_ciede2000(lab1, lab2), atol=1e-3)


def _images(seed, shape=(3, 24, 20, 3)):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, shape, np.uint8)


def test_term_project_accuracy_agrees_with_opencv_lab():
  true8, pred8 = _images(0), _images(0)
  noise = np.random.default_rng(1).integers(-20, 21, pred8.shape)
  pred8 = np.clip(pred8.astype(int) + noise, 0, 255).astype(np.uint8)
  lab = lambda x: color.rgb_to_lab(x.astype(np.float32) / 255)
  got = np.asarray(metrics.lab_accuracy_term_project(lab(pred8), lab(true8)))
  cv = lambda x: np.stack([cv2.cvtColor(i, cv2.COLOR_RGB2LAB) for i in x])
  diff = np.abs(cv(pred8).astype(int) - cv(true8).astype(int))
  expected = np.mean(np.all(diff < 12.75, axis=-1), axis=(1, 2))
  assert 0.1 < expected.mean() < 0.9  # The case discriminates.
  # OpenCV rounds its own way inside the conversion: allow a few pixels.
  np.testing.assert_allclose(got, expected, atol=0.02)


def test_nazeri_accuracy_by_hand():
  true = np.zeros((1, 1, 4, 3))
  pred = np.array([[[[2.0, 4.4, -4.4], [2.6, 0, 0], [0, 4.6, 0],
                     [0.4, 0.4, 0.4]]]])
  # Rounded: (2, 4, -4) ok; (3, ...) fails L; (0, 5, 0) fails a; (0, 0, 0) ok.
  assert metrics.lab_accuracy_nazeri(pred, true)[0] == pytest.approx(0.5)


def test_auc_by_hand():
  true = np.zeros((1, 1, 2, 3))
  pred = np.array([[[[0, 0, 0], [0, 30, 40]]]], np.float32)  # ab errors 0, 50.
  # Pixel 0 counts at all 151 thresholds, pixel 1 at t = 50..150 (101).
  expected = (151 + 101) / (2 * 151)
  assert metrics.ab_accuracy_auc(pred, true)[0] == pytest.approx(expected)


def test_psnr_and_ssim_match_skimage():
  true = _images(2, (2, 32, 40, 3)).astype(np.float32) / 255
  pred = np.clip(true + np.random.default_rng(3).normal(0, 0.05, true.shape),
                 0, 1).astype(np.float32)
  for i in range(2):
    assert float(metrics.psnr(pred, true)[i]) == pytest.approx(
        skmetrics.peak_signal_noise_ratio(true[i], pred[i], data_range=1),
        abs=1e-3)
    expected = skmetrics.structural_similarity(
        true[i], pred[i], channel_axis=-1, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=1.0)
    assert float(metrics.ssim(pred, true)[i]) == pytest.approx(expected,
                                                               abs=1e-4)


def test_mean_abs_delta_l():
  true = np.zeros((1, 2, 2, 3))
  pred = true.copy()
  pred[..., 0] = [[1, -3], [0, 0]]
  pred[..., 1] = 50  # Colour does not count.
  assert metrics.mean_abs_delta_l(pred, true)[0] == pytest.approx(1.0)


def test_colourfulness_by_hand():
  grey = np.full((1, 8, 8, 3), 0.5)
  assert metrics.colourfulness(grey)[0] == pytest.approx(0.0, abs=1e-4)
  red = np.zeros((1, 8, 8, 3))
  red[..., 0] = 1.0
  # rg = 255, yb = 127.5 everywhere: no spread, mean term only.
  assert metrics.colourfulness(red)[0] == pytest.approx(
      0.3 * np.hypot(255, 127.5), rel=1e-5)
  half = red.copy()
  half[:, :4] = 0  # Half black, half red: spread appears.
  rg_std, yb_std = 127.5, 63.75
  expected = np.hypot(rg_std, yb_std) + 0.3 * np.hypot(127.5, 63.75)
  assert metrics.colourfulness(half)[0] == pytest.approx(expected, rel=1e-5)


def test_masked_scores_equal_the_unpadded_image():
  """A padded image scored with its mask scores as the image alone."""
  true = _images(4, (1, 30, 22, 3)).astype(np.float32) / 255
  pred = np.clip(true + np.random.default_rng(5).normal(0, 0.08, true.shape),
                 0, 1).astype(np.float32)
  pad = ((0, 0), (0, 18), (0, 26), (0, 0))
  mask = np.pad(np.ones((1, 30, 22), np.float32), pad[:3])
  alone = metrics.score_rgb(pred, true)
  padded = metrics.score_rgb(np.pad(pred, pad, mode='reflect'),
                             np.pad(true, pad), mask)
  assert set(alone) == set(padded)
  for key in alone:
    np.testing.assert_allclose(padded[key], alone[key], rtol=2e-4, atol=1e-4,
                               err_msg=key)


def test_colourfulness_ratio_of_greyscale_originals_is_not_a_number():
  grey = np.repeat(_images(6, (2, 16, 16, 1)), 3, axis=-1)
  l, _ = color.rgb_uint8_to_model(grey, 127.0)
  pred_ab = np.full(l.shape[:-1] + (2,), 0.2, np.float32)
  sums = metrics.masked_sums(metrics.score_ab(l, pred_ab, grey, 127.0),
                             np.ones(2))
  summary = metrics.summarize([sums])
  assert np.isnan(summary[names.COLOURFULNESS_RATIO])
  assert summary[names.DELTA_CF] > 1  # The absolute difference still counts.


def test_ab_auc_per_pixel_is_the_threshold_definition():
  """The AUC computed per pixel (memory of the image, not x151) equals the
  mean over thresholds of the accuracy, with exact-integer distances too."""
  rng = np.random.RandomState(0)
  a = rng.uniform(-100, 100, (3, 17, 19, 3)).astype(np.float32)
  b = rng.uniform(-100, 100, (3, 17, 19, 3)).astype(np.float32)
  b[0, :5] = a[0, :5]  # Distance 0.
  b[1, ..., 1:] = a[1, ..., 1:] + np.float32([3.0, 4.0])  # Exactly 5.
  mask = (rng.rand(3, 17, 19) > 0.3).astype(np.float32)
  d = np.sqrt(((a[..., 1:] - b[..., 1:]) ** 2).sum(-1))
  per_t = (d[..., None] <= np.arange(151)).mean(-1)
  np.testing.assert_allclose(metrics.ab_accuracy_auc(a, b),
                             per_t.mean((1, 2)), atol=1e-6)
  np.testing.assert_allclose(metrics.ab_accuracy_auc(a, b, mask=mask),
                             (per_t * mask).sum((1, 2)) / mask.sum((1, 2)),
                             atol=1e-6)


def _lab_image(rng, shape=(2, 7, 9)):
  """Mid-tone L with a, b spread over a realistic range (odd size)."""
  return np.concatenate([rng.uniform(20, 80, shape + (1,)),
                         rng.normal(8, 20, shape + (2,))], -1).astype(
                             np.float32)


def test_sliced_wasserstein_ignores_where_the_colours_are():
  rng = np.random.default_rng(0)
  lab = _lab_image(rng)
  flat = lab.reshape(2, -1, 3)
  moved = flat[:, rng.permutation(flat.shape[1])].reshape(lab.shape)
  np.testing.assert_allclose(swd.sliced_wasserstein_ab(moved, lab), 0,
                             atol=1e-5)
  # Delta-E, by contrast, charges for every moved pixel.
  assert float(np.mean(metrics.delta_e_ciede2000(moved, lab))) > 5


def test_sliced_wasserstein_of_a_shift_is_two_over_pi_of_its_length():
  rng = np.random.default_rng(1)
  lab = _lab_image(rng)
  for d in ((6.0, -8.0), (-3.0, 2.0)):
    shifted = lab + np.array((0.0,) + d, np.float32)
    np.testing.assert_allclose(swd.sliced_wasserstein_ab(shifted, lab),
                               2 / np.pi * np.hypot(*d), rtol=5e-3)  # 16 angles.


def test_sliced_wasserstein_of_grey_against_two_opposite_colours():
  # Half the pixels at a = +30, half at a = -30; grey is 30 |cos| away on
  # each direction: 30 * 2 / pi on average. The mean colour (0) is no better.
  lab = np.zeros((1, 4, 6, 3), np.float32)
  lab[..., 0] = 50
  lab[:, :2, :, 1], lab[:, 2:, :, 1] = 30, -30
  grey = lab * np.array([1, 0, 0], np.float32)
  np.testing.assert_allclose(swd.sliced_wasserstein_ab(grey, lab),
                             30 * 2 / np.pi, rtol=5e-3)


def test_swd_histograms_added_in_parts_are_within_a_bin_of_the_exact_distance():
  """Points counted in three uneven parts give the exact distance of all of
  them within a bin, for mid-range colours, a shift, and equal sets (0)."""
  rng = np.random.default_rng(3)
  true = rng.normal([12.0, -20.0], [15.0, 25.0], (5000, 2)).astype(np.float32)
  cases = {'noisy': true + rng.normal(0, 6, true.shape).astype(np.float32),
           'shifted': true + np.float32([7.3, -4.1]),
           'shuffled': rng.permutation(true)}
  for name, pred in cases.items():
    histograms = swd.SwdHistograms()
    for part in (slice(0, 1), slice(1, 1234), slice(1234, None)):
      histograms.add(pred[part], true[part])
    exact = float(swd.sliced_wasserstein(pred, true))
    assert abs(histograms.distance() - exact) <= swd.SWD_BIN, name
  assert histograms.distance() == 0.0
  assert swd.SwdHistograms().distance() == 0.0


def test_sliced_wasserstein_with_a_mask_is_that_of_the_valid_pixels():
  rng = np.random.default_rng(2)
  pred, true = _lab_image(rng), _lab_image(rng)
  mask = np.zeros((2, 7, 9), bool)
  mask[0, :4, :5] = True
  mask[1, 1:6, 2:9] = True
  got = swd.sliced_wasserstein_ab(pred, true, mask)
  want = [swd.sliced_wasserstein_ab(pred[:1, :4, :5], true[:1, :4, :5]),
          swd.sliced_wasserstein_ab(pred[1:, 1:6, 2:], true[1:, 1:6, 2:])]
  np.testing.assert_allclose(got, np.concatenate(want), rtol=1e-5)


@pytest.mark.parametrize('strip_rows', [16, 64])
def test_full_res_strips_score_as_the_whole_image(monkeypatch, strip_rows):
  """Strip by strip (SSIM's windows across strip edges included), the
  metrics equal score_rgb's on the whole padded painting."""
  from colorjax.colour import full_res as full_res_metrics
  monkeypatch.setattr(full_res_metrics, 'STRIP_ROWS', strip_rows)
  rng = np.random.default_rng(7)
  true = _images(3, (1, 70, 45, 3))[0].astype(np.float32)
  pred = np.clip(true + rng.normal(0, 20, true.shape), 0, 255).astype(
      np.float32)
  pad = ((0, 26), (0, 19), (0, 0))
  mask = np.pad(np.ones((70, 45), np.float32), pad[:2])
  pred, true = np.pad(pred, pad, mode='edge'), np.pad(true, pad, mode='edge')
  want = metrics.score_rgb(pred[None] / 255, true[None] / 255, mask[None])
  got = full_res_metrics.score(pred[:70, :45], true[:70, :45])
  assert set(got) == set(want)
  for key in want:
    # The distance of binned a, b: within a bin of the exact one.
    tolerance = swd.SWD_BIN if key == names.AB_SWD else 2e-4
    np.testing.assert_allclose(got[key], want[key], rtol=2e-4,
                               atol=tolerance, err_msg=key)
