"""Learning curves over seeds: first epochs, stability and verdicts on
curves whose answers are known, then from a real N-seed run's records."""

import numpy as np

from colorjax import names
from colorjax.benchmark import curve_figures
from colorjax.benchmark import learning_curves as lc
from colorjax.benchmark import seed_report

DE = names.val(names.DELTA_E)
EPOCHS = np.arange(1, 11)
STEPS = EPOCHS * 10  # Validated at each epoch's end, 10 steps an epoch.
SWD = names.val(names.AB_SWD)
TRIVIAL = {'grey': {names.DELTA_E: 12.0, names.AB_SWD: 10.0},
           'prior': {names.DELTA_E: 11.0, names.AB_SWD: 9.0}}


def _falling(cross_grey_at, seeds=5, noise=0.05, seed=0):
  """Delta-E curves (seeds, 10 epochs) that fall by 0.5 an epoch, passing
  12 (grey) between epochs cross_grey_at - 1 and cross_grey_at."""
  rng = np.random.default_rng(seed)
  base = 11.75 - 0.5 * (EPOCHS - cross_grey_at)
  return base + rng.normal(0, noise, (seeds, len(EPOCHS)))


def test_first_crossing_per_seed_with_a_censored_never():
  curves = _falling(4)
  first = lc.first_crossing(curves, STEPS, 12.0)
  assert first['per_seed'] == [40] * 5 and first['reached'] == 5
  assert first['median'] == first['low'] == first['high'] == 40
  # Prior (11.0) is passed between epochs 5 and 6.
  assert lc.first_crossing(curves, STEPS, 11.0)['median'] == 60
  never = lc.first_crossing(curves, STEPS, 5.0)
  assert never['reached'] == 0 and never['per_seed'] == [np.inf] * 5
  assert never['median'] == np.inf and never['last'] == 100
  # One late seed moves no median; two of five never: still a median, its
  # interval reaching 'never'.
  late = curves.copy()
  late[0] += 3.0
  late[1] += 30.0
  first = lc.first_crossing(late, STEPS, 12.0)
  assert first['per_seed'][:2] == [100, np.inf] and first['median'] == 40
  assert first['low'] == 40 and first['high'] == np.inf


def test_a_race_counts_seed_pairs_and_takes_never_as_an_ordering():
  inf = np.inf
  r = lc.race([40, 40, inf, 50, inf], [60, inf, inf, 40, 70])
  assert (r['a_first'], r['b_first'], r['ties']) == (2, 2, 1)
  assert r['share'] == 0.5 and r['p'] == 1.0
  assert r['smallest_p'] == 0.125  # 2 * 0.5 ** 4 untied pairs.
  assert r['low'] <= r['share'] <= r['high']


def test_three_seeds_cannot_tell_who_is_sooner_and_eight_can():
  # The term project's claim seen three times in three: sn_matched beats
  # grey at steps 6, 7 and 9 (x 63), bn never. A sign test over 3 pairs
  # cannot reach 5% (its smallest p is 0.25): the run cannot tell.
  three = lc.race([np.inf] * 3, [378, 441, 567])
  said = lc.say_race('bn', 'sn_matched', 'grey on Delta-E00', three)
  assert said.startswith('cannot tell with 3 seeds when they beat grey on '
                         'Delta-E00 (bn first in 0, sn_matched in 3, ties 0;'
                         ' the smallest p 3 untied pairs allow is 0.25; 6 '
                         'untied pairs would detect a split like this one)')
  assert three['share'] == 0 and three['high'] < 0.71
  eight = lc.race([np.inf] * 8, [378, 441, 567, 400, 390, 500, 620, 450])
  assert eight['p'] == 2 * 0.5 ** 8
  assert lc.say_race('bn', 'sn_matched', 'grey', eight).startswith(
      'sn_matched beats grey in fewer steps (bn first in 0, sn_matched in 8')
  # 7 to 1 is p = 0.07: not significant, though 8 pairs could be.
  seven = lc.race([np.inf] * 7 + [100], [300] * 8)
  assert lc.say_race('a', 'b', 'grey', seven).startswith(
      'no significant difference in when they beat grey (a first in 1, b in '
      '7, ties 0; p = 0.0703;')


def test_the_sign_verdict_keeps_its_level_under_the_null():
  # Calibration: A and B draw their first steps from one distribution
  # (with ties and censoring, as real curves have). The exact sign test
  # calls a difference in at most 5% of runs of 8 seeds.
  rng = np.random.default_rng(0)
  runs, called = 4000, 0
  for _ in range(runs):
    steps = rng.choice([126, 189, 252, 315, np.inf], size=(2, 8),
                       p=[0.2, 0.3, 0.2, 0.1, 0.2])
    called += lc.race(steps[0], steps[1])['p'] <= lc.LEVEL
  rate = called / runs
  assert 0 < rate <= 0.05, rate


def test_swing_and_spread_over_the_last_half():
  # Seed 0 zig-zags by 1.0 every epoch in the last half; seed 1 is flat.
  zigzag = np.where(EPOCHS % 2 == 0, 10.0, 11.0)
  flat = np.full(10, 10.5)
  values = np.stack([zigzag, flat])
  np.testing.assert_allclose(lc.swing(values, EPOCHS), [1.0, 0.0])
  # Two seeds 0.5 apart at every epoch: sd (n - 1) = 0.5 / sqrt(2).
  np.testing.assert_allclose(lc.spread(values, EPOCHS), 0.5 / np.sqrt(2))
  # The first half does not count: a wild start changes nothing.
  wild = values.copy()
  wild[:, :5] += np.array([[9.0], [-9.0]])
  np.testing.assert_allclose(lc.swing(wild, EPOCHS), [1.0, 0.0])


def _curves(de, d_acc_swing=0.0, swd=None):
  d_acc = 0.7 + d_acc_swing * np.where(EPOCHS % 2 == 0, 1, -1) * np.ones(
      (len(de), 1))
  out = {'epochs': EPOCHS, 'steps': STEPS, DE: de, lc.D_ACC: d_acc}
  if swd is not None:
    out[SWD] = swd
  return out


def test_verdicts_find_the_faster_and_the_steadier_recipe():
  # On the sliced Wasserstein (grey 10: crossed at the given epoch) the
  # order is the other way round.
  curves = {'fast': _curves(_falling(3, seed=1), d_acc_swing=0.1,
                            swd=_falling(6, seed=4) - 2.0),
            'slow': _curves(_falling(7, seed=2), d_acc_swing=0.0,
                            swd=_falling(2, seed=5) - 2.0),
            'fast_again': _curves(_falling(3, seed=1), d_acc_swing=0.1,
                                  swd=_falling(6, seed=4) - 2.0)}
  pairs = [('fast', 'slow', 'x'), ('fast', 'fast_again', 'same')]
  compared = lc.compare(curves, TRIVIAL, pairs)
  r = compared['fast-slow']['first']['grey on Delta-E00']
  assert (r['a_first'], r['b_first'], r['ties']) == (5, 0, 0)
  assert r['p'] == 2 * 0.5 ** 5 and r['share'] == 1.0
  swing = compared['fast-slow']['swing'][lc.D_ACC]
  np.testing.assert_allclose(swing['diff'], 0.2)
  # One estimand: the swing's point is its t interval's centre.
  np.testing.assert_allclose((swing['seed_low'] + swing['seed_high']) / 2,
                             swing['diff'])
  fewer, steadier = lc.verdicts(pairs, compared, seed_report.significant)
  # Five pairs, all one way: p = 0.0625, the least five pairs can give.
  assert fewer.startswith('verdict: fewer steps? fast vs slow: cannot tell '
                          'with 5 seeds when they beat grey on Delta-E00')
  assert 'the smallest p 5 untied pairs allow is 0.0625' in fewer
  assert 'fast vs fast_again: tied in when they beat grey on Delta-E00 in ' \
         'each of the 5 seed pairs' in fewer
  assert steadier.startswith('verdict: more stable? fast vs slow:')
  assert 'slow swings less on D accuracy (+0.2' in steadier
  assert 'fast vs fast_again: no significant difference in Delta-E00 swing' \
         in steadier
  # Six seeds can tell.
  six = {name: {k: (np.concatenate([v, v[:1]]) if k not in ('epochs', 'steps')
                    else v) for k, v in c.items()}
         for name, c in curves.items()}
  fewer, _ = lc.verdicts(pairs, lc.compare(six, TRIVIAL, pairs),
                         seed_report.significant)
  assert fewer.startswith('verdict: fewer steps? fast vs slow: fast beats '
                          'grey on Delta-E00 in fewer steps (fast first in 6, '
                          'slow in 0, ties 0; sign test p = 0.0312)')
  assert 'slow beats grey on ab SWD in fewer steps' in fewer


def test_figures_and_table(tmp_path):
  curves = {'a': _curves(_falling(3)), 'b': _curves(_falling(6, seed=3))}
  paths = curve_figures.figures(curves, TRIVIAL, str(tmp_path))
  assert [p.rsplit('/', 1)[1] for p in paths] == [
      lc.FIGURE, f'curve_{DE}.png']
  assert all((tmp_path / p.rsplit('/', 1)[1]).stat().st_size > 10_000
             for p in paths)
  pairs = [('a', 'b', 'x')]
  compared = lc.compare(curves, TRIVIAL, pairs)
  lines = lc.markdown(lc.analyse(curves, TRIVIAL), compared, 63,
                      lc.verdicts(pairs, compared, seed_report.significant))
  text = '\n'.join(lines)
  assert ('| run | beats grey on Delta-E00 at step | beats prior on '
          'Delta-E00 at step |') in text
  assert '| a | 30 [30, 30] (5 of 5; seeds: 30, 30, 30, 30, 30) | 50' in text
  assert 'one epoch = 63 steps' in text
  assert ('| a-b | beats grey on Delta-E00 | 5 | 0 | 0 | 1.00 [0.48, 1.00] | '
          '0.0625 | 0.0625 | 6 |') in text


def test_one_epoch_says_it_is_too_few_for_a_swing():
  one = {'epochs': EPOCHS[:1], 'steps': STEPS[:1], DE: _falling(3)[:, :1]}
  curves = {'a': one, 'b': one}
  pairs = [('a', 'b', 'x')]
  _, steadier = lc.verdicts(pairs, lc.compare(curves, TRIVIAL, pairs),
                            seed_report.significant)
  assert steadier == ('verdict: more stable? a vs b: too few epochs to '
                      'measure a Delta-E00 swing.')
