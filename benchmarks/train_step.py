"""Images/s of the compiled train step, side by side with PyTorch.

  python benchmarks/train_step.py [--batch_size=32] [--image_size=32]
      [--models=bn,sn,cnn] [--torch] [--conv_impl=auto] [--compute_dtype=float32]

For each model it prints colorjax's images/s (median of --repeats timed windows
of --steps steps), the first step's time (compilation), XLA's FLOPs per image
and the fraction of --peak_gflops achieved (default: the rate of a large
fp32 matmul measured in the same run, the device's practical peak), the
compiled step's buffer memory, the minor page faults per step and the time
of a 50,000-image (CIFAR-10-sized) epoch at that rate. With
--torch (needs ``pip install -e ".[bench]"``) the PyTorch reference step
(benchmarks/torch_reference.py) is timed in windows alternating with
colorjax's, so the machine's noise hits both alike, and the ratio is printed.
Runs on whatever devices are present (batch sharded over all).

  python benchmarks/train_step.py --seeds=1,2,4 [--models=bn,sn,cnn]

times N seeds trained as one program (`config.num_seeds`, a vmapped step)
instead, in windows alternating between the N values, and prints seed-images
per second (N x batch x steps / time, median over windows) and its ratio to
one seed's: the geometric mean of the ratios of windows run back to back, with
its 95% interval over the --repeats pairs. Above 1, N seeds in one program
cost less per seed-image than one run; an interval that holds 1 means the
difference is within this machine's noise. With --op_profile=K it then
prints, per seed-step, the time of the K kinds of XLA:CPU thunk that take the
most (dots, concatenates, copies...) at each seed count: where N seeds lose
or gain.
"""

import os
import resource
import sys
import time

from absl import app
from absl import flags
import jax
from jax.sharding import Mesh
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import timing

from colorjax import configs as configs_lib
from colorjax import runtime
from colorjax.errors import ConfigError
from colorjax.evaluation import stats
from colorjax.training import steps as steps_lib
from colorjax.training.config_validation import validate_config

flags.DEFINE_integer('batch_size', 32, 'Global batch size.')
flags.DEFINE_integer('image_size', 32, 'Image side.')
flags.DEFINE_integer('steps', 10, 'Steps per timed window.')
flags.DEFINE_integer('repeats', 5, 'Timed windows; the median is reported.')
flags.DEFINE_list('models', ['bn', 'sn', 'cnn'], 'Which of bn, sn, cnn.')
flags.DEFINE_string('conv_impl', 'auto', "'auto', 'xla', 'fast' or 'matmul'.")
flags.DEFINE_string('compute_dtype', 'float32', "'float32' or 'bfloat16'.")
flags.DEFINE_bool('torch', False, 'Also time the PyTorch reference step.')
flags.DEFINE_integer('torch_threads', 0, 'PyTorch threads (0: one per core '
                     'JAX can use, i.e. os.cpu_count()).')
flags.DEFINE_list('seeds', [], 'Seed counts to time as one program each '
                  '(e.g. 1,2,4); empty: the plain benchmark.')
flags.DEFINE_integer('op_profile', 0, 'With --seeds: also print the K thunk '
                     'kinds that take the most time per seed-step (XLA:CPU '
                     'profiler trace of --steps steps; 0: off).')
flags.DEFINE_float('peak_gflops', 0.0, 'Device fp32 peak for the fraction '
                   '(0: measure a 2048^3 matmul in this run).')
FLAGS = flags.FLAGS
RECIPES = {'bn': 'gan_bn', 'sn': 'gan_sn', 'cnn': 'cnn'}
_EPOCH_IMAGES = 50_000  # One CIFAR-10-sized epoch, step time only.


def _matmul_gflops(n: int = 2048, repeats: int = 7) -> float:
  """Median GFLOP/s of an n^3 float32 matmul: the practical peak."""
  a = jax.numpy.ones((n, n), jax.numpy.float32)
  _, times = timing.call_seconds(jax.jit(jax.numpy.dot), a, a,
                                 repeats=repeats)
  return 2 * n**3 / float(np.median(times)) / 1e9


def _colorjax_window(name: str):
  """(run_window() -> img/s, first step seconds, flops per image, bytes)."""
  c = configs_lib.load(RECIPES[name])
  c.batch_size, c.image_size = FLAGS.batch_size, FLAGS.image_size
  c.conv_impl, c.compute_dtype = FLAGS.conv_impl, FLAGS.compute_dtype
  validate_config(c, jax.device_count())
  trainer = steps_lib.Steps(c, Mesh(np.asarray(jax.devices()), ('data',)))
  state = trainer.init()
  rng = np.random.default_rng(0)
  batch = jax.device_put(
      {'rgb': rng.integers(0, 256, (c.batch_size, c.image_size, c.image_size,
                                    3), np.uint8)}, trainer.data_sharding)
  t0 = time.perf_counter()
  compiled = trainer.train_step.lower(state, batch).compile()
  state, metrics = trainer.train_step(state, batch)
  jax.block_until_ready(metrics)
  first = time.perf_counter() - t0
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  # XLA counts the per-device program, which sees batch / devices images.
  flops = (float(cost.get('flops', float('nan'))) * jax.device_count() /
           c.batch_size)
  mem = compiled.memory_analysis()
  buffers = (mem.argument_size_in_bytes + mem.output_size_in_bytes +
             mem.temp_size_in_bytes) if mem is not None else float('nan')
  holder = {'state': state}

  def window():
    s = holder['state']
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    for _ in range(FLAGS.steps):
      s, m = trainer.train_step(s, batch)
    jax.block_until_ready((s, m))
    rate = FLAGS.steps * c.batch_size / (time.perf_counter() - t0)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    holder['state'] = s
    return rate, faults / FLAGS.steps

  return window, first, flops, buffers


def _seeds_window(name: str, num_seeds: int):
  """run_window() -> seed-images/s of `num_seeds` seeds as one program."""
  c = configs_lib.load(RECIPES[name])
  c.batch_size, c.image_size = FLAGS.batch_size, FLAGS.image_size
  c.conv_impl, c.compute_dtype = FLAGS.conv_impl, FLAGS.compute_dtype
  c.num_seeds = num_seeds
  validate_config(c, jax.device_count())
  trainer = steps_lib.Steps(c, Mesh(np.asarray(jax.devices()), ('data',)))
  shape = (c.batch_size, c.image_size, c.image_size, 3)
  if num_seeds == 1:
    state, step, sharding = trainer.init(), trainer.train_step, (
        trainer.data_sharding)
  else:
    state, step, sharding = trainer.init_seeds(), trainer.train_seeds_step, (
        trainer.seed_data_sharding)
    shape = (num_seeds,) + shape
  batch = jax.device_put({'rgb': np.random.default_rng(0).integers(
      0, 256, shape, np.uint8)}, sharding)
  state, metrics = step(state, batch)  # Compiles.
  jax.block_until_ready(metrics)
  holder = {'state': state}

  def window():
    s = holder['state']
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    for _ in range(FLAGS.steps):
      s, m = step(s, batch)
    jax.block_until_ready((s, m))
    holder['state'] = s
    rate = num_seeds * FLAGS.steps * c.batch_size / (time.perf_counter() - t0)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return rate, faults / FLAGS.steps

  def profile():
    """Milliseconds per seed-step in each kind of XLA thunk."""
    def run():
      holder['state'], m = step(holder['state'], batch)
      return holder['state'], m
    return {k: v / num_seeds
            for k, v in timing.op_milliseconds(run, FLAGS.steps).items()}

  return window, profile


def _print_op_profile(name: str, profiles: dict) -> None:
  """The thunk kinds that take the most time, per seed-step, side by side."""
  counts = list(profiles)
  kinds = sorted(profiles[counts[0]], key=profiles[counts[0]].get,
                 reverse=True)[:FLAGS.op_profile]
  print(f'# {name}: ms per seed-step in XLA thunks by kind (--op_profile; '
        'thunks running at once on different threads each count in full)')
  print(f'# {"kind":24s}' + ''.join(f'{f"{n} seed(s)":>12s}' for n in counts)
        + f'   {counts[-1]} vs {counts[0]}')
  for kind in kinds + ['all kinds']:
    ms = [sum(p.values()) if kind == 'all kinds' else p.get(kind, 0.0)
          for p in profiles.values()]
    print(f'# {kind:24s}' + ''.join(f'{m:12.1f}' for m in ms) +
          f'   {ms[-1] / ms[0]:.2f}x', flush=True)


def _seeds_benchmark() -> None:
  counts = [int(n) for n in FLAGS.seeds]
  if min(counts) < 1:
    sys.exit(f'error: --seeds={",".join(FLAGS.seeds)}: every count must be '
             '>= 1.')
  for name in FLAGS.models:
    try:
      made = {n: _seeds_window(name, n) for n in counts}
    except ConfigError as e:
      sys.exit(f'error: {e}')
    rates = {n: [] for n in counts}
    faults = {n: [] for n in counts}
    for r in range(FLAGS.repeats):
      # Alternate, in turn forwards and backwards, so the machine's noise and
      # any drift hit every count alike.
      for n in (counts if r % 2 == 0 else counts[::-1]):
        rate, step_faults = made[n][0]()
        rates[n].append(rate)
        faults[n].append(step_faults)
    one = np.asarray(rates[counts[0]])
    for n in counts:
      rate = float(np.median(rates[n]))
      # Each repeat's windows ran back to back: their ratio is paired. The
      # geometric mean of the paired ratios, with a t interval on the log
      # scale, says whether N seeds are slower beyond the noise.
      log_ratio, half = stats.mean_ci(np.log(np.asarray(rates[n]) / one))
      interval = ('' if not np.isfinite(half) else
                  f' (paired, 95% CI {np.exp(log_ratio - half):.2f}-'
                  f'{np.exp(log_ratio + half):.2f})')
      print(f'{name:4s} seeds {n:3d} | {rate:8.1f} seed-img/s (min '
            f'{min(rates[n]):.1f}, max {max(rates[n]):.1f}) | per '
            f'seed-image vs {counts[0]} seed(s): {np.exp(log_ratio):.2f}x'
            f'{interval} | {np.median(faults[n]):,.0f} page faults/step',
            flush=True)
    if FLAGS.op_profile:
      _print_op_profile(name, {n: made[n][1]() for n in counts})


def _torch_window(name: str):
  import torch
  import torch_reference
  torch.set_num_threads(FLAGS.torch_threads or os.cpu_count())
  torch.manual_seed(0)
  step, _, _ = torch_reference.make_step('spectral' if name == 'sn'
                                         else 'batch')
  rng = np.random.default_rng(0)
  shape = (FLAGS.batch_size, 1, FLAGS.image_size, FLAGS.image_size)
  l = torch.tensor(rng.uniform(-1, 1, shape), dtype=torch.float32)
  ab = torch.tensor(rng.uniform(-0.5, 0.5, (shape[0], 2) + shape[2:]),
                    dtype=torch.float32)
  step(l, ab)

  def window():
    t0 = time.perf_counter()
    for _ in range(FLAGS.steps):
      step(l, ab)
    return FLAGS.steps * FLAGS.batch_size / (time.perf_counter() - t0)

  return window


def main(argv):
  del argv
  runtime.keep_freed_memory()  # As launch.py does, for both frameworks.
  print(f'# python {" ".join(sys.argv)}')
  print(f'# devices: {jax.device_count()} x {jax.devices()[0].device_kind} '
        f'({jax.default_backend()}), batch {FLAGS.batch_size}, '
        f'{FLAGS.image_size}x{FLAGS.image_size}, {FLAGS.compute_dtype}, '
        f'conv_impl={FLAGS.conv_impl}; medians of {FLAGS.repeats} windows of '
        f'{FLAGS.steps} steps')
  if FLAGS.seeds:
    _seeds_benchmark()
    return
  peak = FLAGS.peak_gflops or _matmul_gflops()
  print(f'# fp32 peak for the fractions below: {peak:.0f} GFLOP/s '
        f'({"--peak_gflops" if FLAGS.peak_gflops else "2048^3 matmul, measured"})')
  for name in FLAGS.models:
    try:
      window, first, flops, buffers = _colorjax_window(name)
    except ConfigError as e:
      sys.exit(f'error: {e}')
    torch_window = (_torch_window(name) if FLAGS.torch and name != 'cnn'
                    else None)
    ours, faults, theirs = [], [], []
    for _ in range(FLAGS.repeats):  # Alternate, so noise hits both alike.
      rate, step_faults = window()
      ours.append(rate)
      faults.append(step_faults)
      if torch_window:
        theirs.append(torch_window())
    rate = float(np.median(ours))
    line = (f'{name:4s} colorjax {rate:7.1f} img/s (min {min(ours):.1f}, max '
            f'{max(ours):.1f}) | first step {first:5.1f} s | '
            f'{flops / 1e9:.2f} GFLOP/img, {rate * flops / 1e9:.0f} GFLOP/s = '
            f'{rate * flops / 1e9 / peak:.0%} of peak | XLA buffers '
            f'{buffers / 2**20:.0f} MiB, '
            f'{np.median(faults):,.0f} page faults/step | '
            f'{_EPOCH_IMAGES:,}-image epoch {_EPOCH_IMAGES / rate:.0f} s')
    if theirs:
      t = float(np.median(theirs))
      line += (f' || torch {t:6.1f} img/s (min {min(theirs):.1f}, max '
               f'{max(theirs):.1f}) | ratio colorjax/torch {rate / t:.2f}x')
    print(line, flush=True)
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
  print(f'# peak resident memory of this process: {rss:.0f} MiB')


if __name__ == '__main__':
  app.run(main)
