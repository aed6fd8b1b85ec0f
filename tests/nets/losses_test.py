"""Losses against hand-computed values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from colorjax.nets import losses


def _bce(p, y):
  return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def _sigmoid(x):
  return 1 / (1 + np.exp(-x))


def test_l1():
  assert losses.l1_loss(np.array([0.5, -0.5]), np.array([0.0, 0.5])) == (
      pytest.approx(0.75))


def test_bce_with_logits_against_formula():
  logits = np.array([-3.0, -0.2, 0.0, 1.5, 40.0])
  for label in (0.0, 0.9, 1.0):
    expected = np.mean(_bce(_sigmoid(logits[:-1]), label))
    got = losses.bce_with_logits(logits[:-1], label)
    assert got == pytest.approx(expected, rel=1e-5)
  # Stable where a naive log(sigmoid) would overflow.
  assert np.isfinite(losses.bce_with_logits(logits, 0.0))


def test_discriminator_loss_with_one_sided_smoothing():
  real, fake = np.array([2.0, 0.5]), np.array([-1.0, 0.3])
  expected = 0.5 * (np.mean(_bce(_sigmoid(real), 0.9)) +
                    np.mean(_bce(_sigmoid(fake), 0.0)))
  assert losses.discriminator_loss(real, fake, 0.9) == pytest.approx(
      expected, rel=1e-5)


def test_generator_loss_weights():
  fake_logits = np.array([0.0])
  pred, target = np.zeros((1, 2, 2, 2)), np.full((1, 2, 2, 2), 0.25)
  total, parts = losses.generator_loss(fake_logits, pred, target, 0.99)
  assert parts['g_adv'] == pytest.approx(np.log(2), rel=1e-6)
  assert parts['g_l1'] == pytest.approx(0.25)
  assert total == pytest.approx(0.01 * np.log(2) + 0.99 * 0.25, rel=1e-6)


def test_discriminator_accuracy():
  acc = losses.discriminator_accuracy(np.array([1.0, -1.0, 2.0, 0.5]),
                                      np.array([-2.0, 0.1]))
  assert acc['d_acc_real'] == pytest.approx(0.75)
  assert acc['d_acc_fake'] == pytest.approx(0.5)


def _guard_case():
  """One 16x16 image, one hint pixel at (2, 2): with radius 4, the far
  field is the pixels more than 4 px from it in rows or columns."""
  mask = np.zeros((1, 16, 16, 1), np.float32)
  mask[0, 2, 2] = 1.0
  target = np.full((1, 16, 16, 2), (0.21, -0.13), np.float32)
  return mask, target


def test_far_field_guard_counts_only_a_worse_far_field():
  mask, target = _guard_case()
  auto = target + 0.05  # The automatic answer: 0.05 off everywhere.
  guarded = jnp.asarray([True])

  def guard(hinted, flags=guarded):
    return float(losses.far_field_guard(hinted, auto, target, mask, flags, 4))

  assert guard(auto) == 0.0
  near_only = auto.copy()
  near_only[0, :7, :7] += 0.3  # Worse, but all within 4 px of the hint.
  assert guard(near_only) == 0.0
  assert guard(target) == 0.0  # Better far away: nothing to pay.
  worse = auto.copy()
  worse[0, 10:, 10:] += 0.12  # 36 of the 256 - 49 far pixels.
  np.testing.assert_allclose(guard(worse), 0.12 * 36 / 207, rtol=1e-5)
  assert guard(worse, jnp.asarray([False])) == 0.0  # Not a guarded image.


def test_far_field_guard_trains_the_hinted_answer_only():
  mask, target = _guard_case()
  hinted = jnp.asarray(target + 0.1)
  auto = jnp.asarray(target + 0.04)
  grad_h, grad_a = jax.grad(
      lambda h, a: losses.far_field_guard(h, a, target, mask,
                                          jnp.asarray([True]), 4),
      argnums=(0, 1))(hinted, auto)
  assert float(jnp.abs(grad_a).max()) == 0.0
  assert float(grad_h[0, 15, 15, 0]) > 0 and float(grad_h[0, 2, 2, 0]) == 0.0
