"""What each attempt at the hint model's targets moved: one table, one figure.

  python benchmarks/hint_attempts.py --output=docs/hints_attempts.png \
      'U-Net, 40 epochs=workdirs/hints_cpu/eval/test_hints.json' \
      'CNN base, 40 epochs=workdirs/hints_cnn_cpu/eval_test_hints.json' ...

Each argument is LABEL=REPORT, a JSON report of `colorjax evaluate
--hints=...` (same split, same hint seed). Prints, per attempt and hint
count, the Delta-E00 margin over Levin et al.'s propagation with the same
points (target: at most -0.5 from 2 hints on) and the colourfulness ratio
(target at 10 hints: at least 0.85); the figure shows both against the
number of hints, with the targets as grey lines.
"""

import json
import os
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from colorjax.evaluation import hint_eval  # noqa: E402

flags.DEFINE_string('output', None, 'The figure (PNG).', required=True)
FLAGS = flags.FLAGS


def _load(spec: str):
  label, _, path = spec.partition('=')
  if not path:
    raise app.UsageError(f'{spec!r}: expected LABEL=REPORT.json')
  with open(path, encoding='utf-8') as f:
    at_size = json.load(f)['hints']['at_size']
  return label, {int(n): r for n, r in at_size.items()}


def main(argv):
  attempts = dict(_load(a) for a in argv[1:])
  if not attempts:
    raise app.UsageError('name at least one LABEL=REPORT.json')
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, (ax_de, ax_cf) = plt.subplots(1, 2, figsize=(11, 4.2 + 0.2 * len(attempts)))
  print('| attempt | ' + ' | '.join(
      f'{n} hints' for n in sorted(next(iter(attempts.values())))) + ' |')
  for label, results in attempts.items():
    counts = sorted(results)
    margin = [results[n][hint_eval.HINT_MODEL]['delta_e'] -
              results[n][hint_eval.LEVIN]['delta_e'] for n in counts]
    ratio = [results[n][hint_eval.HINT_MODEL]['colourfulness_ratio']
             for n in counts]
    print(f'| {label} | ' + ' | '.join(
        f"{results[n][hint_eval.HINT_MODEL]['delta_e']:.2f} ({m:+.2f}), "
        f'cf {c:.2f}' for n, m, c in zip(counts, margin, ratio, strict=True))
          + ' |')
    ax_de.plot(counts, margin, 'o-', label=label)
    ax_cf.plot(counts, ratio, 'o-', label=label)
  for ax, target, ylabel in (
      (ax_de, -0.5, 'Delta-E00 minus Levin et al.\'s (lower is better)'),
      (ax_cf, 0.85, 'colourfulness ratio (1: as the originals)')):
    ax.axhline(target, color='grey', lw=1, ls='--', label='target')
    ax.set_xscale('symlog', linthresh=1)
    ax.set_xticks(counts)
    ax.set_xticklabels([str(n) for n in counts])
    ax.set_xlabel('hints per painting')
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
  # One legend under both panels, clear of the curves.
  fig.legend(*ax_de.get_legend_handles_labels(), loc='lower center', ncol=2,
             fontsize=8, frameon=False)
  fig.suptitle('python benchmarks/hint_attempts.py (paintings_more test '
               'split, 32 px, hint seed 0)', fontsize=9)
  fig.tight_layout(rect=(0, 0.04 * (len(attempts) + 2) / 2, 1, 1))
  fig.savefig(FLAGS.output, dpi=110)
  print(f'wrote {FLAGS.output}')


if __name__ == '__main__':
  app.run(main)
