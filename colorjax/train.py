"""Training: the train state, the jitted GAN / CNN step, and the epoch loop.

Data parallelism is `jax.jit` over a one-axis device `Mesh` ('data'): the
batch is sharded along its first axis, the state is replicated, and XLA
inserts the collectives. BatchNorm statistics are therefore over the global
batch, exactly as on one device (`jax.pmap` is maintenance-only since JAX 0.8
and is itself implemented as jit over shard_map).
"""

import functools
import itertools
import json
import os
import signal
import threading
import time
from typing import Any, Dict, Optional, Tuple

from absl import logging
import flax
import jax
import jax.numpy as jnp
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import ml_collections
import numpy as np
import optax

from colorjax import checkpoint
from colorjax import color
from colorjax import input_pipeline
from colorjax import losses
from colorjax import metrics as metrics_lib
from colorjax import plots
from colorjax import models
from colorjax import writers
from colorjax.config_validation import validate_config
from colorjax.errors import CheckpointError, DataError, TrainingDiverged

NUM_SAMPLE_IMAGES = 8
DATA_STATS = 'data_stats.json'  # The training set's mean ab (a baseline).
Batch = Dict[str, jax.Array]
Metrics = Dict[str, jax.Array]


@flax.struct.dataclass
class TrainState:
  """Everything a run needs to continue: one pytree, saved whole each epoch.

  The discriminator fields are empty dicts for the CNN baseline. `rng` is a
  raw uint32 key, split once per step.
  """
  step: jax.Array
  epoch: jax.Array  # Finished epochs.
  rng: jax.Array
  g_params: Any
  g_batch_stats: Any
  g_opt_state: Any
  d_params: Any
  d_batch_stats: Any
  d_opt_state: Any


def create_models(config: ml_collections.ConfigDict
                  ) -> Tuple[Any, Optional[models.Discriminator]]:
  """(generator, discriminator); the discriminator is None for the CNN."""
  common = dict(conv_impl=config.conv_impl,
                dtype=jnp.dtype(config.compute_dtype))
  if config.model == 'cnn':
    return models.CNNColorizer(features=tuple(config.cnn.features),
                               **common), None
  generator = models.UNetGenerator(
      features=tuple(config.generator.features),
      num_dropout=config.generator.num_dropout,
      dropout_rate=config.generator.dropout_rate, **common)
  discriminator = models.Discriminator(
      norm=config.discriminator.norm,
      features=tuple(config.discriminator.features), **common)
  return generator, discriminator


def create_learning_rate_fn(config: ml_collections.ConfigDict,
                            base_lr: float) -> optax.Schedule:
  """base_lr * decay_rate ** (step / decay_steps), not staircase, >= min_lr."""
  return optax.exponential_decay(base_lr, config.lr_decay_steps,
                                 config.lr_decay_rate, staircase=False,
                                 end_value=config.min_lr)


def create_optimizer(config: ml_collections.ConfigDict,
                     lr_fn: optax.Schedule) -> optax.GradientTransformation:
  return optax.adam(lr_fn, b1=config.adam_b1, b2=config.adam_b2)


def _variables(params: Any, batch_stats: Any) -> Dict[str, Any]:
  return {'params': params, 'batch_stats': batch_stats}


def create_train_state(config: ml_collections.ConfigDict, generator: Any,
                       discriminator: Optional[models.Discriminator],
                       g_tx: optax.GradientTransformation,
                       d_tx: Optional[optax.GradientTransformation]
                       ) -> TrainState:
  """Initialises both networks and optimizers from `config.seed`."""
  rng, g_rng, d_rng = jax.random.split(jax.random.PRNGKey(config.seed), 3)
  s = config.image_size
  g_vars = generator.init(g_rng, jnp.zeros((1, s, s, 1)), train=False)
  d_params, d_stats, d_opt = {}, {}, {}
  if discriminator is not None:
    d_vars = discriminator.init(d_rng, jnp.zeros((1, s, s, 3)), train=False)
    d_params, d_stats = d_vars['params'], d_vars.get('batch_stats', {})
    d_opt = d_tx.init(d_params)
  return TrainState(
      step=jnp.zeros((), jnp.int32), epoch=jnp.zeros((), jnp.int32), rng=rng,
      g_params=g_vars['params'], g_batch_stats=g_vars.get('batch_stats', {}),
      g_opt_state=g_tx.init(g_vars['params']),
      d_params=d_params, d_batch_stats=d_stats, d_opt_state=d_opt)


def train_step(state: TrainState, batch: Batch, *, generator: Any,
               discriminator: Optional[models.Discriminator],
               g_tx: optax.GradientTransformation,
               d_tx: Optional[optax.GradientTransformation],
               g_lr_fn: optax.Schedule, d_lr_fn: Optional[optax.Schedule],
               l1_weight: float, real_label: float
               ) -> Tuple[TrainState, Metrics]:
  """One generator update, then one discriminator update (GAN), or L1 (CNN).

  The discriminator judges the fake ab of the generator's forward pass (held
  fixed for its own update). Its batch statistics (BN running averages or
  spectral-norm vectors) are threaded through all three of its calls, as a
  PyTorch discriminator in train mode would update them.
  """
  l, ab = color.rgb_uint8_to_model(batch['rgb'])
  rng, dropout_rng = jax.random.split(state.rng)

  def g_loss_fn(g_params):
    fake_ab, g_mut = generator.apply(
        _variables(g_params, state.g_batch_stats), l, train=True,
        rngs={'dropout': dropout_rng}, mutable=['batch_stats'])
    if discriminator is None:
      l1 = losses.l1_loss(fake_ab, ab)
      return l1, (g_mut['batch_stats'], fake_ab, {}, {'g_l1': l1})
    fake_logits, d_mut = discriminator.apply(
        _variables(state.d_params, state.d_batch_stats),
        jnp.concatenate([l, fake_ab], axis=-1), train=True,
        mutable=['batch_stats'])
    loss, parts = losses.generator_loss(fake_logits, fake_ab, ab, l1_weight)
    return loss, (g_mut['batch_stats'], fake_ab,
                  d_mut.get('batch_stats', {}), parts)

  (g_loss, (g_stats, fake_ab, d_stats, g_parts)), g_grads = (
      jax.value_and_grad(g_loss_fn, has_aux=True)(state.g_params))
  updates, g_opt_state = g_tx.update(g_grads, state.g_opt_state,
                                     state.g_params)
  state = state.replace(step=state.step + 1, rng=rng,
                        g_params=optax.apply_updates(state.g_params, updates),
                        g_batch_stats=g_stats, g_opt_state=g_opt_state)
  metrics = {'g_loss': g_loss, 'g_lr': g_lr_fn(state.step - 1),
             'g_grad_norm': optax.tree.norm(g_grads), **g_parts}
  if discriminator is None:
    return state, metrics

  fake = jnp.concatenate([l, jax.lax.stop_gradient(fake_ab)], axis=-1)
  real = jnp.concatenate([l, ab], axis=-1)

  def d_loss_fn(d_params):
    real_logits, mut = discriminator.apply(
        _variables(d_params, d_stats), real, train=True,
        mutable=['batch_stats'])
    fake_logits, mut = discriminator.apply(
        _variables(d_params, mut.get('batch_stats', {})), fake, train=True,
        mutable=['batch_stats'])
    loss = losses.discriminator_loss(real_logits, fake_logits, real_label)
    return loss, (mut.get('batch_stats', {}), real_logits, fake_logits)

  (d_loss, (d_stats, real_logits, fake_logits)), d_grads = (
      jax.value_and_grad(d_loss_fn, has_aux=True)(state.d_params))
  updates, d_opt_state = d_tx.update(d_grads, state.d_opt_state,
                                     state.d_params)
  state = state.replace(d_params=optax.apply_updates(state.d_params, updates),
                        d_batch_stats=d_stats, d_opt_state=d_opt_state)
  metrics.update(d_loss=d_loss, d_lr=d_lr_fn(state.step - 1),
                 d_grad_norm=optax.tree.norm(d_grads),
                 **losses.discriminator_accuracy(real_logits, fake_logits))
  return state, metrics


def eval_step(state: TrainState, batch: Batch, *,
              generator: Any) -> Metrics:
  """Sums over a batch of per-image validation metrics (inference mode).

  `batch['mask']` is 1 for real images and 0 for padding.
  """
  l, _ = color.rgb_uint8_to_model(batch['rgb'])
  pred = generator.apply(_variables(state.g_params, state.g_batch_stats), l,
                         train=False)
  return metrics_lib.masked_sums(
      metrics_lib.score_ab(l, pred, batch['rgb']), batch['mask'])


def predict_rgb(state: TrainState, rgb: jax.Array, *,
                generator: Any) -> jax.Array:
  """Colourises the lightness of uint8 images: sRGB in [0, 1] (inference)."""
  l, _ = color.rgb_uint8_to_model(rgb)
  pred = generator.apply(_variables(state.g_params, state.g_batch_stats), l,
                         train=False)
  return color.model_to_rgb(l, pred)


class Trainer:
  """The compiled step functions of one config on one mesh."""

  def __init__(self, config: ml_collections.ConfigDict, mesh: Mesh):
    self.config = config
    self.mesh = mesh
    self.replicated = NamedSharding(mesh, P())
    self.data_sharding = NamedSharding(mesh, P('data'))
    self.generator, self.discriminator = create_models(config)
    self.g_lr_fn = create_learning_rate_fn(config, config.g_lr)
    self.g_tx = create_optimizer(config, self.g_lr_fn)
    self.d_lr_fn = self.d_tx = None
    if self.discriminator is not None:
      self.d_lr_fn = create_learning_rate_fn(config, config.d_lr)
      self.d_tx = create_optimizer(config, self.d_lr_fn)
    self.init = jax.jit(
        functools.partial(create_train_state, config, self.generator,
                          self.discriminator, self.g_tx, self.d_tx),
        out_shardings=self.replicated)
    self.train_step = jax.jit(
        functools.partial(
            train_step, generator=self.generator,
            discriminator=self.discriminator, g_tx=self.g_tx, d_tx=self.d_tx,
            g_lr_fn=self.g_lr_fn, d_lr_fn=self.d_lr_fn,
            l1_weight=config.l1_weight, real_label=config.real_label),
        in_shardings=(self.replicated, self.data_sharding),
        out_shardings=(self.replicated, self.replicated),
        donate_argnums=(0,))
    self.eval_step = jax.jit(
        functools.partial(eval_step, generator=self.generator),
        in_shardings=(self.replicated, self.data_sharding),
        out_shardings=self.replicated)
    self.predict_rgb = jax.jit(
        functools.partial(predict_rgb, generator=self.generator),
        in_shardings=(self.replicated, self.data_sharding),
        out_shardings=self.replicated)

  def evaluate(self, state: TrainState,
               images: np.ndarray) -> Dict[str, float]:
    """Mean validation metrics over uint8 images (N, S, S, 3)."""
    sums = [self.eval_step(state, input_pipeline.global_put(
                b, self.data_sharding))
            for b in input_pipeline.padded_batches(images,
                                                   self.config.batch_size)]
    return metrics_lib.summarize(sums, prefix='val_')

  def sample_grid(self, state: TrainState, images: np.ndarray, path: str,
                  title: str) -> None:
    """Writes greyscale | colourised | original for uint8 `images` to `path`."""
    batch = next(input_pipeline.padded_batches(images, self.config.batch_size))
    n = len(images)
    pred = np.asarray(self.predict_rgb(
        state, input_pipeline.global_put(batch['rgb'], self.data_sharding)))[:n]
    if jax.process_index():  # Every process computes; process 0 writes.
      return
    original = images.astype(np.float32) / 255.0
    l, _ = color.rgb_uint8_to_model(images)
    grey = np.asarray(color.model_to_rgb(l, np.zeros(l.shape[:-1] + (2,))))
    plots.save_sample_grid(path, grey, pred, original, title)


def mean_ab(images: np.ndarray, chunk: int = 1024) -> np.ndarray:
  """The mean ab (model range) of uint8 images: the 'constant prior'."""
  to_ab = jax.jit(lambda x: jnp.mean(color.rgb_uint8_to_model(x)[1],
                                     axis=(0, 1, 2)) * x.shape[0])
  total = sum(np.asarray(to_ab(images[i:i + chunk]))
              for i in range(0, len(images), chunk))
  return (total / len(images)).astype(np.float32)


def load_run(workdir: str, epoch: Optional[int] = None,
             mesh: Optional[Mesh] = None
             ) -> Tuple[ml_collections.ConfigDict, Trainer, TrainState]:
  """The config, a Trainer and the restored state of a finished run.

  Args:
    workdir: a directory `train_and_evaluate` wrote.
    epoch: which checkpoint (default: the latest).
    mesh: devices to use (default: all).

  Raises:
    CheckpointError: the workdir, its config or the checkpoint is missing.
  """
  if not os.path.isdir(workdir):
    raise CheckpointError(f'workdir {workdir!r} does not exist; pass the '
                          '--workdir a training run wrote.')
  config_path = os.path.join(workdir, 'config.json')
  if not os.path.exists(config_path):
    raise CheckpointError(f'{workdir!r} is not a colorjax workdir (no '
                          'config.json); pass the --workdir of a training run.')
  with open(config_path) as f:
    config = ml_collections.ConfigDict(json.load(f))
  manager = checkpoint.create_manager(workdir, read_only=True)
  mesh = mesh or Mesh(np.asarray(jax.devices()), ('data',))
  if config.batch_size % mesh.size:  # Inference only: any batch will do.
    config.batch_size = mesh.size * max(1, config.batch_size // mesh.size)
  trainer = Trainer(config, mesh)
  state = checkpoint.restore(manager, jax.eval_shape(trainer.init), epoch)
  return config, trainer, state


def _prepare_workdir(workdir: str) -> None:
  try:
    os.makedirs(workdir, exist_ok=True)
  except OSError as e:
    raise CheckpointError(f'cannot create workdir {workdir!r} ({e.strerror}); '
                          'pass a writable --workdir.') from e
  if not os.access(workdir, os.W_OK):
    raise CheckpointError(f'workdir {workdir!r} is not writable; pass a '
                          'writable --workdir.')


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


def _mean_metrics(fetched: list) -> Dict[str, float]:
  return {k: float(np.mean([m[k] for m in fetched])) for k in fetched[0]}


def _stop_requested(signals: '_PreemptionSignals', step: int,
                    config: ml_collections.ConfigDict,
                    at_epoch_end: bool = False) -> bool:
  """Whether to stop now. With several processes all must stop at the same
  step, so they agree (any one signalled) at log steps and epoch ends."""
  if jax.process_count() == 1:
    return signals.requested
  if not at_epoch_end and step % config.log_every_steps:
    return False
  return bool(np.any(multihost_utils.process_allgather(
      np.int32(signals.requested))))


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


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> TrainState:
  """Trains (resuming from `workdir` if it holds a checkpoint) and evaluates.

  Args:
    config: a config from `configs/`.
    workdir: where checkpoints, `metrics.jsonl`, TensorBoard events and
      `config.json` go.

  Returns:
    The final train state.
  """
  devices = jax.devices()
  validate_config(config, len(devices))
  _prepare_workdir(workdir)
  train_ds, val_ds = input_pipeline.create_datasets(config)
  # Every process must run the same number of steps: the fewest any can.
  local_batch = config.batch_size // jax.process_count()
  steps_per_epoch = int(np.min(multihost_utils.process_allgather(
      np.int32(train_ds.num_batches(local_batch)))))
  if steps_per_epoch == 0:
    raise DataError(f'{train_ds.name} has {len(train_ds)} usable images, fewer '
                    f'than one batch; lower --config.batch_size (now '
                    f'{config.batch_size}).')
  logging.info('Training on %d images (%d steps/epoch), validating on %d, '
               'on %d %s device(s).', len(train_ds), steps_per_epoch,
               len(val_ds), len(devices), jax.default_backend())

  trainer = Trainer(config, Mesh(np.asarray(devices), ('data',)))
  state = trainer.init()
  manager = checkpoint.create_manager(workdir, config.keep_checkpoints,
                                      config.checkpoint_epochs)
  # Mid-epoch saves on preemption, numbered by step, deleted once the epoch
  # they interrupted has finished.
  preempted = checkpoint.create_manager(workdir, 1, subdir='preempted')
  if manager.latest_step() is not None:
    state = checkpoint.restore(manager, state)
  if preempted.latest_step() is not None and (
      preempted.latest_step() > int(state.step)):
    state = checkpoint.restore(preempted, state)
  start_epoch = int(state.epoch)
  # Batches of the interrupted epoch that were already trained on.
  done_in_epoch = int(state.step) - start_epoch * steps_per_epoch
  if done_in_epoch:
    logging.info('Resuming epoch %d after its batch %d.', start_epoch + 1,
                 done_in_epoch)
  lead = jax.process_index() == 0  # Writes files; every process computes.
  if lead:
    with open(os.path.join(workdir, 'config.json'), 'w') as f:
      f.write(config.to_json_best_effort(indent=2))
  writer = writers.MetricWriter(workdir, enabled=lead)
  val_images = val_ds.eval_array()
  # A fixed set of validation images, drawn in every epoch's sample grid.
  n_samples = min(NUM_SAMPLE_IMAGES, config.batch_size, len(val_images))
  sample_images = val_images[
      np.linspace(0, len(val_images) - 1, n_samples).astype(int)]
  if lead:
    prior = mean_ab(train_ds.eval_array())  # This process's shard: close.
    with open(os.path.join(workdir, DATA_STATS), 'w') as f:
      json.dump({'mean_ab': prior.tolist()}, f)
  signals = _PreemptionSignals()
  with signals:
    state = _train_epochs(
        config, workdir, trainer, state, train_ds, val_images, sample_images,
        manager, preempted, writer, signals, start_epoch, done_in_epoch,
        steps_per_epoch, local_batch)
  manager.wait_until_finished()
  preempted.wait_until_finished()
  writer.close()
  return state


def _train_epochs(config, workdir, trainer, state, train_ds, val_images,
                  sample_images, manager, preempted, writer, signals,
                  start_epoch, done_in_epoch, steps_per_epoch, local_batch):
  """The epoch loop of `train_and_evaluate` (see there)."""
  total_steps = config.num_epochs * steps_per_epoch
  buffer = []
  step = int(state.step)
  compiled = False
  last_time, last_step = time.perf_counter(), step
  for epoch in range(start_epoch, config.num_epochs):
    skip = done_in_epoch if epoch == start_epoch else 0
    batches = input_pipeline.prefetch_to_device(
        itertools.islice(
            train_ds.train_batches(local_batch, config.seed, epoch,
                                   jax.process_index(), steps_per_epoch),
            skip, None),
        trainer.data_sharding)
    for i, batch in enumerate(batches, start=skip):
      state, metrics = trainer.train_step(state, batch)
      buffer.append(metrics)  # Stays on the device until the next log line.
      step += 1
      if _stop_requested(signals, step, config) and i + 1 < steps_per_epoch:
        _check_finite(jax.device_get(buffer), step - len(buffer) + 1, epoch)
        checkpoint.save(preempted, step, state)
        preempted.wait_until_finished()
        logging.warning('Saved step %d (epoch %d, batch %d of %d) to %s; run '
                        'again with the same --workdir to resume.', step,
                        epoch + 1, i + 1, steps_per_epoch, preempted.directory)
        return state
      if not compiled:
        # Keep compilation out of the images/s of the first log line.
        jax.block_until_ready(metrics)
        compiled = True
        logging.info('First step (with compilation) took %.1f s.',
                     time.perf_counter() - last_time)
        last_time, last_step = time.perf_counter(), step
      if step % config.log_every_steps and i + 1 < steps_per_epoch:
        continue
      fetched = jax.device_get(buffer)
      _check_finite(fetched, step - len(buffer) + 1, epoch)
      means = _mean_metrics(fetched)
      buffer.clear()
      now = time.perf_counter()
      if step > last_step:  # Else only the compiling step ran since the last.
        means['images_per_sec'] = ((step - last_step) * config.batch_size /
                                   (now - last_time))
      last_time, last_step = now, step
      writer.write('train', epoch + 1, step, means)
      rate = means.get('images_per_sec', float('nan'))
      eta = (time.strftime('%H:%M:%S', time.gmtime(
          (total_steps - step) * config.batch_size / rate))
             if rate > 0 else '?')
      logging.info(
          'epoch %d step %d | G %.4f (L1 %.4f adv %.4f) D %.4f acc real %.2f '
          'fake %.2f | lr G %.2e D %.2e | %.1f img/s | ETA %s',
          epoch + 1, step, means['g_loss'], means['g_l1'],
          means.get('g_adv', float('nan')), means.get('d_loss', float('nan')),
          means.get('d_acc_real', float('nan')),
          means.get('d_acc_fake', float('nan')), means['g_lr'],
          means.get('d_lr', float('nan')), rate, eta)
    state = state.replace(epoch=input_pipeline.global_put(
        np.int32(epoch + 1), trainer.replicated))
    val = trainer.evaluate(state, val_images)
    writer.write('eval', epoch + 1, int(state.step), val)
    logging.info('epoch %d validation: %s', epoch + 1,
                 ' '.join(f'{k} {v:.4f}' for k, v in val.items()))
    checkpoint.save(manager, epoch + 1, state)
    for stale in preempted.all_steps():  # Superseded by this epoch's save.
      preempted.delete(stale)
    trainer.sample_grid(
        state, sample_images,
        os.path.join(workdir, 'samples', f'epoch_{epoch + 1:04d}.png'),
        f'epoch {epoch + 1}: val Delta-E {val["val_delta_e"]:.2f}')
    if jax.process_index() == 0:
      plots.plot_runs({os.path.basename(os.path.normpath(workdir)):
                       plots.read_records(workdir)},
                      os.path.join(workdir, 'plots'))
    last_time = time.perf_counter()  # Evaluation is not training time.
    if _stop_requested(signals, step, config, at_epoch_end=True):
      logging.warning('Stopped after epoch %d as asked; run again with the '
                      'same --workdir to resume.', epoch + 1)
      break
  return state
