"""967a76f's 3-step digests on this CPU, for `train_test.DIGESTS_BY_CPU`.

  git worktree add /tmp/old 967a76f
  python tests/pre_redesign_digests.py /tmp/old

Makes the tiny test batches with this tree, then runs the tree before the
NetState redesign (967a76f) on them in a subprocess, with the tiny configs of
`tests/tiny.py`, and prints the (G, D) digests of its state after 3 steps in
the form of `DIGESTS_BY_CPU[...]['before']`. The current forms' digests
(`'current'`) are what `train_test._three_step_digests` gives on the same CPU.
Not a test (pytest does not collect it).
"""

import os
import pickle
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny import xla_flags  # noqa: E402  (imports no JAX)

# The digests are recorded at XLA's default level, on 4 devices.
os.environ['XLA_FLAGS'] = xla_flags(4, 'default')

# Runs inside the 967a76f checkout: its Trainer, its TrainState fields.
_OLD_TREE_SCRIPT = '''
import os, pickle, sys
import jax, numpy as np
from jax.sharding import Mesh
from colorjax.training import train
from configs import default
sys.path.insert(0, sys.argv[2])  # This tree's tests/, for digest.
from digests import digest

batches, sizes = pickle.load(open(sys.argv[1], 'rb'))
for model, norm in [('gan', 'batch'), ('gan', 'spectral'), ('cnn', 'batch')]:
  c = default.get_config()
  c.image_size, c.batch_size = sizes['image_size'], sizes['batch_size']
  c.generator.features = sizes['g']
  c.discriminator.features = sizes['d']
  c.cnn.features = sizes['cnn']
  c.model, c.discriminator.norm = model, norm
  trainer = train.Trainer(c, Mesh(np.asarray(jax.devices()[:1]), ('data',)))
  state = trainer.init()
  for batch in batches:
    state, _ = trainer.train_step(state, batch)
  s = jax.device_get(state)
  g = digest({'params': s.g_params, 'batch_stats': s.g_batch_stats})
  d = None if model == 'cnn' else digest(
      {'params': s.d_params, 'batch_stats': s.d_batch_stats})
  print(f'    ({model!r}, {norm!r}): ({g!r}, {d!r}),', flush=True)
'''


def main(old_tree: str) -> None:
  import itertools

  import numpy as np
  from tiny import tiny_config

  from colorjax.datasets import sources
  c = tiny_config()
  train_ds, _ = sources.load_samples(c.image_size, 64, 8)
  batches = [{'rgb': np.asarray(b['rgb'])} for b in itertools.islice(
      train_ds.train_batches(c.batch_size, 0, 0), 3)]
  sizes = {'image_size': c.image_size, 'batch_size': c.batch_size,
           'g': tuple(c.generator.features),
           'd': tuple(c.discriminator.features),
           'cnn': tuple(c.cnn.features)}
  with tempfile.NamedTemporaryFile(suffix='.pkl') as f:
    pickle.dump((batches, sizes), f)
    f.flush()
    print("'before': {")
    subprocess.run([sys.executable, '-c', _OLD_TREE_SCRIPT, f.name,
                    os.path.dirname(os.path.abspath(__file__))],
                   cwd=old_tree, env=dict(os.environ, PYTHONPATH=old_tree),
                   check=True)
    print('},')


if __name__ == '__main__':
  if len(sys.argv) != 2:
    sys.exit('usage: python tests/pre_redesign_digests.py OLD_TREE '
             '(a checkout of 967a76f)')
  main(sys.argv[1])
