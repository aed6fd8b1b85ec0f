"""Pictures of a run: sample grids and per-epoch curves (PNG, matplotlib Agg).

Curves are drawn from `metrics.jsonl` records (see `colorjax.training.writers`); the
same functions overlay several runs for `colorjax.benchmark.compare`.
"""

import collections
import os
from typing import Dict, List, Mapping, Optional

import numpy as np

from colorjax import extras
from colorjax import files
from colorjax import names
from colorjax.training import workdir as workdir_lib
from colorjax.training.workdir import read_records  # noqa: F401  (plots.read_records)

__all__ = ['CURVES', 'per_epoch', 'plot_runs', 'read_trivial_answers',
           'Records', 'save_sample_grid']

Records = List[Dict[str, float]]

# (file name, title, y label, [(record key, legend label)]).
CURVES = (
    ('loss.png', 'Training losses per epoch', 'loss',
     [(names.G_L1, 'G L1'), (names.G_CE, 'G cross-entropy (ab classes)'),
      (names.G_ADV, 'G adversarial'), (names.D_LOSS, 'D')]),
    ('accuracy.png', 'Accuracy per epoch', 'accuracy',
     [(names.D_ACC_REAL, 'D on real'), (names.D_ACC_FAKE, 'D on fake'),
      (names.val(names.LAB_ACC_TERM), 'LAB accuracy (term project, val)'),
      (names.val(names.LAB_ACC_NAZERI), 'LAB accuracy (Nazeri 2%, val)')]),
    ('delta_e.png', 'Validation colour error (lower is better)', 'Delta-E',
     [(names.val(names.DELTA_E), 'CIEDE2000')]),
    ('colourfulness.png', 'Validation colourfulness (1 = as colourful as '
     'the originals)', 'colourfulness ratio',
     [(names.val(names.COLOURFULNESS_RATIO), 'predicted / original')]),
)


def per_epoch(records: Records) -> Dict[str, Dict[int, float]]:
  """{key: {epoch: value}}: train values averaged over the epoch's log lines,
  eval values as logged (the last one wins when a resumed run repeats one)."""
  sums = collections.defaultdict(lambda: collections.defaultdict(list))
  for r in records:
    if r.get('kind') == names.VALIDATION_STEPS:  # A finer grid of its own.
      continue
    for k, v in r.items():
      if k not in names.RECORD_KEYS:
        sums[k][r['epoch']].append(v)
  out = {}
  for k, by_epoch in sums.items():
    reduce = (lambda vs: vs[-1]) if k.startswith(names.VAL_PREFIX) else np.mean
    out[k] = {e: float(reduce(vs)) for e, vs in sorted(by_epoch.items())}
  return out


def read_trivial_answers(workdir: str) -> Dict[str, Dict[str, float]]:
  """The grey and prior answers' validation metrics that training saved
  ({} for runs that saved none)."""
  return workdir_lib.read_data_stats(workdir).get('validation', {})


def plot_runs(runs: Mapping[str, Records], out_dir: str,
              trivial: Optional[Mapping[str, Mapping[str, float]]] = None
              ) -> List[str]:
  """Writes one PNG per curve of CURVES, overlaying `runs`; returns the paths.

  With one run the legend names the curves; with several, each curve is
  labelled 'run: curve'. `trivial` ({'grey'|'prior': metrics without the
  'val_' prefix}) draws those answers' validation scores as dashed lines.
  """
  plt = extras.pyplot('plots and sample grids')
  os.makedirs(out_dir, exist_ok=True)
  series = {name: per_epoch(records) for name, records in runs.items()}
  paths = []
  for filename, title, ylabel, keys in CURVES:
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    drawn = 0
    colours = {}  # The trivial answers' lines take their curve's colour.
    for name, data in series.items():
      for key, label in keys:
        if key not in data:
          continue
        epochs, values = zip(*data[key].items(), strict=True)
        full = label if len(series) == 1 else f'{name}: {label}'
        (line,) = ax.plot(epochs, values,
                          marker='o' if len(epochs) < 30 else None,
                          markersize=3, label=full)
        colours.setdefault(key, line.get_color())
        drawn += 1
    for (name, values), style in zip((trivial or {}).items(), (':', '--'),
                                     strict=False):
      for key, label in keys:
        value = values.get(key[len(names.VAL_PREFIX):])
        if key.startswith(names.VAL_PREFIX) and value is not None:
          ax.axhline(value, color=colours.get(key, 'grey'), linestyle=style,
                     linewidth=1, label=f'{name} answer: {label}')
          drawn += 1
    ax.set_title(title)
    ax.set_xlabel('epoch')
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if drawn:
      ax.legend(fontsize=8)
    else:
      ax.text(0.5, 0.5, 'no data yet', ha='center', va='center',
              transform=ax.transAxes)
    fig.tight_layout()
    path = os.path.join(out_dir, filename)
    files.save_figure(fig, path)
    plt.close(fig)
    paths.append(path)
  return paths


def save_sample_grid(path: str, grey: np.ndarray, colourised: np.ndarray,
                     original: np.ndarray, title: str = '') -> None:
  """One row per image: greyscale input | colourised | ground truth.

  Args:
    path: PNG to write.
    grey, colourised, original: (N, H, W, 3) RGB in [0, 1].
    title: figure title (e.g. the epoch).
  """
  plt = extras.pyplot('plots and sample grids')
  n = len(grey)
  size = 1.6
  fig, axes = plt.subplots(n, 3, figsize=(3 * size, n * size + 0.5), dpi=100,
                           squeeze=False)
  for i in range(n):
    for j, (img, label) in enumerate([(grey, 'greyscale input'),
                                      (colourised, 'colourised'),
                                      (original, 'ground truth')]):
      ax = axes[i, j]
      ax.imshow(np.clip(img[i], 0, 1), interpolation='nearest')
      ax.set_xticks([])
      ax.set_yticks([])
      if i == 0:
        ax.set_title(label, fontsize=9)
  if title:
    fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  files.save_figure(fig, path)
  plt.close(fig)
