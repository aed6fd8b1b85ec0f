"""Config files and config validation."""

import importlib

import pytest

from colorjax import train
from colorjax.config_validation import validate_config
from colorjax.errors import ConfigError


def _load(name, arg=''):
  return importlib.import_module(f'configs.{name}').get_config(arg)


def test_gan_bn_is_the_term_project_recipe():
  c = _load('gan_bn')
  assert (c.model, c.discriminator.norm, c.batch_size, c.image_size) == (
      'gan', 'batch', 32, 32)
  assert (c.g_lr, c.d_lr, c.lr_decay_rate, c.lr_decay_steps) == (
      3e-4, 6e-5, 0.1, 60_000)
  assert (c.l1_weight, c.real_label, c.num_epochs) == (0.99, 0.9, 666)
  assert tuple(c.checkpoint_epochs) == (200, 466, 666)


def test_gan_sn_is_the_reference_spectral_recipe():
  c = _load('gan_sn')
  assert c.discriminator.norm == 'spectral'
  assert (c.num_epochs, c.real_label, c.l1_weight) == (100, 1.0, 0.985)
  assert (c.g_lr, c.d_lr, c.lr_decay_steps) == (2e-4, 2e-4, 40_000)


@pytest.mark.parametrize('name', ['default', 'gan_bn', 'gan_sn', 'cnn'])
@pytest.mark.parametrize('arg', ['', 'demo'])
def test_every_config_is_valid(name, arg):
  c = _load(name, arg)
  validate_config(c, num_devices=4)
  if arg == 'demo':
    assert c.dataset == 'samples' and c.num_epochs < 20
    assert tuple(c.generator.features) == (64, 128, 256, 512, 512)


def test_unknown_variant():
  with pytest.raises(ValueError, match='variant'):
    _load('gan_bn', 'huge')


@pytest.mark.parametrize('key,value,message', [
    ('image_size', 40, 'multiple of 16'),
    ('batch_size', 30, 'multiple of the number of devices'),
    ('dataset', 'cifar11', 'config.dataset'),
    ('discriminator.norm', 'group', 'config.discriminator.norm'),
    ('model', 'vae', 'config.model'),
    ('conv_impl', 'cudnn', 'config.conv_impl'),
    ('compute_dtype', 'float16', 'config.compute_dtype'),
    ('l1_weight', 1.5, 'config.l1_weight'),
    ('real_label', 0.0, 'config.real_label'),
    ('g_lr', -1.0, 'config.g_lr'),
    ('num_epochs', 0, 'config.num_epochs'),
])
def test_bad_values_stop_before_compiling(tiny_config, tmp_path, key, value,
                                          message):
  config = tiny_config(**{key: value}) if key != 'image_size' else (
      tiny_config(image_size=value, **{'generator.features': (8, 8, 8, 8, 8)}))
  with pytest.raises(ConfigError, match=message) as info:
    train.train_and_evaluate(config, str(tmp_path / 'w'))
  assert '\n' not in str(info.value)
  assert not (tmp_path / 'w').exists()  # Nothing was started.


def test_discriminator_too_deep_for_the_image(tiny_config):
  with pytest.raises(ConfigError, match='too small for a discriminator'):
    validate_config(tiny_config(**{'discriminator.features': (8, 8, 8, 8)}), 1)
