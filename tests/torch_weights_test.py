"""PyTorch weights in and out: outputs match PyTorch's in eval mode.

The PyTorch modules below follow the key layout of the reference
implementation (karoly-hars/GAN_image_colorizing, networks.py and its
spectral_norm.py): blocks named down1.., up1.., final, each an `nn.Sequential`
called `model`; its spectral norm wraps the conv as `.module` with
`weight_bar`, `weight_u`, `weight_v` and iterates once per call. They resize
to (H + 3, W + 3) where the reference hard-codes 35 x 35 (the same at 32 px),
so they also run at another size.
"""

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip(
    'torch', reason='PyTorch is the optional extra: pip install -e ".[torch]"')
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from colorjax import colorize  # noqa: E402
from colorjax import import_torch  # noqa: E402
from colorjax import models  # noqa: E402
from colorjax import torch_weights  # noqa: E402
from colorjax import train  # noqa: E402
from colorjax.errors import CheckpointError  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'benchmarks'))
import torch_reference  # noqa: E402

G_FEATURES = (8, 16, 16, 32, 32)
D_FEATURES = (8, 16, 32, 32)


def _plus_3(x):
  return F.interpolate(x, size=(x.shape[-2] + 3, x.shape[-1] + 3),
                       mode='bilinear', align_corners=False)


class _RefSpectralNorm(nn.Module):
  """The reference's spectral norm: one power iteration on every call."""

  def __init__(self, conv):
    super().__init__()
    self.module = conv
    w = conv.weight.data
    u = nn.Parameter(F.normalize(torch.randn(w.shape[0]), dim=0),
                     requires_grad=False)
    v = nn.Parameter(F.normalize(torch.randn(w[0].numel()), dim=0),
                     requires_grad=False)
    del conv._parameters['weight']
    conv.register_parameter('weight_u', u)
    conv.register_parameter('weight_v', v)
    conv.register_parameter('weight_bar', nn.Parameter(w))

  def forward(self, x):
    m = self.module
    mat = m.weight_bar.view(m.weight_bar.shape[0], -1)
    m.weight_v.data = F.normalize(mat.t() @ m.weight_u.data, dim=0, eps=1e-12)
    m.weight_u.data = F.normalize(mat @ m.weight_v.data, dim=0, eps=1e-12)
    sigma = m.weight_u @ mat @ m.weight_v
    return F.conv2d(x, m.weight_bar / sigma, m.bias, m.stride, m.padding)


def _block(*layers):
  block = nn.Module()
  block.model = nn.Sequential(*layers)
  return block


class RefGenerator(nn.Module):

  def __init__(self, features=G_FEATURES):
    super().__init__()
    cin = 1
    for i, f in enumerate(features):
      conv = nn.Conv2d(cin, f, 4, 1, 0) if i == 0 else nn.Conv2d(cin, f, 4, 2, 1)
      setattr(self, f'down{i + 1}',
              _block(conv, nn.BatchNorm2d(f), nn.LeakyReLU(0.2)))
      cin = f
    for i, f in enumerate(features[-2::-1]):
      setattr(self, f'up{i + 1}', _block(nn.ConvTranspose2d(cin, f, 4, 2, 1),
                                         nn.BatchNorm2d(f), nn.ReLU(),
                                         nn.Dropout(0.5 if i < 2 else 0)))
      cin = 2 * f
    self.final = _block(nn.Conv2d(cin, 2, 1), nn.Tanh())
    self.n = len(features)

  def forward(self, x):
    x = _plus_3(x)
    skips = []
    for i in range(self.n):
      x = getattr(self, f'down{i + 1}').model(x)
      skips.append(x)
    for i, skip in enumerate(skips[-2::-1]):
      x = torch.cat([getattr(self, f'up{i + 1}').model(x), skip], 1)
    return self.final.model(x)


class RefDiscriminator(nn.Module):

  def __init__(self, norm, features=D_FEATURES):
    super().__init__()
    self.down1 = _block(nn.Conv2d(3, features[0], 4, 1, 0), nn.LeakyReLU(0.2))
    cin = features[0]
    for i, f in enumerate(features[1:], start=2):
      conv = nn.Conv2d(cin, f, 4, 2, 1)
      layers = ([_RefSpectralNorm(conv)] if norm == 'spectral' else
                [conv, nn.BatchNorm2d(f)])
      setattr(self, f'down{i}', _block(*layers, nn.LeakyReLU(0.2)))
      cin = f
    self.final = _block(nn.Conv2d(cin, 1, 4, 1, 0), nn.Sigmoid())
    self.n = len(features)

  def forward(self, x):
    x = _plus_3(x)
    for i in range(self.n):
      x = getattr(self, f'down{i + 1}').model(x)
    return self.final.model(x).view(x.shape[0], -1)


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
      features=G_FEATURES), models.Discriminator(
          norm=config.discriminator.norm, features=D_FEATURES)
  model = generator if network == 'generator' else discriminator
  channels = 1 if network == 'generator' else 3
  shapes = jax.eval_shape(lambda: model.init(
      jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, channels)), train=False))
  return model, shapes


@pytest.mark.parametrize('size', [32, 48])
def test_reference_generator_matches_in_eval_mode(tiny_config, size):
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
@pytest.mark.parametrize('size', [32, 64])
def test_reference_discriminator_matches_in_eval_mode(tiny_config, norm, size):
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
  ref = (torch_reference.Generator(G_FEATURES) if network == 'generator' else
         torch_reference.Discriminator(norm, D_FEATURES))
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
  config, _, state = train.load_run(tiny_run)
  for network, net in (('generator', state.g), ('discriminator', state.d)):
    variables = jax.device_get(net.variables())
    exported = torch_weights.to_torch(variables, network, config, layout)
    back = torch_weights.to_flax(exported, network, config, variables)
    for tree in ('params', 'batch_stats'):
      for (path, a), (_, b) in zip(
          jax.tree_util.tree_leaves_with_path(variables[tree]),
          jax.tree_util.tree_leaves_with_path(back[tree]), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=str(path))


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
      np.asarray(colorize.color.rgb_to_lab(rgb / 255.0))[..., 0])[0]
  with torch.no_grad():
    theirs = g(torch.from_numpy(l_model[None].transpose(0, 3, 1, 2))).numpy()
  ours = np.asarray(colorizer._predict(colorizer._variables, l_model[None]))
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
