"""How far should a hint reach? The propagation alone, before any training.

  python benchmarks/hint_reach.py --workdir=W [--reach=0,0.1,0.2,0.35,0.5]

For each `reach` (a fraction of the longer side; 0 is Levin et al.'s
propagation, where one hint colours everything) scores the propagation's
blend with the prior (`colorjax.hints.propagate_local`, what a hint model
with that reach starts from and refines) on the `test` split of the run's
dataset at its size: Delta-E00 near and far from one and three hints placed
as a person would (`colorjax.hints.locality`), and the whole image with
0/1/2/5/10/20 random hints (`colorjax.evaluation.hint_eval`, seed 0), beside grey and
the prior. W is any hint run (for its config and training prior).
"""

import os
import sys
import time

from absl import app
from absl import flags
import jax
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from colorjax import names  # noqa: E402
from colorjax.evaluation import evaluate  # noqa: E402
from colorjax.evaluation import hint_eval  # noqa: E402
from colorjax.hints import locality as hint_locality  # noqa: E402
from colorjax.hints import propagation as hints_lib  # noqa: E402
from colorjax.inference import runs  # noqa: E402

flags.DEFINE_string('workdir', None, 'A hint run.', required=True)
flags.DEFINE_list('reach', ['0', '0.1', '0.2', '0.35', '0.5'],
                  'Reaches to score (fractions of the longer side).')
flags.DEFINE_string('split', 'test', 'The manifest split to score.')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  config = runs.read_config(FLAGS.workdir)
  images = evaluate.load_images(config, config.dataset, FLAGS.split)
  prior = evaluate.training_prior(FLAGS.workdir, config)
  its = config.hints.propagation_iterations
  print(f'python benchmarks/hint_reach.py --workdir=... --reach='
        f'{",".join(FLAGS.reach)} ({FLAGS.split}, {len(images)} images, '
        f'{config.image_size} px, {time.strftime("%Y-%m-%d")})')
  print('| reach | 1 hint near | 1 hint far | far worse > 0.5 | 3 hints far '
        '| 0 | 1 | 2 | 5 | 10 | 20 random hints |')
  print('|---' * 11 + '|')
  for reach in (float(r) for r in FLAGS.reach):
    if reach <= 0:
      fn = jax.jit(lambda l, h, m: hints_lib.propagate(l, h, m, prior, its))
    else:
      fn = jax.jit(lambda l, h, m, r=reach: hints_lib.propagate_local(
          l, h, m, prior, r, its)[2])
    predict = lambda l, h, m, fn=fn: np.asarray(fn(l, h, m))
    local = hint_locality.score(images, (1, 3), predict, config.ab_scale,
                                prior)
    curve = hint_eval.at_size(images, (0, 1, 2, 5, 10, 20), 0, predict,
                              config.ab_scale, prior)
    one, three = local[1], local[3]
    print(f'| {reach:g} | {one["near"][hint_locality.HINTED]:.2f} | '
          f'{one["far"][hint_locality.HINTED]:.2f} | '
          f'{one["far_worse_share"]:.0%} | '
          f'{three["far"][hint_locality.HINTED]:.2f} | ' + ' | '.join(
              f'{curve[n][hint_eval.HINT_MODEL][names.DELTA_E]:.2f}'
              for n in sorted(curve)) + ' |')
  print(f'prior everywhere: near {one["near"]["prior"]:.2f}, far '
        f'{one["far"]["prior"]:.2f}; grey: near {one["near"]["grey"]:.2f}, '
        f'far {one["far"]["grey"]:.2f}')


if __name__ == '__main__':
  app.run(main)
