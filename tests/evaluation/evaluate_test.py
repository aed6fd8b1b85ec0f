"""Evaluation, baselines, reports, plots and sample grids of a trained run."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from tiny import ROOT
from tiny import manifest_folder
from tiny import subprocess_env

from colorjax import names
from colorjax.benchmark import compare
from colorjax.colour import baselines
from colorjax.datasets import sources
from colorjax.errors import CheckpointError
from colorjax.errors import DataError
from colorjax.evaluation import evaluate
from colorjax.evaluation import tables
from colorjax.training import plots
from colorjax.training import train


@pytest.fixture(name='run_dir', scope='module')
def run_dir_fixture(tmp_path_factory):
  from tiny import tiny_config
  run_dir = str(tmp_path_factory.mktemp('runs') / 'bn')
  train.train_and_evaluate(tiny_config(num_epochs=2), run_dir)
  return run_dir


def test_training_leaves_samples_plots_and_eval_metrics(run_dir):
  assert sorted(os.listdir(os.path.join(run_dir, names.SAMPLES))) == [
      os.path.basename(names.sample_grid(e)) for e in (1, 2)]
  assert sorted(os.listdir(os.path.join(run_dir, names.PLOTS))) == [
      'accuracy.png', 'colourfulness.png', 'delta_e.png', 'loss.png']
  evals = [r for r in plots.read_records(run_dir)
           if r['kind'] == names.VALIDATION]
  for key in (names.DELTA_E, names.LAB_ACC_TERM, names.LAB_ACC_NAZERI,
              names.AB_AUC, names.PSNR, names.SSIM, names.COLOURFULNESS_RATIO,
              names.MEAN_ABS_DL):
    assert np.isfinite(evals[-1][names.val(key)]), key
  # The trivial answers' validation scores, drawn as lines on the plots.
  trivial = plots.read_trivial_answers(run_dir)
  assert set(trivial) == {'grey', 'prior'}
  assert trivial['grey'][names.COLOURFULNESS] == pytest.approx(0, abs=0.01)
  # The model keeps the input's lightness (up to gamut clipping).
  assert evals[-1][names.val(names.MEAN_ABS_DL)] < 2.0


def test_per_epoch_averages_train_lines_and_keeps_eval_values():
  records = [
      {'kind': names.TRAIN, 'epoch': 1, 'step': 1, 'g_l1': 0.5},
      {'kind': names.TRAIN, 'epoch': 1, 'step': 2, 'g_l1': 0.3},
      {'kind': names.VALIDATION, 'epoch': 1, 'step': 2,
       names.val(names.DELTA_E): 9.0},
      {'kind': names.TRAIN, 'epoch': 2, 'step': 3, 'g_l1': 0.2},
  ]
  series = plots.per_epoch(records)
  assert series['g_l1'] == {1: pytest.approx(0.4), 2: pytest.approx(0.2)}
  assert series[names.val(names.DELTA_E)] == {1: 9.0}


def test_evaluate_reports_model_and_baselines(run_dir):
  report = evaluate.evaluate(run_dir)
  assert report['epoch'] == 2 and report['num_images'] == 8
  assert set(report['results']) == {'model', 'grey', 'prior'}
  grey = report['results']['grey']
  # Grey is colourless (up to float rounding, on a 0-255 scale where vivid
  # photos score ~100) and keeps L.
  assert grey['colourfulness'] == pytest.approx(0, abs=0.01)
  assert grey['mean_abs_dl'] == pytest.approx(0, abs=0.05)
  # The prior is a real colour: the training set's mean ab, saved by training.
  prior = json.load(open(os.path.join(run_dir, names.DATA_STATS)))['mean_ab']
  assert np.abs(prior).max() > 0.005
  assert report['results']['prior']['colourfulness'] > 0
  table = tables.format_table(report['results'])
  assert table.count('\n') == 4 and '| grey |' in table
  # An older epoch and another image set work too.
  assert evaluate.evaluate(run_dir, evaluate.Settings(epoch=1))['epoch'] == 1


def test_evaluate_bad_inputs(run_dir, tmp_path):
  with pytest.raises(CheckpointError, match='no checkpoint for epoch 9'):
    evaluate.evaluate(run_dir, evaluate.Settings(epoch=9))
  with pytest.raises(CheckpointError, match='does not exist'):
    evaluate.evaluate(str(tmp_path / 'missing'))
  with pytest.raises(CheckpointError, match='not a colorjax workdir'):
    evaluate.evaluate(str(tmp_path))
  with pytest.raises(DataError, match='multiple of 16'):
    evaluate.evaluate(run_dir, evaluate.Settings(image_size=40))
  empty = tmp_path / 'empty_run'
  empty.mkdir()
  (empty / names.CONFIG).write_text(open(
      os.path.join(run_dir, names.CONFIG)).read())
  with pytest.raises(CheckpointError, match='no checkpoint in'):
    evaluate.evaluate(str(empty))


def test_evaluate_command_line(run_dir, tmp_path):
  out = tmp_path / 'report.json'
  result = subprocess.run(
      [sys.executable, '-m', 'colorjax', 'evaluate', f'--workdir={run_dir}',
       f'--output={out}'], cwd=ROOT, capture_output=True, text=True,
      env=subprocess_env(), timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  assert '| model |' in result.stdout and '| prior |' in result.stdout
  assert json.load(open(out))['results']['model']['delta_e'] > 0
  result = subprocess.run(
      [sys.executable, '-m', 'colorjax', 'evaluate', f'--workdir={run_dir}',
       '--epoch=5'], cwd=ROOT, capture_output=True, text=True,
      env=subprocess_env(), timeout=300)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith(
      'error: no checkpoint for epoch 5')


def test_recipes_share_seed_data_size_and_steps():
  configs = compare.recipe_configs('demo', num_epochs=3, dataset='samples')
  assert [c.discriminator.norm for c in configs.values()][:2] == [
      'batch', 'spectral']
  assert configs['cnn'].model == 'cnn'
  for key in compare.SHARED_KEYS:
    values = {str(c[key]) for c in configs.values()}
    assert len(values) == 1, key
  assert configs['sn'].num_epochs == 3
  # The recipes themselves still differ where they should.
  assert configs['sn'].real_label == 1.0 and configs['bn'].real_label == 0.9


def test_report_from_existing_runs(run_dir, tmp_path):
  from tiny import tiny_config
  cnn_dir = os.path.join(os.path.dirname(run_dir), 'cnn')
  train.train_and_evaluate(tiny_config(model='cnn'), cnn_dir)
  markdown = compare.build_report([run_dir, cnn_dir], str(tmp_path))
  rows = [l for l in markdown.splitlines() if l.startswith('| ')]
  assert any(l.startswith('| bn | gan (batch D) | 2 |') for l in rows)
  assert any(l.startswith('| cnn | cnn | 1 |') for l in rows)
  assert any(l.startswith('| grey (a, b = 0) |') for l in rows)
  assert any(l.startswith('| constant prior') for l in rows)
  assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.png')) == [
      'accuracy.png', 'colourfulness.png', 'delta_e.png', 'loss.png']
  assert (tmp_path / names.REPORT).read_text() == markdown


def test_a_painting_out_of_memory_at_full_resolution_is_one_line(
    run_dir, tmp_path, monkeypatch, caplog):
  """It is named with its size and left out of the full-resolution table
  (all of its answers); the other painting is scored and the header says
  so."""
  from colorjax.colour import full_res as full_res_metrics
  folder = manifest_folder(tmp_path / 'paintings')
  real = full_res_metrics.score

  def score(pred, true):
    if true.shape[:2] == (67, 85):  # p1.png; after its model answer.
      raise MemoryError()
    return real(pred, true)

  monkeypatch.setattr(full_res_metrics, 'score', score)
  report = evaluate.evaluate(
      run_dir,
      evaluate.Settings(dataset=str(folder), split='test', full_res=True))
  assert report['num_images'] == 2 and report['full_res_num_images'] == 1
  assert report['full_res_out_of_memory'] == 1
  assert ('through colorize, 1 images, 1 left out: out of memory' in
          tables.format_report(report))
  assert 'p1.png (85 x 67): out of memory at full resolution' in caplog.text


def test_evaluate_a_manifest_split_at_both_resolutions(run_dir, tmp_path):
  folder = manifest_folder(tmp_path / 'paintings')
  # A 1x1 painting in the split: skipped at the training size, so at full
  # resolution too; both tables say how many they scored.
  cv2.imwrite(str(folder / 'dot.png'), np.full((1, 1, 3), 200, np.uint8))
  with open(folder / 'MANIFEST.tsv', 'a') as f:
    f.write('dot.png\ttest\n')
  report = evaluate.evaluate(
      run_dir,
      evaluate.Settings(dataset=str(folder), split='test', full_res=True))
  assert report['num_images'] == 2 and report['full_res_num_images'] == 2
  assert 'through colorize, 2 images' in tables.format_report(report)
  for results in (report['results'], report['full_res_results']):
    assert set(results) == set(baselines.ANSWERS)
    for values in results.values():
      for key, _, _ in tables.COLUMNS:
        assert np.isfinite(values[key]), key
  full = report['full_res_results']
  # colorize keeps each painting's own lightness.
  assert full['model'][names.MEAN_ABS_DL] < 0.5
  assert full['grey'][names.COLOURFULNESS] == pytest.approx(0, abs=0.05)
  # Vibrance 0 turns the model's answer into the grey one, at both sizes.
  flat = evaluate.evaluate(
      run_dir,
      evaluate.Settings(
          dataset=str(folder), split='test', full_res=True, vibrance=0.0))
  for results in ('results', 'full_res_results'):
    np.testing.assert_allclose(flat[results]['model'][names.DELTA_E],
                               flat[results]['grey'][names.DELTA_E],
                               atol=0.02)
  with pytest.raises(DataError, match="no 'val' split|lists no file"):
    evaluate.evaluate(run_dir,
                      evaluate.Settings(dataset=str(folder), split='val'))
  with pytest.raises(DataError, match='has no MANIFEST.tsv'):
    evaluate.evaluate(run_dir,
                      evaluate.Settings(dataset=str(tmp_path), split='test'))
  with pytest.raises(DataError, match="folder '/no/such' does not exist"):
    evaluate.evaluate(run_dir,
                      evaluate.Settings(dataset='/no/such', split='test'))
  with pytest.raises(DataError, match="folder '/no/such' does not exist"):
    evaluate.evaluate(run_dir, evaluate.Settings(dataset='/no/such'))


def test_training_never_sees_a_manifest_test_split(tmp_path):
  folder = manifest_folder(tmp_path / 'paintings')
  train_paths, val_paths = sources.split_folder(str(folder), 0.2)
  used = {os.path.basename(p) for p in train_paths + val_paths}
  assert used == {'p0.png', 'p2.png', 'p3.png', 'p5.png'}


def test_compare_runs_from_outside_the_repository(run_dir, tmp_path):
  """Recipes are found inside the installed package, not by a relative path."""
  env = subprocess_env(PYTHONPATH='')
  result = subprocess.run([sys.executable, '-m', 'colorjax', 'compare',
                           '--help'],
                          cwd=tmp_path, capture_output=True, text=True,
                          env=env, timeout=120)
  # absl exits 1 after printing --help; what matters is that it got there.
  assert '--train' in result.stdout and 'Traceback' not in result.stderr
  result = subprocess.run(
      [sys.executable, '-m', 'colorjax', 'compare', run_dir,
       f'--output={tmp_path / "report"}'], cwd=tmp_path, capture_output=True,
      text=True, env=env, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  assert (tmp_path / 'report' / names.REPORT).exists()


@pytest.mark.parametrize('flag,message', [
    ('--hints=-1', '--hints=-1 must be whole numbers in [0, 10000]'),
    ('--hints=', '--hints= must be whole numbers'),
    ('--person_hints=x', '--person_hints=x must be whole numbers in [1, 100]'),
    ('--plot=/no/such/folder/c.png', 'the folder /no/such/folder does not'),
    ('--output=', '--output= is empty'),
    ('--hint_gate=0.5,0.4', '--hint_gate=0.5,0.4 must be reach,low,high')])
def test_evaluate_checks_its_flags_before_any_work(tmp_path, flag, message):
  # The workdir does not exist either: the flag is what is reported.
  result = subprocess.run(
      [sys.executable, '-m', 'colorjax', 'evaluate',
       f'--workdir={tmp_path}/none', '--hints=0,1', flag],
      capture_output=True, text=True, env=subprocess_env(), timeout=120,
      check=False)
  assert result.returncode == 1 and 'Traceback' not in result.stderr
  (line,) = [l for l in result.stderr.splitlines() if l.strip()]
  assert message in line, line


def test_outputs_that_would_replace_an_input_or_each_other_are_refused_first(
    tmp_path):
  """Each is one line before any work, and nothing is written or changed."""
  data = manifest_folder(tmp_path / 'ds')
  painting = data / 'p0.png'
  before = painting.read_bytes()
  folder = tmp_path / 'reports'
  folder.mkdir()
  cases = [
      ([f'--output={painting}'], ', which this run reads; write the output'),
      ([f'--output={tmp_path}/r.png', f'--plot={tmp_path}/r.png',
        '--hints=0,1'], '--output and --plot are the same file'),
      ([f'--output={folder}'], f'--output={folder} is a folder'),
      ([f'--plot={tmp_path}/curve.txt', '--hints=0,1'],
       'it is written as .png or .pdf or .svg'),
      ([f'--plot={folder}', '--hints=0,1'], f'--plot={folder} is a folder'),
  ]
  for args, says in cases:
    result = subprocess.run(
        [sys.executable, '-m', 'colorjax', 'evaluate',
         f'--workdir={names.BUNDLED}', f'--dataset={data}', '--split=all',
         *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env=subprocess_env())
    assert result.returncode == 1, (args, result.stderr[-2000:])
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith('error: ') and says in line, (args, line)
  assert painting.read_bytes() == before
  assert sorted(p.name for p in tmp_path.iterdir()) == ['ds', 'reports']
  assert not list(folder.iterdir())
