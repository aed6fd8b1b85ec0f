"""The train step, data parallelism, the training loop and resuming."""

import itertools
import json
import os

from digests import digest
import jax
import jax.numpy as jnp
from jax.sharding import Mesh
import numpy as np
import pytest

from colorjax import errors
from colorjax import names
from colorjax.datasets import sources
from colorjax.nets import layers
from colorjax.training import checkpoint
from colorjax.training import plots
from colorjax.training import state as state_lib
from colorjax.training import steps as steps_lib
from colorjax.training import train


def _epoch_checkpoints(workdir):
  """{epoch: step} of the epoch-end checkpoints in `workdir`."""
  return checkpoint.epochs(checkpoint.create_manager(str(workdir)))


def _fixed_batch(config, seed=0):
  train_ds, _ = sources.load_samples(config.image_size, 64, 8)
  return next(train_ds.train_batches(config.batch_size, seed, 0))


def _trainer(config, num_devices):
  devices = np.asarray(jax.devices()[:num_devices])
  return steps_lib.Steps(config, Mesh(devices, ('data',)))


# (params, batch_stats) of G and D after 3 steps of the tiny configs on one
# device. XLA:CPU's dot kernels depend on the CPU (AVX-512 or not), and so do
# the last bits, so each CPU kind has its own digests. `before` is what
# commit 967a76f (before the `NetState` layout) computes: that layout changed
# no bit of a step on CPU. Since then two things changed on purpose: the
# im2col kernel gradient is autodiff's own (`layers._matmul`; the old form is
# `_old_matmul` below, same values to float rounding), and 'auto' on CPU is
# 'matmul' (strided convolutions as im2col too), not 'fast'. With the old
# forms the step still matches 967a76f bit for bit; `current` is what the new
# forms computed when they changed. `tests/pre_redesign_digests.py` computes
# 967a76f's digests on another CPU kind from a checkout of that commit.
DIGESTS_BY_CPU = {
    'the sessions-1-3 VM (where 967a76f was recorded)': {
        'before': {
            ('gan', 'batch'): ('f7f297d1eff6159c', '6e44def145a07418'),
            ('gan', 'spectral'): ('2b7f539beaababc6', 'ce8b8de8fd138882'),
            ('cnn', 'batch'): ('5a09a6ccb62776dd', None),
        },
        'current': {
            ('gan', 'batch'): ('6565e25abca0b7c5', '56e196378b20ffe9'),
            ('gan', 'spectral'): ('d995e5591a23bf75', 'f1626248e9d07095'),
            ('cnn', 'batch'): ('d15bdae432ae3870', None),
        },
    },
    'AMD EPYC family 25 model 17 (Zen 4, AVX-512)': {
        'before': {  # tests/pre_redesign_digests.py in a 967a76f checkout.
            ('gan', 'batch'): ('147f1d8d98792113', '09f7668eb50c9244'),
            ('gan', 'spectral'): ('6575ec0db2666a08', '988d44f724ec41b7'),
            ('cnn', 'batch'): ('0abb7622267c8c92', None),
        },
        'current': {
            ('gan', 'batch'): ('75dbaac434839640', 'a2d1c5a81b65c5d8'),
            ('gan', 'spectral'): ('246cbe8e6b6bf36f', '3942b01efcd556e7'),
            ('cnn', 'batch'): ('c834b470f7cf8e49', None),
        },
    },
    'AMD EPYC family 26 model 2 (the CI VM of 2026-12-04)': {
        'before': {  # tests/pre_redesign_digests.py in a 967a76f checkout.
            ('gan', 'batch'): ('147f1d8d98792113', '09f7668eb50c9244'),
            ('gan', 'spectral'): ('6575ec0db2666a08', '988d44f724ec41b7'),
            ('cnn', 'batch'): ('0abb7622267c8c92', None),
        },
        'current': {
            ('gan', 'batch'): ('f595fcf69bbfe646', '99e00d3e0789e8f6'),
            ('gan', 'spectral'): ('9da590493085c527', '7023b16eb105b6da'),
            ('cnn', 'batch'): ('967a348c36ce77ca', None),
        },
    },
    'AMD EPYC family 25 model 1 (Zen 3, no AVX-512)': {
        'before': {  # tests/pre_redesign_digests.py in a 967a76f checkout.
            ('gan', 'batch'): ('7f4c722f6ab20b01', '5f51c2f13d7e2097'),
            ('gan', 'spectral'): ('084b13e49a7c0aeb', '859480eef687e5fd'),
            ('cnn', 'batch'): ('927c5d3514d67279', None),
        },
        'current': {
            ('gan', 'batch'): ('684c23a89812d414', '2e8cce79926de291'),
            ('gan', 'spectral'): ('4f59f9b44152e81c', '9af0215094fcdaca'),
            ('cnn', 'batch'): ('95f1e620b64ef755', None),
        },
    },
}


@jax.custom_vjp
def _old_matmul(p, m):
  """`layers._matmul` before the change: p.T materialised for the kernel
  gradient."""
  return jnp.dot(p, m)


def _old_matmul_fwd(p, m):
  return jnp.dot(p, m), (p, m)


def _old_matmul_bwd(residuals, g):
  p, m = residuals
  k, n = m.shape
  p_t = jax.lax.optimization_barrier(p.reshape(-1, k).T)
  return jnp.dot(g, m.T), jnp.dot(p_t, g.reshape(-1, n))


_old_matmul.defvjp(_old_matmul_fwd, _old_matmul_bwd)


def _three_step_nets(config):
  """(G, D) variables after 3 steps of the tiny samples (D None for CNN)."""
  trainer = _trainer(config, 1)
  state = trainer.init()
  train_ds, _ = sources.load_samples(config.image_size, 64, 8)
  for batch in itertools.islice(
      train_ds.train_batches(config.batch_size, 0, 0), 3):
    state, _ = trainer.train_step(state, batch)
  state = jax.device_get(state)
  return tuple(None if n is None else
               {'params': n.params, 'batch_stats': n.model_state}
               for n in (state.g, state.d))


def _digests(nets):
  return tuple(None if n is None else digest(n) for n in nets)


@pytest.mark.parametrize('model,norm', [('cnn', 'batch'), ('gan', 'batch'),
                                        ('gan', 'spectral')])
def test_three_steps_are_bit_exact_with_the_pre_redesign_tree(
    tiny_config, model, norm, monkeypatch, default_xla_level):
  if not default_xla_level:  # Digests are of the default level's programs.
    return
  # 967a76f's a, b scale and resize: 110 and half-pixel
  # (`workdir.STORED_BEFORE`).
  config = tiny_config(model=model, ab_scale=110.0, resize='half_pixel',
                       **{'discriminator.norm': norm})
  nets = _three_step_nets(config)
  current = _digests(nets)
  # The CPU kind is the one whose recorded digests the current forms give.
  cpu = [name for name, d in DIGESTS_BY_CPU.items()
         if d['current'][(model, norm)] == current]
  # 967a76f's CPU form: 'fast' (then 'auto') with the old kernel gradient.
  monkeypatch.setattr(layers, '_matmul', _old_matmul)
  config.conv_impl = 'fast'
  old_nets = _three_step_nets(config)
  if cpu:
    assert (_digests(old_nets) ==
            DIGESTS_BY_CPU[cpu[0]]['before'][(model, norm)])
    return
  # A CPU kind not recorded (tests/pre_redesign_digests.py records one):
  # its last bits are its own, so the old and the current forms are held to
  # float rounding of each other instead. Adam turns a rounding-level
  # gradient difference on a near-zero gradient into up to a step's worth of
  # update, so the bound is a third of one step (lr 3e-4), far below what a
  # wrong gradient would move in 3 steps.
  for new, old in zip(nets, old_nets, strict=True):
    if new is None:
      continue
    for (path, a), (_, b) in zip(jax.tree_util.tree_leaves_with_path(new),
                                 jax.tree_util.tree_leaves_with_path(old),
                                 strict=True):
      np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4,
                                 err_msg=str(path))


@pytest.mark.parametrize('model,norm', [('gan', 'batch'), ('gan', 'spectral'),
                                        ('cnn', 'batch')])
def test_steps_on_a_fixed_batch_lower_l1(tiny_config, model, norm):
  config = tiny_config(model=model, **{'discriminator.norm': norm})
  trainer = _trainer(config, 4)
  state = trainer.init()
  batch = jax.device_put(_fixed_batch(config), trainer.data_sharding)
  l1 = []
  for _ in range(25):
    state, metrics = trainer.train_step(state, batch)
    l1.append(float(metrics['g_l1']))
  assert int(state.step) == 25
  assert np.mean(l1[-3:]) < 0.7 * l1[0], l1
  expected = {'g_loss', 'g_l1', 'g_lr', 'g_grad_norm'}
  if model == 'gan':
    expected |= {'g_adv', 'd_loss', 'd_acc_real', 'd_acc_fake', 'd_lr',
                 'd_grad_norm'}
  assert set(metrics) == expected


def test_spectral_norm_statistics_are_updated(tiny_config):
  config = tiny_config(**{'discriminator.norm': 'spectral'})
  trainer = _trainer(config, 1)
  state = trainer.init()
  before = jax.device_get(state.d.model_state)
  state, _ = trainer.train_step(state, _fixed_batch(config))
  after = jax.device_get(state.d.model_state)
  diffs = [np.abs(a - b).max() for a, b in zip(
      jax.tree.leaves(before), jax.tree.leaves(after), strict=True)]
  assert len(diffs) == 4 and min(diffs) > 0  # u and sigma of both convs.


def test_learning_rate_schedule(tiny_config):
  config = tiny_config(g_lr=3e-4, lr_decay_steps=10, lr_decay_rate=0.1,
                       min_lr=1e-6)
  lr = state_lib.create_learning_rate_fn(config, config.g_lr)
  assert lr(0) == pytest.approx(3e-4)
  assert lr(5) == pytest.approx(3e-4 * 0.1 ** 0.5, rel=1e-5)  # Not staircase.
  assert lr(10) == pytest.approx(3e-5, rel=1e-5)
  assert lr(1000) == pytest.approx(1e-6)  # Floored.


def _is_bn_absorbed(path) -> bool:
  """Conv biases followed by BatchNorm, and the running means that absorb them.

  BN subtracts the batch mean, so such a bias has an exact gradient of zero;
  Adam normalises whatever rounding noise is left into steps of size ~lr. The
  reference has these biases (its parameter count includes them), so we keep
  them: they change no training-mode output, and they differ between device
  counts by at most a few learning-rate steps.
  """
  key = jax.tree_util.keystr(path)
  return (("['bias']" in key and ("['down" in key or "['up" in key or
                                 "['conv1'" in key or "['conv2'" in key))
          or "['mean']" in key)


def test_one_and_four_devices_agree(tiny_config):
  """Same global batches, same results: BN statistics are global on 4 devices.

  Only the order of floating-point reductions differs (per-device partial
  sums), so losses agree to ~1e-6 relative and parameters to ~1e-5 after a
  few Adam steps, far below the size of one update (lr 3e-4) — except the
  BN-absorbed biases (see `_is_bn_absorbed`), bounded by 3 steps of lr.
  """
  config = tiny_config()
  results = []
  for n in (1, 4):
    trainer = _trainer(config, n)
    state = trainer.init()
    history = []
    for seed in range(3):
      state, metrics = trainer.train_step(state, _fixed_batch(config, seed))
      history.append(jax.device_get(metrics))
    results.append((history, jax.device_get(state)))
  (h1, s1), (h4, s4) = results
  for m1, m4 in zip(h1, h4, strict=True):
    for k in m1:
      np.testing.assert_allclose(m4[k], m1[k], rtol=1e-4, atol=1e-6, err_msg=k)
  leaves4 = jax.tree.leaves(s4)
  checked = 0
  for (path, a), b in zip(jax.tree_util.tree_flatten_with_path(s1)[0],
                          leaves4, strict=True):
    tol = 3 * 2 * config.g_lr if _is_bn_absorbed(path) else 2e-5
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=tol,
                               err_msg=jax.tree_util.keystr(path))
    checked += not _is_bn_absorbed(path)
  assert checked > 50


def test_train_and_evaluate_writes_logs_and_checkpoints(tiny_config, tmp_path):
  config = tiny_config(num_epochs=2)
  state = train.train_and_evaluate(config, str(tmp_path))
  assert int(state.epoch) == 2 and int(state.step) == 2 * 32 // 8
  records = plots.read_records(str(tmp_path))
  train_records = [r for r in records if r['kind'] == names.TRAIN]
  eval_records = [r for r in records if r['kind'] == names.VALIDATION]
  assert [r['step'] for r in train_records] == [2, 4, 6, 8]
  assert all({'epoch', names.G_L1, names.D_LOSS, names.IMAGES_PER_SEC}
             <= set(r) for r in train_records)
  assert [r['epoch'] for r in eval_records] == [1, 2]
  assert 0 < eval_records[-1][names.val(names.L1)] < 1
  assert any(f.startswith('events.out.tfevents') for f in os.listdir(tmp_path))
  assert _epoch_checkpoints(tmp_path) == {1: 4, 2: 8}  # Epoch: step.
  assert json.load(open(tmp_path / names.CONFIG))['num_epochs'] == 2
  assert sorted(os.listdir(tmp_path / names.SAMPLES)) == [
      os.path.basename(names.sample_grid(e)) for e in (1, 2)]


def test_resume_reaches_the_same_state(tiny_config, tmp_path):
  straight = train.train_and_evaluate(tiny_config(num_epochs=2),
                                      str(tmp_path / 'a'))
  train.train_and_evaluate(tiny_config(num_epochs=1), str(tmp_path / 'b'))
  resumed = train.train_and_evaluate(tiny_config(num_epochs=2),
                                     str(tmp_path / 'b'))
  assert int(resumed.step) == int(straight.step)
  for a, b in zip(jax.tree.leaves(jax.device_get(straight)),
                  jax.tree.leaves(jax.device_get(resumed)), strict=True):
    np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


def test_latest_and_milestone_checkpoints_are_kept(tiny_config, tmp_path):
  config = tiny_config(num_epochs=5, keep_checkpoints=1, checkpoint_epochs=(2,),
                       **{'samples.num_train': 8})
  train.train_and_evaluate(config, str(tmp_path))
  assert sorted(_epoch_checkpoints(tmp_path)) == [2, 5]


def test_the_train_step_compiles_once(tiny_config, tmp_path, monkeypatch):
  created = []

  class Recording(steps_lib.Steps):

    def __init__(self, *args, **kwargs):
      super().__init__(*args, **kwargs)
      # jit's cache is per Python function, shared by every Steps instance.
      created.append((self, self.train_step._cache_size(),
                      self.eval_step._cache_size()))

  monkeypatch.setattr(train, 'Steps', Recording)
  train.train_and_evaluate(tiny_config(num_epochs=3), str(tmp_path))
  ((steps, train_before, eval_before),) = created
  # 12 steps over 3 epochs (the state's epoch is replaced between them) and 3
  # evaluations: one compilation each.
  assert steps.train_step._cache_size() == train_before + 1
  assert steps.eval_step._cache_size() == eval_before + 1


def test_bfloat16_compute_keeps_float32_state(tiny_config):
  config = tiny_config(compute_dtype='bfloat16')
  trainer = _trainer(config, 1)
  state = trainer.init()
  state, metrics = trainer.train_step(state, _fixed_batch(config))
  for leaf in jax.tree.leaves((state.g.params, state.d.params,
                               state.g.model_state, state.d.model_state,
                               state.g.opt_state, state.d.opt_state)):
    if jnp.issubdtype(leaf.dtype, jnp.floating):
      assert leaf.dtype == jnp.float32
  assert all(v.dtype == jnp.float32 for v in metrics.values())
  assert np.isfinite(float(metrics['g_loss']))


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(
    tiny_config, tmp_path, monkeypatch):
  train.train_and_evaluate(tiny_config(num_epochs=1), str(tmp_path))
  before = (tmp_path / names.CHECKPOINTS / '4').stat().st_mtime
  monkeypatch.setattr(steps_lib.losses, 'l1_loss',
                      lambda pred, target: jnp.float32(jnp.nan))
  with pytest.raises(errors.TrainingDiverged,
                     match=r'step 5: g_(grad_norm|l1|loss) is nan .*epoch 1, '
                     'is kept') as info:
    train.train_and_evaluate(tiny_config(num_epochs=2), str(tmp_path))
  assert '\n' not in str(info.value)
  assert _epoch_checkpoints(tmp_path) == {1: 4}
  assert os.listdir(tmp_path / names.CHECKPOINTS) == ['4']
  assert (tmp_path / names.CHECKPOINTS / '4').stat().st_mtime == before
