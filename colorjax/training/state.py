"""The train state: one `NetState` per network, and the run's step and epoch.

A `NetState` holds what one network needs to train: its parameters, its
model state (the `batch_stats` collection: BatchNorm running averages or
spectral-norm vectors; empty when the model has none) and its optimizer state,
with its optax transform, learning-rate schedule and apply function beside
them (static fields: not saved, rebuilt from the config). A `TrainState` holds
the generator's, the discriminator's (None for the L1-only CNN baseline), the
step, the number of finished epochs and the RNG key.
"""

import dataclasses
from typing import Any, Callable, Dict, Optional, Tuple

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax

from colorjax.nets import build

__all__ = ['create_learning_rate_fn', 'create_networks', 'create_train_state',
           'NetState', 'Network', 'TrainState']


@flax.struct.dataclass
class NetState:
  """One network: parameters, model state and optimizer state."""
  params: Any
  model_state: Any  # The `batch_stats` collection ({} if the model has none).
  opt_state: Any
  apply_fn: Callable[..., Any] = flax.struct.field(pytree_node=False)
  tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)
  lr_fn: optax.Schedule = flax.struct.field(pytree_node=False)

  def variables(self, params: Any = None) -> Dict[str, Any]:
    """The flax variables, with `params` in place of the own if given."""
    return {'params': self.params if params is None else params,
            'batch_stats': self.model_state}

  def apply_gradients(self, grads: Any, model_state: Any) -> 'NetState':
    """One optimizer update; `model_state` is the updated model state."""
    updates, opt_state = self.tx.update(grads, self.opt_state, self.params)
    return self.replace(params=optax.apply_updates(self.params, updates),
                        model_state=model_state, opt_state=opt_state)


@flax.struct.dataclass
class TrainState:
  """Everything a run needs to continue: one pytree, saved whole.

  `rng` is a raw uint32 key, split once per step by the compiled step.
  """
  step: jax.Array
  epoch: jax.Array  # Finished epochs.
  rng: jax.Array
  g: NetState
  d: Optional[NetState]  # None for the CNN baseline.


@dataclasses.dataclass(frozen=True)
class Network:
  """A model with its optimizer and schedule: built once per run from the
  config, shared by every `NetState` of that run (so compiled steps see one
  state structure)."""
  model: Any
  tx: optax.GradientTransformation
  lr_fn: optax.Schedule
  in_channels: int  # 1 (L) for the generator, 3 (L + ab) for the critic.

  def init(self, rng: jax.Array, image_size: int) -> NetState:
    """A freshly initialised NetState of this network."""
    variables = self.model.init(
        rng, jnp.zeros((1, image_size, image_size, self.in_channels)),
        train=False)
    return NetState(params=variables['params'],
                    model_state=variables.get('batch_stats', {}),
                    opt_state=self.tx.init(variables['params']),
                    apply_fn=self.model.apply, tx=self.tx, lr_fn=self.lr_fn)


def create_learning_rate_fn(config: ml_collections.ConfigDict,
                            base_lr: float) -> optax.Schedule:
  """base_lr * decay_rate ** (step / decay_steps), not staircase, >= min_lr."""
  return optax.exponential_decay(base_lr, config.lr_decay_steps,
                                 config.lr_decay_rate, staircase=False,
                                 end_value=config.min_lr)


def _network(config: ml_collections.ConfigDict, model: Any, base_lr: float,
             in_channels: int) -> Network:
  lr_fn = create_learning_rate_fn(config, base_lr)
  return Network(model, optax.adam(lr_fn, b1=config.adam_b1,
                                   b2=config.adam_b2), lr_fn, in_channels)


def create_networks(config: ml_collections.ConfigDict
                    ) -> Tuple[Network, Optional[Network]]:
  """(generator, discriminator); the discriminator is None for the
  L1-only models ('cnn', 'unet')."""
  generator = build.generator(config)
  discriminator = build.discriminator(config)
  if discriminator is None:
    return _network(config, generator, config.g_lr, 1), None
  return (_network(config, generator, config.g_lr, 1),
          _network(config, discriminator, config.d_lr, 3))


def create_train_state(config: ml_collections.ConfigDict, generator: Network,
                       discriminator: Optional[Network],
                       seed: Optional[jax.Array] = None) -> TrainState:
  """Initialises both networks and optimizers from `seed` (default
  `config.seed`; a traced integer under `jax.vmap` for seeds as an axis)."""
  seed = config.seed if seed is None else seed
  rng, g_rng, d_rng = jax.random.split(jax.random.PRNGKey(seed), 3)
  s = config.image_size
  d = None if discriminator is None else discriminator.init(d_rng, s)
  return TrainState(step=jnp.zeros((), jnp.int32),
                    epoch=jnp.zeros((), jnp.int32), rng=rng,
                    g=generator.init(g_rng, s), d=d)
