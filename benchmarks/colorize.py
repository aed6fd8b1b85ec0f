"""Seconds per 1024x1024 image of full-resolution colourisation.

  python benchmarks/colorize.py [--workdir=DIR] [--work_size=N] [--size=1024]
      [--conv_impl=matmul,fast,xla]

With --workdir, its trained generator is used (`colorjax:hints`: the bundled
model); without, a freshly initialised reference U-Net (same cost). Prints
the median over --repeats images after a compiling first call, on whatever
device JAX uses. With --conv_impl, the same generator in each exact
convolution form, timed in turn in this one process, with each form's
median as a ratio to the first form's.
"""

import dataclasses
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
flags.DEFINE_list('conv_impl', None, 'Convolution forms to time in turn '
                  '(default: the generator\'s own).')
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
  print(f'# python {" ".join(sys.argv)}')
  print(f'# device: {jax.devices()[0].device_kind} ({jax.default_backend()})')
  forms = [('own form', colorizer)]
  if FLAGS.conv_impl:  # A form named twice is timed twice: the noise.
    forms = [(form, _in_form(colorizer, form)) for form in FLAGS.conv_impl]
  base = None
  for form, c in forms:
    first, times = timing.call_seconds(c.colorize, image,
                                       repeats=FLAGS.repeats)
    median = float(np.median(times))
    base = base or median
    print(f'{FLAGS.size}x{FLAGS.size} at work size {FLAGS.work_size}, '
          f'{form}: {median:.3f} s/image (median of {FLAGS.repeats}, min '
          f'{min(times):.3f}, max {max(times):.3f}; {median / base:.2f}x the '
          f'first form); first call {first:.1f} s')


def _in_form(colorizer, form: str):
  """The same Colorizer, its generator built with convolution form `form`."""
  g = colorizer.generator
  module = g.apply_fn.__self__.clone(conv_impl=form)
  return colorizer_lib.Colorizer(
      dataclasses.replace(g, apply_fn=module.apply, ungated_apply_fn=None),
      colorizer.work_size, colorizer.batch_size)


if __name__ == '__main__':
  app.run(main)
