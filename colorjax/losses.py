"""Losses and discriminator accuracy of the conditional GAN (all means, float32).

The generator minimises ``(1 - l1_weight) * adversarial + l1_weight * L1``
(reference: l1_weight = 0.99). The discriminator minimises the mean of its BCE
on real pairs, labelled `real_label` (one-sided label smoothing, reference
0.9), and on fake pairs, labelled 0.
"""

from typing import Dict, Tuple

import jax
import jax.numpy as jnp
import optax


def l1_loss(pred_ab: jax.Array, target_ab: jax.Array) -> jax.Array:
  """Mean absolute error over every pixel and channel (model range)."""
  return jnp.mean(jnp.abs(pred_ab.astype(jnp.float32) -
                          target_ab.astype(jnp.float32)))


def bce_with_logits(logits: jax.Array, label: float | jax.Array) -> jax.Array:
  """Mean binary cross-entropy of `logits` against `label` (broadcast)."""
  logits = logits.astype(jnp.float32)
  labels = jnp.broadcast_to(jnp.asarray(label, jnp.float32), logits.shape)
  return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, labels))


def generator_loss(fake_logits: jax.Array, pred_ab: jax.Array,
                   target_ab: jax.Array,
                   l1_weight: float) -> Tuple[jax.Array, Dict[str, jax.Array]]:
  """Generator objective; returns (total, {'g_adv', 'g_l1'})."""
  adv = bce_with_logits(fake_logits, 1.0)
  l1 = l1_loss(pred_ab, target_ab)
  return (1.0 - l1_weight) * adv + l1_weight * l1, {'g_adv': adv, 'g_l1': l1}


def discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array,
                       real_label: float = 0.9) -> jax.Array:
  """Mean of the BCE on real (smoothed label) and fake (label 0) logits."""
  return 0.5 * (bce_with_logits(real_logits, real_label) +
                bce_with_logits(fake_logits, 0.0))


def discriminator_accuracy(real_logits: jax.Array,
                           fake_logits: jax.Array) -> Dict[str, jax.Array]:
  """Fraction of real judged real (p > 0.5) and of fake judged fake (p < 0.5)."""
  return {
      'd_acc_real': jnp.mean((real_logits > 0).astype(jnp.float32)),
      'd_acc_fake': jnp.mean((fake_logits < 0).astype(jnp.float32)),
  }
