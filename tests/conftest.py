"""Test setup: four virtual CPU devices, so every test runs the multi-device path."""

import os

# Must happen before JAX is imported anywhere.
# XLA:CPU's LLVM optimisation is most of a test's time: the tests compile
# hundreds of tiny programs and run each a few steps (a GAN train step
# compiles in 13 s at level 0, 35 s at the default). Commands the tests run
# use the same level (`tiny.subprocess_env`); tests of digests recorded at
# the default level run there in a subprocess (`default_xla_level` below).
from tiny import xla_flags  # noqa: E402  (imports no JAX)

os.environ.setdefault('COLORJAX_TEST_XLA_OPT_LEVEL', '0')
os.environ.setdefault('COLORJAX_TEST_GIVEN_XLA_FLAGS',
                      os.environ.get('XLA_FLAGS', ''))
os.environ['XLA_FLAGS'] = (
    os.environ['COLORJAX_TEST_GIVEN_XLA_FLAGS'] + ' ' +
    xla_flags(4, os.environ['COLORJAX_TEST_XLA_OPT_LEVEL'])).strip()
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# conv_impl='auto' by the fixed rule: no test run measures the forms (the
# measuring itself is tested with fake timings, tests/training/
# conv_choice_test.py), in this process and the commands it starts.
os.environ.setdefault('COLORJAX_CONV_IMPL', 'rule')

import atexit
import shutil
import subprocess
import sys
import tempfile

import jax
import pytest

# Tests build the same tiny programs many times, in both pytest-xdist workers
# and in the commands they start: one compilation cache for the whole run.
# The first process (xdist's controller) makes it and removes it when it
# exits; the workers and the commands inherit it through the environment
# (JAX's cache locks its files, so processes can share it). The tools'
# own cache (`runtime.for_users`) is this one too, not the user's.
_CACHE_ENV = 'COLORJAX_TEST_XLA_CACHE'
if not os.environ.get(_CACHE_ENV):
  os.environ[_CACHE_ENV] = tempfile.mkdtemp(prefix='colorjax_test_xla_cache_')
  atexit.register(shutil.rmtree, os.environ[_CACHE_ENV], ignore_errors=True)
os.environ.setdefault('JAX_COMPILATION_CACHE_DIR', os.environ[_CACHE_ENV])
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0.5')
os.environ.setdefault('COLORJAX_CACHE_DIR', os.environ[_CACHE_ENV])
jax.config.update('jax_compilation_cache_dir',
                  os.environ['JAX_COMPILATION_CACHE_DIR'])
jax.config.update('jax_persistent_cache_min_compile_time_secs',
                  float(os.environ['JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS']))

from tiny import tiny_config  # noqa: E402,I100


@pytest.fixture(name='default_xla_level')
def default_xla_level_fixture(request):
  """Whether this process compiles at XLA's default level; if not, first
  runs the requesting test in a pytest subprocess that does (its failure is
  this test's), so the test's body may return at once."""
  if os.environ['COLORJAX_TEST_XLA_OPT_LEVEL'] == 'default':
    return True
  env = dict(os.environ, XLA_FLAGS=os.environ['COLORJAX_TEST_GIVEN_XLA_FLAGS'],
             COLORJAX_TEST_XLA_OPT_LEVEL='default')
  done = subprocess.run(
      [sys.executable, '-m', 'pytest', '-q', '-p', 'no:xdist',
       request.node.nodeid], cwd=str(request.config.rootpath), env=env,
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
      timeout=1200, check=False)
  assert done.returncode == 0, done.stdout[-6000:]
  return False


@pytest.fixture(name='tiny_config')
def tiny_config_fixture():
  return tiny_config


@pytest.fixture(name='tiny_run', scope='session')
def tiny_run_fixture(tmp_path_factory):
  """A workdir of the tiny BN GAN trained for one epoch, shared read-only."""
  from colorjax.training import train
  run_dir = str(tmp_path_factory.mktemp('tiny_run') / 'bn')
  train.train_and_evaluate(tiny_config(), run_dir)
  return run_dir


@pytest.fixture(name='hint_run', scope='session')
def hint_run_fixture(tmp_path_factory):
  """A tiny U-Net trained with hints for one epoch on the samples."""
  from colorjax.training import train
  config = tiny_config(model='unet', **{'hints.enabled': True,
                                        'hints.propagation_iterations': 30})
  config.image_size = 32
  config.generator.features = (8, 16, 16, 16)
  workdir = str(tmp_path_factory.mktemp('hint_run') / 'h')
  train.train_and_evaluate(config, workdir)
  return workdir
