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

__all__ = ['bce_with_logits', 'discriminator_accuracy', 'discriminator_loss',
           'far_field_guard', 'generator_loss', 'l1_loss']


def l1_loss(pred_ab: jax.Array, target_ab: jax.Array) -> jax.Array:
  """Mean absolute error over every pixel and channel (model range)."""
  return jnp.mean(jnp.abs(pred_ab.astype(jnp.float32) -
                          target_ab.astype(jnp.float32)))


def far_field_guard(hinted_ab: jax.Array, auto_ab: jax.Array,
                    target_ab: jax.Array, hint_mask: jax.Array,
                    guarded: jax.Array, radius: int) -> jax.Array:
  """How much worse the hints make the far field, on the guarded images.

  Per image, the mean absolute a, b error farther than `radius` px (in
  both directions: a square) from every hint pixel, of the hinted answer
  minus the automatic one's (held fixed), counted where positive; summed
  over the `guarded` images and divided by the batch size. A person's
  first click must not spoil the painting far from it: the L1 loss alone
  rewards spreading a hint's colour whenever that helps on average.

  Args:
    hinted_ab: (B, H, W, 2) the answer with hints.
    auto_ab: (B, H, W, 2) the same network's answer without them.
    target_ab: (B, H, W, 2) the true a, b.
    hint_mask: (B, H, W, 1) 1 on hint pixels.
    guarded: (B,) bool, the images the guarantee is asked of.
    radius: the far field's distance from the hints, in pixels.

  Returns:
    A scalar, 0 when no guarded image's far field gets worse.
  """
  size = 2 * radius + 1
  near = jax.lax.reduce_window(hint_mask.astype(jnp.float32), 0.0,
                               jax.lax.max, (1, size, size, 1), (1, 1, 1, 1),
                               'SAME')
  far = 1.0 - near
  count = jnp.maximum(2.0 * jnp.sum(far, (1, 2, 3)), 1.0)
  target = target_ab.astype(jnp.float32)

  def far_error(ab):
    return jnp.sum(jnp.abs(ab.astype(jnp.float32) - target) * far,
                   (1, 2, 3)) / count

  worse = far_error(hinted_ab) - jax.lax.stop_gradient(far_error(auto_ab))
  return jnp.sum(jnp.where(guarded, jax.nn.relu(worse), 0.0)) / worse.shape[0]


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
