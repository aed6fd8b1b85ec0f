"""Where the model is unsure: the spread of its answers, and the marks."""

import numpy as np
import pytest

from colorjax.inference import uncertainty
from colorjax.inference.colorizer import Colorizer


def _inputs(h=12, w=17):
  rng = np.random.default_rng(0)
  l = rng.uniform(-0.6, 0.6, (1, h, w, 1)).astype(np.float32)
  return l, np.zeros((1, h, w, 2), np.float32), np.zeros((1, h, w, 1),
                                                          np.float32)


def test_an_answer_that_follows_its_input_has_no_spread():
  # An answer made of the input pixel by pixel moves and mirrors with it:
  # every variant, moved back, agrees (the edge a move repeats aside).
  l, h, m = _inputs()
  same = uncertainty.spread(
      lambda l, h, m: np.concatenate([0.3 * l, -0.2 * l], -1), l, h, m)
  assert same.shape == (1, 12, 17)
  np.testing.assert_allclose(same[0, 1:-1, 1:-1], 0.0, atol=1e-6)


def test_an_answer_tied_to_the_frame_disagrees_where_it_changes():
  # An answer that depends on where a pixel sits in the frame (not on the
  # painting) does not move with it: the variants disagree wherever the
  # frame's step and its mirror image fall, and nowhere else.
  l, h, m = _inputs(12, 20)
  ramp = np.zeros((1, 12, 20, 2), np.float32)
  ramp[:, :, 12:] = 0.4  # A step in the frame, 8 px from the right.
  s = uncertainty.spread(lambda l, h, m: ramp[:len(l)].repeat(len(l), 0),
                         l, h, m)[0]
  assert s[:, 9:11].max() < 1e-6  # Between the step and its mirror image.
  assert s[:, 13:18].min() > 0.1 and s[:, 2:7].min() > 0.1


def test_peaks_are_apart_and_skip_earlier_points():
  score = np.zeros((20, 20), np.float32)
  score[4, 4], score[4, 6], score[15, 15], score[10, 2] = 9, 8, 7, 6
  assert uncertainty.peaks(score, 2, 3, blur_sigma=0) == [(4, 4), (15, 15)]
  assert uncertainty.peaks(score, 3, 3, blur_sigma=0, earlier=[(15, 15)]) == [
      (4, 4), (10, 2), (0, 0)]
  assert uncertainty.peaks(np.ones((2, 2)), 5, 3) == [(0, 0)]


@pytest.fixture(scope='module')
def colorizer():
  return Colorizer.pretrained()


def test_the_bundled_models_map_is_at_the_paintings_size(colorizer):
  # A mid-tone two-region painting at an odd size: the map is in a, b units
  # at the painting's size, small on flat colour, and it follows the hints
  # (the hinted answer is another answer), local or for the whole painting.
  rgb = np.full((45, 61, 3), (118, 131, 96), np.uint8)
  rgb[:, 30:] = (150, 120, 140)
  before = colorizer.unsure(rgb)
  point = {'x': 12, 'y': 22, 'radius': 6, 'ab': [-14.0, 21.0]}
  hinted = colorizer.unsure(rgb, [point])
  whole = colorizer.unsure(rgb, [dict(point, scope='painting')])
  assert before.shape == hinted.shape == whole.shape == (45, 61)
  assert np.isfinite(before).all() and 0 <= before.min()
  assert before.max() < 2.0  # Flat colour: the variants agree.
  assert np.abs(hinted - before).max() > 0.1
  assert np.abs(whole - hinted).max() > 0.1
