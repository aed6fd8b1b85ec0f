"""Is the input pipeline ever the bottleneck? Pipeline img/s vs train-step img/s.

  python benchmarks/input_pipeline.py [--dataset=samples|FOLDER|TFDS name]
      [--batch_size=32] [--image_size=32]

Times the training batches of one epoch (shuffle, crop, flip, copy to the
device) and the compiled GAN train step on the same config, and prints both
rates and their ratio (the pipeline must be >= 10x faster than the step).
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
from colorjax import runtime
from colorjax.configs import default
from colorjax.datasets import batching
from colorjax.datasets import sources
from colorjax.errors import ColorjaxError
from colorjax.training import steps as steps_lib
from colorjax.training.config_validation import validate_config

flags.DEFINE_string('dataset', 'samples', 'As config.dataset.')
flags.DEFINE_integer('batch_size', 32, 'Global batch size.')
flags.DEFINE_integer('image_size', 32, 'Image side.')
flags.DEFINE_integer('steps', 10, 'Timed train steps.')
flags.DEFINE_string('tfds_data_dir', '', 'As config.tfds.data_dir.')
flags.DEFINE_float('max_in_memory_gb', 2.0, 'As config.tfds.max_in_memory_gb '
                   '(0 streams any TFDS dataset).')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  runtime.keep_freed_memory()  # As the command-line entry points do.
  c = default.get_config()
  c.dataset, c.batch_size, c.image_size = (FLAGS.dataset, FLAGS.batch_size,
                                           FLAGS.image_size)
  c.tfds.data_dir, c.tfds.max_in_memory_gb = (FLAGS.tfds_data_dir,
                                              FLAGS.max_in_memory_gb)
  t0 = time.perf_counter()
  try:
    validate_config(c, jax.device_count())
    train_ds, _ = sources.create_datasets(c)
  except ColorjaxError as e:  # A bad flag or a missing dataset.
    sys.exit(f'error: {e}')
  load_s = time.perf_counter() - t0
  trainer = steps_lib.Steps(c, Mesh(np.asarray(jax.devices()), ('data',)))

  pipeline_rates = []
  for epoch in range(3):
    t0 = time.perf_counter()
    n = 0
    for batch in batching.prefetch_to_device(  # noqa: B007  (waited on below)
        train_ds.train_batches(c.batch_size, c.seed, epoch),
        trainer.data_sharding):
      n += c.batch_size
    jax.block_until_ready(batch)
    pipeline_rates.append(n / (time.perf_counter() - t0))

  state = trainer.init()
  batch = jax.device_put(next(train_ds.train_batches(c.batch_size, 0, 0)),
                         trainer.data_sharding)
  state, m = trainer.train_step(state, batch)
  jax.block_until_ready(m)
  step_rates = []
  for _ in range(3):
    t0 = time.perf_counter()
    for _ in range(FLAGS.steps):
      state, m = trainer.train_step(state, batch)
    jax.block_until_ready((state, m))
    step_rates.append(FLAGS.steps * c.batch_size / (time.perf_counter() - t0))
  pipe, step = float(np.median(pipeline_rates)), float(np.median(step_rates))
  print(f'# python {" ".join(sys.argv)}')
  print(f'# {c.dataset}: {len(train_ds)} training images '
        f'({type(train_ds).__name__}) prepared in {load_s:.1f} s; batch '
        f'{c.batch_size}, {c.image_size}x{c.image_size},'
        f' {jax.devices()[0].device_kind}; medians of 3')
  print(f'input pipeline {pipe:10.0f} img/s | train step {step:6.1f} img/s | '
        f'ratio {pipe / step:.0f}x')


if __name__ == '__main__':
  app.run(main)
