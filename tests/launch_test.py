"""launch.py as a user runs it: bad input gives one line, not a traceback."""

import os
import signal
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


TINY_CNN = ['--config=configs/cnn.py', '--config.image_size=16',
            '--config.batch_size=8', '--config.cnn.features=(8,16,16)',
            '--config.samples.num_train=32', '--config.samples.num_validation=8',
            '--config.log_every_steps=1', '--config.compilation_cache_dir=']


def test_sigkill_mid_run_loses_at_most_the_current_epoch(tmp_path):
  env = dict(os.environ, XLA_FLAGS='', JAX_PLATFORMS='cpu')
  proc = subprocess.Popen(
      [sys.executable, 'launch.py', f'--workdir={tmp_path}', *TINY_CNN,
       '--config.num_epochs=1000'], cwd=ROOT, env=env,
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  ckpt_dir = tmp_path / 'checkpoints'
  try:
    for _ in range(1200):  # Up to 120 s for compilation and two epochs.
      done = [d for d in os.listdir(ckpt_dir) if d.isdigit()] if (
          ckpt_dir.exists()) else []
      if len(done) >= 2:
        break
      assert proc.poll() is None, 'training exited early'
      subprocess.run(['sleep', '0.1'], check=True)
    else:
      pytest.fail('no checkpoint within 120 s')
  finally:
    proc.kill()  # SIGKILL: no chance to clean up.
    proc.wait()
  kept = max(int(d) for d in os.listdir(ckpt_dir) if d.isdigit())
  result = _launch(f'--workdir={tmp_path}', *TINY_CNN,
                   f'--config.num_epochs={kept + 1}')
  assert result.returncode == 0, result.stderr[-2000:]
  assert f'Restored epoch {kept} from' in result.stderr  # Resumed, not restarted.
  records = [l for l in open(tmp_path / 'metrics.jsonl')]
  assert f'"epoch": {kept + 1}' in records[-1]
  assert str(kept + 1) in os.listdir(ckpt_dir)


def _final_params(workdir, epoch):
  from colorjax import checkpoint  # pylint: disable=g-import-not-at-top
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  manager = checkpoint.create_manager(str(workdir), read_only=True)
  restored = manager.restore(epoch, args=ocp.args.StandardRestore())
  return restored


def test_sigterm_saves_and_resumes_with_the_same_data_order(tmp_path):
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  args = [*TINY_CNN, '--config.samples.num_train=64']  # 8 steps per epoch.
  env = dict(os.environ, XLA_FLAGS='', JAX_PLATFORMS='cpu')
  proc = subprocess.Popen(
      [sys.executable, 'launch.py', f'--workdir={tmp_path / "b"}', *args,
       '--config.num_epochs=1000'], cwd=ROOT, env=env,
      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  ckpt_dir = tmp_path / 'b' / 'checkpoints'
  for _ in range(1200):
    if ckpt_dir.exists() and any(d.isdigit() for d in os.listdir(ckpt_dir)):
      break
    subprocess.run(['sleep', '0.1'], check=True)
  proc.send_signal(signal.SIGTERM)
  _, stderr = proc.communicate(timeout=120)
  assert proc.returncode == 0, stderr[-2000:]
  assert 'Received SIGTERM' in stderr
  preempted = tmp_path / 'b' / 'preempted'
  steps = [int(d) for d in os.listdir(preempted) if d.isdigit()] if (
      preempted.exists()) else []
  epochs = [int(d) for d in os.listdir(ckpt_dir) if d.isdigit()]
  # Finish the epoch the signal interrupted (or the next one).
  target = (max(steps) // 8 + 1) if steps and max(steps) > 8 * max(epochs) \
      else max(epochs) + 1
  resumed = _launch(f'--workdir={tmp_path / "b"}', *args,
                    f'--config.num_epochs={target}')
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  if steps:
    assert 'Resuming epoch' in resumed.stderr
  straight = _launch(f'--workdir={tmp_path / "a"}', *args,
                     f'--config.num_epochs={target}')
  assert straight.returncode == 0, straight.stderr[-2000:]
  a, b = _final_params(tmp_path / 'a', target), _final_params(
      tmp_path / 'b', target)
  assert int(a['step']) == int(b['step']) == 8 * target
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol=1e-6,
                               atol=1e-7)


def test_a_resumed_run_compiles_nothing_new(tmp_path):
  """launch.py's persistent XLA cache: the second run only reads it."""
  cache = tmp_path / 'xla_cache'
  args = [f'--workdir={tmp_path / "run"}',
          *[a for a in TINY_CNN if 'compilation_cache_dir' not in a],
          f'--config.compilation_cache_dir={cache}']
  # Real programs take seconds to compile; these tiny ones must be cached too.
  env = dict(os.environ, XLA_FLAGS='', JAX_PLATFORMS='cpu',
             JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0')
  written = []
  for epochs in (1, 2):
    result = subprocess.run([sys.executable, 'launch.py', *args,
                             f'--config.num_epochs={epochs}'], cwd=ROOT,
                            env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    written.append(sorted(os.listdir(cache)))
  assert 'Restored epoch 1 from' in result.stderr
  assert len(written[0]) >= 2, written[0]  # At least the train and eval steps.
  assert written[1] == written[0]
