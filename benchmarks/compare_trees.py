"""Train-step speed of two source trees, measured in alternating runs.

  python benchmarks/compare_trees.py OLD_TREE NEW_TREE [--rounds=4]
      [--models=bn,sn,cnn] [--steps=10] [--repeats=3]

Each round runs ``benchmarks/train_step.py`` once in OLD_TREE and once in
NEW_TREE (each importing its own colorjax), alternating the order, so the
machine's noise hits both alike. Prints, per model, the median img/s of each
tree over the rounds and the ratio NEW / OLD (>1: the new tree is faster),
with the median of the per-round ratios. Use it for any change that must not
slow the step (e.g. `git worktree add /tmp/old HEAD~1`).
"""

import os
import re
import subprocess
import sys

from absl import app
from absl import flags
import numpy as np

flags.DEFINE_integer('rounds', 4, 'Alternating rounds.')
flags.DEFINE_list('models', ['bn', 'sn', 'cnn'], 'Passed to train_step.py.')
flags.DEFINE_integer('steps', 10, 'Passed to train_step.py.')
flags.DEFINE_integer('repeats', 3, 'Passed to train_step.py.')
FLAGS = flags.FLAGS

_RATE = re.compile(r'^(\w+)\s+colorjax\s+([\d.]+) img/s', re.MULTILINE)


def _rates(tree: str) -> dict:
  """{model: img/s} printed by one train_step.py run in `tree`."""
  result = subprocess.run(
      [sys.executable, os.path.join('benchmarks', 'train_step.py'),
       f'--models={",".join(FLAGS.models)}', f'--steps={FLAGS.steps}',
       f'--repeats={FLAGS.repeats}'],
      cwd=tree, env=dict(os.environ, PYTHONPATH=os.path.abspath(tree)),
      capture_output=True, text=True, check=False)
  rates = {m: float(r) for m, r in _RATE.findall(result.stdout)}
  if result.returncode or set(rates) != set(FLAGS.models):
    sys.exit(f'error: train_step.py failed in {tree}: '
             f'{result.stderr.strip().splitlines()[-1:]}')
  return rates


def main(argv):
  if len(argv) != 3:
    raise app.UsageError('name OLD_TREE and NEW_TREE.')
  old_tree, new_tree = argv[1:]
  old, new = [], []
  for i in range(FLAGS.rounds):
    order = [(old_tree, old), (new_tree, new)]
    for tree, out in (order if i % 2 == 0 else order[::-1]):
      out.append(_rates(tree))
  print(f'# python {" ".join(sys.argv)}')
  print(f'# {FLAGS.rounds} alternating rounds of train_step.py '
        f'--steps={FLAGS.steps} --repeats={FLAGS.repeats} per tree')
  for m in FLAGS.models:
    a = np.array([r[m] for r in old])
    b = np.array([r[m] for r in new])
    print(f'{m:4s} old {np.median(a):6.1f} img/s | new {np.median(b):6.1f} '
          f'img/s | new/old {np.median(b) / np.median(a):.3f}x (median of '
          f'per-round ratios {np.median(b / a):.3f}x, range '
          f'{(b / a).min():.3f}-{(b / a).max():.3f})')


if __name__ == '__main__':
  app.run(main)
