"""Trains a colorjax model: python launch.py --config=configs/gan_bn.py --workdir=DIR.

Any config value can be overridden, e.g. ``--config.num_epochs=10``. Running
again with the same --workdir resumes from its latest checkpoint.
"""

import sys

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

from colorjax import runtime
from colorjax import train
from colorjax.errors import ColorjaxError

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Directory for checkpoints and logs.')
config_flags.DEFINE_config_file('config', None, 'Training configuration.',
                                lock_config=True)
flags.DEFINE_string('coordinator_address', '', 'host:port of process 0, to '
                    'run as one of several processes (auto-detected on SLURM '
                    'and Cloud TPU).')
flags.DEFINE_integer('num_processes', 0, 'With --coordinator_address.')
flags.DEFINE_integer('process_id', -1, 'With --coordinator_address.')
flags.DEFINE_integer('distributed_timeout_s', 300, 'How long to wait for the '
                     'other processes.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  runtime.setup(FLAGS.config.compilation_cache_dir)
  try:
    runtime.initialize_distributed(FLAGS.coordinator_address,
                                   FLAGS.num_processes, FLAGS.process_id,
                                   FLAGS.distributed_timeout_s)
    logging.info('Process %d of %d; JAX devices: %s', jax.process_index(),
                 jax.process_count(), jax.devices())
    train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  except ColorjaxError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


def _parse_flags(argv):
  """absl's flag parsing, with a bad --config.KEY override as one line."""
  try:
    return app.parse_flags_with_usage(argv)
  except (AttributeError, KeyError, TypeError, ValueError) as e:
    # ml_collections: "'num_epoch'\nDid you mean "num_epochs" ...?"
    detail = ' '.join(str(e).replace('\\n', ' ').replace("\\'", '').split())
    print(f'error: bad config override: {detail.strip(chr(39))}; the keys are '
          'in configs/default.py.', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  app.run(main, flags_parser=_parse_flags)
