"""HTTP downloads for the dataset builders: retried, bounded and stoppable."""

import concurrent.futures
import json
import threading
import time
from typing import Callable, List, Optional, Sequence, Tuple, TypeVar
import urllib.error
import urllib.parse
import urllib.request

from colorjax import files

__all__ = ['CHUNK', 'fetch_bytes', 'FetchError', 'READ_TIMEOUT', 'run_all',
           'STOPPED', 'unreachable', 'write_report']

T = TypeVar('T')
CHUNK = 1 << 16
# No single wait on the socket is longer than this, so a stop request or a
# file's deadline is noticed within it even on a server that drips.
READ_TIMEOUT = 5.0


class FetchError(Exception):
  """A URL that could not be fetched; the message is a short reason."""


def _read(url: str, max_bytes: int, deadline: float,
          stop: Optional[threading.Event], timeout: float) -> bytes:
  request = urllib.request.Request(url, headers={'User-Agent': 'colorjax'})
  wait = max(0.1, min(timeout, READ_TIMEOUT, deadline - time.monotonic()))
  with urllib.request.urlopen(request, timeout=wait) as response:
    length = response.headers.get('Content-Length')
    if length and length.isdigit() and int(length) > max_bytes:
      raise FetchError(f'{int(length):,} bytes, over the {max_bytes:,} '
                       'allowed')
    chunks, size = [], 0
    while True:
      if stop is not None and stop.is_set():
        raise FetchError('stopped')
      if time.monotonic() > deadline:
        raise FetchError('past its deadline')
      chunk = response.read1(CHUNK)
      if not chunk:
        return b''.join(chunks)
      size += len(chunk)
      if size > max_bytes:
        raise FetchError(f'over the {max_bytes:,} bytes allowed')
      chunks.append(chunk)


def fetch_bytes(url: str, retries: int = 3, timeout: float = 30.0,
                max_bytes: int = 64 << 20, deadline_seconds: float = 300.0,
                stop: Optional[threading.Event] = None) -> bytes:
  """The body of `url`, retried with backoff on transient errors.

  Args:
    url: what to fetch.
    retries: retries after a transient error.
    timeout: seconds a connection or a read may wait (at most READ_TIMEOUT
      at a time, so `stop` and the deadline are checked).
    max_bytes: a larger body is refused (not retried).
    deadline_seconds: the whole fetch, retries included, ends by then.
    stop: set by another thread to abandon the fetch.

  Raises:
    FetchError: a dead link (404, 410: not retried), a body that is empty or
      over max_bytes, the deadline or a stop, or the last transient error
      (timeouts, resets, 5xx).
  """
  deadline = time.monotonic() + deadline_seconds
  error = ''
  for attempt in range(retries + 1):
    try:
      data = _read(url, max_bytes, deadline, stop, timeout)
      if not data:
        raise FetchError('empty response')
      return data
    except urllib.error.HTTPError as e:
      error = f'HTTP {e.code}'
      if e.code in (404, 410):  # Dead link: retrying will not help.
        break
    except FetchError as e:
      error = str(e)
      if error != 'empty response':  # Too big, too slow or stopped: final.
        break
    except Exception as e:  # noqa: BLE001  (timeouts, resets, DNS...)
      error = type(e).__name__
    if time.monotonic() > deadline:
      error = 'past its deadline'
      break
    if attempt < retries:
      pause = min(0.2 * 2**attempt, 5.0)
      if stop is None:
        time.sleep(pause)
      elif stop.wait(pause):
        raise FetchError('stopped')
  if error == 'past its deadline':
    error = f'past its {deadline_seconds:g} s deadline'
  raise FetchError(error)


def unreachable(base: str, timeout: float = 10.0) -> Optional[str]:
  """Why `base`'s host cannot be reached (None if it answers at all: any
  HTTP status, even an error, means the network is there)."""
  parts = urllib.parse.urlsplit(base)
  root = f'{parts.scheme}://{parts.netloc}/'
  try:
    request = urllib.request.Request(root, method='HEAD',
                                     headers={'User-Agent': 'colorjax'})
    with urllib.request.urlopen(request, timeout=timeout):
      return None
  except urllib.error.HTTPError:
    return None
  except urllib.error.URLError as e:
    return f'{type(e.reason).__name__}: {e.reason}'
  except Exception as e:  # noqa: BLE001  (timeouts, resets)
    return f'{type(e).__name__}: {e}'


STOPPED = 'stopped'  # An item a Ctrl-C kept from finishing (`run_all`).


def run_all(items: Sequence[T], work: Callable[[T], str], workers: int,
            stop: threading.Event) -> Tuple[List[str], bool]:
  """`work(item)` for every item on `workers` threads: (results in the
  items' order, whether a Ctrl-C stopped it).

  A Ctrl-C at any point (KeyboardInterrupt in this thread) sets `stop`, so
  that running items abandon their download within READ_TIMEOUT (pass it
  to `fetch_bytes`), cancels the queued ones, and waits for the running
  ones; every item not finished gets STOPPED. The caller writes its report
  and raises KeyboardInterrupt again.
  """
  results: List[str] = [STOPPED] * len(items)
  done = set()
  interrupted = False
  pool = concurrent.futures.ThreadPoolExecutor(max(1, workers))
  futures = {}
  try:  # From the first submission: a Ctrl-C at any point stops the workers.
    for i, item in enumerate(items):
      futures[pool.submit(work, item)] = i
    for future in concurrent.futures.as_completed(futures):
      results[futures[future]] = future.result()
      done.add(futures[future])
  except KeyboardInterrupt:
    interrupted = True
    stop.set()
    pool.shutdown(wait=True, cancel_futures=True)
    for future, i in futures.items():
      if i not in done and not future.cancelled():
        results[i] = future.result()
  finally:
    pool.shutdown(wait=True, cancel_futures=True)
  return results, interrupted


def write_report(path: str, report: dict, interrupted: bool) -> None:
  """Writes a builder's JSON report atomically, marked `interrupted` after
  a Ctrl-C, and then raises KeyboardInterrupt again for the caller."""
  if interrupted:
    report = {**report, 'interrupted': True}
  files.write_atomically(path, json.dumps(report, indent=1).encode())
  if interrupted:
    raise KeyboardInterrupt
