"""launch.py as a user runs it: bad input gives one line, not a traceback."""

import json
import os
import re
import signal
import subprocess
import sys

import pytest
from tiny import ROOT
from tiny import subprocess_env

from colorjax import names


def _launch(*args):
  env = subprocess_env()
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


def _epoch_checkpoints(workdir):
  """{epoch: step} of the epoch-end checkpoints (read as a tool would)."""
  from colorjax.training import checkpoint
  return checkpoint.epochs(checkpoint.create_manager(str(workdir)))


def test_sigkill_mid_run_loses_at_most_the_current_epoch(tmp_path):
  env = subprocess_env()
  proc = subprocess.Popen(
      [sys.executable, 'launch.py', f'--workdir={tmp_path}', *TINY_CNN,
       '--config.num_epochs=1000'], cwd=ROOT, env=env,
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  ckpt_dir = tmp_path / names.CHECKPOINTS
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
  kept = max(_epoch_checkpoints(tmp_path))
  result = _launch(f'--workdir={tmp_path}', *TINY_CNN,
                   f'--config.num_epochs={kept + 1}')
  assert result.returncode == 0, result.stderr[-2000:]
  # Resumed, not restarted.
  assert re.search(rf'Restored step \d+ \(epoch {kept}\) from', result.stderr)
  records = [json.loads(l) for l in open(tmp_path / names.METRICS)]
  assert records[-1]['epoch'] == kept + 1
  assert kept + 1 in _epoch_checkpoints(tmp_path)


def _final_params(workdir):
  import orbax.checkpoint as ocp
  manager = ocp.CheckpointManager(os.path.join(workdir, names.CHECKPOINTS))
  return manager.restore(manager.latest_step(),
                         args=ocp.args.StandardRestore())


def test_sigterm_mid_epoch_saves_that_step_and_resumes_from_it(tmp_path):
  """The preemption path itself: the signal arrives mid-epoch, the state of
  that step is saved, and the resumed run continues after that batch and ends
  where an uninterrupted run does."""
  import jax
  import numpy as np

  from colorjax.training import checkpoint
  # 128 steps per epoch: the signal, sent when step 2 is logged (every step
  # is: log_every_steps=1), lands while ~125 steps remain.
  args = [*TINY_CNN, '--config.samples.num_train=1024',
          '--config.num_epochs=1']
  env = subprocess_env()
  proc = subprocess.Popen(
      [sys.executable, 'launch.py', f'--workdir={tmp_path / "b"}', *args],
      cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
      text=True)
  lines = []
  for line in proc.stderr:  # Training has started once step 2 is logged.
    lines.append(line)
    if 'epoch 1 step 2 |' in line:
      proc.send_signal(signal.SIGTERM)
      break
  stderr = ''.join(lines) + proc.communicate(timeout=120)[1]
  assert proc.returncode == 0, stderr[-2000:]
  assert 'Received SIGTERM' in stderr
  manager = checkpoint.create_manager(str(tmp_path / 'b'))
  (saved,) = manager.all_steps()
  assert 2 <= saved < 128  # Mid-epoch, at the step the signal arrived.
  assert checkpoint.position(manager, saved) == (saved, 128)
  assert f'Saved step {saved} (epoch 1, batch {saved} of 128)' in stderr
  resumed = _launch(f'--workdir={tmp_path / "b"}', *args)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert f'Resuming epoch 1 after its batch {saved}.' in resumed.stderr
  straight = _launch(f'--workdir={tmp_path / "a"}', *args)
  assert straight.returncode == 0, straight.stderr[-2000:]
  a, b = _final_params(tmp_path / 'a'), _final_params(tmp_path / 'b')
  assert int(a['step']) == int(b['step']) == 128
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol=1e-6,
                               atol=1e-7)
  # The epoch-end save superseded the preemption save.
  assert _epoch_checkpoints(tmp_path / 'b') == {1: 128}
  assert sorted(os.listdir(tmp_path / 'b' / names.CHECKPOINTS)) == ['128']


def test_a_resumed_run_compiles_nothing_new(tmp_path):
  """launch.py's persistent XLA cache: the second run only reads it."""
  cache = tmp_path / 'xla_cache'
  args = [f'--workdir={tmp_path / "run"}',
          *[a for a in TINY_CNN if 'compilation_cache_dir' not in a],
          f'--config.compilation_cache_dir={cache}']
  # Real programs take seconds to compile; these tiny ones must be cached too.
  env = subprocess_env(JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0')
  written = []
  for epochs in (1, 2):
    result = subprocess.run([sys.executable, 'launch.py', *args,
                             f'--config.num_epochs={epochs}'], cwd=ROOT,
                            env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    written.append(sorted(os.listdir(cache)))
  assert 'Restored step 4 (epoch 1) from' in result.stderr
  assert len(written[0]) >= 2, written[0]  # At least the train and eval steps.
  assert written[1] == written[0]
