"""Learning curves over seeds: how fast and how steadily each recipe learns.

`compare --train --seeds=N` trains every recipe as one N-seed program and
training records each seed's validation metrics and discriminator accuracy
(`metrics.jsonl` of each `seed_k`). This module turns them into

* curves: per recipe and metric, the mean over seeds with its 95% t band,
  the grey and prior answers as lines, over training steps (drawn by
  `colorjax.benchmark.curve_figures`);
* the claim that spectral normalisation needs fewer steps, asked seed by
  seed: the first validated step at which each seed beats grey (and the
  prior) on Delta-E00 and on the a, b sliced Wasserstein distance
  (`first_crossing`: per recipe, the median over seeds with its
  order-statistic interval), and for a pair of recipes, in how many seed
  pairs each got there first (`race`: the share, its exact interval and the
  exact sign test). A seed that never gets there within the run is
  censored: 'never', later than any seed that did, tied with another that
  did not; no number stands in for it;
* stability: the seed-to-seed spread and the epoch-to-epoch swing of
  Delta-E00 and of the discriminator's accuracy over the last half of
  training (`stability`), paired differences with a bootstrap and a t
  interval over seeds about the same mean;
* `verdict:` lines ('fewer steps?', 'more stable?') that say, per question,
  which recipe, or that there is no significant difference, or that the run
  cannot tell with its seeds (the smallest p its seed count allows is above
  the level), with the seeds that would detect the difference seen.
"""

from typing import Any, Callable, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from colorjax import names
from colorjax.errors import DataError
from colorjax.evaluation import stats
from colorjax.training import plots
from colorjax.training import workdir as workdir_lib

__all__ = ['analyse', 'band', 'compare', 'CURVES', 'Curves', 'D_ACC', 'FIGURE',
           'FIRST', 'first_below', 'first_crossing', 'grid', 'last_half',
           'LEVEL', 'markdown', 'NUM_RESAMPLES', 'paired_difference', 'race',
           'read', 'say_race', 'spread', 'swing', 'verdicts']

D_ACC = 'd_accuracy'  # Mean of D's accuracy on real and on fake.
# (record key, label, lower is better?) of the curves drawn.
CURVES = (
    (names.val(names.DELTA_E), 'Delta-E00', True),
    (names.val(names.COLOURFULNESS_RATIO), 'colourfulness ratio', None),
    (names.val(names.AB_SWD), 'ab sliced Wasserstein', True),
    (names.val(names.PSNR), 'PSNR dB', False),
    (names.D_ACC_REAL, 'D accuracy on real', None),
    (names.D_ACC_FAKE, 'D accuracy on fake', None),
)
# (record key, metric of the trivial answers, label): when each recipe first
# beats grey and the prior (both lower is better).
FIRST = ((names.val(names.DELTA_E), names.DELTA_E, 'Delta-E00'),
         (names.val(names.AB_SWD), names.AB_SWD, 'ab SWD'))
FIGURE = 'curves.png'
NUM_RESAMPLES = 2000
LEVEL = 0.05  # Two-sided, for every test here.

# key -> (seeds, epochs); 'epochs', 'steps': (E,); with validation every
# config.eval_every_steps, 'fine_steps': (F,) and 'fine': {key: (seeds, F)}.
Curves = Dict[str, Any]


def read(seed_dirs: Sequence[str]) -> Curves:
  """Per-epoch values of every seed: {key: (seeds, epochs)}, 'epochs' and
  'steps' (the training step each epoch's validation was made at).

  Epochs missing for a seed (a diverged seed stops early) are NaN.
  """
  records = [plots.read_records(d) for d in seed_dirs]
  seeds = [plots.per_epoch(r) for r in records]
  epochs = sorted({e for s in seeds
                   for e in s.get(names.val(names.DELTA_E), {})})
  step_of = {r['epoch']: r['step'] for rs in records for r in rs
             if r.get('kind') == names.VALIDATION}
  out = {'epochs': np.asarray(epochs, np.int64),
         'steps': np.asarray([step_of[e] for e in epochs], np.int64)}
  keys = {k for s in seeds for k in s}
  for key in keys:
    out[key] = np.array([[s.get(key, {}).get(e, np.nan) for e in epochs]
                         for s in seeds], np.float64)
  if names.D_ACC_REAL in out and names.D_ACC_FAKE in out:
    out[D_ACC] = (out[names.D_ACC_REAL] + out[names.D_ACC_FAKE]) / 2
  fine = [{r['step']: r for r in rs if r.get('kind') == names.VALIDATION_STEPS}
          for rs in records]
  steps = sorted({x for f in fine for x in f})
  if steps:  # Validated every config.eval_every_steps steps too.
    keys = {k for f in fine for r in f.values() for k in r
            if k.startswith(names.VAL_PREFIX)}
    out['fine_steps'] = np.asarray(steps, np.int64)
    # The grey and prior answers on the same validation subset.
    out['fine_trivial'] = workdir_lib.read_data_stats(seed_dirs[0]).get(
        names.VALIDATION_STEPS, {})
    out['fine'] = {k: np.array([[f.get(x, {}).get(k, np.nan) for x in steps]
                                for f in fine], np.float64) for k in keys}
  return out


def grid(c: Curves, key: str) -> Tuple[np.ndarray, np.ndarray]:
  """(values (seeds, points), steps) of `key` on the finest grid the run
  validated on: every config.eval_every_steps steps if it did, else at
  epoch ends."""
  if key in c.get('fine', {}):
    return c['fine'][key], c['fine_steps']
  return c[key], c['steps']


def band(values: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """(mean, half-width of the 95% t interval) over seeds, per epoch."""
  pairs = [stats.mean_ci(values[:, j]) for j in range(values.shape[1])]
  return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def first_below(curve: np.ndarray, xs: np.ndarray,
                threshold: float) -> float:
  """The first x (step) whose value is below threshold; inf if none is
  (censored: not within the run)."""
  hits = np.flatnonzero(curve < threshold)
  return float(xs[hits[0]]) if hits.size else float('inf')


def first_crossing(values: np.ndarray, xs: np.ndarray,
                   threshold: float) -> Dict[str, object]:
  """When each seed of `values` (seeds, xs) first goes below threshold, and
  the median over seeds with its order-statistic 95% interval (inf:
  never within the run, the last validated step being `last`)."""
  per_seed = [first_below(v, xs, threshold) for v in values]
  median, low, high = stats.median_with_ci(per_seed)
  return {'per_seed': per_seed, 'median': median, 'low': low, 'high': high,
          'reached': int(np.sum(np.isfinite(per_seed))),
          'seeds': len(per_seed), 'last': int(xs[-1])}


def _seed_resamples(num_seeds: int, seed: int = 0) -> np.ndarray:
  rng = np.random.default_rng(seed)
  return rng.integers(0, num_seeds, (NUM_RESAMPLES, num_seeds))


def race(first_a: Sequence[float], first_b: Sequence[float],
         level: float = 0.95) -> Dict[str, float]:
  """Who got there first, seed pair by seed pair (seed k of both recipes
  starts from the same seed and data order): the share of untied pairs in
  which A was first with its exact interval, the exact sign test, the
  smallest p this many untied pairs can give, and the untied pairs a sign
  test would need to detect a share like this one (80% power).

  Both never (inf) or the same step is a tie; one never is a loss for it.
  """
  n = min(len(first_a), len(first_b))
  a, b = np.asarray(first_a[:n]), np.asarray(first_b[:n])
  a_first, b_first = int(np.sum(a < b)), int(np.sum(b < a))
  untied = a_first + b_first
  share = a_first / untied if untied else float('nan')
  low, high = stats.clopper_pearson(a_first, untied, level)
  return {'a_first': a_first, 'b_first': b_first, 'ties': n - untied,
          'share': share, 'low': low, 'high': high,
          'p': stats.sign_test(a_first, b_first),
          'smallest_p': stats.smallest_sign_p(untied),
          'seeds_needed': (stats.seeds_for_sign_test(share) if untied
                           else float('inf'))}


def last_half(values: np.ndarray, epochs: np.ndarray) -> np.ndarray:
  """The columns of the last half of training (at least two epochs)."""
  start = min(len(epochs) // 2, max(len(epochs) - 2, 0))
  return values[:, start:]


def swing(values: np.ndarray, epochs: np.ndarray) -> np.ndarray:
  """Per seed: the mean |change| between consecutive epochs, last half."""
  tail = last_half(values, epochs)
  if tail.shape[1] < 2:
    return np.full(len(values), np.nan)
  return np.nanmean(np.abs(np.diff(tail, axis=1)), axis=1)


def spread(values: np.ndarray, epochs: np.ndarray) -> float:
  """The seed-to-seed standard deviation, averaged over the last half."""
  tail = last_half(values, epochs)
  if len(tail) < 2:
    return float('nan')
  return float(np.nanmean(np.nanstd(tail, axis=0, ddof=1)))


def paired_difference(a: np.ndarray, b: np.ndarray,
                      statistic: Callable[[np.ndarray], float]
                      ) -> Dict[str, float]:
  """statistic(A) - statistic(B) over seed-indexed rows, with a bootstrap
  interval resampling seeds (the same draw for both: seed k of every recipe
  starts from the same seed and data order) and, where the statistic is a
  mean of per-seed values, the seed report's t interval over seeds."""
  n = min(len(a), len(b))
  a, b = a[:n], b[:n]
  diff = statistic(a) - statistic(b)
  draws = [statistic(a[idx]) - statistic(b[idx])
           for idx in _seed_resamples(n, seed=1)]
  low, high = np.nanpercentile(draws, [2.5, 97.5])
  return {'diff': float(diff), 'low': float(low), 'high': float(high)}


def _with_seed_t(d: Dict[str, float], per_seed_a, per_seed_b
                 ) -> Dict[str, float]:
  _, lo, hi = stats.seed_difference_ci(per_seed_a, per_seed_b)
  return {**d, 'seed_low': lo, 'seed_high': hi}


def _thresholds(c: Curves, trivial: Mapping[str, Mapping[str, float]]
                ) -> List[Tuple[str, str, float]]:
  """(name, record key, threshold) of each answer to beat: 'grey on
  Delta-E00', ... for the FIRST metrics the curves and answers have. On the
  finer grid the answers are those scored on its validation subset."""
  out = []
  for key, metric, label in FIRST:
    if key not in c:
      continue
    answers = (c['fine_trivial'] if key in c.get('fine', {}) and
               c.get('fine_trivial') else trivial)
    out += [(f'{answer} on {label}', key, values[metric])
            for answer, values in answers.items() if metric in values]
  return out


def analyse(curves: Mapping[str, Curves],
            trivial: Mapping[str, Mapping[str, float]]) -> Dict[str, object]:
  """First epochs below grey and prior, and stability, per recipe."""
  de_key = names.val(names.DELTA_E)
  out = {}
  for name, c in curves.items():
    epochs = c['epochs']
    entry = {'first': {what: first_crossing(*grid(c, key), t)
                       for what, key, t in _thresholds(c, trivial)},
             'swing': {}, 'spread': {}}
    for key in (de_key, D_ACC):
      if key in c:
        entry['swing'][key] = swing(c[key], epochs).tolist()
        entry['spread'][key] = spread(c[key], epochs)
    out[name] = entry
  return out


def compare(curves: Mapping[str, Curves],
            trivial: Mapping[str, Mapping[str, float]],
            pairs: Sequence[Tuple[str, str, str]]) -> Dict[str, object]:
  """Per pair (A, B): who beat each answer first (`race`), and the paired
  difference of swings (its point the mean over seeds of the per-seed
  differences, as both intervals)."""
  de_key = names.val(names.DELTA_E)
  out = {}
  for a, b, _ in pairs:
    ca, cb = curves[a], curves[b]
    n = min(len(ca['epochs']), len(cb['epochs']))
    epochs = ca['epochs'][:n]
    result = {'first': {}, 'swing': {}}
    for what, key, t in _thresholds(ca, trivial):
      if key not in cb:
        continue
      (va, sa), (vb, sb) = grid(ca, key), grid(cb, key)
      m = min(len(sa), len(sb))  # The steps both validated at.
      if not np.array_equal(sa[:m], sb[:m]):
        raise DataError(f'{a} and {b} were validated at other steps; '
                        'compare runs with the same eval_every_steps.')
      result['first'][what] = race(
          [first_below(v, sa[:m], t) for v in va[:, :m]],
          [first_below(v, sb[:m], t) for v in vb[:, :m]])
    for key in (de_key, D_ACC):
      if key not in ca or key not in cb:
        continue
      xa, xb = ca[key][:, :n], cb[key][:, :n]
      if last_half(xa, epochs).shape[1] < 2:  # No swing to measure.
        result['swing'][key] = dict.fromkeys(
            ('diff', 'low', 'high', 'seed_low', 'seed_high', 'seeds_needed'),
            float('nan'))
        continue
      sa, sb = swing(xa, epochs), swing(xb, epochs)
      d = _with_seed_t(
          paired_difference(
              xa, xb, lambda x, e=epochs: float(np.nanmean(swing(x, e)))),
          sa, sb)
      d['seeds_needed'] = stats.seeds_for_t_test(
          d['diff'], float(np.std(sa - sb, ddof=1)) if len(sa) > 1
          else float('nan'))
      result['swing'][key] = d
    out[f'{a}-{b}'] = result
  return out


def _seeds(n: float) -> str:
  return 'no count up to 1,000' if not np.isfinite(n) else f'{n:.0f}'


def say_race(a: str, b: str, what: str, r: Mapping[str, float]) -> str:
  """One clause: who beat `what` first, or that it is not significant, or
  that this many seeds cannot tell."""
  counts = (f"{a} first in {r['a_first']}, {b} in {r['b_first']}, "
            f"ties {r['ties']}")
  if not r['a_first'] + r['b_first']:
    return (f"tied in when they beat {what} in each of the {r['ties']} seed "
            'pairs (the same step, or neither within the run)')
  if r['p'] <= LEVEL:
    winner = a if r['a_first'] > r['b_first'] else b
    return (f'{winner} beats {what} in fewer steps ({counts}; sign test '
            f"p = {r['p']:.3g})")
  if r['smallest_p'] > LEVEL:
    return (f'cannot tell with {r["a_first"] + r["b_first"] + r["ties"]} '
            f'seeds when they beat {what} ({counts}; the smallest p '
            f"{r['a_first'] + r['b_first']} untied pairs allow is "
            f"{r['smallest_p']:.3g}; {_seeds(r['seeds_needed'])} untied pairs "
            'would detect a split like this one)')
  return (f'no significant difference in when they beat {what} ({counts}; '
          f"p = {r['p']:.3g}; {_seeds(r['seeds_needed'])} untied pairs would "
          'detect a split like this one)')


def verdicts(pairs: Sequence[Tuple[str, str, str]],
             compared: Mapping[str, Mapping[str, object]],
             significant: Callable[[Mapping[str, float]], bool]) -> List[str]:
  """Two `verdict:` lines: 'fewer steps?' and 'more stable?'."""
  def span(d):
    return (f"{d['diff']:+.3g}, bootstrap [{d['low']:+.3g}, "
            f"{d['high']:+.3g}], seeds [{d['seed_low']:+.3g}, "
            f"{d['seed_high']:+.3g}]")

  steps, steady = [], []
  for a, b, _ in pairs:
    c = compared[f'{a}-{b}']
    steps.append(f'{a} vs {b}: ' + '; '.join(
        say_race(a, b, what, r) for what, r in c['first'].items()))
    said = []
    for key, d in c['swing'].items():
      label = 'Delta-E00' if key == names.val(names.DELTA_E) else 'D accuracy'
      if not np.isfinite(d['diff']):  # Under two epochs in the last half.
        said.append(f'too few epochs to measure a {label} swing')
      elif significant(d):
        said.append(f"{a if d['diff'] < 0 else b} swings less on {label} "
                    f'({span(d)})')
      else:
        said.append(f'no significant difference in {label} swing '
                    f"({span(d)}; {_seeds(d['seeds_needed'])} seeds would "
                    'detect a difference this large)')
    steady.append(f'{a} vs {b}: ' + ('; '.join(said) or 'no curves'))
  return ['verdict: fewer steps? ' + ' | '.join(steps) + '.',
          'verdict: more stable? ' + ' | '.join(steady) + '.']


def markdown(analysed: Mapping[str, Mapping[str, object]],
             compared: Mapping[str, Mapping[str, object]],
             steps_per_epoch: int, lines: Sequence[str]) -> List[str]:
  """The report's learning-curve section."""
  def step(x):
    return 'never' if not np.isfinite(x) else f'{x:.0f}'

  def crossing_cell(f):
    per_seed = ', '.join(step(x) for x in f['per_seed'])
    return (f"{step(f['median'])} [{step(f['low'])}, {step(f['high'])}] "
            f"({f['reached']} of {f['seeds']}; seeds: {per_seed})")

  out = ['', '## Learning curves', '',
         f'![validation curves per recipe]({FIGURE})', '',
         'First validated training step at which each seed beats each '
         'answer on the validation split: the median over seeds with its '
         '95% order-statistic interval, how many seeds got there, and each '
         "seed's own ('never': not within the run, censored; one epoch = "
         f'{steps_per_epoch} steps):', '']
  whats = list(dict.fromkeys(w for a in analysed.values() for w in a['first']))
  out += ['| run | ' + ' | '.join(f'beats {w} at step' for w in whats) + ' |',
          '|---' * (len(whats) + 1) + '|']
  for name, a in analysed.items():
    out.append(f'| {name} | ' + ' | '.join(
        crossing_cell(a['first'][w]) if w in a['first'] else '-'
        for w in whats) + ' |')
  out += ['', 'Who got there first, seed pair by seed pair (seed k of both '
          'recipes shares its seed and data order): the share of untied '
          'pairs in which A was first, its exact 95% interval, the exact '
          'two-sided sign test, and the smallest p that many untied pairs '
          'can give (above 0.05: this run cannot tell):', '',
          '| pair | question | A first | B first | ties | share A first '
          '[95%] | sign test p | smallest p possible | untied pairs for 80% '
          'power |', '|---|---|---|---|---|---|---|---|---|']
  for pair, c in compared.items():
    for what, r in c['first'].items():
      share = ('-' if not np.isfinite(r['share']) else
               f"{r['share']:.2f} [{r['low']:.2f}, {r['high']:.2f}]")
      out.append(f"| {pair} | beats {what} | {r['a_first']} | "
                 f"{r['b_first']} | {r['ties']} | {share} | {r['p']:.3g} | "
                 f"{r['smallest_p']:.3g} | {_seeds(r['seeds_needed'])} |")
  out += ['', 'Stability over the last half of training: the epoch-to-epoch '
          'swing (mean |change|, mean over seeds) and the seed-to-seed '
          'spread (sd over seeds, mean over epochs):', '',
          '| run | Delta-E00 swing | Delta-E00 spread | D accuracy swing | '
          'D accuracy spread |', '|---|---|---|---|---|']
  de_key = names.val(names.DELTA_E)
  for name, a in analysed.items():
    cells = []
    for key in (de_key, D_ACC):
      if key in a['swing']:
        values = np.asarray(a['swing'][key], np.float64)
        cells += [f'{np.mean(values):.3f}' if np.all(np.isfinite(values))
                  else '-', f"{a['spread'][key]:.3f}"]
      else:
        cells += ['-', '-']
    out.append(f"| {name} | {' | '.join(cells)} |")
  out += ['', 'Paired differences of swing A − B: the mean over seeds of '
          'the per-seed differences, with a bootstrap interval resampling '
          'seeds and a t interval over seeds, both about that mean:', '',
          '| pair | question | difference | bootstrap 95% | seeds t 95% | '
          'seeds for 80% power |', '|---|---|---|---|---|---|']
  for pair, c in compared.items():
    for key, d in c['swing'].items():
      question = f"swing of {'Delta-E00' if key == de_key else 'D accuracy'}"
      if not np.isfinite(d['diff']):
        out.append(f'| {pair} | {question} | too few epochs | - | - | - |')
        continue
      out.append(f"| {pair} | {question} | {d['diff']:+.3f} | "
                 f"[{d['low']:+.3f}, {d['high']:+.3f}] | "
                 f"[{d['seed_low']:+.3f}, {d['seed_high']:+.3f}] | "
                 f"{_seeds(d['seeds_needed'])} |")
  out += [''] + list(lines)
  return out
