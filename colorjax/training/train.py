"""The training loop: `train_and_evaluate(config, workdir)`.

Data flows one way: sources -> batches -> compiled step -> state, and the
metrics of each step go to the actions at the edges (`colorjax.training.actions`):
logs, metric files, sample grids, plots and checkpoints. The loop itself
names no loss; it only keeps time, checks that every metric is finite, and
decides when to stop.

With `config.num_seeds` N > 1 the loop trains N seeds as one program (the
state has a seed axis; `colorjax.training.steps`), and each seed k gets a complete
workdir of its own, WORKDIR/seed_k (config with seed `config.seed + k`,
checkpoints, metrics, samples), which every tool reads as a single run.
"""

import dataclasses
import itertools
import json
import os
import time
from typing import List, Optional, Tuple

from absl import logging
import jax
from jax.experimental import multihost_utils
import ml_collections
import numpy as np

from colorjax import files
from colorjax import names
from colorjax import runtime
from colorjax.colour import baselines
from colorjax.datasets import batching
from colorjax.datasets import sources
from colorjax.errors import CheckpointError
from colorjax.errors import DataError
from colorjax.errors import TrainingDiverged
from colorjax.nets import ab_classes
from colorjax.training import actions as actions_lib
from colorjax.training import checkpoint
from colorjax.training import conv_choice
from colorjax.training import steps as steps_lib
from colorjax.training import workdir as workdir_lib
from colorjax.training.config_validation import validate_config
from colorjax.training.state import TrainState
from colorjax.training.steps import Steps
from colorjax.training.steps import stack_states

__all__ = ['train_and_evaluate']


@dataclasses.dataclass
class _Seed:
  """One seed's workdir, checkpoints and actions (the run's own if N = 1)."""
  config: ml_collections.ConfigDict  # Its seed; num_seeds 1.
  workdir: str
  manager: checkpoint.Manager
  actions: List[actions_lib.Action] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _Run:
  """What every part of the loop reads; set up once by `_set_up`."""
  config: ml_collections.ConfigDict
  steps: Steps
  train_ds: sources.Split
  seeds: List[_Seed]
  steps_per_epoch: int
  local_batch: int  # This process's part of the global batch.
  val_images: np.ndarray
  signals: runtime.PreemptionSignals = dataclasses.field(
      default_factory=runtime.PreemptionSignals)

  def stop_requested(self, step: int, at_epoch_end: bool = False) -> bool:
    """Whether to stop now. With several processes all must stop at the same
    step, so they agree (any one signalled) at log steps and epoch ends."""
    if jax.process_count() == 1:
      return self.signals.requested
    if not at_epoch_end and step % self.config.log_every_steps:
      return False
    return bool(np.any(multihost_utils.process_allgather(
        np.int32(self.signals.requested))))


class _Meter:
  """Training images/s, with compilation and evaluation left out."""

  def __init__(self, step: int, batch_size: int):
    self.batch_size = batch_size
    self.first_step = step + 1  # Compiles the step.
    self.restart(step)

  def restart(self, step: int) -> None:
    self.time, self.step = time.perf_counter(), step

  def rate(self, step: int) -> Optional[float]:
    """Images/s since the last call (None if no step ran), then restarts."""
    now = time.perf_counter()
    rate = (None if step <= self.step else
            (step - self.step) * self.batch_size / (now - self.time))
    self.time, self.step = now, step
    return rate


def _check_finite(fetched: list, first_step: int, last_good_epoch: int,
                  seed: int) -> None:
  """Raises TrainingDiverged naming the first step and quantity not finite
  (and the seed, for metrics with a seed axis; `seed` is the first's)."""
  for i, metrics in enumerate(fetched):
    for name, value in sorted(metrics.items()):
      bad = np.flatnonzero(~np.isfinite(np.reshape(value, -1)))
      if bad.size:
        which = f'seed {seed + bad[0]}: ' if np.ndim(value) else ''
        raise TrainingDiverged(
            f'step {first_step + i}: {which}{name} is '
            f'{float(np.reshape(value, -1)[bad[0]])} (the loss or a gradient '
            f'diverged); the last good checkpoint, epoch {last_good_epoch}, '
            'is kept; lower the learning rates or change the seed and run '
            'again.')


def _first(x) -> int:
  """A step or epoch counter as an int (seed axes count in lockstep)."""
  return int(np.reshape(np.asarray(x), -1)[0])


def _seed_states(run: '_Run', state: TrainState) -> List[TrainState]:
  """Each seed's single-seed state ([state] for one seed)."""
  if run.steps.num_seeds == 1:
    return [state]
  return [run.steps.seed_state(state, k) for k in range(run.steps.num_seeds)]


def _per_seed(means: dict, num_seeds: int) -> List[dict]:
  """Metrics with an optional seed axis as one scalar dict per seed."""
  return [{k: float(np.reshape(v, -1)[i]) for k, v in means.items()}
          for i in range(num_seeds)]


def _resume_position(run: _Run, state: TrainState) -> int:
  """Batches of the interrupted epoch already trained on (0 at an epoch end).

  Rule: a run resumed after a mid-epoch save continues that epoch after the
  saved batch. If the data or batch size changed since (other steps per
  epoch), the epoch restarts from its first batch under the new size; the
  steps already taken stay in the weights.
  """
  manager = run.seeds[0].manager
  step = manager.latest_step()
  if step is None:
    return 0
  done, saved_steps_per_epoch = checkpoint.position(manager, step)
  if done and saved_steps_per_epoch != run.steps_per_epoch:
    logging.warning(
        'The checkpoint of step %d was saved mid-epoch with %s steps per '
        'epoch; the data or batch size now gives %d: restarting epoch %d '
        'from its first batch.', step, saved_steps_per_epoch,
        run.steps_per_epoch, _first(state.epoch) + 1)
    return 0
  if done:
    logging.info('Resuming epoch %d after its batch %d.',
                 _first(state.epoch) + 1, done)
  return done


def _train_epoch(run: _Run, state: TrainState, epoch: int, skip: int,
                 meter: _Meter) -> Tuple[TrainState, bool]:
  """Trains epoch `epoch` (0-based) from its batch `skip`.

  Returns the state and whether a stop was requested mid-epoch (the state
  is then saved at its step).
  """
  config, spe, n = run.config, run.steps_per_epoch, run.steps.num_seeds
  per_seed = [run.train_ds.train_batches(run.local_batch, s.config.seed, epoch,
                                         jax.process_index(), spe)
              for s in run.seeds]
  if n == 1:
    host_batches, sharding = per_seed[0], run.steps.data_sharding
    step_fn = run.steps.train_step
  else:  # Each seed its own data order, stacked along the seed axis.
    host_batches = (jax.tree.map(lambda *xs: np.stack(xs), *bs)
                    for bs in zip(*per_seed, strict=True))
    sharding = run.steps.seed_data_sharding
    step_fn = run.steps.train_seeds_step
  batches = batching.prefetch_to_device(
      itertools.islice(host_batches, skip, None), sharding)
  buffer = []  # Metrics stay on the device until the next log line.
  step = _first(state.step)
  for i, batch in enumerate(batches, start=skip):
    state, metrics = step_fn(state, batch)
    buffer.append(metrics)
    step += 1
    if step == meter.first_step:
      jax.block_until_ready(metrics)  # Compilation is not training time.
      logging.info('First step (with compilation) took %.1f s.',
                   time.perf_counter() - meter.time)
      meter.restart(step)
    last = i + 1 == spe
    if config.eval_every_steps and step % config.eval_every_steps == 0:
      _validate_steps(run, state, epoch, step)
      meter.restart(step)  # Validation is not training time.
    if run.stop_requested(step) and not last:
      _check_finite(jax.device_get(buffer), step - len(buffer) + 1, epoch,
                    config.seed)
      for s, seed_state in zip(run.seeds, _seed_states(run, state),
                               strict=True):
        checkpoint.save(s.manager, seed_state, spe, batch_in_epoch=i + 1,
                        optimizer=config.save_optimizer)
      logging.warning('Saved step %d (epoch %d, batch %d of %d) to %s; run '
                      'again with the same --workdir to resume.', step,
                      epoch + 1, i + 1, spe,
                      ', '.join(str(s.manager.directory) for s in run.seeds))
      return state, True
    if step % config.log_every_steps and not last:
      continue
    fetched = jax.device_get(buffer)
    _check_finite(fetched, step - len(buffer) + 1, epoch, config.seed)
    buffer.clear()
    rate = meter.rate(step)
    for s, means in zip(run.seeds, _per_seed(
        actions_lib.mean_metrics(fetched), n), strict=True):
      if rate is not None:  # Else only the compiling step ran since the last.
        means[names.IMAGES_PER_SEC] = rate
      for action in s.actions:
        action.every_log(epoch + 1, step, means)
  return state, False


def _validate_steps(run: _Run, state: TrainState, epoch: int,
                    step: int) -> None:
  """The validation subset's metrics at `step`, to every seed's actions."""
  images = run.val_images[:run.config.eval_subset or None]
  for s, seed_state in zip(run.seeds, _seed_states(run, state), strict=True):
    val = run.steps.evaluate(seed_state, images)
    for action in s.actions:
      action.every_validation(seed_state, epoch + 1, step, val)


def _end_epoch(run: _Run, state: TrainState, epoch: int) -> TrainState:
  """Marks epoch `epoch` (0-based) finished, validates, runs the actions."""
  n = run.steps.num_seeds
  state = state.replace(epoch=batching.global_put(
      np.full((n,) if n > 1 else (), epoch + 1, np.int32),
      run.steps.seed_sharding if n > 1 else run.steps.replicated))
  for s, seed_state in zip(run.seeds, _seed_states(run, state), strict=True):
    val = run.steps.evaluate(seed_state, run.val_images)
    for action in s.actions:
      action.every_epoch(seed_state, epoch + 1, val)
  return state


def _set_up(config: ml_collections.ConfigDict,
            workdir: str) -> Tuple[_Run, TrainState]:
  """Validates, loads the data, compiles, and restores or initialises."""
  devices = jax.devices()
  train_ds, val_ds = sources.create_datasets(config)
  # Every process must run the same number of steps: the fewest any can.
  local_batch = config.batch_size // jax.process_count()
  spe = int(np.min(multihost_utils.process_allgather(
      np.int32(train_ds.num_batches(local_batch)))))
  if spe == 0:
    raise DataError(f'{train_ds.name} has {len(train_ds)} usable images, fewer '
                    f'than one batch; lower --config.batch_size (now '
                    f'{config.batch_size}).')
  logging.info('Training on %d images (%d steps/epoch), validating on %d, '
               'on %d %s device(s).', len(train_ds), spe, len(val_ds),
               len(devices), jax.default_backend())
  classes = config.head == 'classes'
  everywhere = classes or config.hints.enabled  # Needed by every process.
  train_images = (train_ds.eval_array()
                  if everywhere or jax.process_index() == 0 else None)
  prior = (baselines.mean_ab(train_images, config.ab_scale)
           if train_images is not None else None)
  class_weights = None
  if classes:  # Same weights on every process.
    class_weights = multihost_utils.broadcast_one_to_all(
        ab_classes.class_weights(train_images, config.classes.rebalance))
  if config.hints.enabled:  # The hint model's colour where no hint reaches.
    prior = multihost_utils.broadcast_one_to_all(prior)
    config.hints.prior_ab = tuple(float(v) for v in prior)
  if config.conv_impl == 'auto':  # The fastest exact form, measured once.
    config.conv_impl = conv_choice.resolve(config, workdir)
  steps = Steps(config, steps_lib.default_mesh(), class_weights)
  workdir_lib.check_seed_count(config, workdir)
  seeds = [_Seed(c, d, checkpoint.create_manager(d, c, spe))
           for c, d in workdir_lib.seed_workdirs(config, workdir)]
  state = _init_or_restore(config, workdir, steps, seeds)
  val_images = val_ds.eval_array()
  if jax.process_index() == 0:  # Writes files; every process computes.
    trivial = baselines.score_at_size(val_images, None, prior,
                                      config.batch_size, config.ab_scale)
    stats = {'mean_ab': prior.tolist(), 'validation': trivial}
    if config.eval_every_steps:  # The answers on the subset validated then.
      stats[names.VALIDATION_STEPS] = baselines.score_at_size(
          val_images[:config.eval_subset or None], None, prior,
          config.batch_size, config.ab_scale)
    for c, d in [(config, workdir)] + [(s.config, s.workdir) for s in seeds]:
      workdir_lib.write_config(d, c)
      files.write_text(os.path.join(d, names.DATA_STATS), json.dumps(stats))
  for s in seeds:
    s.actions = actions_lib.create_actions(
        s.config, s.workdir, steps, val_images, s.manager, spe,
        label=f'seed {s.config.seed} ' if len(seeds) > 1 else '')
  return _Run(config, steps, train_ds, seeds, spe, local_batch,
              val_images), state


def _init_or_restore(config: ml_collections.ConfigDict, workdir: str,
                     steps: Steps, seeds: List[_Seed]) -> TrainState:
  """A fresh state, or every seed's latest checkpoint (seed axis if N > 1)."""
  latest = [s.manager.latest_step() for s in seeds]
  if len(set(latest)) > 1:
    raise CheckpointError(
        f'the seeds of {workdir!r} were saved at different steps ({latest}); '
        'each seed_k folder must come from the same run: restore the '
        'missing checkpoints or pass a fresh --workdir.')
  if latest[0] is None:
    if len(seeds) == 1:
      return steps.init()
    state = steps.init_seeds()
    steps.check_seeds_fit(state)
    return state
  workdir_lib.check_resumable(config, workdir)
  if len(seeds) == 1:
    return checkpoint.restore(seeds[0].manager, steps.init())
  target = steps.abstract_state()
  state = steps.put_seeds(stack_states(
      [checkpoint.restore(s.manager, target) for s in seeds]))
  steps.check_seeds_fit(state)
  return state


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> TrainState:
  """Trains (resuming from `workdir` if it holds a checkpoint) and evaluates.

  Args:
    config: a config from `configs/` (see `colorjax.configs.load`).
    workdir: where checkpoints, metrics, TensorBoard events, pictures and the
      config go (`colorjax.names`).

  Returns:
    The final train state.
  """
  validate_config(config, jax.device_count())
  workdir_lib.prepare(workdir)
  with workdir_lib.Lock(workdir):
    return _train(config, workdir)


def _train(config: ml_collections.ConfigDict, workdir: str) -> TrainState:
  """`train_and_evaluate` once the workdir is locked."""
  run, state = _set_up(config, workdir)
  skip = _resume_position(run, state)
  meter = _Meter(_first(state.step), config.batch_size)
  with run.signals:
    for epoch in range(_first(state.epoch), config.num_epochs):
      state, preempted = _train_epoch(run, state, epoch, skip, meter)
      if preempted:
        break
      skip = 0
      state = _end_epoch(run, state, epoch)
      meter.restart(_first(state.step))  # Evaluation is not training time.
      if run.stop_requested(_first(state.step), at_epoch_end=True):
        logging.warning('Stopped after epoch %d as asked; run again with the '
                        'same --workdir to resume.', epoch + 1)
        break
  for s, seed_state in zip(run.seeds, _seed_states(run, state), strict=True):
    for action in s.actions:
      action.at_end(seed_state)
  return state
