"""Delta-E against colourfulness for `evaluate` reports: where each run sits.

  colorjax pareto REPORT.json [REPORT.json ...] --output=pareto.png
      [--full_res] [--labels=a,b,...]

One point per report (its model, labelled by workdir and vibrance, or by
`--labels`), and the grey and prior answers of the first report. Lower-left
is muted and wrong, lower-right the goal: correct and as colourful as the
originals (ratio 1).
"""

import os
import sys
from typing import Dict, List, Sequence, Tuple

from absl import app
from absl import flags

from colorjax import extras
from colorjax import files
from colorjax import names
from colorjax import runtime

__all__ = ['cli', 'draw', 'main', 'Point', 'points']

Point = Tuple[str, float, float]  # (label, colourfulness ratio, Delta-E)


def points(reports: Sequence[Dict], labels: Sequence[str],
           key: str = 'results') -> Tuple[List[Point], Dict[str, Point]]:
  """(model points, {'grey'|'prior': point of the first report})."""
  def point(label, values):
    return (label, values[names.COLOURFULNESS_RATIO], values[names.DELTA_E])
  models = [point(label, r[key]['model'])
            for label, r in zip(labels, reports, strict=True)]
  trivial = {n: point(n, reports[0][key][n]) for n in ('grey', 'prior')}
  return models, trivial


def draw(models: List[Point], trivial: Dict[str, Point], path: str,
         title: str) -> None:
  plt = extras.pyplot('the Pareto figure')
  fig, ax = plt.subplots(figsize=(7, 4.6), dpi=110)
  for i, (label, cf, de) in enumerate(models):
    ax.plot(cf, de, 'o', color='tab:blue')
    ax.annotate(label, (cf, de), textcoords='offset points',
                xytext=(5, 4 if i % 2 == 0 else -11), fontsize=7)
  for name, (_, cf, de) in trivial.items():
    style = ':' if name == 'grey' else '--'
    ax.axhline(de, color='grey', linestyle=style, linewidth=1,
               label=f'{name} answer: Delta-E {de:.2f}')
    ax.plot(cf, de, 'x', color='black')
  ax.axvline(0.8, color='tab:green', linewidth=1,
             label='colourfulness ratio 0.8')
  ax.set_xlabel('colourfulness ratio (prediction / original)')
  ax.set_ylabel('Delta-E00 (lower is better)')
  ax.set_title(title, fontsize=10)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  files.save_figure(fig, path)
  plt.close(fig)


FLAGS = flags.FLAGS


def _define_flags() -> None:
  flags.DEFINE_string('output', None, 'The PNG to write.')
  flags.DEFINE_bool('full_res', False, 'Plot the full-resolution tables.')
  flags.DEFINE_list('labels', [], 'One label per report (default: workdir '
                    'name and vibrance).')
  flags.mark_flags_as_required(['output'])


def main(argv):
  paths = argv[1:]
  if not paths:
    raise app.UsageError('name at least one evaluate report (JSON).')
  reports = [files.read_json(p, runtime.UsageError) for p in paths]
  key = 'full_res_results' if FLAGS.full_res else 'results'
  if any(key not in r for r in reports):
    print(f'error: a report has no {key!r}; run evaluate with --full_res.',
          file=sys.stderr)
    sys.exit(1)
  labels = FLAGS.labels or [
      f'{os.path.basename(r["workdir"])} x{r.get("vibrance", 1.0):g}'
      for r in reports]
  models, trivial = points(reports, labels, key)
  first = reports[0]
  where = 'full resolution' if FLAGS.full_res else f'{first["image_size"]}px'
  draw(models, trivial, FLAGS.output,
       f'{os.path.basename(first["dataset"])} ({first["split"]}, '
       f'{first["num_images"]} images), {where}')
  print(f'wrote {FLAGS.output}')


def cli() -> None:
  """The `pareto` command."""
  _define_flags()
  runtime.run_tool(main)


if __name__ == '__main__':
  cli()
