"""Model contracts: parameter counts, shapes, inference mode, conv forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from colorjax.nets import models


def _count(params):
  """Number of scalars in a parameter pytree."""
  return sum(p.size for p in jax.tree.leaves(params))

def _shapes(module, shape):
  variables = jax.eval_shape(
      lambda: module.init(jax.random.key(0), jnp.zeros(shape), train=False))
  out = jax.eval_shape(lambda v: module.apply(v, jnp.zeros(shape), train=False),
                       variables)
  return variables, out


def test_reference_parameter_counts():
  g, out = _shapes(models.UNetGenerator(), (2, 32, 32, 1))
  assert _count(g['params']) == 16_654_722
  assert out.shape == (2, 32, 32, 2)
  d, logits = _shapes(models.Discriminator(norm='batch'), (2, 32, 32, 3))
  assert _count(d['params']) == 2_766_529
  assert logits.shape == (2, 1, 1, 1)  # One logit per image at 32x32.
  # Spectral norm wraps the same convs: BN's 1,792 scale/bias are gone and
  # the power-iteration vectors live in batch_stats.
  sn, _ = _shapes(models.Discriminator(norm='spectral'), (2, 32, 32, 3))
  assert _count(sn['params']) == 2_766_529 - 1_792
  assert 'batch_stats' in sn


@pytest.mark.parametrize('h,w', [(48, 64), (16, 16), (64, 32)])
def test_any_size_divisible_by_16(h, w):
  _, out = _shapes(models.UNetGenerator(), (1, h, w, 1))
  assert out.shape == (1, h, w, 2)
  _, out = _shapes(models.CNNColorizer(), (1, h, w, 1))
  assert out.shape == (1, h, w, 2)


def test_discriminator_gives_patch_logits_at_larger_sizes():
  _, logits = _shapes(models.Discriminator(), (1, 64, 96, 3))
  assert logits.shape == (1, 5, 9, 1)


def test_unknown_norm_is_rejected():
  with pytest.raises(ValueError, match='norm'):
    _shapes(models.Discriminator(norm='layer'), (1, 32, 32, 3))


TINY_G = dict(features=(8, 16, 16, 16, 16))


def _tiny_generator_and_vars(**kwargs):
  g = models.UNetGenerator(**TINY_G, **kwargs)
  x = jax.random.uniform(jax.random.key(1), (4, 16, 16, 1), minval=-1)
  variables = g.init(jax.random.key(0), x, train=False)
  return g, variables, x


def test_inference_mode_is_deterministic_and_uses_running_averages():
  g, variables, x = _tiny_generator_and_vars()
  y1 = g.apply(variables, x, train=False)
  y2 = g.apply(variables, x, train=False)
  np.testing.assert_array_equal(y1, y2)  # No dropout.
  shifted = jax.tree.map(lambda s: s + 0.5, variables['batch_stats'])
  y3 = g.apply({**variables, 'batch_stats': shifted}, x, train=False)
  assert np.abs(y3 - y1).max() > 1e-3  # Running averages are used.


def test_training_mode_uses_dropout_and_batch_statistics():
  g, variables, x = _tiny_generator_and_vars()
  run = lambda v, seed: g.apply(v, x, train=True, mutable=['batch_stats'],
                                rngs={'dropout': jax.random.key(seed)})[0]
  assert np.abs(run(variables, 0) - run(variables, 1)).max() > 1e-3
  shifted = jax.tree.map(lambda s: s + 0.5, variables['batch_stats'])
  np.testing.assert_allclose(run({**variables, 'batch_stats': shifted}, 0),
                             run(variables, 0), atol=1e-6)


@pytest.mark.parametrize('norm', ['batch', 'spectral', 'none'])
def test_conv_forms_give_the_same_models(norm):
  x = jax.random.uniform(jax.random.key(1), (2, 32, 32, 1), minval=-1)
  g_fast, variables, _ = _tiny_generator_and_vars(conv_impl='fast')
  g_xla = models.UNetGenerator(**TINY_G, conv_impl='xla')
  np.testing.assert_allclose(g_fast.apply(variables, x, train=False),
                             g_xla.apply(variables, x, train=False), atol=1e-5)
  x3 = jnp.concatenate([x, x, x], -1)
  d_fast = models.Discriminator(norm=norm, features=(8, 16, 16, 16),
                                conv_impl='fast')
  d_xla = d_fast.clone(conv_impl='xla')
  dv = d_fast.init(jax.random.key(0), x3, train=False)
  np.testing.assert_allclose(d_fast.apply(dv, x3, train=False),
                             d_xla.apply(dv, x3, train=False), atol=1e-5)
