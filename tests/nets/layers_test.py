"""The 'fast' and 'matmul' convolution forms equal the 'xla' forms, values and
gradients, alone and vmapped over seeds."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from colorjax.nets import layers


def _assert_same_function(f, x, w):
  """Outputs and gradients w.r.t. input and kernel agree to 1e-5 (relative)."""
  rng = np.random.default_rng(0)
  y_xla = f(x, w, 'xla')
  cotangent = jnp.asarray(rng.standard_normal(y_xla.shape), jnp.float32)
  grads = {}
  for impl in ('xla', 'fast', 'matmul'):
    grads[impl] = jax.grad(
        lambda a, b, impl=impl: jnp.vdot(f(a, b, impl), cotangent),
        argnums=(0, 1))(x, w)
  for impl in ('fast', 'matmul'):
    for a, b in [(y_xla, f(x, w, impl)),
                 *zip(grads['xla'], grads[impl], strict=True)]:
      scale = max(1.0, float(jnp.abs(a).max()))
      assert a.shape == b.shape
      np.testing.assert_allclose(b / scale, a / scale, atol=1e-5,
                                 err_msg=impl)


def _inputs(shape, kernel_shape, seed=0):
  rng = np.random.default_rng(seed)
  x = jnp.asarray(rng.standard_normal(shape), jnp.float32)
  w = jnp.asarray(rng.standard_normal(kernel_shape) / np.sqrt(
      np.prod(kernel_shape[:3])), jnp.float32)
  return x, w


# (H, W, Cin, Cout): the reference's strided convs, then odd sizes.
@pytest.mark.parametrize('h,w,cin,cout', [
    (32, 32, 64, 128), (16, 16, 128, 256), (8, 8, 256, 512), (4, 4, 512, 512),
    (7, 9, 3, 5), (5, 4, 2, 3)])
def test_stride2_conv(h, w, cin, cout):
  x, k = _inputs((2, h, w, cin), (4, 4, cin, cout))
  # 'fast' keeps XLA's convolution for outputs of 4x4 and more; 'matmul'
  # is the strided im2col form at every size.
  _assert_same_function(
      lambda a, b, i: layers.conv2d(a, b, stride=2, padding=1, impl=i), x, k)


@pytest.mark.parametrize('h,w,cin,cout,k,pad', [
    (35, 35, 1, 64, 4, 0),  # G's first conv after the +3 resize.
    (35, 35, 3, 64, 4, 0),  # D's first conv.
    (4, 4, 512, 1, 4, 0),  # D's head at 32x32: a 1x1 output.
    (32, 32, 128, 2, 1, 0),  # G's 1x1 head.
    (6, 7, 3, 4, 3, 1)])
def test_stride1_conv(h, w, cin, cout, k, pad):
  x, kern = _inputs((2, h, w, cin), (k, k, cin, cout))
  _assert_same_function(
      lambda a, b, i: layers.conv2d(a, b, stride=1, padding=pad, impl=i),
      x, kern)


@pytest.mark.parametrize('h,w,k,stride,pad', [
    (9, 8, 3, 3, 1),  # Output 3x3: strided im2col.
    (14, 13, 3, 3, 0)])  # Output 4x4: XLA's own convolution.
def test_other_strides_and_odd_kernels(h, w, k, stride, pad):
  x, kern = _inputs((2, h, w, 3), (k, k, 3, 4))
  _assert_same_function(
      lambda a, b, i: layers.conv2d(a, b, stride=stride, padding=pad, impl=i),
      x, kern)


# The reference decoder's transposed convs, then odd sizes.
@pytest.mark.parametrize('h,w,cin,cout', [
    (2, 2, 512, 512), (4, 4, 1024, 256), (8, 8, 512, 128), (16, 16, 256, 64),
    (3, 5, 4, 3), (1, 1, 2, 2)])
def test_transposed_conv(h, w, cin, cout):
  x, k = _inputs((2, h, w, cin), (4, 4, cin, cout))
  _assert_same_function(
      lambda a, b, i: layers.conv_transpose_4x4_s2(a, b, impl=i), x, k)
  # 'fast' picks one of two forms by input size; both must hold at every size.
  for form in (layers._shared_grid_conv_t, layers._per_phase_conv_t):
    _assert_same_function(
        lambda a, b, i, f=form: (layers.conv_transpose_4x4_s2(a, b, impl=i)
                                 if i == 'xla' else f(a, b)), x, k)


def test_transposed_conv_equals_flax_and_pytorch_semantics():
  import flax.linen as nn
  x, _ = _inputs((2, 5, 6, 3), (4, 4, 3, 4))
  ref = nn.ConvTranspose(4, (4, 4), strides=(2, 2), padding='SAME')
  variables = ref.init(jax.random.key(0), x)
  ours = layers.ConvTranspose(4, impl='fast')
  y = ours.apply(variables, x)
  assert y.shape == (2, 10, 12, 4)  # PyTorch: (H - 1) * 2 - 2 + 4 = 2H.
  np.testing.assert_allclose(y, ref.apply(variables, x), atol=1e-5)
  # PyTorch's definition: out[2i - 1 + k] += x[i] * wt[k], with the kernel
  # flipped relative to flax's layout. Check one 1-D slice by hand.
  kernel = np.asarray(variables['params']['kernel'])
  x1 = np.zeros((1, 1, 3, 3), np.float32)
  x1[0, 0, 1, 0] = 1.0  # A single impulse at column 1, channel 0.
  y1 = layers.conv_transpose_4x4_s2(jnp.asarray(x1), jnp.asarray(kernel),
                                    impl='fast')
  wt = kernel[::-1, ::-1]  # PyTorch layout, spatially.
  expected = np.zeros((2, 6, 4), np.float32)
  for k in range(4):
    col = 2 * 1 - 1 + k
    for r in range(4):
      row = 2 * 0 - 1 + r
      if 0 <= row < 2:
        expected[row, col] += wt[r, k, 0]
  np.testing.assert_allclose(y1[0], expected, atol=1e-6)


def test_auto_resolves_per_platform():
  assert layers.resolve_conv_impl('auto', 'cpu') == 'matmul'
  assert layers.resolve_conv_impl('auto', 'gpu') == 'xla'
  assert layers.resolve_conv_impl('xla', 'cpu') == 'xla'
  with pytest.raises(ValueError, match='conv_impl'):
    layers.resolve_conv_impl('cudnn')


def test_matmul_form_vmaps_over_seed_kernels_without_convolutions():
  # Per-seed kernels under vmap: 'matmul' stays matmuls (values equal to each
  # seed's own convolution) where 'fast' becomes a grouped convolution.
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((3, 2, 8, 8, 4)), jnp.float32)
  w = jnp.asarray(rng.standard_normal((3, 4, 4, 4, 5)) * 0.1, jnp.float32)

  def loss(impl):
    return lambda a, b: jnp.sum(jax.vmap(
        lambda u, v: layers.conv2d(u, v, stride=2, padding=1, impl=impl))(
            a, b) ** 2)

  y = jax.vmap(lambda u, v: layers.conv2d(u, v, stride=2, padding=1,
                                          impl='matmul'))(x, w)
  for k in range(3):
    np.testing.assert_allclose(
        y[k], layers.conv2d(x[k], w[k], stride=2, padding=1, impl='xla'),
        atol=1e-5)
  hlo = {impl: jax.jit(jax.grad(loss(impl), argnums=(0, 1))).lower(
      x, w).as_text() for impl in ('fast', 'matmul')}
  assert 'feature_group_count = 3' in hlo['fast']
  assert 'convolution' not in hlo['matmul']
