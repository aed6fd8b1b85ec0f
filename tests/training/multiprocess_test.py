"""Two JAX processes on localhost (CPU, gloo) train like one process."""

import os
import socket
import subprocess
import sys
import time

import numpy as np
from tiny import subprocess_env

from colorjax import names
from colorjax.training import checkpoint
from colorjax.training import workdir as workdir_lib

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, 'multiprocess_worker.py')


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _run_two(mode: str, out: str):
  port = _free_port()
  env = subprocess_env()
  procs = [subprocess.Popen([sys.executable, WORKER, mode, out, str(port), '2',
                             str(i)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
           for i in range(2)]
  outputs = [p.communicate(timeout=600)[0] for p in procs]
  for p, text in zip(procs, outputs, strict=True):
    assert p.returncode == 0, text[-3000:]


def test_two_processes_match_one_process(tmp_path):
  """Same global batches: 2 processes x 1 device == 1 process x 2 devices.

  The only difference is where the cross-device reductions happen (gloo vs
  in-process), so parameters agree to float32 rounding; 2e-5 absolute is
  far below one Adam step (3e-4) — the BN-absorbed biases excepted, whose
  zero gradient makes Adam's update pure rounding noise (see train_test).
  """
  _run_two('steps', str(tmp_path / 'two.npz'))
  env = subprocess_env(devices=2)
  one = subprocess.run([sys.executable, WORKER, 'steps',
                        str(tmp_path / 'one.npz')], env=env,
                       capture_output=True, text=True, timeout=600)
  assert one.returncode == 0, one.stderr[-3000:]
  two, ref = np.load(tmp_path / 'two.npz'), np.load(tmp_path / 'one.npz')
  assert sorted(two.files) == sorted(ref.files) and len(ref.files) > 20
  for key in ref.files:
    absorbed = "['bias']" in key and "['head']" not in key and (
        "['conv0']" not in key)
    np.testing.assert_allclose(two[key], ref[key], rtol=1e-4,
                               atol=2e-3 if absorbed else 2e-5, err_msg=key)


def test_two_process_run_restores_in_one_process(tmp_path):
  _run_two('train', str(tmp_path / 'run'))
  manager = checkpoint.create_manager(str(tmp_path / 'run'))
  assert checkpoint.epochs(manager) == {1: 32 // 4}
  assert (tmp_path / 'run' / names.METRICS).exists()
  _, _, state = workdir_lib.load_run(str(tmp_path / 'run'))
  assert int(state.epoch) == 1 and int(state.step) == 32 // 4


def test_unreachable_coordinator_fails_fast_and_clearly(tmp_path):
  start = time.monotonic()
  result = subprocess.run(
      [sys.executable, WORKER, 'steps', str(tmp_path / 'x.npz'),
       str(_free_port()), '2', '1'], env=subprocess_env(),
      capture_output=True, text=True, timeout=120)
  assert result.returncode == 1
  assert time.monotonic() - start < 60
  assert 'error: cannot reach the coordinator at 127.0.0.1:' in result.stderr
  assert 'start process 0 first' in result.stderr


def test_importing_colorjax_starts_no_backend():
  # jax.distributed.initialize must come before any backend starts.
  code = ('import colorjax.training.train, colorjax.inference.colorize, '
          'colorjax.evaluation.command, colorjax.benchmark.compare; '
          'from jax._src import xla_bridge; '
          'assert not xla_bridge.backends_are_initialized()')
  result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=300, cwd=os.path.dirname(HERE))
  assert result.returncode == 0, result.stderr[-2000:]
