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
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  runtime.setup(FLAGS.config.compilation_cache_dir)
  logging.info('JAX devices: %s', jax.devices())
  try:
    train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  except ColorjaxError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  app.run(main)
