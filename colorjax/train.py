"""The training loop: `train_and_evaluate(config, workdir)`.

Data flows one way: sources -> batches -> compiled step -> state, and the
metrics of each step go to the actions at the edges (`colorjax.actions`):
logs, metric files, sample grids, plots and checkpoints. The loop itself
names no loss; it only keeps time, checks that every metric is finite, and
decides when to stop.
"""

import dataclasses
import fcntl
import itertools
import json
import os
import signal
import socket
import threading
import time
from typing import List, Optional, Tuple

from absl import logging
import jax
from jax.experimental import multihost_utils
from jax.sharding import Mesh
import ml_collections
import numpy as np

from colorjax import ab_classes
from colorjax import actions as actions_lib
from colorjax import baselines
from colorjax import batching
from colorjax import checkpoint
from colorjax import names
from colorjax import sources
from colorjax.config_validation import validate_config
from colorjax.errors import CheckpointError
from colorjax.errors import ConfigError
from colorjax.errors import DataError
from colorjax.errors import TrainingDiverged
from colorjax.state import TrainState
from colorjax.steps import Steps


def default_mesh() -> Mesh:
  """Every device on one 'data' axis."""
  return Mesh(np.asarray(jax.devices()), ('data',))


def load_run(workdir: str, epoch: Optional[int] = None,
             mesh: Optional[Mesh] = None, temperature: Optional[float] = None
             ) -> Tuple[ml_collections.ConfigDict, Steps, TrainState]:
  """The config, compiled steps and restored state of a training run.

  Args:
    workdir: a directory `train_and_evaluate` wrote.
    epoch: the checkpoint at the end of this epoch (default: the latest).
    mesh: devices to use (default: all).
    temperature: the annealed mean's temperature of an ab-classes model
      (default: the run's `config.classes.temperature`).

  Raises:
    CheckpointError: the workdir, its config or the checkpoint is missing.
  """
  if not os.path.isdir(workdir):
    raise CheckpointError(f'workdir {workdir!r} does not exist; pass the '
                          '--workdir a training run wrote.')
  config_path = os.path.join(workdir, names.CONFIG)
  if not os.path.exists(config_path):
    raise CheckpointError(f'{workdir!r} is not a colorjax workdir (no '
                          f'{names.CONFIG}); pass the --workdir of a training '
                          'run.')
  with open(config_path) as f:
    config = ml_collections.ConfigDict(json.load(f))
  if temperature is not None:
    if config.get('head', 'regression') != 'classes':
      raise ConfigError(f'--temperature={temperature} applies to a model '
                        'with config.head=\'classes\'; this run regresses '
                        'ab: use --vibrance.')
    if not 0 < temperature <= 1:
      raise ConfigError(f'--temperature={temperature} must be in (0, 1] (1: '
                        'the mean of the class distribution).')
    config.classes.temperature = temperature
  mesh = mesh or default_mesh()
  if config.batch_size % mesh.size:  # Inference only: any batch will do.
    config.batch_size = mesh.size * max(1, config.batch_size // mesh.size)
  steps = Steps(config, mesh)
  state = checkpoint.restore(checkpoint.create_manager(workdir),
                             steps.abstract_state(), epoch)
  return config, steps, state


def _prepare_workdir(workdir: str) -> None:
  try:
    os.makedirs(workdir, exist_ok=True)
  except OSError as e:
    raise CheckpointError(f'cannot create workdir {workdir!r} ({e.strerror}); '
                          'pass a writable --workdir.') from e
  if not os.access(workdir, os.W_OK):
    raise CheckpointError(f'workdir {workdir!r} is not writable; pass a '
                          'writable --workdir.')


class _WorkdirLock:
  """Process 0's exclusive lock on a workdir, so two runs never interleave
  checkpoints and metrics. It is a kernel lock (flock) on `workdir/lock`:
  it goes with the process, however that ends, so a lock is never stale."""

  def __init__(self, workdir: str):
    self.path = os.path.join(workdir, names.LOCK)
    self._fd = None

  def __enter__(self):
    if jax.process_index():
      return self
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      holder = os.pread(fd, 200, 0).decode(errors='replace').strip()
      os.close(fd)
      raise CheckpointError(
          f'workdir {os.path.dirname(self.path)!r} is in use by another run '
          f'({holder or "unknown process"}); wait for it to finish, stop it, '
          'or pass another --workdir.') from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f'pid {os.getpid()} on {socket.gethostname()} since '
              f'{time.strftime("%Y-%m-%d %H:%M:%S")}\n'.encode(), 0)
    self._fd = fd
    return self

  def __exit__(self, *exc):
    if self._fd is not None:
      os.ftruncate(self._fd, 0)
      os.close(self._fd)  # Releases the lock.
      self._fd = None


# What shapes the saved state: a run cannot resume under other values.
_STATE_KEYS = ('model', 'generator', 'discriminator', 'cnn')


def _check_resumable(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Raises naming what differs if `workdir` holds a run of another model."""
  path = os.path.join(workdir, names.CONFIG)
  if not os.path.exists(path):
    return
  with open(path) as f:
    saved = json.load(f)
  current = json.loads(config.to_json_best_effort())
  changed = [k for k in _STATE_KEYS if k in saved
             and (k != 'discriminator' or current['model'] == 'gan')
             and saved[k] != current[k]]
  if changed:
    diffs = '; '.join(f'{k}: {saved[k]} there, {current[k]} now'
                      for k in changed)
    raise CheckpointError(
        f'workdir {workdir!r} holds a run of another model ({diffs}); resume '
        'it with its own config.json, or pass a fresh --workdir.')


class _PreemptionSignals:
  """Turns SIGTERM / SIGINT into a request to stop after the current step."""

  def __init__(self):
    self.requested = False
    self._previous = {}

  def _handle(self, signum, frame):
    del frame
    if not self.requested:
      logging.warning('Received %s: finishing this step, then saving.',
                      signal.Signals(signum).name)
    self.requested = True

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGTERM, signal.SIGINT):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


@dataclasses.dataclass
class _Run:
  """What every part of the loop reads; set up once by `_set_up`."""
  config: ml_collections.ConfigDict
  steps: Steps
  train_ds: sources.Split
  manager: checkpoint.Manager
  steps_per_epoch: int
  local_batch: int  # This process's part of the global batch.
  actions: List[actions_lib.Action]
  val_images: np.ndarray
  signals: _PreemptionSignals = dataclasses.field(
      default_factory=_PreemptionSignals)

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


def _check_finite(fetched: list, first_step: int, last_good_epoch: int) -> None:
  """Raises TrainingDiverged naming the first step and quantity not finite."""
  for i, metrics in enumerate(fetched):
    for name, value in sorted(metrics.items()):
      if not np.isfinite(value):
        raise TrainingDiverged(
            f'step {first_step + i}: {name} is {float(value)} (the loss or a '
            f'gradient diverged); the last good checkpoint, epoch '
            f'{last_good_epoch}, is kept; lower the learning rates or change '
            'the seed and run again.')


def _resume_position(run: _Run, state: TrainState) -> int:
  """Batches of the interrupted epoch already trained on (0 at an epoch end).

  Rule: a run resumed after a mid-epoch save continues that epoch after the
  saved batch. If the data or batch size changed since (other steps per
  epoch), the epoch restarts from its first batch under the new size; the
  steps already taken stay in the weights.
  """
  step = run.manager.latest_step()
  if step is None:
    return 0
  done, saved_steps_per_epoch = checkpoint.position(run.manager, step)
  if done and saved_steps_per_epoch != run.steps_per_epoch:
    logging.warning(
        'The checkpoint of step %d was saved mid-epoch with %s steps per '
        'epoch; the data or batch size now gives %d: restarting epoch %d '
        'from its first batch.', step, saved_steps_per_epoch,
        run.steps_per_epoch, int(state.epoch) + 1)
    return 0
  if done:
    logging.info('Resuming epoch %d after its batch %d.',
                 int(state.epoch) + 1, done)
  return done


def _train_epoch(run: _Run, state: TrainState, epoch: int, skip: int,
                 meter: _Meter) -> Tuple[TrainState, bool]:
  """Trains epoch `epoch` (0-based) from its batch `skip`.

  Returns the state and whether a stop was requested mid-epoch (the state
  is then saved at its step).
  """
  config, spe = run.config, run.steps_per_epoch
  batches = batching.prefetch_to_device(
      itertools.islice(run.train_ds.train_batches(
          run.local_batch, config.seed, epoch, jax.process_index(), spe),
                       skip, None),
      run.steps.data_sharding)
  buffer = []  # Metrics stay on the device until the next log line.
  step = int(state.step)
  for i, batch in enumerate(batches, start=skip):
    state, metrics = run.steps.train_step(state, batch)
    buffer.append(metrics)
    step += 1
    if step == meter.first_step:
      jax.block_until_ready(metrics)  # Compilation is not training time.
      logging.info('First step (with compilation) took %.1f s.',
                   time.perf_counter() - meter.time)
      meter.restart(step)
    last = i + 1 == spe
    if run.stop_requested(step) and not last:
      _check_finite(jax.device_get(buffer), step - len(buffer) + 1, epoch)
      checkpoint.save(run.manager, state, spe, batch_in_epoch=i + 1)
      logging.warning('Saved step %d (epoch %d, batch %d of %d) to %s; run '
                      'again with the same --workdir to resume.', step,
                      epoch + 1, i + 1, spe, run.manager.directory)
      return state, True
    if step % config.log_every_steps and not last:
      continue
    fetched = jax.device_get(buffer)
    _check_finite(fetched, step - len(buffer) + 1, epoch)
    buffer.clear()
    means = actions_lib.mean_metrics(fetched)
    rate = meter.rate(step)
    if rate is not None:  # Else only the compiling step ran since the last.
      means[names.IMAGES_PER_SEC] = rate
    for action in run.actions:
      action.every_log(epoch + 1, step, means)
  return state, False


def _end_epoch(run: _Run, state: TrainState, epoch: int) -> TrainState:
  """Marks epoch `epoch` (0-based) finished, validates, runs the actions."""
  state = state.replace(epoch=batching.global_put(
      np.int32(epoch + 1), run.steps.replicated))
  val = run.steps.evaluate(state, run.val_images)
  for action in run.actions:
    action.every_epoch(state, epoch + 1, val)
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
  train_images = (train_ds.eval_array()
                  if classes or jax.process_index() == 0 else None)
  class_weights = None
  if classes:  # Same weights on every process.
    class_weights = multihost_utils.broadcast_one_to_all(
        ab_classes.class_weights(train_images, config.classes.rebalance))
  steps = Steps(config, default_mesh(), class_weights)
  state = steps.init()
  manager = checkpoint.create_manager(workdir, config, spe)
  if manager.latest_step() is not None:
    _check_resumable(config, workdir)
    state = checkpoint.restore(manager, state)
  val_images = val_ds.eval_array()
  if jax.process_index() == 0:  # Writes files; every process computes.
    with open(os.path.join(workdir, names.CONFIG), 'w') as f:
      f.write(config.to_json_best_effort(indent=2))
    prior = baselines.mean_ab(train_images)
    trivial = baselines.score_at_size(val_images, None, prior,
                                      config.batch_size)
    with open(os.path.join(workdir, names.DATA_STATS), 'w') as f:
      json.dump({'mean_ab': prior.tolist(), 'validation': trivial}, f)
  actions = actions_lib.create_actions(config, workdir, steps, val_images,
                                       manager, spe)
  return _Run(config, steps, train_ds, manager, spe, local_batch, actions,
              val_images), state


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
  _prepare_workdir(workdir)
  with _WorkdirLock(workdir):
    return _train(config, workdir)


def _train(config: ml_collections.ConfigDict, workdir: str) -> TrainState:
  """`train_and_evaluate` once the workdir is locked."""
  run, state = _set_up(config, workdir)
  skip = _resume_position(run, state)
  meter = _Meter(int(state.step), config.batch_size)
  with run.signals:
    for epoch in range(int(state.epoch), config.num_epochs):
      state, preempted = _train_epoch(run, state, epoch, skip, meter)
      if preempted:
        break
      skip = 0
      state = _end_epoch(run, state, epoch)
      meter.restart(int(state.step))  # Evaluation is not training time.
      if run.stop_requested(int(state.step), at_epoch_end=True):
        logging.warning('Stopped after epoch %d as asked; run again with the '
                        'same --workdir to resume.', epoch + 1)
        break
  for action in run.actions:
    action.at_end(state)
  return state
