"""The public face: what a JAX user imports, what it loads, and the errors it
gives at its edges."""

import importlib
import os
import pkgutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tiny import ROOT
from tiny import subprocess_env

import colorjax
from colorjax import configs
from colorjax import extras
from colorjax.errors import MissingExtraError
from colorjax.nets import build
from colorjax.nets import models

HEAVY = ('tensorflow', 'tensorflow_datasets', 'matplotlib', 'torch', 'gradio')


def _modules():
  """Every module of the package (not the recipes, which are data)."""
  names = []
  for info in pkgutil.walk_packages(colorjax.__path__, 'colorjax.'):
    if not info.name.startswith('colorjax.configs'):
      names.append(info.name)
  return names


def test_every_name_of_the_face_resolves():
  assert 'UNetGenerator' in dir(colorjax)
  for name in colorjax.__all__:
    assert getattr(colorjax, name) is not None, name
  assert colorjax.load_config is configs.load
  assert colorjax.REFERENCE_AB_SCALE == 127.0
  assert colorjax.GAMUT_AB_SCALE == 110.0
  with pytest.raises(AttributeError, match='no attribute'):
    colorjax.no_such_thing  # noqa: B018


def test_every_module_names_its_public_pieces():
  modules = _modules()
  assert len(modules) > 60 and 'colorjax.nets.models' in modules
  for name in modules:
    if name.endswith('__main__'):
      continue
    module = importlib.import_module(name)
    if module.__file__.endswith('__init__.py') and name != 'colorjax':
      continue  # A wing's __init__ is its docstring only.
    assert hasattr(module, '__all__'), f'{name} has no __all__'
    for attribute in module.__all__:
      assert hasattr(module, attribute), f'{name}.__all__ names {attribute}'
    assert 'np' not in module.__all__ and 'jnp' not in module.__all__


def test_the_package_says_it_is_typed():
  assert os.path.isfile(os.path.join(os.path.dirname(colorjax.__file__),
                                     'py.typed'))


def test_importing_the_models_colour_and_metrics_loads_no_extra():
  code = ('import sys, colorjax\n'
          'from colorjax.nets import models, losses, build\n'
          'from colorjax.colour import spaces, metrics\n'
          'from colorjax.inference import pretrained, colorizer\n'
          'colorjax.UNetGenerator, colorjax.Colorizer, colorjax.metrics\n'
          f'print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n')
  result = subprocess.run([sys.executable, '-c', code], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env=subprocess_env())
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip() == '[]'


def test_a_missing_extra_is_one_line_naming_its_install():
  with pytest.raises(MissingExtraError) as e:
    extras.require('colorjax_no_such_module', 'plots', '--plot')
  message = str(e.value)
  assert '\n' not in message
  assert 'pip install "colorjax[plots]"' in message and '--plot' in message
  assert extras.available('numpy') and not extras.available('no_such_mod_x')


def test_the_bundled_model_is_a_module_with_every_field_of_its_config():
  model = colorjax.load_pretrained()
  assert model.module == build.generator(model.config)
  assert model.module.hints and model.module.gate == tuple(
      model.config.hints.gate)
  assert model.config.ab_scale == 110.0
  # What colorize runs: the Colorizer's answer is the module's.
  rng = np.random.default_rng(3)
  size = model.config.image_size
  painting = rng.integers(60, 200, (size, size, 3), np.uint8)
  l = colorjax.spaces.l_to_model(colorjax.spaces.rgb_to_lab(
      painting.astype(np.float32) / 255.0)[None, ..., :1])
  ab = model.module.apply(model.variables, l, train=False)
  mine = np.round(np.asarray(colorjax.spaces.model_to_rgb(
      l, ab, model.config.ab_scale))[0] * 255)
  theirs = colorjax.Colorizer.pretrained().colorize(painting)
  assert np.abs(mine - theirs).max() <= 1


def test_a_hint_generator_missing_fields_colours_differently():
  # Why the docs say: build from the config. A module rebuilt without the
  # gate, the prior and the iterations runs, and answers otherwise.
  model = colorjax.load_pretrained()
  partial = models.UNetGenerator(features=model.module.features,
                                 hints=True, reach=model.module.reach)
  l = jnp.full((1, 32, 32, 1), -0.1)
  hint_ab = jnp.zeros((1, 32, 32, 2)).at[0, 4:7, 4:7].set(
      jnp.array([0.3, -0.2]))
  hint_mask = jnp.zeros((1, 32, 32, 1)).at[0, 4:7, 4:7].set(1.0)
  whole = model.module.apply(model.variables, l, train=False,
                             hint_ab=hint_ab, hint_mask=hint_mask)
  wrong = partial.apply(model.variables, l, train=False, hint_ab=hint_ab,
                        hint_mask=hint_mask)
  assert float(jnp.abs(whole - wrong).max()) > 0.05


@pytest.mark.parametrize('module', [
    models.UNetGenerator(features=(8, 16, 16)),
    models.CNNColorizer(features=(8, 16, 16))])
def test_a_size_the_generator_cannot_take_is_one_error_naming_the_rule(
    module):
  with pytest.raises(ValueError, match=r'divisible by 4 .*not 42 x 40'):
    module.init(jax.random.key(0), jnp.zeros((1, 42, 40, 1)), train=False)
  with pytest.raises(ValueError, match=r'\(batch, H, W, 1\)'):
    module.init(jax.random.key(0), jnp.zeros((1, 40, 40, 3)), train=False)
  # Under jit too: the shape is static, so it is raised while tracing.
  variables = module.init(jax.random.key(0), jnp.zeros((1, 40, 40, 1)),
                          train=False)
  with pytest.raises(ValueError, match='divisible by 4'):
    jax.jit(lambda x: module.apply(variables, x, train=False))(
        jnp.zeros((1, 36, 38, 1)))


@pytest.mark.parametrize('norm', ['spectral', 'batch'])
def test_a_discriminator_without_its_batch_stats_says_where_they_live(norm):
  d = models.Discriminator(norm=norm, features=(8, 16))
  x = jnp.full((1, 32, 32, 3), 0.2)
  variables = d.init(jax.random.key(0), x, train=False)
  with pytest.raises(ValueError, match='batch_stats collection'):
    d.apply({'params': variables['params']}, x, train=False)
  assert d.apply(variables, x, train=False).shape == (1, 13, 13, 1)


def test_0_255_images_where_0_1_are_expected_are_one_error():
  rng = np.random.default_rng(0)
  as_255 = rng.uniform(20, 235, (2, 16, 16, 3)).astype(np.float32)
  unit = as_255 / 255.0
  for call in (lambda x: colorjax.metrics.psnr(x, unit),
               lambda x: colorjax.metrics.ssim(unit, x),
               colorjax.metrics.colourfulness, colorjax.spaces.rgb_to_lab):
    with pytest.raises(ValueError, match='divide 0-255 values by 255'):
      call(as_255)
    with pytest.raises(ValueError, match='uint8 / 255'):
      call(as_255.astype(np.uint8))
  # In range, and inside jit (values unknown there), they answer.
  assert float(colorjax.metrics.psnr(unit, unit)[0]) > 100
  assert jax.jit(colorjax.metrics.colourfulness)(unit).shape == (2,)
