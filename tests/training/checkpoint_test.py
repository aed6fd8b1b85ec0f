"""Checkpoints: resume positions, layouts written by earlier versions."""

import json
import os

import jax
import numpy as np
import orbax.checkpoint as ocp

from colorjax import names
from colorjax.datasets import sources
from colorjax.training import checkpoint
from colorjax.training import steps as steps_lib
from colorjax.training import train
from colorjax.training import workdir as workdir_lib


def _steps(config):
  return steps_lib.Steps(config, steps_lib.default_mesh())


def test_a_mid_epoch_save_resumes_after_its_batch_or_restarts_the_epoch(
    tiny_config, tmp_path):
  """Same data: continue after the saved batch. Other steps per epoch (the
  data or batch size changed): restart that epoch, keeping the steps taken."""
  config = tiny_config(**{'samples.num_train': 64})  # 8 steps per epoch.
  steps = _steps(config)
  state = steps.init()
  train_ds, _ = sources.create_datasets(config)
  for batch in list(train_ds.train_batches(8, config.seed, 0))[:3]:
    state, _ = steps.train_step(state, batch)
  for workdir, num_train, expected_step in ((tmp_path / 'same', 64, 8),
                                            (tmp_path / 'fewer', 32, 3 + 4)):
    manager = checkpoint.create_manager(str(workdir), config, 8)
    checkpoint.save(manager, state, 8, batch_in_epoch=3)
    resumed = train.train_and_evaluate(
        tiny_config(**{'samples.num_train': num_train}), str(workdir))
    assert (int(resumed.epoch), int(resumed.step)) == (1, expected_step)
    manager = checkpoint.create_manager(str(workdir))
    assert checkpoint.epochs(manager) == {1: expected_step}
    assert manager.all_steps() == [expected_step]  # The mid-epoch save went.


def test_a_checkpoint_of_the_flat_layout_still_colourises(tiny_config,
                                                          tmp_path):
  """Workdirs written before the NetState layout (g_params, ... at the top,
  numbered by epoch) restore their networks; optimizer state starts fresh."""
  config = tiny_config()
  state = jax.device_get(_steps(config).init())
  flat = {'step': state.step + 12, 'epoch': state.epoch + 3, 'rng': state.rng,
          'g_params': state.g.params, 'g_batch_stats': state.g.model_state,
          'g_opt_state': state.g.opt_state, 'd_params': state.d.params,
          'd_batch_stats': state.d.model_state,
          'd_opt_state': state.d.opt_state}
  flat['g_params'] = jax.tree.map(lambda x: x + 1, flat['g_params'])
  manager = ocp.CheckpointManager(str(tmp_path / names.CHECKPOINTS))
  manager.save(3, args=ocp.args.StandardSave(flat))
  manager.wait_until_finished()
  with open(tmp_path / names.CONFIG, 'w') as f:
    json.dump(config.to_dict(), f)
  _, _, restored = workdir_lib.load_run(str(tmp_path), epoch=3)
  assert (int(restored.epoch), int(restored.step)) == (3, 12)
  for a, b in zip(jax.tree.leaves(flat['g_params']),
                  jax.tree.leaves(restored.g.params), strict=True):
    np.testing.assert_array_equal(np.asarray(b), np.asarray(a))
  assert os.listdir(tmp_path / names.CHECKPOINTS) == ['3']


def _size(path):
  return sum(os.path.getsize(os.path.join(d, f))
             for d, _, files in os.walk(path) for f in files)


def test_weights_only_checkpoints_are_smaller_and_resume(tiny_config,
                                                          tmp_path):
  """config.save_optimizer=False (the demo's) saves the networks without
  Adam's moments: the run colourises from it as from a full save, and a
  longer run resumes from it with fresh moments."""
  sizes = {}
  for name, save_optimizer in (('full', True), ('weights', False)):
    workdir = str(tmp_path / name)
    config = tiny_config(save_optimizer=save_optimizer, keep_checkpoints=1)
    trained = train.train_and_evaluate(config, workdir)
    sizes[name] = _size(os.path.join(workdir, names.CHECKPOINTS))
    _, _, restored = workdir_lib.load_run(workdir)
    for a, b in zip(jax.tree.leaves((trained.g.params, trained.g.model_state,
                                     trained.d.params)),
                    jax.tree.leaves((restored.g.params,
                                     restored.g.model_state,
                                     restored.d.params)), strict=True):
      np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  # Adam keeps two moments per weight: weights alone are about a third.
  assert sizes['weights'] < 0.5 * sizes['full']
  resumed = train.train_and_evaluate(
      tiny_config(save_optimizer=False, keep_checkpoints=1, num_epochs=2),
      str(tmp_path / 'weights'))
  assert int(resumed.epoch) == 2
  manager = checkpoint.create_manager(str(tmp_path / 'weights'))
  assert list(checkpoint.epochs(manager)) == [2]  # keep_checkpoints: 1.
