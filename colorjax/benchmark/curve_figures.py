"""The learning-curve figures of a seed report: per recipe and metric the
mean over seeds with its 95% t band, over training steps, the grey and
prior answers as lines (`colorjax.benchmark.learning_curves` reads the
curves and asks the questions of them).
"""

import os
from typing import List, Mapping

import numpy as np

from colorjax import extras
from colorjax import files
from colorjax import names
from colorjax.benchmark.learning_curves import CURVES
from colorjax.benchmark.learning_curves import FIGURE
from colorjax.benchmark.learning_curves import Curves
from colorjax.benchmark.learning_curves import band

__all__ = ['figures']


def _draw(ax, key: str, label: str, curves: Mapping[str, Curves],
          trivial: Mapping[str, Mapping[str, float]]) -> None:
  plt = extras.pyplot('the learning-curve figures')
  for name, c in curves.items():
    if key not in c:
      continue
    mean, half = band(c[key])
    xs = c.get('steps', c['epochs'])
    (line,) = ax.plot(xs, mean, label=f'{name} ({len(c[key])} seeds)',
                      marker='o' if len(mean) < 30 else None, markersize=3)
    ax.fill_between(xs, mean - np.nan_to_num(half),
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
  ax.set_xlabel('training step' if 'steps' in next(iter(curves.values()))
                else 'epoch')
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
    _draw(ax, key, f'{label} (validation; band: 95% over seeds)',
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
