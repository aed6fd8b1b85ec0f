"""colorjax against the reference implementation's own files at its HEAD
(tests/reference/: karoly-hars/GAN_image_colorizing d39a983): its resize and
its colour conversion, for vivid colours too."""

import hashlib
import importlib
import os
import sys

import cv2
import numpy as np
import pytest

torch = pytest.importorskip(
    'torch', reason='PyTorch is the optional extra: pip install -e ".[torch]"')

from colorjax import configs  # noqa: E402
from colorjax.colour import spaces as color  # noqa: E402
from colorjax.inference import colorize  # noqa: E402
from colorjax.inference.colorizer import reference_postprocess  # noqa: E402
from colorjax.interop import import_torch  # noqa: E402
from colorjax.training import workdir as workdir_lib  # noqa: E402

REFERENCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         'reference')
DIGESTS = {
    'LICENSE':
        '9d835f32a6d79575aa7099dc2207e9bd178b4e25daed0bdd86bbac310571b532',
    'datasets.py':
        '200d32a69e82f8058d9a870e9f1a996cd2f2255d69a4978b9c2894a6aaee04f1',
    'networks.py':
        'bfe26550cd42d933faa6576c5a59e2e62979827235310dae4f0578de76541a26',
    'spectral_norm.py':
        'a2d08491c4e339b2c142f5bbb7194d0bb2e0036ab753e96e9e5b7b61be7a81af',
}


def _reference(name):
  """A module of the reference (its files import each other by bare name)."""
  if REFERENCE not in sys.path:
    sys.path.insert(0, REFERENCE)
  return importlib.import_module(name)


def test_the_reference_files_are_its_own_at_d39a983():
  for name, digest in DIGESTS.items():
    with open(os.path.join(REFERENCE, name), 'rb') as f:
      assert hashlib.sha256(f.read()).hexdigest() == digest, name


def _paintings(n=12):
  """n 32 x 32 paintings with mid-tone colours, made here (BGR uint8)."""
  rng = np.random.RandomState(7)
  out = []
  for _ in range(n):
    small = rng.randint(40, 216, (4, 4, 3)).astype(np.uint8)
    out.append(cv2.resize(small, (32, 32), interpolation=cv2.INTER_LINEAR))
  return out


def _reference_generator(tmp_path, gain=1.0, seed=6):
  """The reference's Generator (BN), initialised as its train.py does, with
  trained-looking BatchNorm statistics and its final 1x1 conv scaled by
  `gain` (large: colours outside sRGB), saved as its train.py saves it."""
  networks = _reference('networks')
  torch.manual_seed(seed)
  g = networks.Generator('batch')
  g.apply(networks.weights_init_normal)
  gen = torch.Generator().manual_seed(seed)
  for m in g.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
      m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
      m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
      m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
  with torch.no_grad():
    g.final.model[0].weight.mul_(gain)
  g.eval()
  path = str(tmp_path / f'checkpoint_ep0_gen_{gain:g}.pt')
  torch.save(g.state_dict(), path)
  return g, path


def _imported(path, tmp_path, **overrides):
  config = configs.load('gan_bn')
  for k, v in overrides.items():
    config[k] = v
  workdir = str(tmp_path / f'imported_{os.path.basename(path)}_{overrides}')
  import_torch.import_weights(config, path, None, workdir)
  return workdir


def _theirs(g, bgr):
  """datasets.preprocess -> G.eval() -> datasets.postprocess (BGR uint8),
  and the model-range L and a, b."""
  datasets = _reference('datasets')
  lab = datasets.preprocess(bgr)
  with torch.no_grad():
    ab = g(torch.from_numpy(lab[None, :1])).numpy()[0]
  return datasets.postprocess(np.concatenate([lab[:1], ab])), lab[:1], ab


def test_the_gan_recipes_resize_as_the_reference(tmp_path):
  for recipe in ('gan_bn', 'gan_sn', 'cnn'):
    assert configs.load(recipe).resize == 'align_corners'
  g, path = _reference_generator(tmp_path)
  _, l, ab = _theirs(g, _paintings(1)[0])
  ours = {}
  for resize in ('align_corners', 'half_pixel'):
    workdir = _imported(path, tmp_path, resize=resize)
    # A run stored with either setting keeps loading with it.
    assert workdir_lib.read_config(workdir).resize == resize
    colorizer = colorize.Colorizer.from_workdir(workdir)
    ours[resize] = np.asarray(colorizer._predict(  # pylint: disable=protected-access
        colorizer._variables, l[None].transpose(0, 2, 3, 1), None, None))[0]  # pylint: disable=protected-access
  expected = ab.transpose(1, 2, 0)
  match = np.abs(ours['align_corners'] - expected).max()
  assert match < 2e-5
  # The 2019 resize is measurably another network.
  assert np.abs(ours['half_pixel'] - expected).max() > 20 * match


def test_clip_is_opencvs_lab_to_bgr_everywhere():
  # A dense grid of L 0..100, a and b -128..127, mostly outside sRGB.
  l, a, b = np.meshgrid(np.linspace(0, 100, 41), np.arange(-128, 128, 3),
                        np.arange(-128, 128, 3), indexing='ij')
  lab = np.stack([l, a, b], -1).reshape(41, -1, 3).astype(np.float32)
  ours = reference_postprocess(lab[..., 0], lab[..., 1:])
  # The reference's own postprocess, from its model range.
  datasets = _reference('datasets')
  model = np.stack([lab[..., 0] / 50 - 1, lab[..., 1] / 127,
                    lab[..., 2] / 127]).astype(np.float32)
  theirs = datasets.postprocess(model)[..., ::-1]
  assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
  direct = (cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)[..., ::-1] * 255).astype(
      np.uint8)
  np.testing.assert_array_equal(ours, direct)


def test_colorize_clip_is_the_reference_end_to_end_for_vivid_colours(
    tmp_path):
  g, path = _reference_generator(tmp_path, gain=100.0)
  clip = colorize.Colorizer.from_workdir(_imported(path, tmp_path),
                                         gamut='clip')
  outside = 0
  for bgr in _paintings(12):
    grey = np.repeat(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)[..., None], 3, -1)
    theirs, l, ab = _theirs(g, grey)
    lab = np.concatenate([(l + 1) * 50, ab * 127]).transpose(1, 2, 0)
    unclipped = np.asarray(color.lab_to_rgb(lab, clip=False))
    outside += np.mean(np.any((unclipped < -0.02) | (unclipped > 1.02), -1))
    ours = clip.colorize(grey[..., ::-1])
    diff = np.abs(ours.astype(int) - theirs[..., ::-1].astype(int))
    assert diff.max() <= 1, diff.max()
  assert outside / 12 > 0.3  # Vivid: a third of the pixels outside sRGB.
