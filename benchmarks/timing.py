"""Call timing shared by the benchmark scripts (defines no flags, so any
script may import it)."""

import time
from typing import Any, Callable, List, Tuple

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
