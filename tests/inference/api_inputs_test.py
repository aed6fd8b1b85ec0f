"""What the Python API takes: arrays by their dtype's range, numbers of any
numeric type, points as a list or a tuple; everything else one line."""

import dataclasses

import numpy as np
import pytest

from colorjax.colour import spaces
from colorjax.errors import DataError
from colorjax.hints import hint_files
from colorjax.inference.colorizer import Colorizer


@pytest.fixture(name='bundled', scope='module')
def bundled_fixture():
  return Colorizer.pretrained()


def _painting(h=23, w=31):
  """Mid-tone grey steps of odd size: any misread scale shows."""
  rng = np.random.default_rng(3)
  grey = rng.integers(70, 180, (h, w)).astype(np.uint8)
  return np.stack([grey] * 3, -1)


def test_uint8_uint16_and_unit_floats_give_one_picture(bundled):
  rgb = _painting()
  out8 = bundled.colorize(rgb)
  np.testing.assert_array_equal(bundled.colorize(rgb / 255.0), out8)
  np.testing.assert_array_equal(
      bundled.colorize(rgb.astype(np.uint16) * 257), out8)
  # A resampler's overshoot of [0, 1] is rounding, taken as the clip.
  over = rgb / 255.0
  over[0, 0] = 1.01
  clipped = np.clip(over, 0, 1)
  np.testing.assert_array_equal(bundled.colorize(over),
                                bundled.colorize(clipped))


@pytest.mark.parametrize('make,match', [
    (lambda rgb: rgb.astype(np.float32), r'in \[70, 17\d\].*divide'),
    (lambda rgb: rgb.astype(np.int32), 'int32.*ambiguous'),
    (lambda rgb: rgb.astype(np.int64), 'int64.*ambiguous'),
    (lambda rgb: rgb.tolist(), 'int64.*ambiguous'),
    (lambda rgb: rgb / 255.0 - 0.5, r'float pixels in \[-0\.2'),
])
def test_pixels_on_another_scale_are_one_line(bundled, make, match):
  with pytest.raises(DataError, match=match) as e:
    bundled.colorize(make(_painting()))
  assert '\n' not in str(e.value)
  with pytest.raises(DataError, match=match):
    Colorizer.constant(make(_painting()), (10.0, 20.0))


def test_numpy_numbers_and_a_tuple_of_points_are_taken(bundled):
  rgb = _painting()
  hints = [{'x': 12, 'y': 7, 'rgb': [150, 96, 60], 'radius': 3}]
  expected = bundled.colorize(rgb, hints)
  np_hints = [{'x': np.int64(12), 'y': np.float32(7),
               'rgb': np.asarray([150, 96, 60]), 'radius': np.int32(3)}]
  np.testing.assert_array_equal(bundled.colorize(rgb, np_hints), expected)
  np.testing.assert_array_equal(bundled.colorize(rgb, tuple(hints)), expected)
  assert not np.array_equal(bundled.colorize(rgb), expected)  # Hints count.


@pytest.mark.parametrize('make,match', [
    (lambda: [hint_files.Point(-3, 4, (10.0, 20.0))], 'outside the painting'),
    (lambda: [hint_files.Point(5, 4, (10.0, 20.0), radius=500)], 'radius'),
    (lambda: [hint_files.Point(5, 4, (1e6, 0.0))], r'\[-128, 128\]'),
    (lambda: [hint_files.Point('5', 4, (10.0, 20.0))], 'finite number'),
    (lambda: [hint_files.Point(5, float('nan'), (10.0, 20.0))],
     'finite number'),
    (lambda: [{'x': True, 'y': 4, 'ab': [1, 2]}], 'finite number'),
    # A NaN hint once came back blamed on the model's weights.
    (lambda: hint_files.Scribble(np.full((23, 31, 2), np.nan, np.float32),
                                 np.ones((23, 31), bool)), 'finite numbers'),
    (lambda: hint_files.Scribble(np.zeros((23, 31, 3)),
                                 np.ones((23, 31), bool)), r'\(H, W, 2\)'),
    (lambda: hint_files.Scribble(np.zeros((46, 62, 2)),
                                 np.ones((46, 62), bool)), "painting's size"),
])
def test_bad_points_are_one_line(bundled, make, match):
  with pytest.raises(hint_files.HintError, match=match) as e:
    bundled.colorize(_painting(), make())
  assert '\n' not in str(e.value)


@pytest.mark.parametrize('vibrance', ['2', None, True, 5.0, -1])
def test_a_vibrance_not_a_number_in_range_is_one_line(bundled, vibrance):
  with pytest.raises(DataError, match='vibrance'):
    bundled.with_vibrance(vibrance)


def test_a_colour_for_the_whole_painting_travels_past_the_gate(bundled):
  """A hint on the sky of a two-tone painting: local, the field far below
  keeps its automatic colours; said for the whole painting, it reaches it."""
  grey = np.zeros((45, 67, 3), np.uint8)
  grey[:20], grey[20:] = 196, 92
  blue = {'x': 33, 'y': 8, 'color': '#3d6fb0', 'radius': 3}
  auto = bundled.colorize(grey)
  local = bundled.colorize(grey, [blue])
  whole = bundled.colorize(grey, [dict(blue, scope='painting')])
  lab = {k: np.asarray(spaces.rgb_to_lab(v / 255.0))
         for k, v in (('auto', auto), ('local', local), ('whole', whole))}
  field = (slice(30, 45), slice(0, 67))
  b_auto, b_local, b_whole = (lab[k][field][..., 2].mean()
                              for k in ('auto', 'local', 'whole'))
  assert abs(b_local - b_auto) < 1.5  # The gate keeps it on the sky.
  assert b_whole < b_local - 3  # The painting's tone: the field turns blue.
  # The same as the model with its gate off; a bad scope is one line.
  ungated = Colorizer(dataclasses.replace(
      bundled_generator(), apply_fn=bundled_generator().ungated_apply_fn),
                      bundled.work_size)
  np.testing.assert_array_equal(ungated.colorize(grey, [blue]), whole)
  with pytest.raises(hint_files.HintError, match='"scope"'):
    bundled.colorize(grey, [dict(blue, scope='everywhere')])
  assert hint_files.to_json(hint_files.parse_points(
      [dict(blue, scope='painting')], (45, 67))).count('"painting"') == 1


def bundled_generator():
  from colorjax.inference import runs  # pylint: disable=g-import-not-at-top
  from colorjax.inference.colorizer import generator_of  # pylint: disable=g-import-not-at-top
  config, _, state = runs.load_run('colorjax:hints')
  return generator_of(config, state)
