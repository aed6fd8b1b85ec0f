"""Colourisation models: the reference U-Net generator, the conditional
discriminator (batch / spectral / no normalisation) and the CNN baseline.

All modules are NHWC and called as ``module.apply(variables, x, train=...)``.
In training mode BatchNorm uses batch statistics and updates its running
averages (``mutable=['batch_stats']``) and dropout draws from the ``dropout``
rng; with ``train=False`` BatchNorm uses its running averages and there is no
dropout (the PyTorch reference never called ``.eval()``; we do).

Inputs are in the model range of `colorjax.color`: L in [-1, 1] (B, H, W, 1);
the generators return ab in [-1, 1] (B, H, W, 2).
"""

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from colorjax import ab_classes
from colorjax import layers

NORMS = ('batch', 'spectral', 'none')

# PyTorch BatchNorm2d defaults: momentum 0.1 (flax: 0.9), eps 1e-5.
_BatchNorm = functools.partial(nn.BatchNorm, momentum=0.9, epsilon=1e-5)


def _resize_plus_3(x: jax.Array) -> jax.Array:
  """Bilinear resize to (H + 3, W + 3): a 4x4 VALID conv then restores H, W."""
  b, h, w, c = x.shape
  return jax.image.resize(x, (b, h + 3, w + 3, c), 'bilinear')


class UNetGenerator(nn.Module):
  """The reference U-Net generator (16,654,722 parameters with default widths).

  L is resized to H+3 and a 4x4 VALID conv brings it back to H (64 channels);
  four 4x4 stride-2 convolutions follow; every encoder block is conv + BN +
  LeakyReLU(0.2). The decoder's 4x4 stride-2 transposed convolutions are
  followed by BN, ReLU (dropout 0.5 on the first `num_dropout`) and
  concatenation with the encoder output of the same size; a 1x1 conv and tanh
  give ab. H and W must be divisible by 2 ** (len(features) - 1).

  Attributes:
    features: encoder widths; the decoder mirrors features[-2::-1].
    num_dropout: how many leading decoder blocks use dropout.
    dropout_rate: their dropout rate.
    conv_impl: 'auto', 'xla', 'fast' or 'matmul' (see `colorjax.layers`).
    dtype: computation dtype; parameters and BN statistics stay float32.
  """
  features: Sequence[int] = (64, 128, 256, 512, 512)
  num_dropout: int = 2
  dropout_rate: float = 0.5
  conv_impl: str = 'auto'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    conv = functools.partial(layers.Conv, impl=self.conv_impl, dtype=self.dtype)
    norm = functools.partial(_BatchNorm, use_running_average=not train,
                             dtype=self.dtype)
    x = x.astype(self.dtype)
    skips = []
    for i, f in enumerate(self.features):
      if i == 0:
        x = conv(f, kernel_size=4, name='down0')(_resize_plus_3(x))
      else:
        x = conv(f, kernel_size=4, strides=2, padding=1, name=f'down{i}')(x)
      x = nn.leaky_relu(norm(name=f'down{i}_bn')(x), 0.2)
      skips.append(x)
    for i, (f, skip) in enumerate(zip(self.features[-2::-1], skips[-2::-1],
                                      strict=True)):
      x = layers.ConvTranspose(f, impl=self.conv_impl, dtype=self.dtype,
                               name=f'up{i}')(x)
      x = nn.relu(norm(name=f'up{i}_bn')(x))
      if i < self.num_dropout:
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
      x = jnp.concatenate([x, skip], axis=-1)
    x = conv(2, kernel_size=1, name='head')(x)
    return jnp.tanh(x.astype(jnp.float32))


class Discriminator(nn.Module):
  """Conditional PatchGAN discriminator on L + ab (2,766,529 parameters with BN).

  The 3-channel input is resized to H+3; a 4x4 VALID conv (no norm) restores H;
  4x4 stride-2 convs follow, each normalised by `norm` and LeakyReLU(0.2); a
  final 4x4 VALID conv gives logits: (B, 1, 1, 1) at 32x32, a grid of patch
  logits at larger sizes.

  Attributes:
    norm: 'batch' (BatchNorm after each strided conv), 'spectral'
      (`flax.linen.SpectralNorm` around each strided conv; its `u` and `sigma`
      live in `batch_stats`) or 'none'.
    features: widths of the first conv and the strided convs.
    conv_impl: 'auto', 'xla', 'fast' or 'matmul'.
    dtype: computation dtype.
  """
  norm: str = 'batch'
  features: Sequence[int] = (64, 128, 256, 512)
  conv_impl: str = 'auto'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    if self.norm not in NORMS:
      raise ValueError(f'norm={self.norm!r} is not one of {NORMS}.')
    conv = functools.partial(layers.Conv, impl=self.conv_impl, dtype=self.dtype)
    x = x.astype(self.dtype)
    x = conv(self.features[0], kernel_size=4, name='conv0')(_resize_plus_3(x))
    x = nn.leaky_relu(x, 0.2)
    for i, f in enumerate(self.features[1:], start=1):
      layer = conv(f, kernel_size=4, strides=2, padding=1, name=f'conv{i}')
      if self.norm == 'spectral':
        x = nn.SpectralNorm(layer, name=f'conv{i}_sn')(x, update_stats=train)
      else:
        x = layer(x)
      if self.norm == 'batch':
        x = _BatchNorm(use_running_average=not train, dtype=self.dtype,
                       name=f'conv{i}_bn')(x)
      x = nn.leaky_relu(x, 0.2)
    x = conv(1, kernel_size=4, name='head')(x)
    return x.astype(jnp.float32)


class CNNColorizer(nn.Module):
  """The non-adversarial baseline: a plain encoder-decoder, no skip connections.

  Same contract as `UNetGenerator` (L in, ab out); trained with L1 alone, or,
  with `num_classes`, as a classifier over the quantised ab gamut
  (`colorjax.ab_classes`) whose annealed mean at `temperature` is its ab.

  Attributes:
    features: encoder widths; the decoder mirrors features[-2::-1].
    num_classes: 0 regresses ab (tanh); else the number of ab classes.
    temperature: the annealed mean's temperature (classes only; 1 = mean).
    conv_impl: 'auto', 'xla', 'fast' or 'matmul'.
    dtype: computation dtype.
  """
  features: Sequence[int] = (64, 128, 256, 512)
  num_classes: int = 0
  temperature: float = 0.38
  conv_impl: str = 'auto'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool,
               logits: bool = False) -> jax.Array:
    """ab (B, H, W, 2) in [-1, 1], or with `logits` the class logits."""
    conv = functools.partial(layers.Conv, impl=self.conv_impl, dtype=self.dtype)
    norm = functools.partial(_BatchNorm, use_running_average=not train,
                             dtype=self.dtype)
    x = x.astype(self.dtype)
    x = conv(self.features[0], kernel_size=4, name='down0')(_resize_plus_3(x))
    x = nn.relu(norm(name='down0_bn')(x))
    for i, f in enumerate(self.features[1:], start=1):
      x = conv(f, kernel_size=4, strides=2, padding=1, name=f'down{i}')(x)
      x = nn.relu(norm(name=f'down{i}_bn')(x))
    for i, f in enumerate(self.features[-2::-1]):
      x = layers.ConvTranspose(f, impl=self.conv_impl, dtype=self.dtype,
                               name=f'up{i}')(x)
      x = nn.relu(norm(name=f'up{i}_bn')(x))
    if not self.num_classes:
      return jnp.tanh(conv(2, kernel_size=1, name='head')(x).astype(
          jnp.float32))
    x = conv(self.num_classes, kernel_size=1, name='head')(x).astype(
        jnp.float32)
    return x if logits else ab_classes.annealed_mean(x, self.temperature)
