"""Losses against hand-computed values."""

import numpy as np
import pytest

from colorjax import losses


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
