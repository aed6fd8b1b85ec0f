"""Process setup shared by the command-line entry points."""

import os

from absl import logging
import jax


class _QuietLibraries(logging.logging.Filter):
  """Drops orbax's INFO chatter (dozens of lines per checkpoint) and its
  warnings that a manager opened read-only (for evaluation) is read-only."""

  def filter(self, record):
    if '/orbax/' not in record.pathname:
      return True
    if record.levelno < logging.logging.WARNING:
      return False
    message = record.getMessage()
    return 'read_only' not in message and 'read only' not in message


def setup(compilation_cache_dir: str = '') -> None:
  """Quiets library logs, keeps TensorFlow off GPUs, enables the XLA cache.

  Args:
    compilation_cache_dir: where XLA's persistent compilation cache lives, so
      a resumed run does not compile again ('' leaves it off).
  """
  logging.get_absl_handler().addFilter(_QuietLibraries())
  try:  # tf.data (TFDS sources) must not take GPU memory from JAX.
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.config.set_visible_devices([], 'GPU')
  except ImportError:
    pass
  if compilation_cache_dir:
    jax.config.update('jax_compilation_cache_dir',
                      os.path.expanduser(compilation_cache_dir))
