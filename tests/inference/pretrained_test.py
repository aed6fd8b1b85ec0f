"""The hint model that ships in the package: intact, loaded with no training,
colouring and following hints; a damaged copy is one line."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from tiny import subprocess_env

from colorjax import names
from colorjax.colour import spaces as color
from colorjax.errors import CheckpointError
from colorjax.inference import pretrained
from colorjax.inference.colorizer import Colorizer


def test_the_bundled_file_is_the_one_its_card_names():
  card = pretrained.read_card()
  path = os.path.join(pretrained.FOLDER, pretrained.WEIGHTS)
  with open(path, 'rb') as f:
    data = f.read()
  assert len(data) == card['bytes'] <= 10 * 2**20
  assert hashlib.sha256(data).hexdigest() == card['sha256']
  assert card['config']['hints']['enabled'] and card['dtype'] == 'float16'
  assert 'non-commercial' in card['terms'] and card['train_command']


@pytest.fixture(name='bundled', scope='module')
def bundled_fixture():
  return Colorizer.pretrained()


def _sky_and_field(h=45, w=67):
  """A grey painting of odd size: a light, smooth sky over a darker field."""
  rgb = np.zeros((h, w, 3), np.uint8)
  rgb[:h // 2] = 196
  rgb[h // 2:] = 92
  return rgb


def test_the_bundled_model_colours_a_painting_of_odd_size(bundled):
  grey = _sky_and_field()
  out = bundled.colorize(grey)
  assert out.shape == grey.shape and out.dtype == np.uint8
  lab_in = np.asarray(color.rgb_to_lab(grey / 255.0))
  lab_out = np.asarray(color.rgb_to_lab(out / 255.0))
  assert np.abs(lab_out[..., 0] - lab_in[..., 0]).mean() < 1.0  # Its L.
  assert 'bundled' in bundled.description


def test_a_blue_hint_on_a_grey_sky_makes_it_bluer(bundled):
  grey = _sky_and_field()
  lab_auto = np.asarray(color.rgb_to_lab(bundled.colorize(grey) / 255.0))
  hint = [{'x': 33, 'y': 8, 'color': '#4a6fa5', 'radius': 3}]
  lab_hint = np.asarray(color.rgb_to_lab(
      bundled.colorize(grey, hints=hint) / 255.0))
  sky = (slice(2, 20), slice(2, 65))
  assert lab_hint[sky][..., 2].mean() < lab_auto[sky][..., 2].mean() - 5


def _copy(tmp_path):
  folder = tmp_path / 'model'
  shutil.copytree(pretrained.FOLDER, folder)
  return folder


@pytest.mark.parametrize('damage', ['truncated', 'altered', 'card'])
def test_a_damaged_copy_is_one_line(tmp_path, damage):
  folder = _copy(tmp_path)
  weights = folder / pretrained.WEIGHTS
  data = weights.read_bytes()
  if damage == 'truncated':
    weights.write_bytes(data[:len(data) * 6 // 10])
    match = 'truncated or altered'
  elif damage == 'altered':
    weights.write_bytes(data[:1000] + bytes([data[1000] ^ 1]) + data[1001:])
    match = 'SHA-256'
  else:
    (folder / pretrained.CARD).write_text('{"sha256": ')
    match = 'hints.json'
  with pytest.raises(CheckpointError, match=match) as e:
    pretrained.load(str(folder))
  assert '\n' not in str(e.value) and str(folder) in str(e.value)


def _set(card, dotted, value):
  *outer, last = dotted.split('.')
  for key in outer:
    card = card[key]
  card[last] = value


@pytest.mark.parametrize('field,value,rehash,match', [
    # What changes the picture, edited: the card says so.
    ('config.ab_scale', -110, False, 'differ from the ones it was exported'),
    ('config.ab_scale', 1, False, 'settings_sha256'),
    ('config.image_size', 64, False, 'settings_sha256'),
    ('config.vibrance', 0, False, 'settings_sha256'),
    ('data_stats.mean_ab', [40.0, 40.0], False, 'settings_sha256'),
    # Edited and hashed again: still held to the ranges training holds.
    ('config.ab_scale', -110, True,
     r'ab_scale=-110(\.0)? must be a number in .* Reinstall'),
    ('config.hints.gate', ['wide', 0.1, 0.5], True, 'hints.gate'),
    # Fields of the wrong type.
    ('sha256', 1234, False, '"sha256" is 1234, not 64 hex digits'),
    ('bytes', None, False, '"bytes" is None'),
    ('epoch', 'seventy', False, '"epoch" is \'seventy\''),
    ('dtype', 'int8', False, '"dtype"'),
])
def test_an_edited_card_is_one_line(tmp_path, field, value, rehash, match):
  folder = _copy(tmp_path)
  path = folder / pretrained.CARD
  card = json.loads(path.read_text())
  _set(card, field, value)
  if rehash:
    card['settings_sha256'] = pretrained.settings_digest(card)
  path.write_text(json.dumps(card))
  with pytest.raises(CheckpointError, match=match) as e:
    pretrained.load_model(str(folder))
  assert '\n' not in str(e.value) and str(folder) in str(e.value)


def test_the_card_as_shipped_hashes_to_its_settings_digest():
  card = pretrained.read_card()
  assert pretrained.settings_digest(card) == card['settings_sha256']
  card['config']['ab_scale'] += 1e-6  # Any change shows.
  assert pretrained.settings_digest(card) != card['settings_sha256']


def test_colorize_and_evaluate_use_it_with_no_workdir(tmp_path):
  painting = tmp_path / 'sky.png'
  cv2.imwrite(str(painting), _sky_and_field())
  result = subprocess.run(
      [sys.executable, '-m', 'colorjax', 'colorize', str(painting),
       f'--output={tmp_path / "out"}'], capture_output=True, text=True,
      env=subprocess_env(), timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  assert f'model: the bundled hint model ({names.BUNDLED}' in result.stderr
  assert cv2.imread(str(tmp_path / 'out' / 'sky.png')).shape == (45, 67, 3)
  report = json.dumps(pretrained.read_card()['config'])
  assert '"reach"' in report


def test_export_writes_what_load_reads_and_checks_its_gate_first(hint_run,
                                                                  tmp_path):
  import jax

  from colorjax.training import workdir as workdir_lib
  out = tmp_path / 'exported'
  bad = subprocess.run(
      [sys.executable, '-m', 'colorjax', 'export-pretrained',
       f'--workdir={hint_run}', f'--output={out}', '--hint_gate=0.5,0.4'],
      capture_output=True, text=True, env=subprocess_env(), timeout=300,
      check=False)
  assert bad.returncode == 1 and 'Traceback' not in bad.stderr
  assert bad.stderr.strip().splitlines()[-1] == (
      'error: --hint_gate=0.5,0.4 must be reach,low,high with reach in '
      '[0, 10] (0: off) and 0 <= low < high <= 1, e.g. 0.5,0.15,0.35.')
  assert not out.exists()
  good = subprocess.run(
      [sys.executable, '-m', 'colorjax', 'export-pretrained',
       f'--workdir={hint_run}', f'--output={out}', '--dtype=float32',
       '--hint_gate=0.4,0.1,0.3', '--train_command=python launch.py x'],
      capture_output=True, text=True, env=subprocess_env(), timeout=300,
      check=False)
  assert good.returncode == 0, good.stderr[-2000:]
  config, variables, _, card = pretrained.load(str(out))
  assert tuple(config.hints.gate) == (0.4, 0.1, 0.3)
  assert card['train_command'] == 'python launch.py x'
  assert card['sha256'] == hashlib.sha256(
      (out / pretrained.WEIGHTS).read_bytes()).hexdigest()
  _, _, state = workdir_lib.load_run(hint_run)
  for a, b in zip(jax.tree.leaves(variables),
                  jax.tree.leaves(state.g.variables()), strict=True):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_torn_run_file_leaves_the_exported_model_as_it_was(hint_run,
                                                             tmp_path):
  # An earlier export in place; then the run's data_stats.json is torn: the
  # export fails in one line before writing, and both files are unchanged.
  from colorjax.errors import CheckpointError
  run = tmp_path / 'run'
  shutil.copytree(hint_run, run)
  out = tmp_path / 'exported'
  pretrained.export(str(run), str(out), 'float16')
  before = {p.name: p.read_bytes() for p in out.iterdir()}
  (run / names.DATA_STATS).write_text('{"mean_ab": [0.1,')
  with pytest.raises(CheckpointError, match=names.DATA_STATS):
    pretrained.export(str(run), str(out), 'float32')
  assert {p.name: p.read_bytes() for p in out.iterdir()} == before
  pretrained.load(str(out))  # Still loads.


def test_a_temperature_for_the_bundled_model_is_one_line():
  from colorjax.inference import runs  # pylint: disable=g-import-not-at-top
  with pytest.raises(CheckpointError, match='drop --temperature'):
    runs.load_run(names.BUNDLED, temperature=0.5)
  with pytest.raises(CheckpointError, match='drop --temperature'):
    Colorizer.from_workdir(names.BUNDLED, temperature=0.5)


def test_scoring_another_dataset_keeps_the_first_report():
  assert names.eval_report(7) == 'eval/epoch_7.json'
  assert names.eval_report(7, 'paintings_more_test') == (
      'eval/epoch_7_paintings_more_test.json')
  assert names.eval_report(7, 'my scans/ü_all') == 'eval/epoch_7_my_scans_all.json'
  assert len({names.eval_report(7, d) for d in ('', 'a_test', 'b_test')}) == 3
