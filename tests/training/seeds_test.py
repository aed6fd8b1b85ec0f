"""Seeds as a batch axis: N seeds in one program equal N separate runs."""

import json
import os

import jax
from jax.sharding import Mesh
import numpy as np
import pytest

from colorjax import names
from colorjax.datasets import batching
from colorjax.errors import CheckpointError
from colorjax.errors import ConfigError
from colorjax.inference import colorize
from colorjax.training import plots
from colorjax.training import steps as steps_lib
from colorjax.training import train
from colorjax.training import workdir as workdir_lib
from colorjax.training.config_validation import validate_config

# Equality is to float tolerance, not bit-exact: the seed program's im2col
# matmuls are batched over seeds, a single run's are not, and the two sum in
# different orders (losses agree to 1e-4 relative).
# Adam turns the sign of a near-zero gradient into a step of ~lr, so some
# parameters differ by up to ~lr per step (the median by under 1e-5); the
# colourised outputs stay within 2e-3 (of 1) after 4 steps.
STEPS = 4
LR = 3e-4


def _leaves(tree):
  return [np.asarray(x) for x in jax.tree.leaves(tree)]


@pytest.mark.parametrize('model,norm', [('gan', 'batch'), ('gan', 'spectral'),
                                        ('cnn', 'batch')])
def test_seed_k_of_n_equals_a_single_run_with_seed_k(tiny_config, model, norm):
  rng = np.random.RandomState(0)
  batches = rng.randint(0, 256, (STEPS, 2, 8, 16, 16, 3)).astype(np.uint8)
  probe = rng.randint(0, 256, (8, 16, 16, 3)).astype(np.uint8)
  overrides = {'model': model, 'discriminator.norm': norm}
  # One device, so both programs see the same batch layout; the seed axis
  # sharded over devices is checked by the workdir test below.
  mesh = Mesh(np.asarray(jax.devices()[:1]), ('data',))
  multi = steps_lib.Steps(tiny_config(num_seeds=2, **overrides), mesh)
  state = multi.init_seeds()
  singles = []
  for k in range(2):
    s = steps_lib.Steps(tiny_config(seed=k, **overrides), mesh)
    singles.append([s, s.init()])
    # The same initial state (bit for bit but for the spectral norm's first
    # power iteration, which rounds differently under vmap).
    for a, b in zip(_leaves(jax.tree.map(lambda x, k=k: x[k], state)),
                    _leaves(singles[k][1]), strict=True):
      np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
  for t in range(STEPS):
    state, metrics = multi.train_seeds_step(state, batching.global_put(
        {'rgb': batches[t]}, multi.seed_data_sharding))
    for k, (s, single) in enumerate(singles):
      singles[k][1], single_metrics = s.train_step(single, batching.global_put(
          {'rgb': batches[t, k]}, s.data_sharding))
      np.testing.assert_allclose(metrics[names.G_LOSS][k],
                                 single_metrics[names.G_LOSS], rtol=1e-4)
  for k, (s, single) in enumerate(singles):
    seed_k = multi.seed_state(state, k)
    diffs = np.concatenate([np.abs(a - b).ravel() for a, b in zip(
        _leaves(seed_k.g.params), _leaves(single.g.params), strict=True)])
    assert np.median(diffs) < 1e-5
    assert diffs.max() < 2 * LR * STEPS
    put = batching.global_put(probe, s.data_sharding)
    # (The reference recipes' align-corners resize, two small matmuls,
    # rounds differently under the seed axis: 2.1e-3 measured on one pixel.)
    np.testing.assert_allclose(s.predict_rgb(seed_k, put),
                               s.predict_rgb(single, put), atol=3e-3)


def test_the_seed_step_on_cpu_has_no_grouped_convolutions(tiny_config):
  # Under vmap a convolution with per-seed kernels becomes a grouped one,
  # which XLA:CPU runs 5-7x slower per seed; on CPU the seed step's layers
  # are matmuls instead ('auto' -> 'matmul', colorjax/nets/layers.py).
  mesh = Mesh(np.asarray(jax.devices()[:1]), ('data',))
  multi = steps_lib.Steps(tiny_config(num_seeds=2), mesh)
  batch = jax.ShapeDtypeStruct((2, 8, 16, 16, 3), np.uint8,
                               sharding=multi.seed_data_sharding)
  hlo = multi.train_seeds_step.lower(jax.eval_shape(multi.init_seeds),
                                     {'rgb': batch}).as_text()
  assert 'dot_general' in hlo
  assert 'convolution' not in hlo


def test_a_run_of_seeds_has_a_workdir_per_seed(tiny_config, tmp_path):
  config = tiny_config(model='cnn', num_seeds=2, seed=5)
  workdir = str(tmp_path / 'w')
  state = train.train_and_evaluate(config, workdir)
  assert np.asarray(state.step).shape == (2,)
  for k in range(2):
    seed_dir = os.path.join(workdir, names.seed_dir(k))
    with open(os.path.join(seed_dir, names.CONFIG)) as f:
      saved = json.load(f)
    assert (saved['seed'], saved['num_seeds']) == (5 + k, 1)
    assert any(r['kind'] == names.VALIDATION
               for r in plots.read_records(seed_dir))
  # Each seed trains as the single run with its seed would (data order too).
  single = train.train_and_evaluate(tiny_config(model='cnn', seed=6),
                                    str(tmp_path / 'single'))
  loaded = workdir_lib.load_run(workdir, seed=1)[2]
  for a, b in zip(_leaves(loaded.g.params), _leaves(single.g.params),
                  strict=True):
    np.testing.assert_allclose(a, b, atol=2 * LR * 4)  # 4 steps.
  # Resuming continues every seed; another seed count is refused.
  config.num_epochs = 2
  state = train.train_and_evaluate(config, workdir)
  np.testing.assert_array_equal(state.epoch, [2, 2])
  with pytest.raises(CheckpointError, match='num_seeds=2') as info:
    train.train_and_evaluate(tiny_config(model='cnn', num_seeds=3, seed=5),
                             workdir)
  assert '\n' not in str(info.value)
  # Tools take --seed; out of range is one line.
  out = tmp_path / 'out'
  image = np.random.RandomState(0).randint(0, 256, (20, 30, 3), np.uint8)
  a = colorize.Colorizer.from_workdir(workdir, seed=0).colorize(image)
  b = colorize.Colorizer.from_workdir(workdir, seed=1).colorize(image)
  assert a.shape == b.shape == (20, 30, 3) and not np.array_equal(a, b)
  with pytest.raises(CheckpointError, match='holds 2 seed'):
    colorize.Colorizer.from_workdir(workdir, seed=2)
  del out


def test_seed_count_must_be_positive(tiny_config):
  with pytest.raises(ConfigError, match='config.num_seeds=0'):
    validate_config(tiny_config(num_seeds=0), 1)


def test_too_many_seeds_says_how_many_fit(tiny_config, tmp_path, monkeypatch):
  # 4 devices: 8 seeds are 4 rows of 2 seeds per device.
  config = tiny_config(model='cnn', num_seeds=8)
  need = {}
  real = steps_lib.Steps.check_seeds_fit

  def measure(self, state):
    monkeypatch.setattr(steps_lib, 'device_memory_bytes', lambda d: 1 << 60)
    real(self, state)  # Fits in 1 EiB.
    mem = self.train_seeds_step.lower(state, {'rgb': jax.ShapeDtypeStruct(
        (8, 8, 16, 16, 3), np.uint8, sharding=self.seed_data_sharding)}
                                      ).compile().memory_analysis()
    need['bytes'] = (mem.argument_size_in_bytes + mem.output_size_in_bytes +
                     mem.temp_size_in_bytes - mem.alias_size_in_bytes)
    # Room for one of each device's two seeds.
    monkeypatch.setattr(steps_lib, 'device_memory_bytes',
                        lambda d: need['bytes'] // 2 + 1)
    real(self, state)

  monkeypatch.setattr(steps_lib.Steps, 'check_seeds_fit', measure)
  with pytest.raises(ConfigError, match=r'about 4 seed\(s\) fit') as info:
    train.train_and_evaluate(config, str(tmp_path / 'w'))
  assert '\n' not in str(info.value)
