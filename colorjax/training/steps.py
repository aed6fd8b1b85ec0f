"""The train and eval steps, and their compiled forms over a device mesh.

`train_step(state, batch, rng) -> (state, metrics)` is one generator update
and, when the state has a discriminator, one discriminator update; without
one it is the L1-only CNN baseline. Same function, no separate code path.

Data parallelism is `jax.jit` over a one-axis device `Mesh` ('data'): the
batch is sharded along its first axis, the state is replicated, and XLA
inserts the collectives. BatchNorm statistics are therefore over the global
batch, exactly as on one device (`jax.pmap` is maintenance-only since JAX 0.8
and is itself implemented as jit over shard_map).

Seeds as a batch axis (`config.num_seeds` > 1): the state gets a leading
seed axis and `jax.vmap` maps the same step over it, so N independently
seeded runs share each kernel call. The devices then form a ('seeds',
'data') mesh: seeds are spread over as many devices as divide both counts,
and each seed's batch over the rest.
"""

import dataclasses
import functools
import os
from typing import Any, Dict, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import ml_collections
import numpy as np
import optax

from colorjax import names
from colorjax.colour import metrics as metrics_lib
from colorjax.colour import spaces
from colorjax.datasets import batching
from colorjax.errors import ConfigError
from colorjax.hints import locality
from colorjax.hints import simulation
from colorjax.nets import ab_classes
from colorjax.nets import losses
from colorjax.training import state as state_lib
from colorjax.training.state import NetState
from colorjax.training.state import TrainState

__all__ = ['Batch', 'default_mesh', 'device_memory_bytes', 'eval_step',
           'Metrics', 'predict_ab', 'predict_rgb', 'Recipe', 'seed_mesh',
           'stack_states', 'Steps', 'train_step']

Batch = Dict[str, jax.Array]
Metrics = Dict[str, jax.Array]


def _discriminator_update(d: NetState, l: jax.Array, ab: jax.Array,
                          fake_ab: jax.Array, real_label: float
                          ) -> Tuple[NetState, Metrics]:
  """One discriminator update on real (L, ab) and fake (L, G(L)) pairs."""
  fake = jnp.concatenate([l, jax.lax.stop_gradient(fake_ab)], axis=-1)
  real = jnp.concatenate([l, ab], axis=-1)

  def loss_fn(params):
    real_logits, mut = d.apply_fn(d.variables(params), real, train=True,
                                  mutable=['batch_stats'])
    fake_logits, mut = d.apply_fn(
        {'params': params, 'batch_stats': mut.get('batch_stats', {})}, fake,
        train=True, mutable=['batch_stats'])
    loss = losses.discriminator_loss(real_logits, fake_logits, real_label)
    return loss, (mut.get('batch_stats', {}), real_logits, fake_logits)

  (loss, (model_state, real_logits, fake_logits)), grads = (
      jax.value_and_grad(loss_fn, has_aux=True)(d.params))
  metrics = {names.D_LOSS: loss, names.D_GRAD_NORM: optax.tree.norm(grads),
             **losses.discriminator_accuracy(real_logits, fake_logits)}
  return d.apply_gradients(grads, model_state), metrics


@dataclasses.dataclass(frozen=True)
class Recipe:
  """What a train step does besides its state and batch: a recipe's loss
  settings (`train_step`; `from_config` reads them from a config).

  Attributes:
    l1_weight: the generator loss's weight of L1 against the adversarial term.
    real_label: the discriminator's target for real pairs.
    ab_scale: the model range's a, b scale (`colorjax.colour.spaces`).
    class_weights: (Q,) rebalancing weights of a CNN with an ab-classes head
      (`colorjax.nets.ab_classes`): its loss is their cross-entropy, not L1.
    hint_simulation: for a generator with hint inputs, how to draw its hints
      from the batch's true a, b (with a key split from the step's `rng`).
    far_guard: with hints, the weight of `losses.far_field_guard` on the
      images whose hints sit on colourful patches (0: none); the automatic
      answer it compares with is one more forward pass, with the same
      dropout.
  """
  l1_weight: float
  real_label: float
  ab_scale: float
  class_weights: Optional[Any] = None
  hint_simulation: Optional[simulation.Simulation] = None
  far_guard: float = 0.0

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict,
                  class_weights: Optional[Any] = None) -> 'Recipe':
    """The settings of `config`'s recipe."""
    return cls(l1_weight=config.l1_weight, real_label=config.real_label,
               ab_scale=config.ab_scale, class_weights=class_weights,
               hint_simulation=(simulation.Simulation.from_config(config)
                                if config.hints.enabled else None),
               far_guard=float(config.hints.far_guard))


def train_step(state: TrainState, batch: Batch, rng: jax.Array,
               recipe: Recipe) -> Tuple[TrainState, Metrics]:
  """One generator update, then one discriminator update (GAN), or L1 (CNN).

  The discriminator judges the fake ab of the generator's forward pass (held
  fixed for its own update). Its model state (BN running averages or
  spectral-norm vectors) is threaded through all three of its calls, as a
  PyTorch discriminator in train mode would update them.

  Args:
    state: the train state; `state.d` None trains the generator with L1 only.
    batch: {'rgb': uint8 (B, S, S, 3)}.
    rng: the key of this step's dropout.
    recipe: the loss settings (`Recipe.from_config`).

  Returns:
    The updated state and a dict of scalar metrics.
  """
  ab_scale, class_weights = recipe.ab_scale, recipe.class_weights
  hint_simulation, far_guard = recipe.hint_simulation, recipe.far_guard
  l1_weight, real_label = recipe.l1_weight, recipe.real_label
  l, ab = spaces.rgb_uint8_to_model(batch['rgb'], ab_scale)
  g, d = state.g, state.d
  hint_kwargs = {}
  if hint_simulation is not None:
    rng, hint_rng = jax.random.split(rng)
    answer_ab = None
    if hint_simulation.p_worst:
      # Where the current network is most wrong without hints, as a person
      # correcting it would see: the same dropout; no gradient, no kept
      # statistics.
      answer_ab, _ = g.apply_fn(g.variables(), l, train=True,
                                rngs={'dropout': rng}, mutable=['batch_stats'])
      answer_ab = jax.lax.stop_gradient(answer_ab)
    hint_ab, hint_mask, salient = hint_simulation.draw(hint_rng, ab,
                                                       answer_ab)
    hint_kwargs = dict(hint_ab=hint_ab, hint_mask=hint_mask)

  def g_loss_fn(params):
    if class_weights is not None:
      logits, g_mut = g.apply_fn(g.variables(params), l, train=True,
                                 logits=True, mutable=['batch_stats'])
      ce = ab_classes.loss(logits, ab, class_weights, ab_scale)
      return ce, (g_mut['batch_stats'], None, None, {names.G_CE: ce})
    fake_ab, g_mut = g.apply_fn(g.variables(params), l, train=True,
                                rngs={'dropout': rng}, mutable=['batch_stats'],
                                **hint_kwargs)
    if d is None and far_guard:
      # The automatic answer: its batch statistics are not kept.
      auto_ab, _ = g.apply_fn(g.variables(params), l, train=True,
                              rngs={'dropout': rng}, mutable=['batch_stats'])
      radius = round(locality.FAR_PX * max(l.shape[1:3]) / 32)
      guard = losses.far_field_guard(fake_ab, auto_ab, ab, hint_mask,
                                     salient, radius)
      l1 = losses.l1_loss(fake_ab, ab)
      return l1 + far_guard * guard, (g_mut['batch_stats'], fake_ab, None,
                                      {names.G_L1: l1, names.G_GUARD: guard})
    if d is None:
      l1 = losses.l1_loss(fake_ab, ab)
      return l1, (g_mut['batch_stats'], fake_ab, None, {names.G_L1: l1})
    fake_logits, d_mut = d.apply_fn(
        d.variables(), jnp.concatenate([l, fake_ab], axis=-1), train=True,
        mutable=['batch_stats'])
    loss, parts = losses.generator_loss(fake_logits, fake_ab, ab, l1_weight)
    return loss, (g_mut['batch_stats'], fake_ab,
                  d_mut.get('batch_stats', {}), parts)

  (g_loss, (g_model_state, fake_ab, d_model_state, parts)), grads = (
      jax.value_and_grad(g_loss_fn, has_aux=True)(g.params))
  metrics = {names.G_LOSS: g_loss, names.G_LR: g.lr_fn(state.step),
             names.G_GRAD_NORM: optax.tree.norm(grads), **parts}
  g = g.apply_gradients(grads, g_model_state)
  if d is not None:
    d, d_metrics = _discriminator_update(d.replace(model_state=d_model_state),
                                         l, ab, fake_ab, real_label)
    metrics.update(d_metrics, **{names.D_LR: d.lr_fn(state.step)})
  return state.replace(step=state.step + 1, g=g, d=d), metrics


def predict_ab(state: TrainState, l: jax.Array,
               hint_ab: Optional[jax.Array] = None,
               hint_mask: Optional[jax.Array] = None) -> jax.Array:
  """The generator's ab (model range) for model-range L (inference mode),
  given a hint map if the generator takes one (none: automatic)."""
  if hint_ab is None:
    return state.g.apply_fn(state.g.variables(), l, train=False)
  return state.g.apply_fn(state.g.variables(), l, train=False,
                          hint_ab=hint_ab, hint_mask=hint_mask)


def eval_step(state: TrainState, batch: Batch, *, ab_scale: float) -> Metrics:
  """Sums over a batch of per-image validation metrics (inference mode).

  `batch['mask']` is 1 for real images and 0 for padding.
  """
  l, _ = spaces.rgb_uint8_to_model(batch['rgb'], ab_scale)
  return metrics_lib.masked_sums(
      metrics_lib.score_ab(l, predict_ab(state, l), batch['rgb'], ab_scale),
      batch['mask'])


def predict_rgb(state: TrainState, rgb: jax.Array, *,
                ab_scale: float) -> jax.Array:
  """Colourises the lightness of uint8 images: sRGB in [0, 1] (inference)."""
  l, _ = spaces.rgb_uint8_to_model(rgb, ab_scale)
  return spaces.model_to_rgb(l, predict_ab(state, l), ab_scale)


def _advance(state: TrainState, batch: Batch, *, step_fn
             ) -> Tuple[TrainState, Metrics]:
  """Splits the state's key once per step and runs `step_fn` with it."""
  rng, step_rng = jax.random.split(state.rng)
  return step_fn(state.replace(rng=rng), batch, step_rng)


def default_mesh() -> Mesh:
  """Every device on one 'data' axis."""
  return Mesh(np.asarray(jax.devices()), ('data',))


def seed_mesh(mesh: Mesh, num_seeds: int) -> Mesh:
  """`mesh`'s devices as ('seeds', 'data'): gcd(devices, seeds) seed rows."""
  devices = mesh.devices.reshape(-1)
  rows = np.gcd(len(devices), num_seeds)
  return Mesh(devices.reshape(rows, -1), ('seeds', 'data'))


def device_memory_bytes(device: jax.Device) -> int:
  """Free bytes for one device's buffers: the accelerator's limit, or this
  host's available memory shared by its CPU devices (0: unknown)."""
  stats = device.memory_stats() or {}
  if stats.get('bytes_limit'):
    return int(stats['bytes_limit'] - stats.get('bytes_in_use', 0))
  try:
    free = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_AVPHYS_PAGES')
  except (ValueError, OSError):
    return 0
  return free // max(1, jax.local_device_count())


def _size(num_bytes: float) -> str:
  return (f'{num_bytes / 2**30:.1f} GiB' if num_bytes >= 2**30 else
          f'{num_bytes / 2**20:.1f} MiB')


def stack_states(states: Sequence[TrainState]) -> TrainState:
  """Single-seed states as one state with a leading seed axis (on host)."""
  return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]),
                      *states)


class Steps:
  """The compiled init, train, eval and predict functions of one config on
  one mesh (state replicated, batch sharded over 'data').

  With `config.num_seeds` N > 1 there are also `init_seeds` and
  `train_seeds_step`: the state of N seeds (`config.seed`, +1, ...) with a
  leading axis sharded over 'seeds', the batch (N, B, ...) over ('seeds',
  'data'). `seed_state(state, k)` is seed k's single-seed state, which the
  eval and predict functions take.

  A CNN with an ab-classes head trains with `class_weights` (Q,) from
  `ab_classes.class_weights` of its training data; without them (inference
  only, as `workdir.load_run`) its train step weighs every class alike.
  """

  def __init__(self, config: ml_collections.ConfigDict, mesh: Mesh,
               class_weights: Optional[np.ndarray] = None):
    self.config = config
    self.mesh = mesh
    self.replicated = NamedSharding(mesh, P())
    self.data_sharding = NamedSharding(mesh, P('data'))
    self.generator, self.discriminator = state_lib.create_networks(config)
    self.init = jax.jit(
        functools.partial(state_lib.create_train_state, config,
                          self.generator, self.discriminator),
        out_shardings=self.replicated)
    if config.head == 'classes' and class_weights is None:
      class_weights = np.ones(ab_classes.num_classes(), np.float32)
    step_fn = functools.partial(
        train_step, recipe=Recipe.from_config(config, class_weights))
    self.train_step = jax.jit(
        functools.partial(_advance, step_fn=step_fn),
        in_shardings=(self.replicated, self.data_sharding),
        out_shardings=(self.replicated, self.replicated),
        donate_argnums=(0,))
    self.eval_step = jax.jit(
        functools.partial(eval_step, ab_scale=config.ab_scale),
        in_shardings=(self.replicated, self.data_sharding),
        out_shardings=self.replicated)
    self.predict_rgb = jax.jit(
        functools.partial(predict_rgb, ab_scale=config.ab_scale),
        in_shardings=(self.replicated, self.data_sharding),
        out_shardings=self.replicated)
    self.num_seeds = int(config.num_seeds)
    if self.num_seeds > 1:
      self._set_up_seeds(config, step_fn)

  def _set_up_seeds(self, config: ml_collections.ConfigDict,
                    step_fn) -> None:
    self.seed_mesh = seed_mesh(self.mesh, self.num_seeds)
    self.seed_sharding = NamedSharding(self.seed_mesh, P('seeds'))
    self.seed_data_sharding = NamedSharding(self.seed_mesh, P('seeds', 'data'))
    seeds = config.seed + np.arange(self.num_seeds, dtype=np.int32)
    init_one = functools.partial(state_lib.create_train_state, config,
                                 self.generator, self.discriminator)
    self.init_seeds = jax.jit(
        lambda: jax.vmap(lambda s: init_one(seed=s))(jnp.asarray(seeds)),
        out_shardings=self.seed_sharding)
    self.train_seeds_step = jax.jit(
        jax.vmap(functools.partial(_advance, step_fn=step_fn)),
        in_shardings=(self.seed_sharding, self.seed_data_sharding),
        out_shardings=(self.seed_sharding, self.seed_sharding),
        donate_argnums=(0,))

  def check_seeds_fit(self, state: TrainState) -> None:
    """Raises ConfigError, saying how many seeds fit, if the compiled N-seed
    step needs more memory per device than the device has free."""
    c = self.config
    batch = {'rgb': jax.ShapeDtypeStruct(
        (self.num_seeds, c.batch_size, c.image_size, c.image_size, 3),
        jnp.uint8, sharding=self.seed_data_sharding)}
    mem = self.train_seeds_step.lower(state, batch).compile().memory_analysis()
    limit = device_memory_bytes(self.seed_mesh.devices.flat[0])
    if mem is None or not limit:
      return
    need = (mem.argument_size_in_bytes + mem.output_size_in_bytes +
            mem.temp_size_in_bytes - mem.alias_size_in_bytes)
    if need <= limit:
      return
    rows = self.seed_mesh.shape['seeds']
    per_seed = need / (self.num_seeds // rows)
    fits = int(limit // per_seed) * rows
    room = (f'about {fits} seed(s) fit; lower --config.num_seeds' if fits
            else 'not one seed fits; lower')
    raise ConfigError(
        f'config.num_seeds={self.num_seeds} needs about {_size(need)} per '
        f'device and {_size(limit)} is free: {room} or --config.batch_size.')

  def seed_state(self, state: TrainState, k: int) -> TrainState:
    """Seed k of a seed-axis state, replicated as the single-seed steps
    take it."""
    return jax.device_put(jax.tree.map(lambda x: x[k], state),
                          self.replicated)

  def put_seeds(self, state: TrainState) -> TrainState:
    """A host seed-axis state (`stack_states`) onto the seed sharding."""
    return jax.device_put(state, self.seed_sharding)

  def abstract_state(self) -> TrainState:
    """The state's shapes, dtypes and shardings, without computing it."""
    return jax.eval_shape(self.init)

  def evaluate(self, state: TrainState,
               images: np.ndarray) -> Dict[str, float]:
    """Mean validation metrics over uint8 images (N, S, S, 3)."""
    sums = [self.eval_step(state, batching.global_put(b, self.data_sharding))
            for b in batching.padded_batches(images, self.config.batch_size)]
    return metrics_lib.summarize(sums, prefix=names.VAL_PREFIX)

  def colourise(self, state: TrainState, images: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] of uint8 `images` (at most one batch), on the host."""
    batch = next(batching.padded_batches(images, self.config.batch_size))
    return np.asarray(self.predict_rgb(
        state, batching.global_put(batch['rgb'], self.data_sharding)))[
            :len(images)]
