"""Images/s of the compiled train step (BN and SN discriminators, CNN baseline).

  python benchmarks/train_step.py --batch_size=32 --image_size=32

Runs on whatever devices are present (the batch is sharded over all of them)
and prints one line per model with median images/s over `--repeats` timed
windows of `--steps` steps each, plus the compile time.
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
from colorjax import train  # pylint: disable=g-import-not-at-top,wrong-import-position
from configs import default  # pylint: disable=g-import-not-at-top,wrong-import-position

flags.DEFINE_integer('batch_size', 32, 'Global batch size.')
flags.DEFINE_integer('image_size', 32, 'Image side.')
flags.DEFINE_integer('steps', 10, 'Steps per timed window.')
flags.DEFINE_integer('repeats', 5, 'Timed windows; the median is reported.')
flags.DEFINE_list('models', ['bn', 'sn', 'cnn'], 'Which of bn, sn, cnn.')
flags.DEFINE_string('conv_impl', 'auto', "'auto', 'xla' or 'fast'.")
flags.DEFINE_string('compute_dtype', 'float32', "'float32' or 'bfloat16'.")
FLAGS = flags.FLAGS


def measure(name: str) -> None:
  c = default.get_config()
  c.model = 'cnn' if name == 'cnn' else 'gan'
  c.discriminator.norm = 'spectral' if name == 'sn' else 'batch'
  c.batch_size, c.image_size = FLAGS.batch_size, FLAGS.image_size
  c.conv_impl, c.compute_dtype = FLAGS.conv_impl, FLAGS.compute_dtype
  trainer = train.Trainer(c, Mesh(np.asarray(jax.devices()), ('data',)))
  state = trainer.init()
  rng = np.random.default_rng(0)
  batch = jax.device_put(
      {'rgb': rng.integers(0, 256, (c.batch_size, c.image_size, c.image_size,
                                    3), np.uint8)}, trainer.data_sharding)
  t0 = time.perf_counter()
  state, metrics = trainer.train_step(state, batch)
  jax.block_until_ready(metrics)
  compile_s = time.perf_counter() - t0
  rates = []
  for _ in range(FLAGS.repeats):
    t0 = time.perf_counter()
    for _ in range(FLAGS.steps):
      state, metrics = trainer.train_step(state, batch)
    jax.block_until_ready((state, metrics))
    rates.append(FLAGS.steps * c.batch_size / (time.perf_counter() - t0))
  print(f'{name:4s} batch {c.batch_size} {c.image_size}x{c.image_size} '
        f'{c.compute_dtype} conv_impl={c.conv_impl}: '
        f'{np.median(rates):8.1f} img/s (median of {FLAGS.repeats}, '
        f'min {min(rates):.1f}, max {max(rates):.1f}), '
        f'first step {compile_s:.1f} s', flush=True)


def main(argv):
  del argv
  print(f'# python {" ".join(sys.argv)}')
  print(f'# devices: {jax.device_count()} x {jax.devices()[0].device_kind} '
        f'({jax.default_backend()})')
  for name in FLAGS.models:
    measure(name)


if __name__ == '__main__':
  app.run(main)
