"""Test setup: four virtual CPU devices, so every test runs the multi-device path."""

import os

# Must happen before JAX is imported anywhere.
os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_force_host_platform_device_count=4')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tempfile  # pylint: disable=g-import-not-at-top,wrong-import-position

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

# Tests build the same tiny programs many times: share compilations.
jax.config.update('jax_compilation_cache_dir',
                  tempfile.mkdtemp(prefix='colorjax_test_xla_cache_'))
jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.5)

from configs import default  # pylint: disable=g-import-not-at-top


def tiny_config(**overrides):
  """The default config shrunk to tiny widths and data: compiles in seconds."""
  c = default.get_config()
  c.image_size = 16
  c.batch_size = 8
  c.generator.features = (8, 16, 16, 16, 16)
  c.discriminator.features = (8, 16, 16)
  c.cnn.features = (8, 16, 16)
  c.samples.num_train = 32
  c.samples.num_validation = 8
  c.num_epochs = 1
  c.log_every_steps = 2
  c.checkpoint_epochs = ()
  c.compilation_cache_dir = ''
  for key, value in overrides.items():
    target = c
    *path, last = key.split('.')
    for p in path:
      target = target[p]
    target[last] = value
  return c


@pytest.fixture(name='tiny_config')
def tiny_config_fixture():
  return tiny_config
