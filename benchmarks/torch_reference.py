"""Our own PyTorch implementation of the reference train step, for speed only.

Same layers, parameter counts, losses, optimizers and batch as colorjax's GAN
step (U-Net generator, BN or SN discriminator, G update then D update with
Adam(0.5, 0.999) and exponentially decayed learning rates). Never imported by
the library; `benchmarks/train_step.py --torch` runs it beside colorjax.
Needs the optional extra: ``pip install -e ".[bench]"``.
"""

import time
from typing import Dict

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def _resize_plus_3(x: torch.Tensor) -> torch.Tensor:
  h, w = x.shape[-2:]
  return F.interpolate(x, size=(h + 3, w + 3), mode='bilinear',
                       align_corners=False)


class Generator(nn.Module):
  """The reference U-Net: 16,654,722 parameters."""

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
    skips = list(features[-2::-1])
    for i, f in enumerate(skips):
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


class Discriminator(nn.Module):
  """The reference discriminator: 2,766,529 parameters with BN."""

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


def make_step(norm: str, g_lr=3e-4, d_lr=6e-5, decay_steps=60_000,
              l1_weight=0.99, real_label=0.9):
  """A closure doing one G then one D update on (L, ab) tensors."""
  g, d = Generator(), Discriminator(norm)
  g.train()
  d.train()
  g_opt = torch.optim.Adam(g.parameters(), lr=g_lr, betas=(0.5, 0.999))
  d_opt = torch.optim.Adam(d.parameters(), lr=d_lr, betas=(0.5, 0.999))
  decay = lambda step: max(0.1 ** (step / decay_steps), 1e-6 / g_lr)
  g_sched = torch.optim.lr_scheduler.LambdaLR(g_opt, decay)
  d_sched = torch.optim.lr_scheduler.LambdaLR(d_opt, decay)
  bce = nn.BCEWithLogitsLoss()

  def step(l, ab) -> Dict[str, float]:
    fake = g(l)
    fake_logits = d(torch.cat([l, fake], 1))
    adv = bce(fake_logits, torch.ones_like(fake_logits))
    g_loss = (1 - l1_weight) * adv + l1_weight * F.l1_loss(fake, ab)
    g_opt.zero_grad(set_to_none=True)
    g_loss.backward()
    g_opt.step()
    g_sched.step()
    real_logits = d(torch.cat([l, ab], 1))
    fake_logits = d(torch.cat([l, fake.detach()], 1))
    d_loss = 0.5 * (bce(real_logits, torch.full_like(real_logits, real_label))
                    + bce(fake_logits, torch.zeros_like(fake_logits)))
    d_opt.zero_grad(set_to_none=True)
    d_loss.backward()
    d_opt.step()
    d_sched.step()
    return {'g_loss': g_loss.item(), 'd_loss': d_loss.item()}

  return step, g, d


def images_per_sec(norm: str, batch_size: int, image_size: int, steps: int,
                   repeats: int, threads: int) -> Dict[str, float]:
  """Median images/s over `repeats` windows of `steps` steps (NCHW, fp32)."""
  torch.set_num_threads(threads)
  torch.manual_seed(0)
  step, _, _ = make_step(norm)
  rng = np.random.default_rng(0)
  l = torch.tensor(rng.uniform(-1, 1, (batch_size, 1, image_size, image_size)),
                   dtype=torch.float32)
  ab = torch.tensor(rng.uniform(-0.5, 0.5, (batch_size, 2, image_size,
                                            image_size)), dtype=torch.float32)
  t0 = time.perf_counter()
  step(l, ab)
  first = time.perf_counter() - t0
  rates = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    for _ in range(steps):
      step(l, ab)
    rates.append(steps * batch_size / (time.perf_counter() - t0))
  return {'median': float(np.median(rates)), 'min': min(rates),
          'max': max(rates), 'first_step_s': first}
