"""Call timing shared by the benchmark scripts (defines no flags, so any
script may import it)."""

import collections
import glob
import gzip
import json
import os
import re
import tempfile
import time
from typing import Any, Callable, Dict, List, Tuple

import jax


def call_seconds(fn: Callable[..., Any], *args: Any,
                 repeats: int) -> Tuple[float, List[float]]:
  """Wall seconds of a first call of fn(*args), then of `repeats` more calls.

  The first includes compilation. JAX results are waited for; PyTorch on CPU
  and NumPy return finished values.
  """
  t0 = time.perf_counter()
  jax.block_until_ready(fn(*args))
  first = time.perf_counter() - t0
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t0)
  return first, times


# An XLA:CPU thunk in a profiler trace: an HLO instruction's name, as
# 'concatenate.40' or 'ynn_fusion.101' (not Python frames, '$...', nor the
# runtime's own spans, 'ThunkExecutor::Execute').
_THUNK = re.compile(r'^([a-z][a-z0-9_]*?)(?:\.\d+)?$')


def op_milliseconds(run: Callable[[], Any], calls: int) -> Dict[str, float]:
  """Milliseconds per call of `run` spent in each kind of XLA:CPU thunk.

  Traces `calls` calls with the JAX profiler and sums the thunks' spans by
  kind (the instruction name without its number: 'concatenate',
  'ynn_fusion' for YNNPACK dots, 'copy', ...). Thunks that run at once on
  different threads each count in full, so the kinds can sum to more than
  the wall time; compare kinds between programs, not to the step time.
  """
  with tempfile.TemporaryDirectory() as tmp:
    with jax.profiler.trace(tmp, create_perfetto_trace=True):
      for _ in range(calls):
        out = run()
      jax.block_until_ready(out)
    path, = glob.glob(os.path.join(tmp, '**', '*.trace.json.gz'),
                      recursive=True)
    with gzip.open(path) as f:
      events = json.load(f)
  events = events['traceEvents'] if isinstance(events, dict) else events
  totals = collections.Counter()
  for e in events:
    match = _THUNK.match(e.get('name', ''))
    if e.get('ph') == 'X' and match:
      totals[match.group(1)] += e.get('dur', 0) / 1e3 / calls
  return dict(totals)
