"""What the BN-versus-SN comparison costs at the reference's length.

  python benchmarks/reference_length.py [--seeds=3] [--epochs=200,466,666]
      [--train_images=2034] [--gpu_tflops=67] [--gpu_utilisation=0.25]

The term project checkpointed its BN GAN at 200, 466 and 666 epochs. For each
recipe of `compare --seeds` (bn, sn, sn_matched, cnn) this compiles the
N-seed train step as the comparison runs it (batch 32, 32 px), reads XLA's
FLOPs per step, times the step on this machine (median of --repeats windows)
and prints the achieved rate and the wall time of each length here; then the
time on a GPU estimated from those FLOPs at --gpu_tflops x --gpu_utilisation
(by default an H100's fp32 peak without tensor cores, a quarter of it
sustained: these are small convolutions). The estimate is printed as one:
the command it prints runs the comparison and measures it. Run with more
epochs, the same command continues the runs (a report at each length).
"""

import os
import sys
import time

from absl import app
from absl import flags
import jax
from jax.sharding import Mesh
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from colorjax import runtime  # noqa: E402
from colorjax.benchmark import compare  # noqa: E402
from colorjax.training import steps as steps_lib  # noqa: E402
from colorjax.training.config_validation import validate_config  # noqa: E402

flags.DEFINE_integer('seeds', 3, 'Seeds per recipe (one program each).')
flags.DEFINE_list('recipes', [name for name, _ in compare.SEED_RECIPES],
                  'Which recipes of compare --seeds to cost.')
flags.DEFINE_integer('batch_size', None, 'Override (tests): the recipes\' 32.')
flags.DEFINE_integer('image_size', None, 'Override (tests): the recipes\' 32.')
flags.DEFINE_list('epochs', ['200', '466', '666'], 'Lengths to cost.')
flags.DEFINE_integer('train_images', 2034, 'Training images per epoch '
                     '(paintings_more: its train split less validation, as '
                     'training logs).')
flags.DEFINE_integer('steps', 5, 'Steps per timed window.')
flags.DEFINE_integer('repeats', 3, 'Timed windows; the median is used.')
flags.DEFINE_float('gpu_tflops', 67.0, 'The GPU\'s fp32 peak, TFLOP/s '
                   '(H100 SXM without tensor cores: 67).')
flags.DEFINE_float('gpu_utilisation', 0.25, 'Fraction of it sustained.')
FLAGS = flags.FLAGS


def _step_cost(config) -> tuple:
  """(FLOPs per N-seed step, median seconds per step here)."""
  validate_config(config, jax.device_count())
  trainer = steps_lib.Steps(config, Mesh(np.asarray(jax.devices()),
                                         ('data',)))
  n = config.num_seeds
  shape = (config.batch_size, config.image_size, config.image_size, 3)
  if n == 1:
    state, step, sharding = (trainer.init(), trainer.train_step,
                             trainer.data_sharding)
  else:
    state, step, sharding = (trainer.init_seeds(), trainer.train_seeds_step,
                             trainer.seed_data_sharding)
    shape = (n,) + shape
  batch = jax.device_put({'rgb': np.random.default_rng(0).integers(
      0, 256, shape, np.uint8)}, sharding)
  cost = step.lower(state, batch).compile().cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = float(cost.get('flops', float('nan'))) * jax.device_count()
  state, metrics = step(state, batch)
  jax.block_until_ready(metrics)
  times = []
  for _ in range(FLAGS.repeats):
    t0 = time.perf_counter()
    for _ in range(FLAGS.steps):
      state, metrics = step(state, batch)
    jax.block_until_ready((state, metrics))
    times.append((time.perf_counter() - t0) / FLAGS.steps)
  return flops, float(np.median(times))


def main(argv):
  del argv
  runtime.setup()
  configs = compare.recipe_configs('', compare.SEED_RECIPES,
                                   num_seeds=FLAGS.seeds,
                                   batch_size=FLAGS.batch_size,
                                   image_size=FLAGS.image_size)
  unknown = sorted(set(FLAGS.recipes) - set(configs))
  if unknown:
    raise app.UsageError(f'--recipes: no recipe {unknown}; choose from '
                         f'{sorted(configs)}.')
  configs = {k: v for k, v in configs.items() if k in FLAGS.recipes}
  first = next(iter(configs.values()))
  epochs = [int(e) for e in FLAGS.epochs]
  steps_per_epoch = FLAGS.train_images // first.batch_size
  gpu = FLAGS.gpu_tflops * 1e12 * FLAGS.gpu_utilisation
  print(f'{FLAGS.seeds} seeds per recipe, batch {first.batch_size}, '
        f'{first.image_size} px, {steps_per_epoch} steps an epoch, '
        f'{jax.device_count()} {jax.devices()[0].platform} device(s)')
  print('| recipe | GFLOP per step (all seeds) | here: s/step | here: '
        'GFLOP/s | ' + ' | '.join(f'here: {e} epochs' for e in epochs) +
        ' | ' + ' | '.join(f'GPU est.: {e} epochs' for e in epochs) + ' |')
  print('|---' * (4 + 2 * len(epochs)) + '|')
  totals = np.zeros((2, len(epochs)))
  for name, config in configs.items():
    flops, seconds = _step_cost(config)
    here = [e * steps_per_epoch * seconds for e in epochs]
    there = [e * steps_per_epoch * flops / gpu for e in epochs]
    totals += [here, there]
    print(f'| {name} | {flops / 1e9:.2f} | {seconds:.3f} | '
          f'{flops / seconds / 1e9:.1f} | ' +
          ' | '.join(f'{h / 3600:.1f} h' for h in here) + ' | ' +
          ' | '.join(f'{t / 60:.1f} min' for t in there) + ' |')
  print('| all | | | | ' + ' | '.join(f'{h / 3600:.1f} h' for h in totals[0])
        + ' | ' + ' | '.join(f'{t / 60:.1f} min' for t in totals[1]) + ' |')
  print(f'GPU estimate: FLOPs / ({FLAGS.gpu_tflops:g} TFLOP/s x '
        f'{FLAGS.gpu_utilisation:g}); small 32-px convolutions may be '
        'bound by kernel launches instead: measure with the command below.')
  for e in epochs:
    print(f'colorjax compare --train --seeds={FLAGS.seeds} '
          '--workdir=workdirs/bn_sn_reference '
          '--dataset=../shared/data/paintings_more --split=test '
          f'--num_epochs={e}')


if __name__ == '__main__':
  app.run(main)
