"""Full-resolution colourisation: sizes, formats, lightness, bad files, overwrite."""

import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import color as skcolor
from skimage import data as skdata
from tiny import ROOT
from tiny import subprocess_env

from colorjax.errors import CheckpointError
from colorjax.inference import colorize


@pytest.fixture(name='run_dir', scope='session')
def run_dir_fixture(tiny_run):
  return tiny_run


@pytest.fixture(name='colorizer', scope='module')
def colorizer_fixture(run_dir):
  return colorize.Colorizer.from_workdir(run_dir, batch_size=4)


def _mean_abs_dl(inp_rgb, out_rgb):
  l_in = skcolor.rgb2lab(inp_rgb)[..., 0]
  l_out = skcolor.rgb2lab(out_rgb.astype(np.float64) / 255)[..., 0]
  return np.abs(l_in - l_out).mean()


@pytest.mark.parametrize('h,w', [(37, 53), (120, 45), (16, 16), (9, 300)])
def test_any_size_keeps_shape_and_lightness(colorizer, h, w):
  rgb = cv2.resize(skdata.astronaut(), (w, h), interpolation=cv2.INTER_AREA)
  out = colorizer.colorize(rgb)
  assert out.shape == (h, w, 3) and out.dtype == np.uint8
  assert _mean_abs_dl(rgb / 255, out) < 0.5
  assert colorize.batching.is_greyscale(out) is False  # It coloured.



def _colorizer(run_dir):
  return colorize.Colorizer.from_workdir(run_dir)

def test_grey_colour_and_16_bit_inputs_agree(colorizer):
  rgb = skdata.coffee()[:100, :130]
  grey8 = np.round(skcolor.rgb2gray(rgb) * 255).astype(np.uint8)
  grey16 = grey8.astype(np.uint16) * 257  # Same values, 16 bits.
  out8, out16, out_grey_rgb = colorizer.colorize_batch(
      [grey8, grey16, np.stack([grey8] * 3, -1)])
  np.testing.assert_array_equal(out8, out16)
  np.testing.assert_array_equal(out8, out_grey_rgb)
  assert _mean_abs_dl(np.stack([grey8] * 3, -1) / 255, out8) < 0.5


def test_run_processes_the_good_and_reports_the_bad(run_dir, tmp_path):
  inputs = tmp_path / 'in'
  (inputs / 'sub').mkdir(parents=True)
  cv2.imwrite(str(inputs / 'a.png'), skdata.rocket()[:50, :70, ::-1])
  cv2.imwrite(str(inputs / 'sub' / 'b.jpg'),
              np.round(skcolor.rgb2gray(skdata.coffee()) * 255).astype(
                  np.uint8))
  (inputs / 'broken.png').write_bytes(b'')
  out = tmp_path / 'out'
  failures = colorize.run(_colorizer(run_dir), [str(inputs)], str(out),
                          compare=True)
  assert failures == 1
  assert cv2.imread(str(out / 'a.png')).shape == (50, 70, 3)
  assert cv2.imread(str(out / 'sub' / 'b.png')).shape == (400, 600, 3)
  # Colour input: grey | output | original; greyscale input: two panels.
  assert cv2.imread(str(out / 'a_compare.png')).shape == (50, 3 * 70 + 16, 3)
  assert cv2.imread(str(out / 'sub' / 'b_compare.png')).shape == (
      400, 2 * 600 + 8, 3)

  # Existing outputs are kept unless --overwrite.
  marker = np.zeros((5, 5, 3), np.uint8)
  cv2.imwrite(str(out / 'a.png'), marker)
  colorize.run(_colorizer(run_dir), [str(inputs / 'a.png')], str(out))
  assert cv2.imread(str(out / 'a.png')).shape == (5, 5, 3)
  colorize.run(_colorizer(run_dir), [str(inputs / 'a.png')], str(out),
               overwrite=True)
  assert cv2.imread(str(out / 'a.png')).shape == (50, 70, 3)

  # Inputs are never overwritten, even with --overwrite.
  before = (inputs / 'a.png').read_bytes()
  failures = colorize.run(_colorizer(run_dir), [str(inputs / 'a.png')],
                          str(inputs), overwrite=True)
  assert failures == 1 and (inputs / 'a.png').read_bytes() == before


def test_workdir_without_checkpoint(tmp_path):
  with pytest.raises(CheckpointError, match='does not exist'):
    colorize.Colorizer.from_workdir(str(tmp_path / 'nothing'))


def test_command_line_exit_codes(run_dir, tmp_path):
  good = tmp_path / 'good.png'
  cv2.imwrite(str(good), skdata.astronaut()[:64, :48])
  (tmp_path / 'bad.jpg').write_bytes(b'')
  cmd = [sys.executable, '-m', 'colorjax', 'colorize', f'--workdir={run_dir}',
         f'--output={tmp_path / "out"}', '--work-size=32']
  env = subprocess_env()
  result = subprocess.run(cmd + [str(good), str(tmp_path / 'bad.jpg')],
                          cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 1
  assert 'bad.jpg: empty file' in result.stderr
  assert cv2.imread(str(tmp_path / 'out' / 'good.png')).shape == (64, 48, 3)
  result = subprocess.run(cmd + ['--overwrite', str(good)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
