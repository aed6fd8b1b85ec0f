"""launch.py as a user runs it: bad input gives one line, not a traceback."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _launch(*args):
  env = dict(os.environ, XLA_FLAGS='', JAX_PLATFORMS='cpu')
  return subprocess.run([sys.executable, 'launch.py', *args], cwd=ROOT,
                        env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize('override,expected', [
    ('--config.image_size=40', 'config.image_size=40 must be a positive '
     'multiple of 16'),
    ('--config.dataset=/no/such/folder', "config.dataset='/no/such/folder' "
     'is unknown'),
    ('--config.discriminator.norm=layer', 'config.discriminator.norm'),
])
def test_bad_config_is_one_line(tmp_path, override, expected):
  result = _launch('--config=configs/gan_bn.py:demo',
                   f'--workdir={tmp_path}', override)
  assert result.returncode == 1
  errors = [l for l in result.stderr.splitlines() if l.startswith('error:')]
  assert len(errors) == 1 and expected in errors[0], result.stderr[-2000:]
  assert 'Traceback' not in result.stderr


def test_unwritable_workdir_is_reported(tmp_path):
  blocker = tmp_path / 'file'
  blocker.write_text('')
  result = _launch('--config=configs/cnn.py:demo',
                   f'--workdir={blocker}/run')
  assert result.returncode == 1
  assert 'cannot create workdir' in result.stderr
  assert 'Traceback' not in result.stderr
