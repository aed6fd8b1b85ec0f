"""Config files and config validation."""

import os
import subprocess
import sys

import jax
import pytest

from colorjax import configs
from colorjax.errors import ConfigError
from colorjax.training import state as state_lib
from colorjax.training import train
from colorjax.training.config_validation import validate_config

_load = lambda name, arg='': configs.load(f'{name}:{arg}')


def _differences(a, b, prefix=''):
  """Dotted keys whose values differ between two configs."""
  out = set()
  for key in set(a) | set(b):
    x, y = a.get(key), b.get(key)
    if isinstance(x, dict) and isinstance(y, dict):
      out |= _differences(x, y, f'{prefix}{key}.')
    elif x != y:
      out.add(prefix + key)
  return out


def test_variants_override_the_default_only_where_they_differ():
  default = _load('default').to_dict()
  assert _differences(_load('gan_bn').to_dict(), default) == set()
  assert _differences(_load('cnn').to_dict(), default) == {'model',
                                                           'l1_weight'}
  assert _differences(_load('gan_sn').to_dict(), default) <= {
      'discriminator.norm', 'num_epochs', 'real_label', 'l1_weight', 'g_lr',
      'd_lr', 'lr_decay_steps', 'checkpoint_epochs'}


@pytest.mark.parametrize('name,has_d,spectral', [
    ('gan_bn', True, False), ('gan_sn', True, True), ('cnn', False, False)])
def test_recipes_build_the_networks_they_name(tiny_config, name, has_d,
                                              spectral):
  config = _load(name)
  tiny = tiny_config()
  for net in ('generator', 'discriminator', 'cnn'):
    config[net].features = tiny[net].features
  g, d = state_lib.create_networks(config)
  assert (d is not None) == has_d
  if has_d:
    stats = jax.eval_shape(lambda r: d.init(r, 16),
                           jax.random.PRNGKey(0)).model_state
    keys = {jax.tree_util.keystr(p) for p, _ in
            jax.tree_util.tree_leaves_with_path(stats)}
    assert any('sigma' in k for k in keys) == spectral
  # The schedule the config asks for: lr * rate ** (step / decay_steps).
  lr = g.lr_fn
  assert float(lr(config.lr_decay_steps)) == pytest.approx(
      config.g_lr * config.lr_decay_rate, rel=1e-5)


def test_load_finds_recipes_from_any_directory(tmp_path):
  """By name (inside the installed package) and by path, outside the repo."""
  repo = os.path.dirname(os.path.dirname(os.path.dirname(
      os.path.abspath(__file__))))
  code = ('from colorjax import configs; '
          'print(configs.load("gan_sn:demo").num_epochs, '
          f'configs.load({os.path.join(repo, "configs", "cnn.py")!r}).model, '
          'configs.names())')
  result = subprocess.run([sys.executable, '-c', code], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=''))
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.split()[:2] == [str(_load('gan_sn', 'demo').num_epochs),
                                       'cnn']
  assert "'gan_bn'" in result.stdout and "'default'" not in result.stdout


@pytest.mark.parametrize('spec,message', [
    ('gan_xx', "unknown recipe 'gan_xx'; use one of cnn, gan_bn, gan_sn, "
     'hints, paintings'),
    ('gan_bn:huge', 'unknown config variant'),
    ('no/such/file.py', "config file 'no/such/file.py' does not exist"),
])
def test_load_errors_are_one_line(spec, message):
  with pytest.raises(ConfigError, match=message) as info:
    configs.load(spec)
  assert '\n' not in str(info.value)


@pytest.mark.parametrize('name', ['default', 'gan_bn', 'gan_sn', 'cnn',
                                  'paintings', 'hints'])
@pytest.mark.parametrize('arg', ['', 'demo'])
def test_every_config_is_valid(name, arg):
  c = _load(name, arg)
  validate_config(c, num_devices=4)
  if arg == 'demo':
    assert c.dataset == 'samples' and c.num_epochs < 20
    assert tuple(c.generator.features) == (64, 128, 256, 512, 512)


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
    ('eval_every_steps', -4, 'config.eval_every_steps=-4 must be >= 0'),
    ('eval_subset', -1, 'config.eval_subset=-1 must be >= 0'),
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
