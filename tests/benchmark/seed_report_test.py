"""Intervals over seeds, the paired bootstrap and the N-seed comparison report."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from tiny import manifest_folder

from colorjax import names
from colorjax.benchmark import learning_curves
from colorjax.benchmark import seed_report
from colorjax.evaluation import stats
from colorjax.training import train


def test_mean_ci_is_the_student_t_interval():
  mean, half = stats.mean_ci([1.0, 2.0, 3.0])
  # t(0.975, 2 df) = 4.3027; sd = 1.
  assert mean == 2.0 and half == pytest.approx(4.3027 / np.sqrt(3), rel=1e-4)
  assert np.isnan(stats.mean_ci([5.0])[1])


def test_paired_bootstrap_finds_a_shift_and_not_noise():
  rng = np.random.default_rng(1)
  a = rng.normal(10, 1, (3, 300))
  d, lo, hi = stats.paired_bootstrap(a + 0.3 + rng.normal(0, 0.1, a.shape), a)
  assert d == pytest.approx(0.3, abs=0.05) and 0 < lo < d < hi
  d, lo, hi = stats.paired_bootstrap(a, a + rng.normal(0, 0.1, a.shape))
  assert lo < 0 < hi
  # A ratio of means: A twice as colourful as B.
  cf, true = rng.uniform(10, 20, (2, 50)), rng.uniform(20, 30, (2, 50))
  d, _, _ = stats.paired_bootstrap(2 * cf, cf, true, true)
  assert d == pytest.approx(cf.mean() / true.mean(), rel=1e-6)
  with pytest.raises(ValueError, match='same images'):
    stats.paired_bootstrap(a, a[:, :10])


def test_seed_difference_ci_pairs_seeds_or_falls_back_to_welch():
  from scipy import stats as scipy_stats
  # Paired: differences 1, 1, 0.5 -> mean 0.833, sd 0.2887, t(0.975, 2).
  d, lo, hi = stats.seed_difference_ci([1.0, 2.0, 3.0], [0.0, 1.0, 2.5])
  half = 4.3027 * 0.288675 / np.sqrt(3)
  assert d == pytest.approx(0.8333, abs=1e-4)
  assert (lo, hi) == pytest.approx((d - half, d + half), abs=1e-3)
  # Unequal counts (a diverged seed): Welch's interval, as scipy's.
  a, b = [1.0, 2.0, 3.5, 2.2], [0.1, 0.9, 0.4]
  d, lo, hi = stats.seed_difference_ci(a, b)
  ref = scipy_stats.ttest_ind(a, b, equal_var=False).confidence_interval()
  assert (lo, hi) == pytest.approx((ref.low, ref.high), rel=1e-6)
  assert np.isnan(stats.seed_difference_ci([1.0], [2.0])[1])


def test_significant_needs_both_intervals_to_exclude_zero():
  tight = dict(diff=0.5, low=0.2, high=0.8)
  assert seed_report.significant(dict(tight, seed_low=0.1, seed_high=0.9))
  assert not seed_report.significant(dict(tight, seed_low=-0.4, seed_high=1.4))
  assert not seed_report.significant(dict(diff=0.5, low=-0.1, high=0.8,
                                          seed_low=0.1, seed_high=0.9))
  # One seed a side: no seed interval, the bootstrap decides.
  assert seed_report.significant(dict(tight, seed_low=np.nan,
                                      seed_high=np.nan))


@pytest.fixture(name='seed_runs', scope='module')
def seed_runs_fixture(tmp_path_factory):
  from tiny import tiny_config
  root = tmp_path_factory.mktemp('seed_runs')
  runs = {}
  for name, norm in (('bn', 'batch'), ('sn', 'spectral')):
    runs[name] = str(root / name)
    # Three epochs: the learning curves' last half has a swing. BN's run is
    # trained for two and then continued to three, as a rerun of compare
    # with more epochs does.
    for epochs in ((2, 3) if name == 'bn' else (3,)):
      # Validated every 2 steps too, on 4 of the 8 validation images.
      train.train_and_evaluate(tiny_config(
          num_seeds=3, num_epochs=epochs, eval_every_steps=2, eval_subset=4,
          **{'discriminator.norm': norm}), runs[name])
      if epochs == 2:
        two_epochs = learning_curves.read(seed_report._seed_dirs(runs[name]))
  return runs, manifest_folder(root / 'paintings'), two_epochs


def test_the_report_has_intervals_baselines_stability_and_a_verdict(
    seed_runs, tmp_path):
  runs, folder, two_epochs = seed_runs
  runs = dict(runs, bn_again=runs['bn'])  # The same runs: no difference.
  comparisons = [('bn', 'sn', 'test pair'), ('bn', 'bn_again', 'identical')]
  markdown = seed_report.build(runs, str(folder), 'test', comparisons,
                               str(tmp_path), {'bn': 60.0})
  with open(tmp_path / seed_report.REPORT_JSON) as f:
    report = json.load(f)
  assert report['num_images'] == 2
  for name in runs:
    result = report['results'][name]
    assert len(result['per_seed']) == 3
    assert np.isfinite(result['ci95'][names.DELTA_E])
    # Three different seeds: different scores.
    assert len({s[names.DELTA_E] for s in result['per_seed']}) == 3
  assert set(report['trivial']) == {'grey', 'prior'}
  identical = report['paired']['bn-bn_again'][names.DELTA_E]
  assert identical['diff'] == 0 and identical['low'] <= 0 <= identical['high']
  assert identical['seed_low'] <= 0 <= identical['seed_high']
  # One estimand a row: the point is the t interval's centre (the mean over
  # seeds of the per-seed differences) and lies inside the bootstrap's.
  for pair in report['paired'].values():
    for d in pair.values():
      assert d['seed_low'] <= d['diff'] <= d['seed_high']
      # (float32 scores: the pooled and per-seed means agree to rounding.)
      assert abs((d['seed_low'] + d['seed_high']) / 2 - d['diff']) < 1e-5
      assert d['low'] <= d['diff'] <= d['high']
  for pair in report['learning_curves']['compared'].values():
    for r in pair['first'].values():
      assert r['a_first'] + r['b_first'] + r['ties'] == 3
      if r['a_first'] + r['b_first']:
        assert r['low'] <= r['share'] <= r['high']
    for d in pair['swing'].values():
      assert d['seed_low'] <= d['diff'] <= d['seed_high']
      assert d['low'] <= d['diff'] <= d['high']
  for recipe in report['learning_curves']['analysis'].values():
    for f in recipe['first'].values():
      assert f['low'] <= f['median'] <= f['high']
  stability = report['stability']['bn']
  assert stability['seeds'] == 3 and stability['diverged'] is None
  assert len(stability['d_accuracy']) == 3
  verdict = [line for line in markdown.splitlines()
             if line.startswith('verdict:')]
  assert len(verdict) == 3 and verdict[0] == report['verdict']
  assert 'bn vs bn_again (identical): no significant difference' in verdict[0]
  assert verdict[1:] == report['learning_curves']['verdicts']
  assert verdict[1].startswith('verdict: fewer steps? bn vs sn: ')
  assert ('bn vs bn_again: tied in when they beat grey on Delta-E00 in each '
          'of the 3 seed pairs' in verdict[1])
  assert 'when they beat prior on ab SWD' in verdict[1]
  assert verdict[2].startswith('verdict: more stable? bn vs sn: ')
  # Every seed's validation Delta-E at each of the 3 epochs, as recorded.
  curves = report['learning_curves']['curves']['bn']
  assert curves['epochs'] == [1, 2, 3]
  assert curves['steps'] == [4, 8, 12]  # Validated at each epoch's end.
  # And every 2 steps on the subset, with the answers scored on it; the
  # steps-to-quality questions use that grid.
  assert curves['fine_steps'] == [2, 4, 6, 8, 10, 12]
  assert np.array(curves['fine'][names.val(names.DELTA_E)]).shape == (3, 6)
  assert set(curves['fine_trivial']) == {'grey', 'prior'}
  crossing = report['learning_curves']['analysis']['bn']['first']
  for f in crossing.values():
    assert f['last'] == 12 and all(
        x in (2, 4, 6, 8, 10, 12) or x is None or x == float('inf')
        for x in f['per_seed'])
  de = np.array(curves[names.val(names.DELTA_E)])
  assert de.shape == (3, 3) and np.all(np.isfinite(de))
  assert len({tuple(row) for row in de}) == 3
  # The continued run's first two epochs are those it had before.
  np.testing.assert_array_equal(de[:, :2],
                                two_epochs[names.val(names.DELTA_E)])
  assert np.array(curves[names.D_ACC_REAL]).shape == (3, 3)
  assert '## Learning curves' in markdown
  assert (tmp_path / 'curves.png').stat().st_size > 10_000
  assert (tmp_path / f'curve_{names.val(names.AB_SWD)}.png').exists()
  assert '| grey answer |' in markdown and '± ' in markdown
  assert '| bn | 3 |' in markdown and '1.0 min' in markdown
  assert os.path.getsize(tmp_path / seed_report.FIGURE) > 10_000


def test_compare_seeds_refuses_zero():
  result = subprocess.run(
      [sys.executable, '-m', 'colorjax', 'compare', '--train', '--workdir=/tmp/x',
       '--seeds=0', '--dataset=samples'], capture_output=True, text=True,
      timeout=300)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1] == (
      'error: --seeds=0 must be >= 1 (seeds per recipe; 3 or more give '
      'intervals).')
