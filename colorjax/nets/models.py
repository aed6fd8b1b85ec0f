"""Colourisation models: the reference U-Net generator, the conditional
discriminator (batch / spectral / no normalisation) and the CNN baseline.

All modules are NHWC and called as ``module.apply(variables, x, train=...)``.
In training mode BatchNorm uses batch statistics and updates its running
averages (``mutable=['batch_stats']``) and dropout draws from the ``dropout``
rng; with ``train=False`` BatchNorm uses its running averages and there is no
dropout (the PyTorch reference never called ``.eval()``; we do).

Inputs are in the model range of `colorjax.colour.spaces`: L in [-1, 1] (B, H, W, 1);
the generators return ab in [-1, 1] (B, H, W, 2).
"""

import functools
from typing import Any, Optional, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from colorjax.nets import ab_classes
from colorjax.nets import hint_head
from colorjax.nets import layers

__all__ = ['check_input', 'CNNColorizer', 'Discriminator', 'NORMS',
           'resize_plus_3', 'RESIZES', 'UNetGenerator']

NORMS = ('batch', 'spectral', 'none')

# PyTorch BatchNorm2d defaults: momentum 0.1 (flax: 0.9), eps 1e-5.
_BatchNorm = functools.partial(nn.BatchNorm, momentum=0.9, epsilon=1e-5)


RESIZES = ('half_pixel', 'align_corners')


def _align_corners_matrix(n_in: int, n_out: int) -> np.ndarray:
  """(n_out, n_in) bilinear weights that put the first and last samples of
  output and input on each other (PyTorch's ``align_corners=True``)."""
  pos = np.arange(n_out) * ((n_in - 1) / max(n_out - 1, 1))
  lo = np.minimum(np.floor(pos).astype(int), n_in - 1)
  hi = np.minimum(lo + 1, n_in - 1)
  frac = pos - lo
  m = np.zeros((n_out, n_in), np.float64)
  m[np.arange(n_out), lo] += 1 - frac
  m[np.arange(n_out), hi] += frac
  return m.astype(np.float32)


def resize_plus_3(x: jax.Array, resize: str = 'half_pixel') -> jax.Array:
  """Bilinear resize to (H + 3, W + 3): a 4x4 VALID conv then restores H, W.

  Args:
    x: (B, H, W, C).
    resize: 'half_pixel' samples at pixel centres, as `jax.image.resize`
      and PyTorch's ``F.interpolate(..., mode='bilinear')`` with its default
      ``align_corners=False`` (what the reference's ``F.upsample(x,
      size=(35, 35), mode='bilinear')`` does on PyTorch >= 0.4);
      'align_corners' maps corner pixels onto corner pixels
      (``align_corners=True``).
  """
  b, h, w, c = x.shape
  if resize == 'half_pixel':
    return jax.image.resize(x, (b, h + 3, w + 3, c), 'bilinear')
  if resize != 'align_corners':
    raise ValueError(f'resize={resize!r} is not one of {RESIZES}.')
  # Two small exact matmuls (the weights are constants of the program).
  my = jnp.asarray(_align_corners_matrix(h, h + 3), x.dtype)
  mx = jnp.asarray(_align_corners_matrix(w, w + 3), x.dtype)
  return jnp.einsum('yh,bhwc,xw->byxc', my, x, mx)


def check_input(module: nn.Module, x: jax.Array, channels: int) -> None:
  """One error naming the rule for an input a network cannot take: checked
  on the static shape, so it is raised while tracing, never inside XLA."""
  name = type(module).__name__
  if x.ndim != 4 or x.shape[-1] != channels:
    raise ValueError(f'{name} takes (batch, H, W, {channels}) inputs, not '
                     f'{tuple(x.shape)}.')
  factor = 2 ** (len(module.features) - 1)
  h, w = x.shape[1:3]
  if h % factor or w % factor or not h or not w:
    raise ValueError(f'{name} with {len(module.features)} feature widths '
                     f'takes H and W divisible by {factor} (2 ** '
                     f'(len(features) - 1)), not {h} x {w}: pad or resize '
                     'the input (colorjax.Colorizer does both for any size).')


class UNetGenerator(nn.Module):
  """The reference U-Net generator (16,654,722 parameters with default widths).

  L is resized to H+3 and a 4x4 VALID conv brings it back to H (64 channels);
  four 4x4 stride-2 convolutions follow; every encoder block is conv + BN +
  LeakyReLU(0.2). The decoder's 4x4 stride-2 transposed convolutions are
  followed by BN, ReLU (dropout 0.5 on the first `num_dropout`) and
  concatenation with the encoder output of the same size; a 1x1 conv and tanh
  give ab. H and W must be divisible by 2 ** (len(features) - 1).

  With `hints`, the generator also reads a hint map (`colorjax.hints.propagation`): its
  input is L, the hint a, b, the mask, and Levin et al.'s propagation of the
  hints (the prior colour where there are none), and it refines that
  propagation: ab = tanh(atanh(propagation) + head), with the head
  initialised to zero, so training starts from the propagation. No hint
  (the default) is automatic colourisation. With `reach` > 0 the
  propagation fades away from the hints (`hint_input`). A gate (`gate`
  fixed at inference, or `learned_gate` trained) blends the hinted answer
  with the automatic one, so a hint colours its region (`hint_head.hint_answer`).

  Build it from a config (`colorjax.nets.build.generator`, or
  `colorjax.load_pretrained()` for the bundled model) rather than by hand:
  a hint model built without its `gate`, `prior_ab`, `reach` or
  `propagation_iterations` runs without an error and colours wrongly.

  Attributes:
    features: encoder widths; the decoder mirrors features[-2::-1].
    num_dropout: how many leading decoder blocks use dropout.
    dropout_rate: their dropout rate.
    conv_impl: 'auto', 'xla', 'fast' or 'matmul' (see `colorjax.nets.layers`).
    resize: the first resize, 'half_pixel' or 'align_corners'
      (`resize_plus_3`).
    hints: whether it reads a hint map (`hint_ab`, `hint_mask`): the hint
      models (`config.hints.enabled`).
    prior_ab: the model-range a, b that the propagation gives where no hint
      reaches (`config.hints.prior_ab`: the training set's mean colour).
    propagation_iterations: iterations of Levin et al.'s propagation of the
      hints (`config.hints.propagation_iterations`).
    reach: > 0 makes the propagation fade away from the hints, over about
      this fraction of the image (`config.hints.reach`; 0: no fading).
    gate: (reach, low, high) of the fixed inference gate that blends the
      hinted answer with the automatic one by the distance to the hints and
      the hints' colourfulness (`config.hints.gate`; (0, 0, 1): no gate).
    cast_chroma: (low, high) model-range chroma under which a hint also
      speaks for the painting's overall cast and travels past the gate
      (`config.hints.cast_chroma` over `config.ab_scale`; (0, 0): off).
    learned_gate: a sigmoid head, trained, in place of the fixed gate
      (`config.hints.learned_gate`).
    dtype: computation dtype; parameters and BN statistics stay float32.
  """
  features: Sequence[int] = (64, 128, 256, 512, 512)
  num_dropout: int = 2
  dropout_rate: float = 0.5
  conv_impl: str = 'auto'
  resize: str = 'half_pixel'
  hints: bool = False
  prior_ab: Tuple[float, float] = (0.0, 0.0)
  propagation_iterations: int = 150
  reach: float = 0.0
  gate: Tuple[float, float, float] = (0.0, 0.0, 1.0)
  cast_chroma: Tuple[float, float] = (0.0, 0.0)
  learned_gate: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool,
               hint_ab: Optional[jax.Array] = None,
               hint_mask: Optional[jax.Array] = None) -> jax.Array:
    """ab (B, H, W, 2) of L `x` (B, H, W, 1), given the hints if any."""
    check_input(self, x, 1)
    conv = functools.partial(layers.Conv, impl=self.conv_impl, dtype=self.dtype)
    norm = functools.partial(_BatchNorm, use_running_average=not train,
                             dtype=self.dtype)
    stacked = hint_head.stacked(self, train)
    if self.hints:
      l, x, base = x, *hint_head.hint_inputs(self, x, hint_ab, hint_mask, stacked)
    elif hint_ab is not None:
      raise ValueError('this generator has no hint input (hints=False).')
    x = x.astype(self.dtype)
    skips = []
    for i, f in enumerate(self.features):
      if i == 0:
        x = conv(f, kernel_size=4, name='down0')(resize_plus_3(x,
                                                               self.resize))
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
    if self.hints:
      return hint_head.hint_answer(self, x, base, l, hint_ab, hint_mask, stacked)
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
    resize: the first resize, 'half_pixel' or 'align_corners'.
    dtype: computation dtype.
  """
  norm: str = 'batch'
  features: Sequence[int] = (64, 128, 256, 512)
  conv_impl: str = 'auto'
  resize: str = 'half_pixel'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    if self.norm not in NORMS:
      raise ValueError(f'norm={self.norm!r} is not one of {NORMS}.')
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError('Discriminator takes (batch, H, W, 3) inputs: L and '
                       f'a, b concatenated, not {tuple(x.shape)}.')
    if (self.norm != 'none' and not self.is_initializing() and
        not self.variables.get('batch_stats')):
      where = ('spectral norm\'s u and sigma' if self.norm == 'spectral' else
               'BatchNorm\'s running averages')
      raise ValueError(f'Discriminator(norm={self.norm!r}) keeps {where} in '
                       'the batch_stats collection: apply it with both '
                       'collections init gave ({"params": ..., '
                       '"batch_stats": ...}).')
    conv = functools.partial(layers.Conv, impl=self.conv_impl, dtype=self.dtype)
    x = x.astype(self.dtype)
    x = conv(self.features[0], kernel_size=4, name='conv0')(
        resize_plus_3(x, self.resize))
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
  (`colorjax.nets.ab_classes`) whose annealed mean at `temperature` is its ab.

  Attributes:
    features: encoder widths; the decoder mirrors features[-2::-1].
    num_classes: 0 regresses ab (tanh); else the number of ab classes.
    temperature: the annealed mean's temperature (classes only; 1 = mean).
    ab_scale: the model range's a, b scale (classes only: the class centres
      are CIELAB a, b, the output is in the model range).
    conv_impl: 'auto', 'xla', 'fast' or 'matmul'.
    resize: the first resize, 'half_pixel' or 'align_corners'.
    hints: read a hint map and refine its propagation, as `UNetGenerator`
      does (regression only).
    prior_ab: the model-range colour where no hint reaches (hints only).
    propagation_iterations: Jacobi sweeps per level (hints only).
    reach: how far a hint's influence carries (`hint_input`; hints only).
    gate: the fixed inference gate (reach, low, high) of `hints.gate`;
      reach 0: none (hints only).
    cast_chroma: (lo, hi) model-range chroma below which hints also travel
      beyond the gate (`hints.gate`'s `cast`; hi 0: never; hints only).
    learned_gate: blend the hinted and automatic answers by a learned gate,
      in training too (`hint_head.hint_answer`; hints only).
    dtype: computation dtype.
  """
  features: Sequence[int] = (64, 128, 256, 512)
  num_classes: int = 0
  temperature: float = 0.38
  ab_scale: float = 127.0
  conv_impl: str = 'auto'
  resize: str = 'half_pixel'
  hints: bool = False
  prior_ab: Tuple[float, float] = (0.0, 0.0)
  propagation_iterations: int = 150
  reach: float = 0.0
  gate: Tuple[float, float, float] = (0.0, 0.0, 1.0)
  cast_chroma: Tuple[float, float] = (0.0, 0.0)
  learned_gate: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool,
               hint_ab: Optional[jax.Array] = None,
               hint_mask: Optional[jax.Array] = None,
               logits: bool = False) -> jax.Array:
    """ab (B, H, W, 2) in [-1, 1], or with `logits` the class logits."""
    check_input(self, x, 1)
    conv = functools.partial(layers.Conv, impl=self.conv_impl, dtype=self.dtype)
    norm = functools.partial(_BatchNorm, use_running_average=not train,
                             dtype=self.dtype)
    stacked = hint_head.stacked(self, train)
    if self.hints:
      if self.num_classes:
        raise ValueError('a hint generator regresses ab (num_classes=0).')
      l, x, base = x, *hint_head.hint_inputs(self, x, hint_ab, hint_mask, stacked)
    elif hint_ab is not None:
      raise ValueError('this generator has no hint input (hints=False).')
    x = x.astype(self.dtype)
    x = conv(self.features[0], kernel_size=4, name='down0')(
        resize_plus_3(x, self.resize))
    x = nn.relu(norm(name='down0_bn')(x))
    for i, f in enumerate(self.features[1:], start=1):
      x = conv(f, kernel_size=4, strides=2, padding=1, name=f'down{i}')(x)
      x = nn.relu(norm(name=f'down{i}_bn')(x))
    for i, f in enumerate(self.features[-2::-1]):
      x = layers.ConvTranspose(f, impl=self.conv_impl, dtype=self.dtype,
                               name=f'up{i}')(x)
      x = nn.relu(norm(name=f'up{i}_bn')(x))
    if self.hints:
      return hint_head.hint_answer(self, x, base, l, hint_ab, hint_mask, stacked)
    if not self.num_classes:
      return jnp.tanh(conv(2, kernel_size=1, name='head')(x).astype(
          jnp.float32))
    x = conv(self.num_classes, kernel_size=1, name='head')(x).astype(
        jnp.float32)
    return x if logits else ab_classes.annealed_mean(x, self.temperature,
                                                     self.ab_scale)
