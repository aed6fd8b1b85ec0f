"""Checkpoints of the train state: what to keep, when to save, how to resume.

One orbax manager per workdir (`workdir/checkpoints`), checkpoints numbered by
step. Each carries metadata: the number of finished epochs, the batches of the
unfinished one trained on (0 at an epoch end), and its run's steps per epoch.

* At the end of every epoch the state is saved; the latest
  `config.keep_checkpoints` and the epochs in `config.checkpoint_epochs`
  (milestones, kept through orbax's preservation policies) stay.
* On preemption (SIGTERM / SIGINT) mid-epoch the state is saved at that step;
  the next epoch-end save deletes it.
* A run resumes from the latest checkpoint, whichever kind it is.

Orbax writes each checkpoint to a temporary directory and renames it when
complete, so a run killed mid-save leaves the previous checkpoint intact.
"""

import contextlib
import logging as std_logging
import os
import shutil
import sys
import tempfile
from typing import Any, Dict, Optional, Tuple

from absl import logging
import jax
import ml_collections
import orbax.checkpoint as ocp

from colorjax import names
from colorjax.errors import CheckpointError

__all__ = ['create_manager', 'epochs', 'Manager', 'position', 'restore', 'save']

Manager = ocp.CheckpointManager
_STEP_METADATA = '_CHECKPOINT_METADATA'  # Orbax's file in each step folder.
_EPOCH, _BATCH_IN_EPOCH, _STEPS_PER_EPOCH, _OPTIMIZER = (
    'epoch', 'batch_in_epoch', 'steps_per_epoch', 'optimizer')


class _ExpectedNotices(std_logging.Filter):
  """Drops orbax's warnings about what this module does on purpose: tools
  open checkpoints read-only, and a step's own metadata (epoch, position) is
  read without its arrays' handler."""

  def filter(self, record: std_logging.LogRecord) -> bool:
    return not str(record.msg).startswith((
        'Given directory is read only', 'CheckpointManagerOptions.read_only',
        'Item "%s" was found in the checkpoint, but could not'))


std_logging.getLogger('absl').addFilter(_ExpectedNotices())


def create_manager(workdir: str,
                   config: Optional[ml_collections.ConfigDict] = None,
                   steps_per_epoch: int = 0) -> Manager:
  """The manager of `workdir`; read-only without a `config` (for tools).

  Args:
    workdir: the run's directory.
    config: the training config (its `keep_checkpoints` and
      `checkpoint_epochs`); None opens the checkpoints read-only.
    steps_per_epoch: places the milestone epochs at their steps.
  """
  read_only = config is None
  policies = []
  if not read_only:
    policies.append(ocp.checkpoint_managers.LatestN(config.keep_checkpoints))
    if config.checkpoint_epochs:
      policies.append(ocp.checkpoint_managers.CustomSteps(
          [e * steps_per_epoch for e in config.checkpoint_epochs]))
  options = ocp.CheckpointManagerOptions(
      preservation_policy=(ocp.checkpoint_managers.AnyPreservationPolicy(
          policies) if policies else None),
      create=not read_only, read_only=read_only)
  directory = os.path.join(os.path.abspath(workdir), names.CHECKPOINTS)
  return ocp.CheckpointManager(directory, options=options)


def _metadata(manager: Manager, step: int) -> Dict[str, Any]:
  return dict(manager.metadata(step).custom_metadata or {})


def _without_optimizer(state: Any) -> Any:
  nets = {k: getattr(state, k) for k in ('g', 'd')}
  return state.replace(**{k: n.replace(opt_state=None)
                          for k, n in nets.items() if n is not None})


def _check_space(manager: Manager, state: Any, step: int) -> None:
  """Refuses a save the disk cannot hold before it starts: a save that fails
  half-way fails in orbax's background threads, in many tracebacks."""
  folder = str(manager.directory)
  latest = manager.latest_step()
  if latest is not None:  # The same state saved before: its size on disk.
    need = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in
               os.walk(os.path.join(folder, str(latest))) for f in files)
  else:
    need = sum(getattr(x, 'nbytes', 0) for x in jax.tree.leaves(state))
  need = int(need * 1.1) + 2**16  # Metadata and file-system blocks.
  free = shutil.disk_usage(folder if os.path.isdir(folder) else
                           os.path.dirname(folder)).free
  if free < need:
    epochs_kept = sorted(epochs(manager))
    raise CheckpointError(
        f'{folder} has {free / 2**20:.1f} MB free; the checkpoint of step '
        f'{step} needs about {need / 2**20:.1f} MB. The checkpoints kept '
        f'(epochs {epochs_kept}) are intact: free space and run the same '
        'command again to resume.')


def save(manager: Manager, state: Any, steps_per_epoch: int,
         batch_in_epoch: int = 0, optimizer: bool = True) -> None:
  """Saves `state` at its step (asynchronously at an epoch end).

  Args:
    manager: from `create_manager`.
    state: the train state.
    steps_per_epoch: of the run, so a resume can tell if the data changed.
    batch_in_epoch: 0 at an epoch end, else the batches of the unfinished
      epoch trained on (a preemption save, deleted by the next epoch end).
    optimizer: also save the optimizer states (Adam's moments: twice the
      weights). Without them a checkpoint colourises and evaluates, and a
      resumed run continues with fresh moments (`config.save_optimizer`).
  """
  step = int(state.step)
  saved = state if optimizer else _without_optimizer(state)
  _check_space(manager, saved, step)
  manager.save(step, args=ocp.args.StandardSave(saved),
               custom_metadata={_EPOCH: int(state.epoch),
                                _BATCH_IN_EPOCH: batch_in_epoch,
                                _STEPS_PER_EPOCH: steps_per_epoch,
                                _OPTIMIZER: optimizer})
  if batch_in_epoch:
    manager.wait_until_finished()  # The process is about to exit.
    return
  for stale in manager.all_steps():
    if stale < step and _metadata(manager, stale).get(_BATCH_IN_EPOCH):
      manager.delete(stale)


def epochs(manager: Manager) -> Dict[int, int]:
  """{finished epochs: step} of the epoch-end checkpoints."""
  out = {}
  for step in manager.all_steps():
    if not os.path.exists(os.path.join(str(manager.directory), str(step),
                                       _STEP_METADATA)):
      logging.warning('checkpoint step %d in %s has no %s: its epoch is '
                      'unknown, so it is not listed by epoch.', step,
                      manager.directory, _STEP_METADATA)
      continue
    meta = _metadata(manager, step)
    if _EPOCH not in meta:  # The older layout: steps numbered by epoch.
      out[step] = step
    elif not meta.get(_BATCH_IN_EPOCH):
      out[int(meta[_EPOCH])] = step
  return out


def position(manager: Manager, step: int) -> Tuple[int, Optional[int]]:
  """(batches of the unfinished epoch trained on, 0 at an epoch end; the run's
  steps per epoch, None if not recorded) of checkpoint `step`."""
  meta = _metadata(manager, step)
  return meta.get(_BATCH_IN_EPOCH, 0), meta.get(_STEPS_PER_EPOCH)


def _abstract(target: Any) -> Any:
  return jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype,
                                     sharding=getattr(x, 'sharding', None)),
      target)


@contextlib.contextmanager
def _stderr_kept_unless_failed():
  """Holds back what is written to stderr (file descriptor 2) inside; lets it
  through if the block succeeds. When a torn checkpoint fails to read,
  TensorStore's reader threads print hundreds of lines of 'Event loop is
  closed' tracebacks there; the one-line error says what matters."""
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as held:
    os.dup2(held.fileno(), 2)
    failed = False
    try:
      yield
    except BaseException:
      failed = True
      raise
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      if not failed:
        held.seek(0)
        os.write(2, held.read())


def _mismatch(e: Exception) -> bool:
  """Whether a failed restore is a checkpoint of another model (shapes or
  tree), not a damaged one."""
  text = str(e)
  return isinstance(e, (ValueError, KeyError, TypeError)) and any(
      k in text for k in ('is not compatible with the stored shape',
                          'tree structure', 'Missing key', 'Unexpected key',
                          'do not match'))


def restore(manager: Manager, target: Any, epoch: Optional[int] = None) -> Any:
  """Restores a checkpoint into `target`'s shape (default: the latest).

  Args:
    manager: from `create_manager`.
    target: a pytree of arrays or ShapeDtypeStructs whose shapes, dtypes and
      shardings the restored arrays take.
    epoch: the epoch-end checkpoint of this many finished epochs.

  Raises:
    CheckpointError: no such checkpoint, or it cannot be read.
  """
  if epoch is None:
    step = manager.latest_step()
    if step is None:
      raise CheckpointError(f'no checkpoint in {manager.directory}; train '
                            'first with launch.py --workdir=<that workdir>.')
  else:
    available = epochs(manager)
    if epoch not in available:
      raise CheckpointError(
          f'no checkpoint for epoch {epoch} in {manager.directory}; '
          f'available epochs: {sorted(available)}.')
    step = available[epoch]
  with _stderr_kept_unless_failed():
    optimizer = _metadata(manager, step).get(_OPTIMIZER, True)
    try:
      restored = manager.restore(step, args=ocp.args.StandardRestore(_abstract(
          target if optimizer else _without_optimizer(target))))
      if not optimizer:  # Fresh optimizer states, from the target.
        restored = restored.replace(**{
            k: getattr(restored, k).replace(opt_state=getattr(target, k).opt_state)
            for k in ('g', 'd') if getattr(restored, k) is not None})
        logging.info('Step %d of %s was saved without optimizer states: they '
                     'start fresh.', step, manager.directory)
    except Exception as e:  # Orbax raises many types for bad files.
      restored = _restore_flat_layout(manager, step, target)
      if restored is not None:
        return restored
      why = str(e).splitlines()[0].split(' See full TensorStore')[0][:200]
      if _mismatch(e):
        raise CheckpointError(
            f'checkpoint of step {step} in {manager.directory} does not fit '
            'the model its config.json describes (another recipe, width or '
            f'setting: {why[:120]}); put back the config.json this run was '
            'trained with.') from e
      raise CheckpointError(
          f'checkpoint of step {step} in {manager.directory} cannot be read '
          f'({type(e).__name__}: {why}); delete that step folder to fall back '
          'to an earlier one.') from e
  logging.info('Restored step %d (epoch %d) from %s.', step,
               int(restored.epoch), manager.directory)
  return restored


_FLAT_KEYS = ('g_params', 'g_batch_stats', 'd_params', 'd_batch_stats')


def _restore_flat_layout(manager: Manager, step: int, target: Any) -> Any:
  """A checkpoint of the flat train state, the older layout (g_params,
  g_batch_stats, ... at the top), or None if it is not one. Networks and
  counters are restored; optimizer states come from `target`, so such a
  run colourises and evaluates, and continues training with fresh Adam
  moments."""
  try:
    raw = manager.restore(step, args=ocp.args.StandardRestore())
  except Exception:  # Not readable at all: the caller reports it.
    return None
  if not isinstance(raw, dict) or not set(_FLAT_KEYS) <= set(raw):
    return None
  g = target.g.replace(params=raw['g_params'],
                       model_state=raw['g_batch_stats'] or {})
  d = target.d
  if d is not None:
    d = d.replace(params=raw['d_params'],
                  model_state=raw['d_batch_stats'] or {})
  logging.warning('Restored step %d from %s, a checkpoint in the older flat '
                  'layout: networks restored, optimizer state fresh.', step,
                  manager.directory)
  return target.replace(step=raw['step'], epoch=raw['epoch'], rng=raw['rng'],
                        g=g, d=d)

