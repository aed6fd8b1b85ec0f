"""The ab-classes head: gamut bins, soft targets, rebalancing, decoding, and a
CNN that trains and colourises with it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from colorjax import names
from colorjax.colour import spaces
from colorjax.errors import ConfigError
from colorjax.evaluation import evaluate
from colorjax.evaluation import tables
from colorjax.nets import ab_classes
from colorjax.nets import models
from colorjax.training import plots
from colorjax.training import train
from colorjax.training.config_validation import validate_config


def test_bins_cover_the_srgb_gamut():
  centres = ab_classes.bin_centres()
  assert 200 < len(centres) < 350  # Zhang et al. count 313 at grid 10.
  rgb = np.random.RandomState(0).uniform(0, 1, (20_000, 3)).astype(np.float32)
  ab = np.asarray(spaces.rgb_to_lab(rgb))[:, 1:]
  d = np.sqrt(np.min(np.sum((ab[:, None] - centres[None]) ** 2, -1), -1))
  assert d.max() <= ab_classes.GRID / np.sqrt(2) + 1e-3  # Half a cell diagonal.


def test_soft_targets_spread_over_the_nearest_five():
  centres = ab_classes.bin_centres()
  target = np.asarray(ab_classes.soft_targets(jnp.asarray(centres[:3])))
  np.testing.assert_allclose(target.sum(-1), 1, rtol=1e-6)
  assert np.all(np.sum(target > 0, -1) == ab_classes.NEIGHBOURS)
  # A centre is its own nearest bin: exp(0) against at most exp(-100 / 50).
  assert np.all(np.argmax(target, -1) == np.arange(3))
  np.testing.assert_array_equal(
      ab_classes.nearest_class(jnp.asarray(centres[:3])), [0, 1, 2])


def test_rebalancing_favours_rare_colours():
  rng = np.random.RandomState(0)
  grey = np.full((16, 8, 8, 3), 128, np.uint8)
  red = np.zeros((1, 8, 8, 3), np.uint8)
  red[..., 0] = 200
  images = np.concatenate([grey, red])
  w = ab_classes.class_weights(images[rng.permutation(17)], mix=0.5)
  ids = ab_classes.nearest_class(
      spaces.rgb_to_lab(images[[0, -1], 0, 0] / 255.0)[..., 1:])
  assert w[ids[1]] > 2 * w[ids[0]]  # Red is 16x rarer than grey.
  np.testing.assert_allclose(ab_classes.class_weights(images, mix=1.0), 1,
                             rtol=1e-5)


def test_annealed_mean_moves_from_the_mean_to_the_mode():
  centres = ab_classes.bin_centres()
  logits = np.full(len(centres), -10.0, np.float32)
  logits[[5, 100]] = [2.0, 1.5]
  p = jax.nn.softmax(logits)
  mean = ab_classes.annealed_mean(jnp.asarray(logits), 1.0, 127.0)
  np.testing.assert_allclose(mean, p @ centres / 127.0, atol=1e-6)
  mode = ab_classes.annealed_mean(jnp.asarray(logits), 0.01, 110.0)
  np.testing.assert_allclose(mode, centres[5] / 110.0, atol=1e-5)


def test_the_loss_prefers_the_right_class():
  centres = ab_classes.bin_centres()
  target = jnp.asarray(centres[[7]] / 127.0)
  weights = jnp.ones(len(centres))
  right = jnp.zeros((1, len(centres))).at[0, 7].set(5.0)
  wrong = jnp.zeros((1, len(centres))).at[0, 150].set(5.0)
  assert (ab_classes.loss(right, target, weights, 127.0) <
          ab_classes.loss(wrong, target, weights, 127.0))


def test_cnn_with_classes_returns_ab_or_logits():
  q = ab_classes.num_classes()
  model = models.CNNColorizer(features=(8, 16), num_classes=q)
  x = jnp.zeros((2, 16, 16, 1))
  variables = model.init(jax.random.PRNGKey(0), x, train=False)
  ab = model.apply(variables, x, train=False)
  logits = model.apply(variables, x, train=False, logits=True)
  assert ab.shape == (2, 16, 16, 2) and logits.shape == (2, 16, 16, q)
  assert np.all(np.abs(ab) < 1)


def test_a_classes_cnn_trains_and_takes_a_temperature(tiny_config, tmp_path):
  config = tiny_config(model='cnn', head='classes', num_epochs=2)
  workdir = str(tmp_path / 'w')
  train.train_and_evaluate(config, workdir)
  losses = [r[names.G_CE] for r in plots.read_records(workdir)
            if names.G_CE in r]
  assert losses[-1] < losses[0]
  cool = evaluate.evaluate(workdir, evaluate.Settings(temperature=0.2))
  warm = evaluate.evaluate(workdir, evaluate.Settings(temperature=1.0))
  assert cool['temperature'] == 0.2 and 'temperature 0.2' in (
      tables.format_report(cool))
  # Nearer the mode is more colourful than the mean.
  assert (cool['results']['model'][names.COLOURFULNESS] >
          warm['results']['model'][names.COLOURFULNESS])
  with pytest.raises(ConfigError, match='must be in'):
    evaluate.evaluate(workdir, evaluate.Settings(temperature=0.0))


def test_temperature_needs_a_classes_model(tiny_run):
  with pytest.raises(ConfigError, match='use --vibrance'):
    evaluate.evaluate(tiny_run, evaluate.Settings(temperature=0.5))


@pytest.mark.parametrize('overrides,message', [
    (dict(head='softmax'), 'config.head'),
    (dict(head='classes'), "needs config.model='cnn'"),
    (dict(model='cnn', head='classes', **{'classes.temperature': 0.0}),
     'config.classes.temperature'),
    (dict(model='cnn', head='classes', **{'classes.rebalance': 2.0}),
     'config.classes.rebalance'),
])
def test_bad_head_settings(tiny_config, overrides, message):
  with pytest.raises(ConfigError, match=message):
    validate_config(tiny_config(**overrides), 1)
