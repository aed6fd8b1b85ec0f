"""The reference implementation's networks in PyTorch (the `[torch]` extra),
paired with `torch_weights`: load what `to_torch` writes into them.

`Generator`, `Discriminator`, `SpectralNorm`, `preprocess` and `postprocess`
are written from karoly-hars/GAN_image_colorizing (`networks.py`,
`spectral_norm.py`, `datasets.py` at d39a983): the same module tree and
state-dict keys (the 'reference' layout), the fixed 35 x 35 bilinear resize
of its ``F.interpolate(x, size=(35, 35), mode='bilinear',
align_corners=True)`` (its code since 2020-01-04; its 2019 ``F.upsample``
sampled half-pixel centres), the sigmoid at the end of the discriminator,
the spectral norm that iterates once on every call, and the /127 a, b scale
with OpenCV's LAB conversion. `features` only narrows the widths; the
defaults are the reference's. Claims about the reference are tested against
its own files (tests/reference/, tests/interop/reference_test.py), not
against this.

`PlainGenerator` / `PlainDiscriminator` are the same networks in a plain
layout ('benchmark') with `torch.nn.utils.spectral_norm`, at any input size
(`colorjax export-torch --layout=benchmark` writes it).
"""

import cv2
import numpy as np

from colorjax import extras

torch = extras.require('torch', 'torch', 'colorjax.interop.torch_modules')
nn = torch.nn
F = torch.nn.functional

__all__ = ['ConvBlock', 'Discriminator', 'Generator', 'PlainDiscriminator',
           'PlainGenerator', 'REFERENCE_SIZE', 'SpectralNorm',
           'TransConvBlock', 'postprocess', 'preprocess',
           'weights_init_normal']

REFERENCE_SIZE = 35  # The reference resizes every input to 35 x 35.


def _l2normalize(v: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
  return v / (v.norm() + eps)


class SpectralNorm(nn.Module):
  """spectral_norm.py: `weight_bar`, `weight_u`, `weight_v` on the wrapped
  module; one power iteration on every forward call, eval mode included."""

  def __init__(self, module: nn.Module, name: str = 'weight'):
    super().__init__()
    self.module, self.name = module, name
    w = getattr(module, name)
    height = w.data.shape[0]
    width = w.view(height, -1).data.shape[1]
    u = nn.Parameter(_l2normalize(w.data.new(height).normal_(0, 1)),
                     requires_grad=False)
    v = nn.Parameter(_l2normalize(w.data.new(width).normal_(0, 1)),
                     requires_grad=False)
    del module._parameters[name]
    module.register_parameter(name + '_u', u)
    module.register_parameter(name + '_v', v)
    module.register_parameter(name + '_bar', nn.Parameter(w.data))

  def forward(self, *args):
    m = self.module
    u, v = getattr(m, self.name + '_u'), getattr(m, self.name + '_v')
    w = getattr(m, self.name + '_bar')
    height = w.data.shape[0]
    v.data = _l2normalize(torch.mv(torch.t(w.view(height, -1).data), u.data))
    u.data = _l2normalize(torch.mv(w.view(height, -1).data, v.data))
    sigma = u.dot(w.view(height, -1).mv(v))
    setattr(m, self.name, w / sigma.expand_as(w))
    return m.forward(*args)


class ConvBlock(nn.Module):
  """networks.ConvBlock: conv [+ BN | spectral norm] + activation [+ dropout]."""

  def __init__(self, in_size, out_size, normalize=None, kernel_size=4,
               stride=2, padding=1, dropout=0.0,
               activation_fn=None):
    super().__init__()
    conv = nn.Conv2d(in_size, out_size, kernel_size=kernel_size,
                     stride=stride, padding=padding)
    layers = [conv]
    if normalize == 'batch':
      layers.append(nn.BatchNorm2d(out_size))
    elif normalize == 'spectral':
      layers = [SpectralNorm(conv)]
    layers.append(nn.LeakyReLU(0.2) if activation_fn is None
                  else activation_fn)
    if dropout > 0:
      layers.append(nn.Dropout(dropout))
    self.model = nn.Sequential(*layers)

  def forward(self, x):
    return self.model(x)


class TransConvBlock(nn.Module):
  """networks.TransConvBlock: transposed conv + BN + ReLU [+ dropout], then
  concatenation with the skip input."""

  def __init__(self, in_size, out_size, normalize=None, dropout=0.0):
    super().__init__()
    layers = [nn.ConvTranspose2d(in_size, out_size, kernel_size=4, stride=2,
                                 padding=1)]
    if normalize == 'batch':
      layers.append(nn.BatchNorm2d(out_size))
    layers.append(nn.ReLU())
    if dropout > 0:
      layers.append(nn.Dropout(dropout))
    self.model = nn.Sequential(*layers)

  def forward(self, x, skip_input):
    return torch.cat((self.model(x), skip_input), 1)


class Generator(nn.Module):
  """networks.Generator: the U-Net (16,654,722 parameters at full width)."""

  def __init__(self, normalization_type='batch',
               features=(64, 128, 256, 512, 512)):
    super().__init__()
    norm, f = normalization_type, features
    self.down1 = ConvBlock(1, f[0], norm, stride=1, padding=0)
    for i in range(1, len(f)):
      setattr(self, f'down{i + 1}', ConvBlock(f[i - 1], f[i], norm))
    cin = f[-1]
    for i, out in enumerate(f[-2::-1]):
      setattr(self, f'up{i + 1}', TransConvBlock(
          cin, out, norm, dropout=0.5 if i < 2 else 0.0))
      cin = 2 * out
    self.final = ConvBlock(cin, 2, None, kernel_size=1, stride=1, padding=0,
                           activation_fn=nn.Tanh())
    self.n = len(f)

  def forward(self, x):
    x = F.interpolate(x, size=(REFERENCE_SIZE, REFERENCE_SIZE),
                      mode='bilinear', align_corners=True)
    skips = []
    for i in range(self.n):
      x = getattr(self, f'down{i + 1}')(x)
      skips.append(x)
    for i, skip in enumerate(skips[-2::-1]):
      x = getattr(self, f'up{i + 1}')(x, skip)
    return self.final(x)


class Discriminator(nn.Module):
  """networks.Discriminator: ends in a sigmoid, returns (B, patches)."""

  def __init__(self, normalization_type='batch',
               features=(64, 128, 256, 512)):
    super().__init__()
    f = features
    self.down1 = ConvBlock(3, f[0], None, stride=1, padding=0)
    for i in range(1, len(f)):
      setattr(self, f'down{i + 1}', ConvBlock(f[i - 1], f[i],
                                              normalization_type))
    self.final = ConvBlock(f[-1], 1, None, stride=1, padding=0,
                           activation_fn=nn.Sigmoid())
    self.n = len(f)

  def forward(self, x):
    x = F.interpolate(x, size=(REFERENCE_SIZE, REFERENCE_SIZE),
                      mode='bilinear', align_corners=True)
    for i in range(self.n):
      x = getattr(self, f'down{i + 1}')(x)
    x = self.final(x)
    return x.view(x.size()[0], -1)


def weights_init_normal(m: nn.Module) -> None:
  """networks.weights_init_normal (the BN recipe's --apply_weight_init=1)."""
  name = m.__class__.__name__
  if name.find('Conv2d') != -1 or name.find('ConvTranspose2d') != -1:
    torch.nn.init.normal_(m.weight.data, 0.0, 0.02)
  elif name.find('BatchNorm2d') != -1:
    torch.nn.init.normal_(m.weight.data, 1.0, 0.02)
    torch.nn.init.constant_(m.bias.data, 0.0)


def preprocess(img_bgr: np.ndarray) -> np.ndarray:
  """datasets.preprocess: uint8 BGR (H, W, 3) -> float32 (3, H, W): L / 50 - 1,
  a / 127, b / 127 (OpenCV's LAB of float BGR in [0, 1])."""
  lab = cv2.cvtColor(img_bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2LAB)
  lab[:, :, 0] = lab[:, :, 0] / 50 - 1
  lab[:, :, 1] = lab[:, :, 1] / 127
  lab[:, :, 2] = lab[:, :, 2] / 127
  return lab.transpose((2, 0, 1))


def postprocess(img_lab: np.ndarray) -> np.ndarray:
  """datasets.postprocess: (3, H, W) model range -> uint8 BGR (truncated)."""
  lab = img_lab.transpose((1, 2, 0)).copy()
  lab[:, :, 0] = (lab[:, :, 0] + 1) * 50
  lab[:, :, 1] = lab[:, :, 1] * 127
  lab[:, :, 2] = lab[:, :, 2] * 127
  bgr = cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)
  return (bgr * 255.0).astype(np.uint8)


def _resize_plus_3(x: torch.Tensor) -> torch.Tensor:
  h, w = x.shape[-2:]
  return F.interpolate(x, size=(h + 3, w + 3), mode='bilinear',
                       align_corners=True)


class PlainGenerator(nn.Module):
  """The U-Net in the plain ('benchmark') export layout, any input size."""

  def __init__(self, features=(64, 128, 256, 512, 512)):
    super().__init__()
    self.down = nn.ModuleList()
    cin = 1
    for i, f in enumerate(features):
      conv = (nn.Conv2d(cin, f, 4, 1, 0) if i == 0 else
              nn.Conv2d(cin, f, 4, 2, 1))
      self.down.append(nn.Sequential(conv, nn.BatchNorm2d(f),
                                     nn.LeakyReLU(0.2)))
      cin = f
    self.up = nn.ModuleList()
    for i, f in enumerate(features[-2::-1]):
      layers = [nn.ConvTranspose2d(cin, f, 4, 2, 1), nn.BatchNorm2d(f),
                nn.ReLU()]
      if i < 2:
        layers.append(nn.Dropout(0.5))
      self.up.append(nn.Sequential(*layers))
      cin = 2 * f
    self.head = nn.Conv2d(cin, 2, 1)

  def forward(self, l):
    x = _resize_plus_3(l)
    skips = []
    for block in self.down:
      x = block(x)
      skips.append(x)
    for block, skip in zip(self.up, skips[-2::-1], strict=True):
      x = torch.cat([block(x), skip], dim=1)
    return torch.tanh(self.head(x))


class PlainDiscriminator(nn.Module):
  """The discriminator in the plain layout (logits, no sigmoid)."""

  def __init__(self, norm='batch', features=(64, 128, 256, 512)):
    super().__init__()
    layers = [nn.Conv2d(3, features[0], 4, 1, 0), nn.LeakyReLU(0.2)]
    cin = features[0]
    for f in features[1:]:
      conv = nn.Conv2d(cin, f, 4, 2, 1)
      if norm == 'spectral':
        layers += [nn.utils.spectral_norm(conv), nn.LeakyReLU(0.2)]
      else:
        layers += [conv, nn.BatchNorm2d(f), nn.LeakyReLU(0.2)]
      cin = f
    layers.append(nn.Conv2d(cin, 1, 4, 1, 0))
    self.body = nn.Sequential(*layers)

  def forward(self, x):
    return self.body(_resize_plus_3(x))
