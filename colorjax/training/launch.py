"""Trains a colorjax model.

  python launch.py --config=configs/RECIPE.py[:VARIANT] --workdir=DIR
                   [--config.FIELD=VALUE ...]
  colorjax train --config=configs/RECIPE.py[:VARIANT] --workdir=DIR [...]

Any config field can be overridden, e.g. ``--config.num_epochs=10`` (every
field is in configs/default.py). Running again with the same --workdir
resumes from its latest checkpoint. Set COLORJAX_VERBOSE=1 to see the start-up
messages of TensorFlow, XLA and absl.
"""

import os
import sys
from typing import Optional

from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

from colorjax import configs
from colorjax import files
from colorjax import names
from colorjax import runtime
from colorjax.errors import one_line
from colorjax.training import train
from colorjax.training import workdir as workdir_lib

__all__ = ['cli', 'main', 'recipes_help']

FLAGS = flags.FLAGS


def _define_flags() -> None:
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


def _config_file(argv) -> Optional[str]:
  """The file of --config=PATH[:VARIANT] in `argv`, if given."""
  for i, arg in enumerate(argv):
    if arg.startswith('--config='):
      return arg.split('=', 1)[1].split(':', 1)[0]
    if arg == '--config' and i + 1 < len(argv):
      return argv[i + 1].split(':', 1)[0]
  return None


def _parse_flags(argv):
  """absl's flag parsing, with a bad --config file or --config.KEY override
  as one line."""
  path = _config_file(argv[1:])
  try:
    if path:  # A FIFO would hang the import, a folder give a traceback.
      files.check_regular_file(path, 2**20, runtime.UsageError)
    return flags.FLAGS(argv)
  except runtime.UsageError as e:
    print(one_line(f'error: --config: {e} Name a recipe such as '
                   'configs/gan_bn.py.'), file=sys.stderr)
    sys.exit(1)
  except flags.Error as e:
    lines = [l for l in str(e).splitlines() if l.strip()]
    if 'Traceback (most recent call last):' in lines:  # The recipe raised:
      lines = [lines[0].rstrip(':'), lines[-1]]  # where, and what.
    print(one_line(f'error: {" ".join(lines)}'), file=sys.stderr)
    sys.exit(1)
  except (AttributeError, KeyError, TypeError, ValueError) as e:
    # ml_collections: "'num_epoch'\nDid you mean "num_epochs" ...?"
    detail = ' '.join(str(e).replace('\\n', ' ').replace("\\'", '').split())
    print(f'error: bad config override: {detail.strip(chr(39))}; the keys are '
          'in configs/default.py.', file=sys.stderr)
    sys.exit(1)


def cli() -> None:
  """The `train` command (and `python launch.py`)."""
  _define_flags()
  runtime.run_tool(main, extra_help=recipes_help(), flags_parser=_parse_flags)


if __name__ == '__main__':
  cli()
