"""`conv_impl='auto'` by measuring: the fastest exact convolution form of a
train step on this machine, chosen once and cached.

Each form of `colorjax.nets.layers` ('xla', 'fast', 'matmul') computes the
same convolutions exactly; which is fastest depends on the CPU, the jaxlib
and the shapes (docs/benchmarks.md: on one AMD EPYC 'fast' led 'matmul' by
9%, on another they tied, and 'xla' ran at a sixth of either). So on first
use, for the shapes a run will train (the model, image size, batch, seed
count and dtype), `choose` times a few train steps of each form, forward
and backward, keeps the fastest, and caches the choice in the user cache
keyed by what decides it: the CPU model and its features, the jaxlib
version, the shapes and the dtype. A later run with that key starts at
once. On GPUs and TPUs 'auto' is XLA's own convolution, unmeasured.

`COLORJAX_CONV_IMPL` forces a form for every run ('xla', 'fast',
'matmul'), or 'rule' for the fixed rule without measuring (the tests' way);
a config's explicit `conv_impl` forces it for that run.
"""

import hashlib
import json
import os
import platform
import statistics
import time
from typing import Callable, Dict, Optional, Tuple

from absl import logging
import jax
from jax.experimental import multihost_utils
import ml_collections
import numpy as np

from colorjax import files
from colorjax import names
from colorjax.datasets import batching
from colorjax.errors import ConfigError
from colorjax.nets import layers

__all__ = ['CACHE_FILE', 'cache_key', 'choose', 'describe', 'ENV', 'FORMS',
           'resolve', 'time_train_step']

ENV = 'COLORJAX_CONV_IMPL'
# The exact forms, in the order timed: the fixed rule's form first (it sets
# the bar the others stop at: with 8 seeds, 'fast' ran 3x slower than it),
# XLA's own last, as it loses by 4-5x on the CPUs measured.
FORMS = ('matmul', 'fast', 'xla')
# A form whose timed step is this much slower than the best so far cannot
# win: its timing stops there (the first-run choice was 120 s on the demo).
GIVE_UP = 1.5
CACHE_FILE = os.path.join('~', '.cache', 'colorjax', 'conv_impl.json')
# Fields of a config that decide the fastest form (the step's shapes).
_SHAPE_KEYS = ('model', 'head', 'image_size', 'batch_size', 'num_seeds',
               'compute_dtype', 'generator', 'discriminator', 'cnn', 'hints')

# timer(config, form, give_up_after): median seconds of a train step; it may
# stop early once a step takes longer than give_up_after (None: never).
Timer = Callable[[ml_collections.ConfigDict, str, Optional[float]], float]


def _cpu() -> str:
  """The CPU's model name and feature flags (what decides XLA's kernels)."""
  name, flags = platform.processor() or platform.machine(), ''
  try:
    with open('/proc/cpuinfo', encoding='utf-8') as f:
      for line in f:
        key, _, value = line.partition(':')
        key = key.strip()
        if key in ('model name', 'cpu family', 'model') and value.strip():
          name += ' ' + value.strip()
        elif key == 'flags' and not flags:
          flags = value.strip()
        if key == 'processor' and value.strip() == '1':
          break  # The first core says it.
  except OSError:
    pass
  return f'{name} {hashlib.sha256(flags.encode()).hexdigest()[:12]}'


def cache_key(config: ml_collections.ConfigDict) -> str:
  """What decides the fastest form: CPU, jaxlib, backend and the shapes."""
  shapes = {k: config.get(k).to_dict() if hasattr(config.get(k), 'to_dict')
            else config.get(k) for k in _SHAPE_KEYS if k in config}
  import jaxlib  # pylint: disable=g-import-not-at-top
  text = json.dumps({'cpu': _cpu(), 'jaxlib': jaxlib.__version__,
                     'backend': jax.default_backend(),
                     'devices': jax.device_count(), 'shapes': shapes},
                    sort_keys=True, default=str)
  return hashlib.sha256(text.encode()).hexdigest()[:24]


def _read_cache(path: str) -> Dict[str, dict]:
  try:
    with open(path, encoding='utf-8') as f:
      cache = json.load(f)
  except (OSError, ValueError):
    return {}  # Missing or torn: measure again.
  return cache if isinstance(cache, dict) else {}


def time_train_step(config: ml_collections.ConfigDict, form: str,
                    give_up_after: Optional[float] = None,
                    steps: int = 3) -> float:
  """Median seconds of one train step of `config` with conv form `form`
  (after one step that compiles), on a batch of random pixels; the timing
  stops at the first step slower than `give_up_after` seconds (it cannot
  win)."""
  from colorjax.training import steps as steps_lib  # pylint: disable=g-import-not-at-top
  trial = ml_collections.ConfigDict(config.to_dict())
  trial.conv_impl = form
  compiled = steps_lib.Steps(trial, steps_lib.default_mesh())
  rng = np.random.default_rng(0)
  shape = (trial.batch_size, trial.image_size, trial.image_size, 3)
  if compiled.num_seeds > 1:
    state = compiled.init_seeds()
    step = compiled.train_seeds_step
    batch = batching.global_put(
        {'rgb': rng.integers(0, 256, (compiled.num_seeds,) + shape,
                             np.uint8)}, compiled.seed_data_sharding)
  else:
    state, step = compiled.init(), compiled.train_step
    batch = batching.global_put(
        {'rgb': rng.integers(0, 256, shape, np.uint8)},
        compiled.data_sharding)
  state, metrics = step(state, batch)  # Compiles.
  jax.block_until_ready(metrics)
  seconds = []
  for _ in range(steps):
    start = time.perf_counter()
    state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    seconds.append(time.perf_counter() - start)
    if give_up_after is not None and seconds[-1] > give_up_after:
      break
  del state
  return float(statistics.median(seconds))


def choose(config: ml_collections.ConfigDict, timer: Timer = time_train_step,
           cache_file: Optional[str] = None) -> Tuple[str, Dict[str, object]]:
  """(form, how it was chosen) for `config`: its own `conv_impl` unless
  'auto'; else `COLORJAX_CONV_IMPL`; else, on a CPU, the cached or measured
  fastest form; else 'xla'.

  Raises:
    ConfigError: `COLORJAX_CONV_IMPL` names no form.
  """
  if config.conv_impl != 'auto':
    return config.conv_impl, {'by': 'config'}
  forced = os.environ.get(ENV, '')
  if forced:
    if forced == 'rule':
      return layers.resolve_conv_impl('auto'), {'by': f'{ENV}=rule'}
    if forced not in FORMS:
      raise ConfigError(f'{ENV}={forced!r} is not a form; use one of '
                        f'{", ".join(FORMS)}, or rule (no measuring).')
    return forced, {'by': ENV}
  if jax.default_backend() != 'cpu':
    return layers.resolve_conv_impl('auto'), {'by': 'accelerator'}
  path = os.path.expanduser(cache_file or CACHE_FILE)
  key = cache_key(config)
  cached = _read_cache(path).get(key)
  if isinstance(cached, dict) and cached.get('form') in FORMS:
    return cached['form'], {'by': 'cache', 'cache': path, 'key': key,
                            'seconds': cached.get('seconds', {})}
  logging.info('conv_impl=auto: timing the train step with each exact '
               'convolution form (once for this machine and these shapes).')
  seconds = {}
  for form in FORMS:
    best = min(seconds.values(), default=None)
    seconds[form] = timer(config, form,
                          None if best is None else GIVE_UP * best)
  form = min(seconds, key=seconds.get)
  cache = _read_cache(path)
  cache[key] = {'form': form, 'seconds': seconds,
                'measured': time.strftime('%Y-%m-%d')}
  try:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    files.write_json(path, cache)
  except OSError as e:  # A read-only home: choose again next time.
    logging.warning('conv_impl=auto: could not cache the choice in %s (%s).',
                    path, e.strerror)
  return form, {'by': 'measured', 'cache': path, 'key': key,
                'seconds': seconds}


def describe(form: str, how: Dict[str, object]) -> str:
  """The one log line of a choice."""
  seconds = how.get('seconds') or {}
  timings = ', '.join(f'{f} {s * 1e3:.0f} ms' for f, s in seconds.items())
  return (f'conv_impl={form} (by {how["by"]}'
          + (f'; a train step: {timings}' if timings else '') + ')')


def resolve(config: ml_collections.ConfigDict, workdir: Optional[str] = None,
            timer: Timer = time_train_step) -> str:
  """`choose` for a run, the same on every process (process 0's choice),
  logged in one line and, with `workdir`, written to its conv_impl.json."""
  form, how = choose(config, timer)
  if jax.process_count() > 1:  # One program: every process the same form.
    index = multihost_utils.broadcast_one_to_all(
        np.int32(layers.CONV_IMPLS.index(form)))
    form = layers.CONV_IMPLS[int(index)]
  logging.info('%s', describe(form, how))
  if workdir and jax.process_index() == 0:
    files.write_json(os.path.join(workdir, names.CONV_IMPL),
                     {'form': form, **how})
  return form
