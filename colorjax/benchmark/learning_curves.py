"""Learning curves over seeds: how fast and how steadily each recipe learns.

`compare --train --seeds=N` trains every recipe as one N-seed program and
training records each seed's validation metrics and discriminator accuracy
per epoch (`metrics.jsonl` of each `seed_k`). This module turns them into

* curves: per recipe and metric, the mean over seeds with its 95% t band per
  epoch, the grey and prior answers as lines (`figures`);
* the claim that spectral normalisation needs fewer steps, tested: the first
  epoch at which a recipe's seed mean beats grey (and the prior) on
  Delta-E00, and on the a, b sliced Wasserstein distance (colour realism,
  which GANs are for), with a bootstrap interval over seeds
  (`first_epoch`);
* stability: the seed-to-seed spread and the epoch-to-epoch swing of
  Delta-E00 and of the discriminator's accuracy over the last half of
  training (`stability`);
* a `verdict:` line per question with the seed report's rule
  (`seed_report.significant`: a bootstrap interval over seeds and a t interval
  over seeds, paired by seed, must both exclude zero).

A recipe that never beats an answer within the run is counted as beating it
the epoch after its last (censored), so a difference involving it is a lower
bound; the tables say 'never'.
"""

import os
from typing import Callable, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from colorjax import extras
from colorjax import files
from colorjax import names
from colorjax.benchmark import stats
from colorjax.training import plots

__all__ = ['analyse', 'band', 'compare', 'CURVES', 'Curves', 'D_ACC', 'FIGURE',
           'figures', 'FIRST', 'first_below', 'first_epoch', 'last_half',
           'markdown', 'NUM_RESAMPLES', 'paired_difference', 'read', 'spread',
           'swing', 'verdicts']

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

Curves = Dict[str, np.ndarray]  # key -> (seeds, epochs); key 'epochs': (E,)


def read(seed_dirs: Sequence[str]) -> Curves:
  """Per-epoch values of every seed: {key: (seeds, epochs)} and 'epochs'.

  Epochs missing for a seed (a diverged seed stops early) are NaN.
  """
  seeds = [plots.per_epoch(plots.read_records(d)) for d in seed_dirs]
  epochs = sorted({e for s in seeds
                   for e in s.get(names.val(names.DELTA_E), {})})
  out = {'epochs': np.asarray(epochs, np.int64)}
  keys = {k for s in seeds for k in s}
  for key in keys:
    out[key] = np.array([[s.get(key, {}).get(e, np.nan) for e in epochs]
                         for s in seeds], np.float64)
  if names.D_ACC_REAL in out and names.D_ACC_FAKE in out:
    out[D_ACC] = (out[names.D_ACC_REAL] + out[names.D_ACC_FAKE]) / 2
  return out


def band(values: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """(mean, half-width of the 95% t interval) over seeds, per epoch."""
  pairs = [stats.mean_ci(values[:, j]) for j in range(values.shape[1])]
  return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def first_below(curve: np.ndarray, epochs: np.ndarray,
                threshold: float) -> float:
  """The first epoch whose value is below threshold; the epoch after the
  last if none is (censored)."""
  hits = np.flatnonzero(curve < threshold)
  return float(epochs[hits[0]] if hits.size else epochs[-1] + 1)


def _seed_resamples(num_seeds: int, seed: int = 0) -> np.ndarray:
  rng = np.random.default_rng(seed)
  return rng.integers(0, num_seeds, (NUM_RESAMPLES, num_seeds))


def first_epoch(values: np.ndarray, epochs: np.ndarray,
                threshold: float) -> Dict[str, object]:
  """When the seed mean of `values` (seeds, epochs) first goes below
  threshold, with a percentile interval from resampling seeds, and each
  seed's own first epoch."""
  point = first_below(np.nanmean(values, 0), epochs, threshold)
  draws = [first_below(np.nanmean(values[idx], 0), epochs, threshold)
           for idx in _seed_resamples(len(values))]
  low, high = np.percentile(draws, [2.5, 97.5])
  return {'epoch': point, 'low': float(low), 'high': float(high),
          'never': bool(point > epochs[-1]), 'last_epoch': int(epochs[-1]),
          'per_seed': [first_below(v, epochs, threshold) for v in values]}


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
  Delta-E00', ... for the FIRST metrics the curves and answers have."""
  return [(f'{answer} on {label}', key, values[metric])
          for key, metric, label in FIRST if key in c
          for answer, values in trivial.items() if metric in values]


def analyse(curves: Mapping[str, Curves],
            trivial: Mapping[str, Mapping[str, float]]) -> Dict[str, object]:
  """First epochs below grey and prior, and stability, per recipe."""
  de_key = names.val(names.DELTA_E)
  out = {}
  for name, c in curves.items():
    epochs = c['epochs']
    entry = {'first': {what: first_epoch(c[key], epochs, t)
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
  """Per pair (A, B): differences of first epochs and of swings."""
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

      def statistic(x, t=t, epochs=epochs):
        return first_below(np.nanmean(x, 0), epochs, t)

      xa, xb = ca[key][:, :n], cb[key][:, :n]
      result['first'][what] = _with_seed_t(
          paired_difference(xa, xb, statistic),
          [first_below(v, epochs, t) for v in xa],
          [first_below(v, epochs, t) for v in xb])
    for key in (de_key, D_ACC):
      if key not in ca or key not in cb:
        continue
      xa, xb = ca[key][:, :n], cb[key][:, :n]
      if last_half(xa, epochs).shape[1] < 2:  # No swing to measure.
        result['swing'][key] = dict.fromkeys(
            ('diff', 'low', 'high', 'seed_low', 'seed_high'), float('nan'))
        continue
      result['swing'][key] = _with_seed_t(
          paired_difference(
              xa, xb, lambda x, e=epochs: float(np.nanmean(swing(x, e)))),
          swing(xa, epochs), swing(xb, epochs))
    out[f'{a}-{b}'] = result
  return out


def verdicts(pairs: Sequence[Tuple[str, str, str]],
             compared: Mapping[str, Mapping[str, object]],
             significant: Callable[[Mapping[str, float]], bool]) -> List[str]:
  """Two `verdict:` lines: 'fewer steps?' and 'more stable?'."""
  def span(d):
    return (f"{d['diff']:+.3g}, bootstrap [{d['low']:+.3g}, "
            f"{d['high']:+.3g}], seeds [{d['seed_low']:+.3g}, "
            f"{d['seed_high']:+.3g}]")

  def say(a, b, d, lower_is: str, otherwise: str) -> str:
    """'<the recipe with the lower value> <lower_is> (...)' if significant."""
    if significant(d):
      return f"{a if d['diff'] < 0 else b} {lower_is} ({span(d)})"
    return f'{otherwise} ({span(d)})'

  steps, steady = [], []
  for a, b, _ in pairs:
    c = compared[f'{a}-{b}']
    said = [say(a, b, d, f'beats {what} sooner, epochs',
                f'no significant difference in when they beat {what}, '
                'epochs') for what, d in c['first'].items()]
    steps.append(f'{a} vs {b}: ' + '; '.join(said))
    said = []
    for key, d in c['swing'].items():
      label = 'Delta-E00' if key == names.val(names.DELTA_E) else 'D accuracy'
      if not np.isfinite(d['diff']):  # Under two epochs in the last half.
        said.append(f'too few epochs to measure a {label} swing')
      else:
        said.append(say(a, b, d, f'swings less on {label}',
                        f'no significant difference in {label} swing'))
    steady.append(f'{a} vs {b}: ' + ('; '.join(said) or 'no curves'))
  return ['verdict: fewer steps? ' + ' | '.join(steps) + '.',
          'verdict: more stable? ' + ' | '.join(steady) + '.']


def _draw(ax, key: str, label: str, curves: Mapping[str, Curves],
          trivial: Mapping[str, Mapping[str, float]]) -> None:
  plt = extras.pyplot('the learning-curve figures')
  for name, c in curves.items():
    if key not in c:
      continue
    mean, half = band(c[key])
    (line,) = ax.plot(c['epochs'], mean, label=f'{name} ({len(c[key])} seeds)',
                      marker='o' if len(mean) < 30 else None, markersize=3)
    ax.fill_between(c['epochs'], mean - np.nan_to_num(half),
                    mean + np.nan_to_num(half), color=line.get_color(),
                    alpha=0.18, linewidth=0)
  if key.startswith(names.VAL_PREFIX):
    for (answer, values), style in zip(trivial.items(), (':', '--'),
                                       strict=False):
      value = values.get(key[len(names.VAL_PREFIX):])
      if value is not None and np.isfinite(value):
        ax.axhline(value, color='grey', linestyle=style, linewidth=1,
                   label=f'{answer} answer')
  ax.set_title(label, fontsize=10)
  ax.set_xlabel('epoch')
  ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
  ax.grid(alpha=0.3)


def figures(curves: Mapping[str, Curves],
            trivial: Mapping[str, Mapping[str, float]],
            output: str) -> List[str]:
  """One PNG per metric (curve_<key>.png) and all of them in FIGURE; each
  overlays the recipes, a line the mean over seeds, its band the 95% t
  interval; the grey and prior answers (validation) as grey lines."""
  plt = extras.pyplot('the learning-curve figures')
  os.makedirs(output, exist_ok=True)
  present = [(k, label) for k, label, _ in CURVES
             if any(k in c for c in curves.values())]
  paths = []
  for key, label in present:
    fig, ax = plt.subplots(figsize=(6.5, 4), dpi=110)
    _draw(ax, key, f'{label} per epoch (validation; band: 95% over seeds)',
          curves, trivial)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(output, f'curve_{key}.png')
    files.save_figure(fig, path)
    plt.close(fig)
    paths.append(path)
  cols = 3
  rows = max(1, -(-len(present) // cols))
  fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows),
                           dpi=100, squeeze=False)
  for ax, (key, label) in zip(axes.flat, present, strict=False):
    _draw(ax, key, label, curves, trivial)
  for ax in list(axes.flat)[len(present):]:
    ax.axis('off')
  handles, labels = axes.flat[0].get_legend_handles_labels()
  fig.legend(handles, labels, loc='lower center', ncol=len(labels),
             fontsize=9)
  fig.suptitle('Validation curves: mean over seeds, band 95% t interval')
  fig.tight_layout(rect=(0, 0.06, 1, 0.96))
  path = os.path.join(output, FIGURE)
  files.save_figure(fig, path)
  plt.close(fig)
  return [path] + paths


def markdown(analysed: Mapping[str, Mapping[str, object]],
             compared: Mapping[str, Mapping[str, object]],
             steps_per_epoch: int, lines: Sequence[str]) -> List[str]:
  """The report's learning-curve section."""
  def epoch_cell(f):
    def one(e):
      return 'never' if e > f['last_epoch'] else f'{e:.0f}'
    per_seed = ', '.join(one(e) for e in f['per_seed'])
    if f['never']:
      return f'never (seeds: {per_seed})'
    return (f"{f['epoch']:.0f} [{one(f['low'])}, {one(f['high'])}] "
            f'(seeds: {per_seed})')

  out = ['', '## Learning curves', '',
         f'![validation curves per recipe]({FIGURE})', '',
         'First epoch at which the seed mean beats each answer on the '
         'validation split (95% bootstrap interval over seeds; each '
         f'seed\'s own; one epoch = {steps_per_epoch} steps):', '']
  whats = list(dict.fromkeys(w for a in analysed.values() for w in a['first']))
  out += ['| run | ' + ' | '.join(f'beats {w} at epoch' for w in whats) + ' |',
          '|---' * (len(whats) + 1) + '|']
  for name, a in analysed.items():
    out.append(f'| {name} | ' + ' | '.join(
        epoch_cell(a['first'][w]) if w in a['first'] else '-'
        for w in whats) + ' |')
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
  out += ['', 'Paired differences A − B (bootstrap over seeds, t over '
          'seeds; a recipe that never beats an answer counts as the epoch '
          'after the last):', '',
          '| pair | question | difference | bootstrap 95% | seeds t 95% |',
          '|---|---|---|---|---|']
  for pair, c in compared.items():
    rows = [(f'epochs to beat {k}', d) for k, d in c['first'].items()]
    rows += [(f"swing of {'Delta-E00' if k == de_key else 'D accuracy'}", d)
             for k, d in c['swing'].items()]
    for question, d in rows:
      if not np.isfinite(d['diff']):
        out.append(f'| {pair} | {question} | too few epochs | - | - |')
        continue
      out.append(f"| {pair} | {question} | {d['diff']:+.3f} | "
                 f"[{d['low']:+.3f}, {d['high']:+.3f}] | "
                 f"[{d['seed_low']:+.3f}, {d['seed_high']:+.3f}] |")
  out += [''] + list(lines)
  return out
