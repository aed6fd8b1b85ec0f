"""Trains a colorjax model.

  python launch.py --config=configs/RECIPE.py[:VARIANT] --workdir=DIR
                   [--config.FIELD=VALUE ...]

Any config field can be overridden, e.g. ``--config.num_epochs=10`` (every
field is in configs/default.py). Running again with the same --workdir
resumes from its latest checkpoint. Set COLORJAX_VERBOSE=1 to see the start-up
messages of TensorFlow, XLA and absl.
"""

import os
import sys

from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

from colorjax import configs
from colorjax import names
from colorjax import runtime
from colorjax import train
from colorjax import workdir as workdir_lib

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Directory for checkpoints and logs.')
config_flags.DEFINE_config_file('config', None, 'Training configuration: '
                                'configs/RECIPE.py[:VARIANT].',
                                lock_config=True)
flags.DEFINE_string('coordinator_address', '', 'host:port of process 0, to '
                    'run as one of several processes (auto-detected on SLURM '
                    'and Cloud TPU).')
flags.DEFINE_integer('num_processes', 0, 'With --coordinator_address.')
flags.DEFINE_integer('process_id', -1, 'With --coordinator_address.')
flags.DEFINE_integer('distributed_timeout_s', 300, 'How long to wait for the '
                     'other processes.')
flags.mark_flags_as_required(['config', 'workdir'])


def recipes_help() -> str:
  """The recipes that ship, with their variants and first docstring line."""
  lines = ['Recipes (--config=configs/NAME.py[:VARIANT]):']
  for name in configs.names():
    module = __import__(f'colorjax.configs.{name}', fromlist=['get_config'])
    variants = []
    for variant in ('demo', 'cpu'):
      try:
        module.get_config(variant)
        variants.append(':' + variant)
      except ValueError:
        pass
    doc = (module.__doc__ or '').strip().splitlines()[0]
    lines.append(f'  {name:<10} {doc} (variants: {", ".join(variants)})')
  return '\n'.join(lines)


def main(argv):
  if len(argv) > 1:
    raise runtime.UsageError(f'unexpected arguments: {" ".join(argv[1:])}; '
                             'every setting is a --flag.')
  runtime.setup(FLAGS.config.compilation_cache_dir)
  runtime.initialize_distributed(FLAGS.coordinator_address,
                                 FLAGS.num_processes, FLAGS.process_id,
                                 FLAGS.distributed_timeout_s)
  logging.info('Process %d of %d; JAX devices: %s', jax.process_index(),
               jax.process_count(), jax.devices())
  train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  if jax.process_index() == 0:
    run = FLAGS.workdir
    if FLAGS.config.num_seeds > 1:
      run = os.path.join(run, names.seed_dir(0))
    text = workdir_lib.summary(run)
    if text:
      print(text)


def _parse_flags(argv):
  """absl's flag parsing, with a bad --config.KEY override as one line."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  except (AttributeError, KeyError, TypeError, ValueError) as e:
    # ml_collections: "'num_epoch'\nDid you mean "num_epochs" ...?"
    detail = ' '.join(str(e).replace('\\n', ' ').replace("\\'", '').split())
    print(f'error: bad config override: {detail.strip(chr(39))}; the keys are '
          'in configs/default.py.', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  runtime.run_tool(main, extra_help=recipes_help(), flags_parser=_parse_flags)
