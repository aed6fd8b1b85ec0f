"""The train step, data parallelism, the training loop and resuming."""

import json
import os

import jax
import jax.numpy as jnp
from jax.sharding import Mesh
import numpy as np
import pytest

from colorjax import input_pipeline
from colorjax import train


def _fixed_batch(config, seed=0):
  train_ds, _ = input_pipeline.load_samples(config.image_size, 64, 8)
  return next(train_ds.train_batches(config.batch_size, seed, 0))


def _trainer(config, num_devices):
  devices = np.asarray(jax.devices()[:num_devices])
  return train.Trainer(config, Mesh(devices, ('data',)))


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
  before = jax.device_get(state.d_batch_stats)
  state, _ = trainer.train_step(state, _fixed_batch(config))
  after = jax.device_get(state.d_batch_stats)
  diffs = [np.abs(a - b).max() for a, b in zip(
      jax.tree.leaves(before), jax.tree.leaves(after))]
  assert len(diffs) == 4 and min(diffs) > 0  # u and sigma of both convs.


def test_learning_rate_schedule(tiny_config):
  config = tiny_config(g_lr=3e-4, lr_decay_steps=10, lr_decay_rate=0.1,
                       min_lr=1e-6)
  lr = train.create_learning_rate_fn(config, config.g_lr)
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
  for m1, m4 in zip(h1, h4):
    for k in m1:
      np.testing.assert_allclose(m4[k], m1[k], rtol=1e-4, atol=1e-6, err_msg=k)
  leaves4 = jax.tree.leaves(s4)
  checked = 0
  for (path, a), b in zip(jax.tree_util.tree_flatten_with_path(s1)[0],
                          leaves4):
    tol = 3 * 2 * config.g_lr if _is_bn_absorbed(path) else 2e-5
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=tol,
                               err_msg=jax.tree_util.keystr(path))
    checked += not _is_bn_absorbed(path)
  assert checked > 50


def test_train_and_evaluate_writes_logs_and_checkpoints(tiny_config, tmp_path):
  config = tiny_config(num_epochs=2)
  state = train.train_and_evaluate(config, str(tmp_path))
  assert int(state.epoch) == 2 and int(state.step) == 2 * 32 // 8
  records = [json.loads(l) for l in open(tmp_path / 'metrics.jsonl')]
  train_records = [r for r in records if r['kind'] == 'train']
  eval_records = [r for r in records if r['kind'] == 'eval']
  assert [r['step'] for r in train_records] == [2, 4, 6, 8]
  assert all({'epoch', 'g_l1', 'd_loss', 'images_per_sec'} <= set(r)
             for r in train_records)
  assert [r['epoch'] for r in eval_records] == [1, 2]
  assert 0 < eval_records[-1]['val_l1'] < 1
  assert any(f.startswith('events.out.tfevents') for f in os.listdir(tmp_path))
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['1', '2']
  assert json.load(open(tmp_path / 'config.json'))['num_epochs'] == 2


def test_resume_reaches_the_same_state(tiny_config, tmp_path):
  straight = train.train_and_evaluate(tiny_config(num_epochs=2),
                                      str(tmp_path / 'a'))
  train.train_and_evaluate(tiny_config(num_epochs=1), str(tmp_path / 'b'))
  resumed = train.train_and_evaluate(tiny_config(num_epochs=2),
                                     str(tmp_path / 'b'))
  assert int(resumed.step) == int(straight.step)
  for a, b in zip(jax.tree.leaves(jax.device_get(straight)),
                  jax.tree.leaves(jax.device_get(resumed))):
    np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


def test_latest_and_milestone_checkpoints_are_kept(tiny_config, tmp_path):
  config = tiny_config(num_epochs=5, keep_checkpoints=1, checkpoint_epochs=(2,),
                       **{'samples.num_train': 8})
  train.train_and_evaluate(config, str(tmp_path))
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['2', '5']


def test_the_train_step_compiles_once(tiny_config, tmp_path, monkeypatch):
  trainers = []

  class Recording(train.Trainer):

    def __init__(self, *args, **kwargs):
      super().__init__(*args, **kwargs)
      trainers.append(self)

  monkeypatch.setattr(train, 'Trainer', Recording)
  train.train_and_evaluate(tiny_config(num_epochs=3), str(tmp_path))
  (trainer,) = trainers
  # 12 steps over 3 epochs (the state's epoch is replaced between them) and 3
  # evaluations: one compilation each.
  assert trainer.train_step._cache_size() == 1  # pylint: disable=protected-access
  assert trainer.eval_step._cache_size() == 1  # pylint: disable=protected-access


def test_bfloat16_compute_keeps_float32_state(tiny_config):
  config = tiny_config(compute_dtype='bfloat16')
  trainer = _trainer(config, 1)
  state = trainer.init()
  state, metrics = trainer.train_step(state, _fixed_batch(config))
  for leaf in jax.tree.leaves((state.g_params, state.d_params,
                               state.g_batch_stats, state.d_batch_stats,
                               state.g_opt_state, state.d_opt_state)):
    if jnp.issubdtype(leaf.dtype, jnp.floating):
      assert leaf.dtype == jnp.float32
  assert all(v.dtype == jnp.float32 for v in metrics.values())
  assert np.isfinite(float(metrics['g_loss']))


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(
    tiny_config, tmp_path, monkeypatch):
  train.train_and_evaluate(tiny_config(num_epochs=1), str(tmp_path))
  before = (tmp_path / 'checkpoints' / '1').stat().st_mtime
  monkeypatch.setattr(train.losses, 'l1_loss',
                      lambda pred, target: jnp.float32(jnp.nan))
  with pytest.raises(train.TrainingDiverged,
                     match=r'step 5: g_(grad_norm|l1|loss) is nan .*epoch 1, '
                     'is kept') as info:
    train.train_and_evaluate(tiny_config(num_epochs=2), str(tmp_path))
  assert '\n' not in str(info.value)
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['1']
  assert (tmp_path / 'checkpoints' / '1').stat().st_mtime == before
