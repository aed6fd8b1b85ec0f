"""Learning curves over seeds: first epochs, stability and verdicts on
curves whose answers are known, then from a real N-seed run's records."""

import numpy as np

from colorjax import names
from colorjax.benchmark import learning_curves as lc
from colorjax.benchmark import seed_report

DE = names.val(names.DELTA_E)
EPOCHS = np.arange(1, 11)
SWD = names.val(names.AB_SWD)
TRIVIAL = {'grey': {names.DELTA_E: 12.0, names.AB_SWD: 10.0},
           'prior': {names.DELTA_E: 11.0, names.AB_SWD: 9.0}}


def _falling(cross_grey_at, seeds=5, noise=0.05, seed=0):
  """Delta-E curves (seeds, 10 epochs) that fall by 0.5 an epoch, passing
  12 (grey) between epochs cross_grey_at - 1 and cross_grey_at."""
  rng = np.random.default_rng(seed)
  base = 11.75 - 0.5 * (EPOCHS - cross_grey_at)
  return base + rng.normal(0, noise, (seeds, len(EPOCHS)))


def test_first_epoch_below_an_answer_with_each_seed_and_a_censored_never():
  curves = _falling(4)
  first = lc.first_epoch(curves, EPOCHS, 12.0)
  assert first['epoch'] == 4 and first['low'] == 4 and first['high'] == 4
  assert first['per_seed'] == [4] * 5 and not first['never']
  # Prior (11.0) is passed between epochs 5 and 6.
  assert lc.first_epoch(curves, EPOCHS, 11.0)['epoch'] == 6
  never = lc.first_epoch(curves, EPOCHS, 5.0)
  assert never['never'] and never['epoch'] == 11  # The epoch after the last.
  # One late seed moves the mean's crossing and widens the interval.
  late = curves.copy()
  late[0] += 3.0
  first = lc.first_epoch(late, EPOCHS, 12.0)
  assert first['epoch'] == 5 and first['per_seed'][0] == 10
  assert first['low'] <= 4 and first['high'] >= 6


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
  out = {'epochs': EPOCHS, DE: de, lc.D_ACC: d_acc}
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
  d = compared['fast-slow']['first']['grey on Delta-E00']
  assert d['diff'] == -4 and d['low'] == d['high'] == -4
  assert d['seed_low'] == d['seed_high'] == -4  # Every seed 4 epochs sooner.
  swing = compared['fast-slow']['swing'][lc.D_ACC]
  np.testing.assert_allclose(swing['diff'], 0.2)
  fewer, steadier = lc.verdicts(pairs, compared, seed_report.significant)
  assert fewer.startswith('verdict: fewer steps? fast vs slow: fast beats '
                          'grey on Delta-E00 sooner, epochs (-4')
  assert 'slow beats grey on ab SWD sooner, epochs (+4' in fewer
  assert 'slow beats prior on ab SWD sooner, epochs (+4' in fewer
  assert 'fast vs fast_again: no significant difference in when they beat ' \
         'grey on Delta-E00' in fewer
  assert steadier.startswith('verdict: more stable? fast vs slow:')
  assert 'slow swings less on D accuracy (+0.2' in steadier
  assert 'fast vs fast_again: no significant difference in Delta-E00 swing' \
         in steadier


def test_figures_and_table(tmp_path):
  curves = {'a': _curves(_falling(3)), 'b': _curves(_falling(6, seed=3))}
  paths = lc.figures(curves, TRIVIAL, str(tmp_path))
  assert [p.rsplit('/', 1)[1] for p in paths] == [
      lc.FIGURE, f'curve_{DE}.png']
  assert all((tmp_path / p.rsplit('/', 1)[1]).stat().st_size > 10_000
             for p in paths)
  pairs = [('a', 'b', 'x')]
  compared = lc.compare(curves, TRIVIAL, pairs)
  lines = lc.markdown(lc.analyse(curves, TRIVIAL), compared, 63,
                      lc.verdicts(pairs, compared, seed_report.significant))
  text = '\n'.join(lines)
  assert ('| run | beats grey on Delta-E00 at epoch | beats prior on '
          'Delta-E00 at epoch |') in text
  assert '| a | 3 [3, 3] (seeds: 3, 3, 3, 3, 3) | 5 [5, 5]' in text
  assert 'one epoch = 63 steps' in text
  assert '| a-b | epochs to beat grey on Delta-E00 | -3.000 |' in text


def test_one_epoch_says_it_is_too_few_for_a_swing():
  one = {'epochs': EPOCHS[:1], DE: _falling(3)[:, :1]}
  curves = {'a': one, 'b': one}
  pairs = [('a', 'b', 'x')]
  _, steadier = lc.verdicts(pairs, lc.compare(curves, TRIVIAL, pairs),
                            seed_report.significant)
  assert steadier == ('verdict: more stable? a vs b: too few epochs to '
                      'measure a Delta-E00 swing.')
