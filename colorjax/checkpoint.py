"""Orbax checkpoints of the train state, one per finished epoch.

Checkpoints are numbered by the number of finished epochs. The latest
`keep` and the milestone epochs are kept. Orbax writes each checkpoint to a
temporary directory and renames it when complete, so a run killed mid-save
leaves the previous checkpoint intact and loses at most the current epoch.
"""

import os
from typing import Any, Optional, Sequence

from absl import logging
import jax
import orbax.checkpoint as ocp

from colorjax.errors import CheckpointError


def create_manager(workdir: str, keep: int = 2,
                   milestones: Sequence[int] = (),
                   read_only: bool = False,
                   subdir: str = 'checkpoints') -> ocp.CheckpointManager:
  """A manager for `workdir/subdir` keeping latest `keep` + milestones."""
  policies = [ocp.checkpoint_managers.LatestN(keep)]
  if milestones:
    policies.append(ocp.checkpoint_managers.CustomSteps(list(milestones)))
  options = ocp.CheckpointManagerOptions(
      preservation_policy=ocp.checkpoint_managers.AnyPreservationPolicy(
          policies),
      create=not read_only, read_only=read_only)
  directory = os.path.join(os.path.abspath(workdir), subdir)
  return ocp.CheckpointManager(directory, options=options)


def save(manager: ocp.CheckpointManager, epoch: int, state: Any) -> None:
  """Saves `state` as the checkpoint of `epoch` (asynchronously)."""
  manager.save(epoch, args=ocp.args.StandardSave(state))


def restore(manager: ocp.CheckpointManager, target: Any,
            epoch: Optional[int] = None) -> Any:
  """Restores the checkpoint of `epoch` (default: latest) into `target`'s shape.

  `target` is a pytree of arrays (or ShapeDtypeStructs) whose shapes, dtypes
  and shardings the restored arrays take.
  """
  epoch = manager.latest_step() if epoch is None else epoch
  if epoch is None:
    raise CheckpointError(f'no checkpoint in {manager.directory}; train first '
                          'with launch.py --workdir=<that workdir>.')
  if epoch not in manager.all_steps():
    raise CheckpointError(
        f'no checkpoint for epoch {epoch} in {manager.directory}; available: '
        f'{sorted(manager.all_steps())}.')
  abstract = jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype,
                                     sharding=getattr(x, 'sharding', None)),
      target)
  try:
    restored = manager.restore(epoch,
                               args=ocp.args.StandardRestore(abstract))
  except Exception as e:  # Orbax raises many types for bad files.
    raise CheckpointError(
        f'checkpoint of epoch {epoch} in {manager.directory} cannot be read '
        f'({type(e).__name__}: {str(e).splitlines()[0][:200]}); delete that '
        'epoch folder to fall back to an earlier one.') from e
  logging.info('Restored epoch %d from %s.', epoch, manager.directory)
  return restored
