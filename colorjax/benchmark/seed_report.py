"""BN versus SN with error bars: the report of runs trained with several seeds.

`compare --seeds=N` trains each recipe as one N-seed program and calls
`build(run_dirs, dataset, split, output)`, which scores every seed of every
run on the same images and writes report.md, report.json and seeds.png:

* per recipe, the mean and 95% t-interval over seeds of each metric of
  `tables.COLUMNS`, beside the grey and constant-prior answers;
* for each comparison (A, B), the paired per-image difference A - B with a
  bootstrap interval over images and seeds and a t interval over seeds
  (`colorjax.evaluation.stats`); significant where both exclude zero;
* training stability: seeds whose training diverged or collapsed, the spread
  of the final losses, and the discriminator's accuracy over the epochs;
* one line starting with 'verdict:';
* the learning curves over seeds (`colorjax.benchmark.learning_curves`): a figure per
  metric with bands, the first epoch each recipe beats grey and the prior,
  stability over the last half, and two more `verdict:` lines ('fewer
  steps?', 'more stable?').
"""

import os
from typing import Dict, List, Mapping, Sequence, Tuple

import jax
import numpy as np

from colorjax import extras
from colorjax import files
from colorjax import names
from colorjax.benchmark import curve_figures
from colorjax.benchmark import learning_curves
from colorjax.colour import baselines
from colorjax.colour import spaces as color
from colorjax.errors import CheckpointError
from colorjax.evaluation import evaluate
from colorjax.evaluation import stats
from colorjax.evaluation import tables
from colorjax.training import plots
from colorjax.training import steps as steps_lib
from colorjax.training import workdir as workdir_lib

__all__ = ['build', 'COLLAPSED_D_ACC', 'COLLAPSED_RATIO', 'DIVERGED', 'FIGURE',
           'PAIRED', 'REPORT_JSON', 'significant', 'stability', 'summary',
           'verdict']

# (metric, label, +1 if higher is better / -1 if lower / 0 if neither).
PAIRED = (
    (names.DELTA_E, 'Delta-E00', -1),
    (names.LAB_ACC_TERM, 'LAB acc term', 1),
    (names.PSNR, 'PSNR', 1),
    (names.SSIM, 'SSIM', 1),
    (names.DELTA_CF, 'dCF', -1),
    (names.AB_SWD, 'ab sliced Wasserstein', -1),
    (names.COLOURFULNESS_RATIO, 'colourfulness ratio', 0),
)
DIVERGED = 'diverged.json'  # Written by compare when a run's training stops.
# A seed collapsed if its final validation is this grey, or its
# discriminator separates real from fake this perfectly over its last epoch.
COLLAPSED_RATIO = 0.1
COLLAPSED_D_ACC = 0.99
FIGURE = 'seeds.png'
REPORT_JSON = 'report.json'


def summary(per_image: Mapping[str, np.ndarray]) -> Dict[str, float]:
  """Means of per-image metrics, and the colourfulness ratio of the means."""
  out = {k: float(np.mean(v)) for k, v in per_image.items()}
  out[names.COLOURFULNESS_RATIO] = (
      out[names.COLOURFULNESS] / out[names.COLOURFULNESS_TRUE])
  return out


def _score_seeds(run_dir: str, images: np.ndarray
                 ) -> List[Dict[str, np.ndarray]]:
  """Per-image metrics of each seed of `run_dir` on `images`."""
  predict = jax.jit(lambda state, rgb, ab_scale: steps_lib.predict_ab(
      state, color.rgb_uint8_to_model(rgb, ab_scale)[0]), static_argnums=2)
  out = []
  for seed_dir in _seed_dirs(run_dir):
    config, _, state = workdir_lib.load_run(seed_dir)
    out.append(baselines.per_image(
        images, lambda rgb, state=state, s=config.ab_scale: predict(
            state, rgb, s), batch_size=config.batch_size,
        ab_scale=config.ab_scale))
  return out


def _seed_dirs(run_dir: str) -> List[str]:
  n = workdir_lib.read_config(run_dir).num_seeds
  return ([run_dir] if n == 1 else
          [os.path.join(run_dir, names.seed_dir(k)) for k in range(n)])


def stability(run_dir: str) -> Dict[str, object]:
  """Diverged and collapsed seeds, final losses, D accuracy per epoch."""
  seeds = [plots.per_epoch(plots.read_records(d)) for d in _seed_dirs(run_dir)]
  diverged_path = os.path.join(run_dir, DIVERGED)
  diverged = None
  if os.path.lexists(diverged_path):
    diverged = files.read_json(diverged_path, CheckpointError)['error']
  collapsed, finals, d_acc = [], {}, []
  for k, s in enumerate(seeds):
    ratio = s.get(names.val(names.COLOURFULNESS_RATIO), {})
    real, fake = s.get(names.D_ACC_REAL, {}), s.get(names.D_ACC_FAKE, {})
    last = max(real) if real else None
    if (ratio and ratio[max(ratio)] < COLLAPSED_RATIO) or (
        last is not None and min(real[last], fake[last]) > COLLAPSED_D_ACC):
      collapsed.append(k)
    for key in (names.G_LOSS, names.D_LOSS):
      if s.get(key):
        finals.setdefault(key, []).append(s[key][max(s[key])])
    if real:
      d_acc.append({e: (real[e] + fake[e]) / 2 for e in real})
  return {'seeds': len(seeds), 'diverged': diverged, 'collapsed': collapsed,
          'final_losses': {k: {'mean': float(np.mean(v)),
                               'sd': float(np.std(v, ddof=1)) if len(v) > 1
                               else float('nan')}
                           for k, v in finals.items()},
          'd_accuracy': d_acc}


def _paired(a: List[Dict[str, np.ndarray]], b: List[Dict[str, np.ndarray]]
            ) -> Dict[str, Dict[str, float]]:
  """Per metric: the difference A - B, its bootstrap interval over images and
  seeds (low, high) and its t interval over seeds (seed_low, seed_high)."""
  out = {}
  means_a, means_b = [summary(s) for s in a], [summary(s) for s in b]
  for key, _, _ in PAIRED:
    if key == names.COLOURFULNESS_RATIO:
      d, lo, hi = stats.paired_bootstrap(
          np.stack([s[names.COLOURFULNESS] for s in a]),
          np.stack([s[names.COLOURFULNESS] for s in b]),
          np.stack([s[names.COLOURFULNESS_TRUE] for s in a]),
          np.stack([s[names.COLOURFULNESS_TRUE] for s in b]))
    else:
      d, lo, hi = stats.paired_bootstrap(np.stack([s[key] for s in a]),
                                         np.stack([s[key] for s in b]))
    per_a = np.array([m[key] for m in means_a])
    per_b = np.array([m[key] for m in means_b])
    _, seed_lo, seed_hi = stats.seed_difference_ci(per_a, per_b)
    # One estimand: every seed scores the same images, so the pooled
    # difference is the mean over seeds of the per-seed differences, the
    # t interval's centre.
    sd = (np.std(per_a - per_b, ddof=1) if len(per_a) == len(per_b) > 1
          else float('nan'))
    out[key] = dict(diff=d, low=lo, high=hi, seed_low=seed_lo,
                    seed_high=seed_hi,
                    seeds_needed=stats.seeds_for_t_test(d, float(sd)))
  return out


def significant(d: Mapping[str, float]) -> bool:
  """Both intervals exclude zero (a NaN seed interval, one seed, counts as
  excluding nothing: the bootstrap alone decides)."""
  def excludes(lo, hi):
    return not lo <= 0 <= hi
  seed = (True if np.isnan(d['seed_low']) else
          excludes(d['seed_low'], d['seed_high']))
  return excludes(d['low'], d['high']) and seed


def verdict(comparisons: Sequence[Tuple[str, str, str]],
            paired: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
  """One line: per comparison, who is better on which metric, or that the
  difference is not significant at 95% (`significant`)."""
  parts = []
  for a, b, what in comparisons:
    diffs = paired[f'{a}-{b}']
    said, unclear = [], []
    for key, label, sign in PAIRED:
      p = diffs[key]
      d = p['diff']
      span = (f"{d:+.3g}, bootstrap [{p['low']:+.3g}, {p['high']:+.3g}], "
              f"seeds [{p['seed_low']:+.3g}, {p['seed_high']:+.3g}]")
      if not significant(p):
        unclear.append(label)
      elif sign == 0:
        said.append(f'{a if d > 0 else b} more colourful ({label} {span})')
      else:
        said.append(f'{a if d * sign > 0 else b} better on {label} ({span})')
    text = f'{a} vs {b} ({what}): ' + ('; '.join(said) if said else
                                       'no significant difference')
    if said and unclear:
      text += f'; not significant at 95% on {", ".join(unclear)}'
    elif not said:
      text += ' at 95% on any metric'
    needed = [(label, diffs[key].get('seeds_needed', float('nan')))
              for key, label, _ in PAIRED if label in unclear]
    needed = [f'{label} {n:.0f}' if np.isfinite(n) else f'{label} over 1,000'
              for label, n in needed if not np.isnan(n)]
    if needed:
      text += (' (seeds a t test would need to detect the differences seen, '
               f'80% power: {", ".join(needed)})')
    parts.append(text)
  return 'verdict: ' + ' | '.join(parts) + '.'


def _figure(results, trivial, stable, path: str) -> None:
  plt = extras.pyplot("the seed report's figure")
  fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
  runs = list(results)
  means = [results[r]['mean'][names.DELTA_E] for r in runs]
  halves = [results[r]['ci95'][names.DELTA_E] for r in runs]
  left.errorbar(range(len(runs)), means, yerr=np.nan_to_num(halves), fmt='o',
                capsize=5)
  for (name, values), style in zip(trivial.items(), (':', '--'), strict=True):
    left.axhline(values[names.DELTA_E], linestyle=style, color='grey',
                 label=f'{name} answer')
  left.set_xticks(range(len(runs)), runs)
  left.set_ylabel('Delta-E00 (lower is better)')
  left.set_title('Test Delta-E00: mean and 95% CI over seeds')
  left.legend()
  for run in runs:
    curves = stable[run]['d_accuracy']
    if not curves:
      continue
    epochs = sorted(curves[0])
    values = np.array([[c.get(e, np.nan) for e in epochs] for c in curves])
    (line,) = right.plot(epochs, values.mean(0), label=run)
    right.fill_between(epochs, values.min(0), values.max(0), alpha=0.2,
                       color=line.get_color())
  right.set_xlabel('epoch')
  right.set_ylabel('D accuracy (real and fake)')
  right.set_title('Discriminator accuracy (mean; band: min-max over seeds)')
  right.legend()
  fig.tight_layout()
  files.save_figure(fig, path)
  plt.close(fig)


def build(run_dirs: Mapping[str, str], dataset: str, split: str,
          comparisons: Sequence[Tuple[str, str, str]], output: str,
          wall_seconds: Mapping[str, float]) -> str:
  """Scores, compares and writes the report; returns its Markdown."""
  first = next(iter(run_dirs.values()))
  config = workdir_lib.read_config(first)
  images = evaluate.load_images(config, dataset, split)
  prior = evaluate.training_prior(first, config)
  zeros = np.zeros(2, np.float32)
  scale = config.ab_scale
  trivial = {'grey': summary(baselines.per_image(images, None, zeros,
                                                  ab_scale=scale)),
             'prior': summary(baselines.per_image(images, None, prior,
                                                  ab_scale=scale))}
  scores = {name: _score_seeds(d, images) for name, d in run_dirs.items()}
  results = {}
  for name, seeds in scores.items():
    per_seed = [summary(s) for s in seeds]
    ci = {k: stats.mean_ci([s[k] for s in per_seed]) for k in per_seed[0]}
    results[name] = {'per_seed': per_seed,
                     'mean': {k: v[0] for k, v in ci.items()},
                     'ci95': {k: v[1] for k, v in ci.items()}}
  paired = {f'{a}-{b}': _paired(scores[a], scores[b])
            for a, b, _ in comparisons}
  stable = {name: stability(d) for name, d in run_dirs.items()}
  line = verdict(comparisons, paired)
  os.makedirs(output, exist_ok=True)
  _figure(results, trivial, stable, os.path.join(output, FIGURE))
  curves = {name: learning_curves.read(_seed_dirs(d))
            for name, d in run_dirs.items()}
  # The curves are on the validation images: so are these answers.
  val_trivial = plots.read_trivial_answers(first)
  curve_figures.figures(curves, val_trivial, output)
  analysed = learning_curves.analyse(curves, val_trivial)
  compared = learning_curves.compare(curves, val_trivial, comparisons)
  curve_lines = learning_curves.verdicts(comparisons, compared, significant)
  markdown = _markdown(results, trivial, paired, stable, comparisons, line,
                       dict(dataset=dataset, split=split, images=len(images),
                            size=config.image_size, wall=wall_seconds))
  markdown += '\n'.join(learning_curves.markdown(
      analysed, compared, _steps_per_epoch(first), curve_lines)) + '\n'
  files.write_text(os.path.join(output, names.REPORT), markdown)
  files.write_json(os.path.join(output, REPORT_JSON), {
      'dataset': dataset, 'split': split, 'num_images': len(images),
      'results': results, 'trivial': trivial, 'paired': paired,
      'stability': stable, 'verdict': line,
      'learning_curves': {
          'validation_trivial': val_trivial, 'analysis': analysed,
          'compared': compared, 'verdicts': curve_lines,
          'curves': {name: _jsonable(c) for name, c in curves.items()}},
      'wall_seconds': dict(wall_seconds)})
  return markdown


def _jsonable(value):
  """Curves (arrays, nested in dicts) as JSON values."""
  if isinstance(value, dict):
    return {k: _jsonable(v) for k, v in value.items()}
  return np.asarray(value).tolist()


def _steps_per_epoch(run_dir: str) -> int:
  """Training steps per epoch, from the first validation record."""
  for r in plots.read_records(_seed_dirs(run_dir)[0]):
    if r['kind'] == names.VALIDATION and r['epoch']:
      return int(r['step'] // r['epoch'])
  return 0


def _markdown(results, trivial, paired, stable, comparisons, line,
              info) -> str:
  cols = tables.COLUMNS
  n = {name: len(r['per_seed']) for name, r in results.items()}
  lines = [
      '# BN vs SN with several seeds: report', '',
      f"{info['images']} images of `{files.display_path(info['dataset'])}` "
      f"({info['split']} "
      f"split) at {info['size']} px. Each cell: mean ± half-width of the 95% "
      't-interval over seeds; the grey and prior answers have no seeds.', '',
      f'| run | seeds | {tables.metric_headers()} | wall time |',
      '|---' * (len(cols) + 3) + '|']
  for name, r in results.items():
    cells = ' | '.join(
        f"{tables.format_cell(r['mean'][k], fmt)} ± "
        f"{tables.format_cell(r['ci95'][k], fmt)}" for k, _, fmt in cols)
    wall = info['wall'].get(name)
    lines.append(f"| {name} | {n[name]} | {cells} | "
                 f"{'-' if wall is None else f'{wall / 60:.1f} min'} |")
  for name, values in trivial.items():
    lines.append(f'| {name} answer | - | {tables.metric_cells(values)} | - |')
  for a, b, what in comparisons:
    lines += ['', f'Paired per-image difference {a} − {b} ({what}), with its '
              '95% bootstrap interval over images and seeds and its 95% '
              't-interval over seeds (paired by seed); significant where '
              'both exclude zero:', '',
              '| metric | difference | bootstrap 95% | seeds t 95% | '
              'significant |', '|---|---|---|---|---|']
    for key, label, _ in PAIRED:
      p = paired[f'{a}-{b}'][key]
      lines.append(f"| {label} | {p['diff']:+.3f} | [{p['low']:+.3f}, "
                   f"{p['high']:+.3f}] | [{p['seed_low']:+.3f}, "
                   f"{p['seed_high']:+.3f}] | "
                   f"{'yes' if significant(p) else 'no'} |")
  lines += ['', 'Training stability:', '',
            '| run | seeds | diverged | collapsed seeds | final G loss '
            '(mean ± sd) | final D loss (mean ± sd) | final D accuracy |',
            '|---|---|---|---|---|---|---|']
  for name, s in stable.items():
    losses = [s['final_losses'].get(k) for k in (names.G_LOSS, names.D_LOSS)]
    cells = [f"{v['mean']:.3f} ± {v['sd']:.3f}" if v else '-' for v in losses]
    acc = ([c[max(c)] for c in s['d_accuracy']] if s['d_accuracy'] else [])
    lines.append(f"| {name} | {s['seeds']} | {s['diverged'] or 'none'} | "
                 f"{s['collapsed'] or 'none'} | {cells[0]} | {cells[1]} | "
                 f"{', '.join(f'{a:.2f}' for a in acc) or '-'} |")
  lines += ['', f'![Delta-E per recipe and D accuracy over time]({FIGURE})',
            '', line]
  return '\n'.join(lines) + '\n'
