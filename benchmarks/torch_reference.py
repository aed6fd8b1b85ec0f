"""The reference's training step in PyTorch, for the speed benchmark
(`benchmarks/train_step.py --torch`): `make_step` and `images_per_sec`
over the networks of `colorjax.interop.torch_modules` (written from
karoly-hars/GAN_image_colorizing). Never imported by the library; needs the
optional extra: ``pip install -e ".[torch]"``.
"""

import os
import sys
import time
from typing import Dict

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from colorjax.interop.torch_modules import Discriminator  # noqa: E402
from colorjax.interop.torch_modules import Generator  # noqa: E402


def make_step(norm: str, g_lr=3e-4, d_lr=6e-5, decay_steps=60_000,
              l1_weight=0.99, real_label=0.9):
  """A closure doing one G then one D update on (L, ab) tensors, as the
  reference's train.py: sigmoid outputs with BCELoss, D loss real + fake."""
  g, d = Generator('batch'), Discriminator(norm)
  g.train()
  d.train()
  g_opt = torch.optim.Adam(g.parameters(), lr=g_lr, betas=(0.5, 0.999))
  d_opt = torch.optim.Adam(d.parameters(), lr=d_lr, betas=(0.5, 0.999))
  decay = lambda step: max(0.1 ** (step / decay_steps), 1e-6 / g_lr)
  g_sched = torch.optim.lr_scheduler.LambdaLR(g_opt, decay)
  d_sched = torch.optim.lr_scheduler.LambdaLR(d_opt, decay)
  bce = nn.BCELoss()

  def step(l, ab) -> Dict[str, float]:
    fake = g(l)
    fake_p = d(torch.cat([l, fake], 1))
    adv = bce(fake_p, torch.ones_like(fake_p))
    g_loss = (1 - l1_weight) * adv + l1_weight * F.l1_loss(fake, ab)
    g_opt.zero_grad(set_to_none=True)
    g_loss.backward()
    g_opt.step()
    g_sched.step()
    real_p = d(torch.cat([l, ab], 1))
    fake_p = d(torch.cat([l, fake.detach()], 1))
    d_loss = (bce(real_p, torch.full_like(real_p, real_label)) +
              bce(fake_p, torch.zeros_like(fake_p)))
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
