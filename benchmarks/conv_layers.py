"""Per-layer time of every convolution of the reference G and D, each form.

  python benchmarks/conv_layers.py [--batch_size=32] [--impls=xla,fast]
      [--torch] [--repeats=5] [--seeds=1]

With --seeds=N every form is timed under `jax.vmap` over N seeds (input and
kernel both carry the seed axis, as in an N-seed train step) and the time is
per seed, so it compares directly with --seeds=1.

For each convolution of the U-Net generator and the discriminator at 32x32 it
times forward + gradients w.r.t. input and kernel (what a train step needs),
in milliseconds (median of --repeats calls), for each colorjax form and, with
--torch, for PyTorch (oneDNN) on the same shapes. These numbers chose
`colorjax.layers.resolve_conv_impl('auto')`.
"""

import os
import sys

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import timing

from colorjax import runtime
from colorjax.nets import layers

flags.DEFINE_integer('batch_size', 32, 'Batch size.')
flags.DEFINE_list('impls', ['fast'], 'colorjax forms to time.')
flags.DEFINE_bool('torch', False, 'Also time PyTorch on the same shapes.')
flags.DEFINE_integer('repeats', 5, 'Timed calls; the median is reported.')
flags.DEFINE_integer('seeds', 1, 'Seeds vmapped over; times are per seed.')
FLAGS = flags.FLAGS

# (name, kind, H_in, Cin, Cout, stride, padding): the 32x32 reference layers.
LAYERS = [
    ('G.down0', 'conv', 35, 1, 64, 1, 0),
    ('G.down1', 'conv', 32, 64, 128, 2, 1),
    ('G.down2', 'conv', 16, 128, 256, 2, 1),
    ('G.down3', 'conv', 8, 256, 512, 2, 1),
    ('G.down4', 'conv', 4, 512, 512, 2, 1),
    ('G.up0', 'convT', 2, 512, 512, 2, 1),
    ('G.up1', 'convT', 4, 1024, 256, 2, 1),
    ('G.up2', 'convT', 8, 512, 128, 2, 1),
    ('G.up3', 'convT', 16, 256, 64, 2, 1),
    ('D.conv0', 'conv', 35, 3, 64, 1, 0),
    ('D.conv1', 'conv', 32, 64, 128, 2, 1),
    ('D.conv2', 'conv', 16, 128, 256, 2, 1),
    ('D.conv3', 'conv', 8, 256, 512, 2, 1),
    ('D.head', 'conv', 4, 512, 1, 1, 0),
]


def _median_ms(fn, *args) -> float:
  """Median wall time of fn(*args) after one warm-up call (JAX or PyTorch)."""
  _, times = timing.call_seconds(fn, *args, repeats=FLAGS.repeats)
  return 1e3 * float(np.median(times))


def _jax_ms(kind, h, cin, cout, stride, pad, impl) -> float:
  rng = np.random.default_rng(0)
  n = FLAGS.seeds
  lead = (n,) if n > 1 else ()
  x = jnp.asarray(rng.standard_normal(lead + (FLAGS.batch_size, h, h, cin)),
                  jnp.float32)
  w = jnp.asarray(rng.standard_normal(lead + (4, 4, cin, cout)) * 0.01,
                  jnp.float32)
  if kind == 'conv':
    f = lambda a, b: layers.conv2d(a, b, stride=stride, padding=pad, impl=impl)
  else:
    f = lambda a, b: layers.conv_transpose_4x4_s2(a, b, impl=impl)
  if n > 1:
    f = jax.vmap(f)

  @jax.jit
  def fwd_bwd(a, b):
    y, vjp = jax.vjp(f, a, b)
    return vjp(y)

  return _median_ms(fwd_bwd, x, w) / n


def _torch_ms(kind, h, cin, cout, stride, pad) -> float:
  import torch
  torch.set_num_threads(os.cpu_count())
  x = torch.randn(FLAGS.batch_size, cin, h, h, requires_grad=True)
  if kind == 'conv':
    m = torch.nn.Conv2d(cin, cout, 4, stride, pad)
  else:
    m = torch.nn.ConvTranspose2d(cin, cout, 4, stride, pad)

  def fwd_bwd():
    y = m(x)
    y.backward(y.detach())  # Synchronous on CPU; returns None.

  return _median_ms(fwd_bwd)


def main(argv):
  del argv
  runtime.keep_freed_memory()  # As launch.py does, for both frameworks.
  print(f'# python {" ".join(sys.argv)}')
  print(f'# batch {FLAGS.batch_size}, forward + input and kernel gradients, '
        f'ms (median of {FLAGS.repeats})' +
        (f', per seed of {FLAGS.seeds} vmapped' if FLAGS.seeds > 1 else ''))
  heads = [f'{i:>8s}' for i in FLAGS.impls] + (['   torch'] if FLAGS.torch
                                                 else [])
  print(f'{"layer":10s}' + ''.join(heads))
  totals = np.zeros(len(heads))
  for name, *shape in LAYERS:
    row = [_jax_ms(*shape, impl) for impl in FLAGS.impls]
    if FLAGS.torch:
      row.append(_torch_ms(*shape))
    totals += row
    print(f'{name:10s}' + ''.join(f'{t:8.1f}' for t in row), flush=True)
  print(f'{"total":10s}' + ''.join(f'{t:8.1f}' for t in totals))


if __name__ == '__main__':
  app.run(main)
