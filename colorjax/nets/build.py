"""The networks of a config: the one place a recipe becomes Flax modules.

Training (`colorjax.training.state`), the bundled model
(`colorjax.inference.pretrained`) and users' own code build modules here, so
a module never misses a field its config sets (a hint generator built
without its gate or prior colour runs, and colours wrongly).

  config = colorjax.configs.load('gan_sn:demo')
  generator = build.generator(config)          # UNetGenerator or CNNColorizer
  discriminator = build.discriminator(config)  # None for L1-only models
"""

from typing import Any, Dict, Optional

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from colorjax.nets import ab_classes
from colorjax.nets import models

__all__ = ['discriminator', 'generator', 'hint_fields']


def _common(config: ml_collections.ConfigDict) -> Dict[str, Any]:
  return dict(conv_impl=config.conv_impl, resize=config.resize,
              dtype=jnp.dtype(config.compute_dtype))


def hint_fields(config: ml_collections.ConfigDict) -> Dict[str, Any]:
  """The generator fields that `config.hints` sets, in the module's units
  (cast_chroma from CIELAB chroma to the model's a, b range)."""
  h = config.hints
  return dict(hints=bool(h.enabled),
              prior_ab=tuple(float(v) for v in h.prior_ab),
              propagation_iterations=int(h.propagation_iterations),
              reach=float(h.reach),
              gate=tuple(float(v) for v in h.gate),
              cast_chroma=tuple(float(v) / config.ab_scale
                                for v in h.cast_chroma),
              learned_gate=bool(h.learned_gate))


def generator(config: ml_collections.ConfigDict) -> nn.Module:
  """The colouring network of `config`: a `CNNColorizer` for
  `config.model == 'cnn'`, else a `UNetGenerator`, every field set."""
  if config.model == 'cnn':
    classes = config.head == 'classes'
    return models.CNNColorizer(
        features=tuple(config.cnn.features),
        num_classes=ab_classes.num_classes() if classes else 0,
        temperature=config.classes.temperature if classes else 1.0,
        ab_scale=config.ab_scale, **hint_fields(config), **_common(config))
  return models.UNetGenerator(
      features=tuple(config.generator.features),
      num_dropout=config.generator.num_dropout,
      dropout_rate=config.generator.dropout_rate, **hint_fields(config),
      **_common(config))


def discriminator(config: ml_collections.ConfigDict
                  ) -> Optional[models.Discriminator]:
  """The discriminator of a GAN config; None for the L1-only models
  ('cnn', 'unet')."""
  if config.model in ('cnn', 'unet'):
    return None
  return models.Discriminator(norm=config.discriminator.norm,
                              features=tuple(config.discriminator.features),
                              **_common(config))
