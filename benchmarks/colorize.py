"""Seconds per 1024x1024 image of full-resolution colourisation.

  python benchmarks/colorize.py [--workdir=DIR] [--work_size=N] [--size=1024]

With --workdir, its trained generator is used; without, a freshly initialised
reference U-Net (same cost). Prints the median over --repeats images after a
compiling first call, on whatever device JAX uses.
"""

import os
import sys

from absl import app
from absl import flags
import jax
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import timing

from colorjax import runtime
from colorjax.colour import spaces
from colorjax.inference import colorizer as colorizer_lib
from colorjax.nets import models

flags.DEFINE_string('workdir', None, 'A training run (default: untrained).')
flags.DEFINE_integer('work_size', 32, 'Working resolution (training size).')
flags.DEFINE_integer('size', 1024, 'Side of the square test image.')
flags.DEFINE_integer('repeats', 5, 'Timed images.')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  runtime.keep_freed_memory()  # As the command-line entry points do.
  if FLAGS.workdir:
    colorizer = colorizer_lib.Colorizer.from_workdir(
        FLAGS.workdir, work_size=FLAGS.work_size)
  else:
    generator = models.UNetGenerator()
    variables = generator.init(
        jax.random.key(0), np.zeros((1, FLAGS.work_size, FLAGS.work_size, 1)),
        train=False)
    colorizer = colorizer_lib.Colorizer(
        colorizer_lib.Generator(generator.apply, variables, 16,
                                spaces.REFERENCE_AB_SCALE), FLAGS.work_size)
  rng = np.random.default_rng(0)
  image = rng.integers(0, 256, (FLAGS.size, FLAGS.size), np.uint8)
  first, times = timing.call_seconds(colorizer.colorize, image,
                                     repeats=FLAGS.repeats)
  print(f'# python {" ".join(sys.argv)}')
  print(f'# device: {jax.devices()[0].device_kind} ({jax.default_backend()})')
  print(f'{FLAGS.size}x{FLAGS.size} at work size {FLAGS.work_size}: '
        f'{np.median(times):.3f} s/image (median of {FLAGS.repeats}, min '
        f'{min(times):.3f}, max {max(times):.3f}); first call {first:.1f} s')


if __name__ == '__main__':
  app.run(main)
