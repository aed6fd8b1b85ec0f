"""One process of a multi-process test (run by multiprocess_test.py).

  python tests/multiprocess_worker.py MODE OUT [PORT NUM_PROCESSES PROCESS_ID]

MODE 'steps': three train steps on fixed global batches (each process feeds
its half); process 0 saves the final parameters to OUT (.npz). With no PORT
it runs as a single process over all its local devices.
MODE 'train': `train_and_evaluate` of the tiny config into the workdir OUT.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax
from jax.sharding import Mesh
import numpy as np
from tiny import tiny_config

from colorjax import runtime
from colorjax.datasets import batching
from colorjax.datasets import sources
from colorjax.errors import ColorjaxError
from colorjax.training import steps as steps_lib
from colorjax.training import train


def main():
  mode, out = sys.argv[1], sys.argv[2]
  if len(sys.argv) > 3:
    port, n, pid = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    try:
      runtime.initialize_distributed(f'127.0.0.1:{port}', n, pid, timeout_s=20)
    except ColorjaxError as e:
      print(f'error: {e}', file=sys.stderr)
      sys.exit(1)
  config = tiny_config(batch_size=4)
  if mode == 'train':
    train.train_and_evaluate(config, out)
    return
  trainer = steps_lib.Steps(config, Mesh(np.asarray(jax.devices()), ('data',)))
  state = trainer.init()
  samples, _ = sources.load_samples(16, 12, 4)
  local = config.batch_size // jax.process_count()
  lo = jax.process_index() * local
  for seed in range(3):
    batch = next(samples.train_batches(config.batch_size, seed, 0))
    part = {'rgb': batch['rgb'][lo:lo + local]}
    (batch,) = batching.prefetch_to_device([part],
                                                 trainer.data_sharding)
    state, _ = trainer.train_step(state, batch)
  params = jax.tree_util.tree_flatten_with_path(
      jax.device_get((state.g.params, state.d.params)))[0]
  if jax.process_index() == 0:
    np.savez(out, **{jax.tree_util.keystr(k): v for k, v in params})


if __name__ == '__main__':
  main()
