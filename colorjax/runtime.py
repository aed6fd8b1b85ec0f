"""Process setup shared by the command-line entry points."""

import ctypes
import errno
import functools
import os
import platform
import signal
import socket
import sys
import threading
import time
from typing import Callable, List, Optional

from absl import app
from absl import flags
from absl import logging
import jax

from colorjax.errors import ColorjaxError
from colorjax.errors import one_line

__all__ = ['for_users', 'give_back_freed_memory', 'initialize_distributed',
           'keep_freed_memory', 'PreemptionSignals', 'run_tool', 'setup',
           'system_malloc_asked',
           'tensorflow', 'UsageError', 'USER_CACHE_DIR', 'verbose']


def verbose() -> bool:
  """Whether the libraries' start-up messages are wanted (COLORJAX_VERBOSE)."""
  return os.environ.get('COLORJAX_VERBOSE', '') not in ('', '0')


class _QuietLibraries(logging.logging.Filter):
  """Drops orbax's INFO chatter (dozens of lines per checkpoint) and its
  warnings that a manager opened read-only (for evaluation) is read-only,
  and JAX's INFO start-up lines (backends it did not find) unless
  COLORJAX_VERBOSE is set."""

  def filter(self, record):
    if '/jax/' in record.pathname or '/jaxlib/' in record.pathname:
      return verbose() or record.levelno >= logging.logging.WARNING
    if '/orbax/' not in record.pathname:
      return True
    if record.levelno < logging.logging.WARNING:
      return False
    message = record.getMessage()
    return 'read_only' not in message and 'read only' not in message


def system_malloc_asked() -> bool:
  """Whether COLORJAX_SYSTEM_MALLOC asks to keep the system's malloc: 1,
  true, yes or on; 0, false, no, off or unset leave the tuning on."""
  value = os.environ.get('COLORJAX_SYSTEM_MALLOC', '').strip().lower()
  return value not in ('', '0', 'false', 'no', 'off')


@functools.lru_cache(maxsize=None)
def _glibc() -> Optional[ctypes.CDLL]:
  """This process's C library if it is glibc (the malloc tuned below), else
  None."""
  if platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc':
    return None
  return ctypes.CDLL(None)


# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8


def keep_freed_memory() -> bool:
  """Makes glibc malloc reuse freed memory instead of returning it to the OS.

  XLA:CPU allocates each step's temporary buffers (hundreds of MiB for the
  GAN step) on its worker threads. glibc serves such large blocks with a
  fresh mmap from a thread's arena and unmaps them on free, so every step
  page-faults all of it in again: `benchmarks/train_step.py --models=bn`
  counts about 106,000 faults per step that way and runs 17% slower. With one
  arena, no mmap and no trimming, the blocks are reused (0 faults per step).
  Trimming is off altogether (threshold -1): the largest finite threshold,
  2 GiB, still trimmed the 4-seed step's larger temporaries (360,540 faults
  per step, `benchmarks/train_step.py --seeds=1,4 --steps=3 --repeats=2`).
  Must run before JAX starts its backend threads; set COLORJAX_SYSTEM_MALLOC=1
  to skip it. The process's resident memory then stays at its peak.

  Returns:
    Whether the settings were applied (glibc only).
  """
  libc = _glibc()
  if system_malloc_asked() or libc is None:
    return False
  ok = all([libc.mallopt(param, value) == 1 for param, value in (  # Try all.
      (_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, -1))])
  logging.log_if(logging.WARNING, 'mallopt refused a setting; XLA:CPU steps '
                 'may page-fault their buffers in again.', not ok)
  return ok


def give_back_freed_memory() -> None:
  """Returns the heap memory freed so far to the system (glibc's
  malloc_trim), where `keep_freed_memory` would keep it: for a long-running
  server between requests, whose full-resolution paintings would otherwise
  leave it at its peak. Does nothing elsewhere than glibc."""
  libc = _glibc()
  if libc is not None:
    libc.malloc_trim(0)


def setup(compilation_cache_dir: str = '', keep_freed: bool = True) -> None:
  """Quiets library logs, keeps TensorFlow off GPUs, enables the XLA cache.

  Also tunes malloc for XLA:CPU (`keep_freed_memory`); call this before the
  first JAX computation.

  Args:
    compilation_cache_dir: where XLA's persistent compilation cache lives, so
      a resumed run does not compile again ('' leaves it off).
    keep_freed: tune malloc to keep freed memory (`keep_freed_memory`):
      right for training and batch tools; a long-running server passes
      False, so that the memory of a large painting goes back to the system.
  """
  if keep_freed:
    keep_freed_memory()
  logging.get_absl_handler().addFilter(_QuietLibraries())
  if not verbose():  # TensorFlow's C++ start-up notices (TFDS sources).
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  if compilation_cache_dir:
    jax.config.update('jax_compilation_cache_dir',
                      os.path.expanduser(compilation_cache_dir))


# Where the tools that colour paintings keep XLA's compiled programs, so a
# later start does not compile them again (COLORJAX_CACHE_DIR='' turns it off).
USER_CACHE_DIR = '~/.cache/colorjax/xla'


def for_users() -> None:
  """For the tools whose output is about a person's paintings (colorize,
  evaluate, the page): INFO lines (checkpoint restores, training talk) are
  hidden unless COLORJAX_VERBOSE=1; warnings and errors stay; compiled
  programs are cached on disk (most of a cold start is compiling)."""
  if not verbose():
    logging.set_verbosity(logging.WARNING)
  cache = os.environ.get('COLORJAX_CACHE_DIR', USER_CACHE_DIR)
  if cache:
    try:
      os.makedirs(os.path.expanduser(cache), exist_ok=True)
    except OSError:
      return  # A read-only home: compile every time, as before.
    jax.config.update('jax_compilation_cache_dir', os.path.expanduser(cache))
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.1)


def tensorflow():
  """TensorFlow, imported only where a TFDS source needs it, and kept off the
  GPUs (tf.data must not take GPU memory from JAX)."""
  from colorjax import extras  # pylint: disable=g-import-not-at-top
  tf = extras.require('tensorflow', 'tfds', 'a TFDS data set')
  try:
    tf.config.set_visible_devices([], 'GPU')
  except RuntimeError:  # Already initialised: it was hidden then.
    pass
  return tf


def _in_cluster() -> bool:
  """Whether this looks like one of several processes JAX can auto-detect."""
  env = os.environ
  return (int(env.get('SLURM_NTASKS', '1') or 1) > 1 or
          int(env.get('OMPI_COMM_WORLD_SIZE', '1') or 1) > 1 or
          bool(env.get('TPU_WORKER_HOSTNAMES', '').count(',')))


def _wait_for_coordinator(address: str, timeout_s: float) -> None:
  host, _, port = address.rpartition(':')
  deadline = time.monotonic() + timeout_s
  while True:
    try:
      with socket.create_connection((host, int(port)), timeout=2):
        return
    except OSError as e:
      if time.monotonic() > deadline:
        raise ColorjaxError(
            f'cannot reach the coordinator at {address} within {timeout_s:.0f}'
            f' s ({e.strerror or type(e).__name__}); start process 0 first '
            'and check --coordinator_address.') from e
      time.sleep(0.5)


def initialize_distributed(coordinator_address: str = '',
                           num_processes: int = 0, process_id: int = -1,
                           timeout_s: int = 300) -> None:
  """Joins JAX's multi-controller runtime when run as one of several processes.

  Explicit: `coordinator_address` (host:port of process 0), `num_processes`
  and `process_id`. Otherwise, on SLURM (SLURM_NTASKS > 1), Open MPI or a
  multi-host Cloud TPU, `jax.distributed.initialize()` detects them itself.
  A single process does nothing. CPU processes exchange data with gloo.

  Raises:
    ColorjaxError: the coordinator cannot be reached within `timeout_s`.
  """
  if not coordinator_address and not _in_cluster():
    return
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  if coordinator_address and process_id > 0:
    # XLA aborts with a stack trace when the coordinator never answers;
    # fail first, with a line that says what to do.
    _wait_for_coordinator(coordinator_address, timeout_s)
  logging.info('Joining the JAX cluster%s (timeout %d s).',
               f' at {coordinator_address} as process {process_id} of '
               f'{num_processes}' if coordinator_address else '', timeout_s)
  jax.distributed.initialize(
      coordinator_address or None, num_processes or None,
      process_id if process_id >= 0 else None,
      initialization_timeout=timeout_s)


_HELP_FLAGS = ('--help', '-h', '-?', '--helpshort', '--helpfull')


class UsageError(ColorjaxError):
  """A command line that cannot be run as given."""


def run_tool(main: Callable[[List[str]], None], extra_help: str = '',
             flags_parser: Optional[Callable] = None) -> None:
  """absl's `app.run` for a command-line tool.

  `--help` prints the tool's usage (its module docstring, `extra_help`, and
  its own flags) and exits 0; a `ColorjaxError` from `main` is one
  `error: ...` line on stderr and exit status 1, never a traceback; Ctrl-C
  is one line too (status 130).
  """
  if any(a in _HELP_FLAGS for a in sys.argv[1:]):
    # The tool's own module: `__main__` under `python -m colorjax.x`, the
    # module itself under the `colorjax` command.
    module = sys.modules[getattr(main, '__module__', '__main__')]
    text = (module.__doc__ or '').strip()
    own = flags.FLAGS.module_help(module) if hasattr(module, '__file__') else ''
    print('\n\n'.join(t for t in (text, extra_help.strip(), own) if t))
    sys.exit(0)

  def wrapped(argv):
    try:
      main(argv)
    except ColorjaxError as e:
      sys.stdout.flush()
      print(f'error: {one_line(str(e))}', file=sys.stderr)
      sys.exit(1)
    except KeyboardInterrupt:
      print('stopped (Ctrl-C); what was finished is kept.', file=sys.stderr)
      sys.exit(130)
    except OSError as e:
      if e.errno not in (errno.ENOSPC, errno.EDQUOT):
        raise
      sys.stdout.flush()
      print(one_line(f'error: the disk is full ({e.strerror}'
                     f'{": " + str(e.filename) if e.filename else ""}); what '
                     'was finished is kept: free space and run the same '
                     'command again.'), file=sys.stderr)
      sys.exit(1)

  if flags_parser is None:
    app.run(wrapped)
  else:
    app.run(wrapped, flags_parser=flags_parser)


_STOP_ASKED = [False]


def stop_asked() -> bool:
  """Whether this process was asked to stop (SIGTERM / SIGINT) while it
  trained: a program training several runs stops after the current one."""
  return _STOP_ASKED[0]


class PreemptionSignals:
  """Turns SIGTERM / SIGINT into a request to stop after the current step."""

  def __init__(self):
    self.requested = False
    self._previous = {}

  def _handle(self, signum, frame):
    del frame
    if not self.requested:
      logging.warning('Received %s: finishing this step, then saving.',
                      signal.Signals(signum).name)
    self.requested = True
    _STOP_ASKED[0] = True

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGTERM, signal.SIGINT):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
