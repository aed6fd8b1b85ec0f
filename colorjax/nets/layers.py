"""Convolution layers with PyTorch semantics and a choice of exact implementations.

Three forms compute the same function with the same parameters:

* ``'xla'``: one ``lax.conv_general_dilated`` per layer (what ``nn.Conv`` and
  ``nn.ConvTranspose`` do). Best where the backend has a fast general
  convolution (cuDNN on GPU, the TPU compiler).
* ``'fast'``: exact forms that avoid XLA:CPU's slow convolutions. The 4x4 stride-2
  transposed convolution becomes four exact 2x2 phase convolutions
  interleaved by depth-to-space (one im2col matmul over a grid the phases
  share, or one per phase for inputs up to 4x4); stride-1 convolutions are
  im2col matmuls; strided convolutions stay XLA's own while their output is
  at least 4x4 (there XLA:CPU is fast in the forward pass and both
  gradients) and below that become strided im2col matmuls. No pass then
  contains a transposed (lhs-dilated) or smaller-than-kernel convolution,
  which XLA:CPU lowers to a very slow path.
* ``'matmul'``: ``'fast'`` with the strided convolutions as im2col matmuls
  too, so no layer is an XLA convolution. Since the matmuls take autodiff's
  kernel gradient it is the fastest form on XLA:CPU (see the README's
  ``benchmarks/compare_trees.py`` figures), and the form for seeds as a
  batch axis: under ``jax.vmap`` with per-seed kernels XLA turns a
  convolution into a grouped one (``feature_group_count`` = seeds), which
  XLA:CPU runs about 7x slower per seed, while a matmul becomes a batched matmul
  (``benchmarks/conv_layers.py --seeds=4``).

``'auto'`` picks ``'matmul'`` on CPU and ``'xla'`` elsewhere (see
``benchmarks/conv_layers.py`` and ``benchmarks/train_step.py`` for the
measurements behind that choice). Parameters are named and shaped like
flax's (``kernel`` HWIO, ``bias``), so a checkpoint does not care which form
computed it.
"""

from typing import Any, Optional

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp

__all__ = ['Conv', 'conv2d', 'CONV_IMPLS', 'conv_transpose_4x4_s2',
           'ConvTranspose', 'resolve_conv_impl']

CONV_IMPLS = ('auto', 'xla', 'fast', 'matmul')
_DIMS = ('NHWC', 'HWIO', 'NHWC')


def resolve_conv_impl(impl: str, platform: Optional[str] = None) -> str:
  """Maps 'auto' to the fastest exact form for `platform` (default backend)."""
  if impl not in CONV_IMPLS:
    raise ValueError(f'conv_impl={impl!r} is not one of {CONV_IMPLS}.')
  if impl != 'auto':
    return impl
  platform = platform or jax.default_backend()
  return 'matmul' if platform == 'cpu' else 'xla'


def _matmul(p: jax.Array, m: jax.Array) -> jax.Array:
  """p @ m for im2col patches p (..., K) and a kernel matrix m (K, N).

  Plain autodiff: its kernel gradient p.T @ g, a dot contracting the rows of
  both operands, is faster on XLA:CPU's YNNPACK dots than materialising p.T
  first (which paid off with the Eigen dots of older jaxlibs), alone and
  vmapped over seeds.
  """
  return jnp.dot(p, m)


def _im2col(x: jax.Array, w: jax.Array, stride: int = 1) -> jax.Array:
  """VALID convolution as kh*kw (strided) slices and one matmul.

  The patches are ordered (kh, kw, Cin), so the kernel matrix is the HWIO
  kernel's own row-major reshape: no relayout of the weights.
  """
  kh, kw, cin, cout = w.shape
  ho = (x.shape[1] - kh) // stride + 1
  wo = (x.shape[2] - kw) // stride + 1
  if kh == kw == 1 and stride == 1:
    patches = x
  else:
    patches = jnp.concatenate(
        [x[:, i:i + stride * (ho - 1) + 1:stride,
           j:j + stride * (wo - 1) + 1:stride, :]
         for i in range(kh) for j in range(kw)], axis=-1)
  return _matmul(patches, w.reshape(kh * kw * cin, cout))


def _pad(x: jax.Array, padding: int) -> jax.Array:
  """Zero-pads both spatial dimensions by `padding` on every side."""
  if not padding:
    return x
  return jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))


def _xla_conv(x: jax.Array, w: jax.Array, stride: int,
              padding: int) -> jax.Array:
  return lax.conv_general_dilated(x, w, (stride, stride),
                                  [(padding, padding)] * 2,
                                  dimension_numbers=_DIMS)


# XLA:CPU's own strided convolution (forward and both gradients) is faster
# than strided im2col while its output is at least this size; below it the
# input is smaller than the kernel's reach and XLA leaves its fast path (the
# 2x2-output layer: 415-431 ms vs 10-13 ms over runs of
# benchmarks/conv_layers.py).
_MIN_XLA_OUTPUT = 4


def conv2d(x: jax.Array, w: jax.Array, *, stride: int = 1, padding: int = 0,
           impl: str = 'xla') -> jax.Array:
  """PyTorch ``Conv2d(k, stride, padding)`` on NHWC input with an HWIO kernel.

  Args:
    x: (B, H, W, Cin) input.
    w: (kh, kw, Cin, Cout) kernel.
    stride: the same in both spatial dimensions.
    padding: zero padding on every side.
    impl: 'xla', 'fast' or 'matmul' (resolved, not 'auto').

  Returns:
    (B, Ho, Wo, Cout) with Ho = (H + 2 * padding - kh) // stride + 1.
  """
  if impl == 'xla':
    return _xla_conv(x, w, stride, padding)
  ho = (x.shape[1] + 2 * padding - w.shape[0]) // stride + 1
  wo = (x.shape[2] + 2 * padding - w.shape[1]) // stride + 1
  if impl == 'fast' and stride > 1 and min(ho, wo) >= _MIN_XLA_OUTPUT:
    return _xla_conv(x, w, stride, padding)
  return _im2col(_pad(x, padding), w, stride)


def _shared_grid_conv_t(x: jax.Array, w: jax.Array) -> jax.Array:
  """The 4x4 stride-2 transposed conv as one matmul over a shared grid.

  Output row 2m + r only sees taps k = r, r + 2, at rows m - 1 + r and m + r
  of the input: a 2x2 convolution over the once-padded input per output phase
  r. All four phases are one im2col matmul with the kernels stacked along its
  outputs, over the (H + 1) x (W + 1) positions that any phase needs; each
  phase then keeps its H x W of them.
  """
  b, h, wd, cin = x.shape
  cout = w.shape[-1]
  wp = w.reshape(2, 2, 2, 2, cin, cout).transpose(0, 2, 4, 1, 3, 5)
  wp = wp.reshape(2, 2, cin, 4 * cout)  # [t_h, t_w, c, (r_h, r_w, o)]
  xp = _pad(x, 1)
  y = _im2col(xp, wp).reshape(b, h + 1, wd + 1, 2, 2, cout)
  rows = []
  for rh in range(2):
    cols = [y[:, rh:rh + h, rw:rw + wd, rh, rw, :] for rw in range(2)]
    rows.append(jnp.stack(cols, axis=3))  # (B, H, W, 2, O)
  out = jnp.stack(rows, axis=2)  # (B, H, 2, W, 2, O)
  return out.reshape(b, 2 * h, 2 * wd, cout)


def _per_phase_conv_t(x: jax.Array, w: jax.Array) -> jax.Array:
  """The same as four exact phase convolutions, one im2col matmul each.

  Output phase (r_h, r_w) is the 2x2 VALID convolution of its own
  (H + 1) x (W + 1) window of the padded input with the taps
  w[r_h::2, r_w::2]: no wasted positions, but four times the patch data.
  (In the train step, four matmuls measured faster than one batched einsum
  of the same patches: 0.97-0.98x.)
  """
  b, h, wd, _ = x.shape
  cout = w.shape[-1]
  xp = _pad(x, 1)
  y = jnp.stack([
      _im2col(xp[:, rh:rh + h + 1, rw:rw + wd + 1, :], w[rh::2, rw::2])
      for rh in range(2) for rw in range(2)])  # (r_h r_w, B, H, W, O)
  y = y.reshape(2, 2, b, h, wd, cout).transpose(2, 3, 0, 4, 1, 5)
  return y.reshape(b, 2 * h, 2 * wd, cout)


# The shared grid computes (H + 1)(W + 1) positions per phase for H x W: 2.25x
# the work at 2x2 inputs, 1.56x at 4x4, 1.27x at 8x8. Up to this input side the
# exact per-phase form is faster despite its 4x patches (forward + both
# gradients, batch 32, benchmarks/conv_layers.py: G.up0 11 vs 21 ms, G.up1 40
# vs 54 ms); at 8x8 they tie (G.up2 44 vs 45) and at 16x16 the shared grid
# wins (G.up3 50 vs 63).
_MAX_PER_PHASE_INPUT = 4


def conv_transpose_4x4_s2(x: jax.Array, w: jax.Array, *,
                          impl: str = 'xla') -> jax.Array:
  """PyTorch ``ConvTranspose2d(k=4, stride=2, padding=1)``: (B,H,W,C) -> (B,2H,2W,O).

  The kernel is laid out as flax's ``nn.ConvTranspose`` (HWIO, not flipped):
  this equals ``nn.ConvTranspose(O, (4, 4), strides=(2, 2), padding='SAME')``.
  A PyTorch weight ``wt`` (C, O, 4, 4) maps to ``wt[:, :, ::-1, ::-1]
  .transpose(2, 3, 0, 1)``.
  """
  if w.shape[:2] != (4, 4):
    raise ValueError(f'expected a 4x4 kernel, got {w.shape[:2]}.')
  if impl == 'xla':
    return lax.conv_general_dilated(x, w, (1, 1), [(2, 2), (2, 2)],
                                    lhs_dilation=(2, 2),
                                    dimension_numbers=_DIMS)
  if max(x.shape[1:3]) <= _MAX_PER_PHASE_INPUT:
    return _per_phase_conv_t(x, w)
  return _shared_grid_conv_t(x, w)


def _params(module: nn.Module, x: jax.Array, window: tuple):
  """A layer's HWIO kernel and optional bias, promoted with x to its dtype."""
  kernel = module.param('kernel', nn.initializers.lecun_normal(),
                        (*window, x.shape[-1], module.features),
                        module.param_dtype)
  bias = (module.param('bias', nn.initializers.zeros, (module.features,),
                       module.param_dtype) if module.use_bias else None)
  return nn.dtypes.promote_dtype(x, kernel, bias, dtype=module.dtype)


class Conv(nn.Module):
  """Square convolution with PyTorch semantics (``Conv2d(k, stride, padding)``).

  Attributes:
    features: output channels.
    kernel_size: square kernel size.
    strides: 1 or 2.
    padding: zero padding on every side.
    use_bias: whether to add a bias.
    impl: 'auto', 'xla', 'fast' or 'matmul' (see module docstring).
    dtype: computation dtype (None: that of the input); parameters stay
      `param_dtype`.
  """
  features: int
  kernel_size: int = 4
  strides: int = 1
  padding: int = 0
  use_bias: bool = True
  impl: str = 'auto'
  dtype: Any = None
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    k = self.kernel_size
    x, kernel, bias = _params(self, x, (k, k))
    y = conv2d(x, kernel, stride=self.strides, padding=self.padding,
               impl=resolve_conv_impl(self.impl))
    return y + bias if bias is not None else y


class ConvTranspose(nn.Module):
  """4x4 stride-2 transposed convolution (``ConvTranspose2d(k=4, s=2, p=1)``)."""
  features: int
  use_bias: bool = True
  impl: str = 'auto'
  dtype: Any = None
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x, kernel, bias = _params(self, x, (4, 4))
    y = conv_transpose_4x4_s2(x, kernel, impl=resolve_conv_impl(self.impl))
    return y + bias if bias is not None else y
