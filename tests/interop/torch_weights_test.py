"""PyTorch weights in and out: outputs match PyTorch's in eval mode.

The PyTorch side is `colorjax.interop.torch_modules`, written from the
reference implementation's own files (karoly-hars/GAN_image_colorizing:
networks.py, spectral_norm.py, datasets.py): its module tree and keys, its
fixed 35 x 35 resize, its sigmoid discriminator, its spectral norm and its
/127 pre- and post-processing. Narrow widths keep the tests fast; the
structure is the reference's. Its plain layout (`PlainGenerator`,
`PlainDiscriminator`, torch.nn.utils.spectral_norm) is what
`colorjax export-torch --layout=benchmark` writes. The architecture is
read from a config, from our variables or from a state dict: a module built
by hand converts without one.
"""

import os
import shutil

import cv2
import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip(
    'torch', reason='PyTorch is the optional extra: pip install -e ".[torch]"')
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from colorjax import names  # noqa: E402
from colorjax.colour import spaces as color  # noqa: E402
from colorjax.errors import CheckpointError  # noqa: E402
from colorjax.inference import colorize  # noqa: E402
from colorjax.interop import import_torch  # noqa: E402
from colorjax.interop import torch_modules as torch_reference  # noqa: E402
from colorjax.interop import torch_weights  # noqa: E402
from colorjax.nets import models  # noqa: E402
from colorjax.training import train  # noqa: E402
from colorjax.training import workdir as workdir_lib  # noqa: E402

G_FEATURES = (8, 16, 16, 32, 32)
D_FEATURES = (8, 16, 32, 32)


def RefGenerator():  # noqa: N802  (a class, narrowed)
  return torch_reference.Generator('batch', G_FEATURES)


def RefDiscriminator(norm):  # noqa: N802
  return torch_reference.Discriminator(norm, D_FEATURES)


def _randomise_batch_norms(module, seed=0):
  g = torch.Generator().manual_seed(seed)
  for m in module.modules():
    if isinstance(m, nn.BatchNorm2d):
      m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
      m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
      m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
      m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
  return module


def _config(tiny_config, norm='batch'):
  return tiny_config(image_size=32, **{'generator.features': G_FEATURES,
                        'discriminator.features': D_FEATURES,
                        'discriminator.norm': norm})


def _state_dict(module):
  return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def _ours(config, network):
  generator, discriminator = models.UNetGenerator(
      features=G_FEATURES, resize=config.resize), models.Discriminator(
          norm=config.discriminator.norm, features=D_FEATURES,
          resize=config.resize)
  model = generator if network == 'generator' else discriminator
  channels = 1 if network == 'generator' else 3
  shapes = jax.eval_shape(lambda: model.init(
      jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, channels)), train=False))
  return model, shapes


def test_reference_generator_matches_in_eval_mode(tiny_config):
  size = 32  # The reference resizes every input to 35 x 35.
  torch.manual_seed(0)
  ref = _randomise_batch_norms(RefGenerator()).eval()
  config = _config(tiny_config)
  model, shapes = _ours(config, 'generator')
  variables = torch_weights.to_flax(_state_dict(ref), 'generator', config,
                                    shapes)
  x = np.random.RandomState(size).uniform(-1, 1, (2, 1, size, size)).astype(
      np.float32)
  with torch.no_grad():
    theirs = ref(torch.from_numpy(x)).numpy().transpose(0, 2, 3, 1)
  ours = model.apply(variables, x.transpose(0, 2, 3, 1), train=False)
  np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize('norm', ['batch', 'spectral'])
def test_reference_discriminator_matches_in_eval_mode(tiny_config, norm):
  size = 32
  torch.manual_seed(1)
  ref = _randomise_batch_norms(RefDiscriminator(norm)).eval()
  config = _config(tiny_config, norm)
  model, shapes = _ours(config, 'discriminator')
  variables = torch_weights.to_flax(_state_dict(ref), 'discriminator', config,
                                    shapes)
  x = np.random.RandomState(size).uniform(-1, 1, (2, 3, size, size)).astype(
      np.float32)
  with torch.no_grad():
    theirs = ref(torch.from_numpy(x)).numpy()
  logits = model.apply(variables, x.transpose(0, 2, 3, 1), train=False)
  ours = np.asarray(jax.nn.sigmoid(logits)).reshape(2, -1)
  np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize('network,norm', [('generator', 'batch'),
                                          ('discriminator', 'batch'),
                                          ('discriminator', 'spectral')])
def test_benchmark_layout_matches_in_eval_mode(tiny_config, network, norm):
  torch.manual_seed(2)
  ref = (torch_reference.PlainGenerator(G_FEATURES) if network == 'generator'
         else torch_reference.PlainDiscriminator(norm, D_FEATURES))
  channels = 1 if network == 'generator' else 3
  x = torch.from_numpy(np.random.RandomState(3).uniform(
      -1, 1, (2, channels, 32, 32)).astype(np.float32))
  with torch.no_grad():
    ref.train()(x)  # As a trained model: its power iteration has run.
  ref = _randomise_batch_norms(ref).eval()
  config = _config(tiny_config, norm)
  model, shapes = _ours(config, network)
  variables = torch_weights.to_flax(_state_dict(ref), network, config, shapes)
  with torch.no_grad():
    theirs = ref(x).numpy().transpose(0, 2, 3, 1)
  ours = model.apply(variables, x.numpy().transpose(0, 2, 3, 1), train=False)
  np.testing.assert_allclose(ours, theirs, atol=1e-5)
  # And back: PyTorch's eval output from our export is the same.
  ref.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in
                       torch_weights.to_torch(variables, network, config,
                                              'benchmark').items()})
  with torch.no_grad():
    again = ref(x).numpy().transpose(0, 2, 3, 1)
  np.testing.assert_allclose(again, theirs, atol=1e-5)


@pytest.mark.parametrize('layout', torch_weights.LAYOUTS)
def test_export_then_import_is_bit_exact(tiny_config, tiny_run, layout):
  del tiny_config
  config, _, state = workdir_lib.load_run(tiny_run)
  for network, net in (('generator', state.g), ('discriminator', state.d)):
    variables = jax.device_get(net.variables())
    exported = torch_weights.to_torch(variables, network, config, layout)
    back = torch_weights.to_flax(exported, network, config, variables)
    for tree in ('params', 'batch_stats'):
      for (path, a), (_, b) in zip(
          jax.tree_util.tree_leaves_with_path(variables[tree]),
          jax.tree_util.tree_leaves_with_path(back[tree]), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=str(path))


@pytest.mark.parametrize('network,norm,layout', [
    (network, norm, layout)
    for network, norm in (('generator', 'batch'), ('discriminator', 'batch'),
                          ('discriminator', 'spectral'),
                          ('discriminator', 'none'))
    for layout in torch_weights.LAYOUTS
    # The plain layout has no unnormalised discriminator.
    if not (norm == 'none' and layout == 'benchmark')])
def test_a_module_built_by_hand_converts_without_a_config(network, norm,
                                                          layout):
  # The architecture is read from the variables going out and from the
  # state dict coming back: no config anywhere.
  if network == 'generator':
    module, x = models.UNetGenerator(features=G_FEATURES), jnp.zeros(
        (1, 32, 32, 1))
    net = (torch_reference.Generator('batch', G_FEATURES)
           if layout == 'reference' else
           torch_reference.PlainGenerator(G_FEATURES))
  else:
    module, x = models.Discriminator(norm=norm, features=D_FEATURES), (
        jnp.zeros((1, 32, 32, 3)))
    if layout == 'reference':
      net = torch_reference.Discriminator(
          None if norm == 'none' else norm, D_FEATURES)
    else:
      net = torch_reference.PlainDiscriminator(norm, D_FEATURES)
  variables = jax.device_get(module.init(jax.random.key(4), x, train=False))
  exported = torch_weights.to_torch(variables, network, layout=layout)
  missing, unexpected = net.load_state_dict(
      {k: torch.from_numpy(np.array(v)) for k, v in exported.items()},
      strict=False)
  assert not unexpected and not [k for k in missing
                                 if 'num_batches_tracked' not in k]
  arch = torch_weights.Architecture.of_state_dict(network, exported)
  assert arch == torch_weights.Architecture.of_variables(network, variables)
  assert arch.depth == len(G_FEATURES if network == 'generator'
                           else D_FEATURES)
  back = torch_weights.to_flax(exported, network)
  for tree in ('params', 'batch_stats'):
    for (path, a), (_, b) in zip(
        jax.tree_util.tree_leaves_with_path(variables.get(tree, {})),
        jax.tree_util.tree_leaves_with_path(back[tree]), strict=True):
      np.testing.assert_allclose(a, b, atol=1e-6, err_msg=str(path))


def _saved(tmp_path, name, obj):
  path = str(tmp_path / name)
  torch.save(obj, path)
  return path


def test_import_writes_a_run_that_colourises_and_trains(tiny_config, tmp_path):
  torch.manual_seed(4)
  g = _randomise_batch_norms(RefGenerator()).eval()
  d = RefDiscriminator('batch').eval()
  config = _config(tiny_config)
  workdir = str(tmp_path / 'imported')
  import_torch.import_weights(config, _saved(tmp_path, 'g.pth', g.state_dict()),
                              _saved(tmp_path, 'd.pth', d.state_dict()),
                              workdir)
  colorizer = colorize.Colorizer.from_workdir(workdir)
  rgb = np.random.RandomState(0).randint(0, 256, (16, 16, 3), np.uint8)
  l_model = colorizer._work_input(
      np.asarray(color.rgb_to_lab(rgb / 255.0))[..., 0])[0]
  with torch.no_grad():
    theirs = g(torch.from_numpy(l_model[None].transpose(0, 3, 1, 2))).numpy()
  ours = np.asarray(colorizer._predict(colorizer._variables, l_model[None],
                                      None, None))
  np.testing.assert_allclose(ours, theirs.transpose(0, 2, 3, 1), atol=1e-5)
  state = train.train_and_evaluate(config, workdir)  # Continues: epoch 1.
  assert int(state.epoch) == 1
  with pytest.raises(CheckpointError, match='already holds a run'):
    import_torch.import_weights(config, str(tmp_path / 'g.pth'), None, workdir)


def test_bad_weights_stop_with_one_line_and_write_nothing(tiny_config,
                                                          tmp_path):
  torch.manual_seed(5)
  config = _config(tiny_config)
  good = RefGenerator().state_dict()
  d_good = RefDiscriminator('batch').state_dict()
  workdir = tmp_path / 'w'
  missing = dict(good)
  del missing['up2.model.1.running_var']
  extra = dict(good, **{'up9.model.0.weight': torch.zeros(1)})
  wrong = dict(good, **{'final.model.0.weight': torch.zeros(2, 64, 1, 1)})
  cases = [
      (missing, "lacks 'up2.model.1.running_var'"),
      (extra, "unexpected key 'up9.model.0.weight'"),
      (wrong, 'final.model.0.weight: shape (1, 1, 64, 2) in the state dict, '
       '(1, 1, 16, 2) in the config\'s model'),
      ([1, 2, 3], 'holds a list, not a state dict'),
      (RefGenerator(), 'not a PyTorch state dict loadable with '
       'weights_only=True'),
  ]
  for obj, message in cases:
    path = _saved(tmp_path, 'bad.pth', obj)
    with pytest.raises(torch_weights.TorchWeightsError) as info:
      import_torch.import_weights(config, path, None, str(workdir))
    assert message in str(info.value) and '\n' not in str(info.value)
    assert not workdir.exists()
  # The generator given as the discriminator: named, nothing written.
  with pytest.raises(torch_weights.TorchWeightsError,
                     match='discriminator state dict .* unexpected key'):
    import_torch.import_weights(config, _saved(tmp_path, 'g.pth', good),
                                _saved(tmp_path, 'd.pth', good), str(workdir))
  # A spectral-norm config cannot take BN discriminator weights.
  with pytest.raises(torch_weights.TorchWeightsError,
                     match='unexpected key|lacks'):
    import_torch.import_weights(_config(tiny_config, 'spectral'),
                                _saved(tmp_path, 'g.pth', good),
                                _saved(tmp_path, 'd.pth', d_good),
                                str(workdir))
  assert not workdir.exists()


def test_an_import_that_cannot_be_written_leaves_nothing(tiny_config,
                                                         tmp_path,
                                                         monkeypatch):
  """A full disk during the save: one line, the workdir as it was (empty
  here, or missing), no temporary folder; the same command then succeeds."""
  torch.manual_seed(6)
  config = _config(tiny_config)
  g = _saved(tmp_path, 'g.pth', RefGenerator().state_dict())
  real_save = import_torch.checkpoint.save

  def full_disk(*args, **kwargs):
    real_save(*args, **kwargs)  # Part of the files reach the disk.
    raise OSError(28, 'No space left on device')

  for workdir in (tmp_path / 'new', tmp_path / 'empty'):
    if workdir.name == 'empty':
      workdir.mkdir()
    monkeypatch.setattr(import_torch.checkpoint, 'save', full_disk)
    with pytest.raises(CheckpointError) as info:
      import_torch.import_weights(config, g, None, str(workdir))
    assert 'No space left' in str(info.value)
    assert 'nothing was written' in str(info.value)
    assert '\n' not in str(info.value)
    kept = {'g.pth'} | ({'empty'} if workdir.name == 'empty' else set())
    assert set(os.listdir(tmp_path)) == kept  # No temporary folder stays.
    assert not workdir.exists() or not os.listdir(workdir)
    monkeypatch.setattr(import_torch.checkpoint, 'save', real_save)
    import_torch.import_weights(config, g, None, str(workdir))
    assert sorted(os.listdir(workdir)) == [names.CHECKPOINTS, names.CONFIG]
    colorize.Colorizer.from_workdir(str(workdir))
    shutil.rmtree(workdir)


@pytest.mark.parametrize('resize,align_corners', [('half_pixel', False),
                                                  ('align_corners', True)])
@pytest.mark.parametrize('shape', [(32, 32), (16, 24), (5, 7)])
def test_resize_plus_3_is_torch_bilinear(resize, align_corners, shape):
  x = np.random.RandomState(0).uniform(-1, 1, (2, 3) + shape).astype(
      np.float32)
  theirs = F.interpolate(torch.from_numpy(x), size=(shape[0] + 3,
                                                    shape[1] + 3),
                         mode='bilinear', align_corners=align_corners)
  ours = models.resize_plus_3(jnp.asarray(x.transpose(0, 2, 3, 1)), resize)
  np.testing.assert_allclose(ours, theirs.numpy().transpose(0, 2, 3, 1),
                             atol=1e-5)


def _painting_32():
  """A 32 x 32 colour image that ships with scikit-image."""
  from skimage import data  # pylint: disable=g-import-not-at-top
  return cv2.resize(data.astronaut(), (32, 32), interpolation=cv2.INTER_AREA)


def test_runs_stored_before_the_scale_setting_load_as_trained(tiny_run,
                                                              tmp_path):
  import json  # pylint: disable=g-import-not-at-top
  import shutil  # pylint: disable=g-import-not-at-top
  rgb = _painting_32()
  outputs = {}
  for name, edit in [('stored_110', {'ab_scale': 110.0}),
                     ('absent', None), ('stored_127', {'ab_scale': 127.0})]:
    run = tmp_path / name
    shutil.copytree(tiny_run, run)
    with open(run / 'config.json') as f:
      config = json.load(f)
    config.pop('ab_scale'), config.pop('resize')
    config.update(edit or {})
    with open(run / 'config.json', 'w') as f:
      json.dump(config, f)
    loaded, _, _ = workdir_lib.load_run(str(run))
    assert loaded.resize == 'half_pixel'
    outputs[name] = colorize.Colorizer.from_workdir(str(run)).colorize(rgb)
  assert loaded.ab_scale == 127.0
  np.testing.assert_array_equal(outputs['absent'], outputs['stored_110'])
  assert np.abs(outputs['absent'].astype(int) -
                outputs['stored_127'].astype(int)).max() > 0


def test_state_dicts_are_checked_before_their_data_is_used(tiny_config,
                                                           tmp_path):
  torch.manual_seed(7)
  config = _config(tiny_config)
  g = RefGenerator().eval()
  workdir = tmp_path / 'w'
  # bfloat16 weights import (as float32).
  half = {k: (v.to(torch.bfloat16) if v.is_floating_point() else v)
          for k, v in g.state_dict().items()}
  import_torch.import_weights(config, _saved(tmp_path, 'bf16.pth', half),
                              None, str(workdir))
  assert colorize.Colorizer.from_workdir(str(workdir)).colorize(
      np.full((32, 32), 100, np.uint8)).shape == (32, 32, 3)
  key = 'down1.model.0.weight'
  nan = dict(g.state_dict(), **{key: torch.full_like(g.state_dict()[key],
                                                     float('nan'))})
  broad = dict(g.state_dict(), **{key: torch.zeros(1).expand(2**29)})
  cases = [
      (nan, f"tensor '{key}' holds"),
      (dict(g.state_dict(), **{key: g.state_dict()[key].to('meta')}),
       'meta tensor'),
      (dict(g.state_dict(), **{key: g.state_dict()[key].to_sparse()}),
       'sparse'),
      (broad, 'larger than any colorjax layer'),
      ({1: torch.zeros(1)}, 'not a string'),
  ]
  for obj, message in cases:
    with pytest.raises(torch_weights.TorchWeightsError) as info:
      import_torch.import_weights(config, _saved(tmp_path, 'bad.pth', obj),
                                  None, str(tmp_path / 'never'))
    assert message in str(info.value) and '\n' not in str(info.value)
    assert not (tmp_path / 'never').exists()
