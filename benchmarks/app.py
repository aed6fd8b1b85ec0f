"""The colouring page's speed: one update in-process, and the server under load.

  python benchmarks/app.py --workdir=DIR [--megapixels=1] [--work_size=N]
  python benchmarks/app.py --workdir=DIR --clients=4 [--seconds=60]

Without --clients: one update is what the page does after each click (the
preview with the hints drawn, on the greyscale made once at the upload;
the full-resolution colourisation with those hints; the PNG encoding of the
download). Prints the median and 90th percentile over --repeats updates,
each with one more hint, after a compiling first one.

With --clients=N: starts the page's server (`colorjax page`) on a
free local port and has N clients call its HTTP endpoint `/colourise`
(Gradio's client, each request a painting and 5 hints) for --seconds, each
waiting for its answer before it sends the next. Prints the latency
percentiles, the throughput, and the server's resident memory before the
load, at its peak and after each of two rounds (growth between them would
be a leak), and checks the server is still up.
"""

import concurrent.futures
import json
import logging
import os
import sys
import tempfile
import threading
import time

from absl import app as absl_app
from absl import flags
import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from colorjax import runtime  # noqa: E402
from colorjax.inference import colorize  # noqa: E402
from colorjax.page import app  # noqa: E402
from colorjax.page import logic as page  # noqa: E402
from colorjax.page import records  # noqa: E402

flags.DEFINE_string('workdir', None, 'A trained run.', required=True)
flags.DEFINE_float('megapixels', 1.0, 'Painting size.')
flags.DEFINE_integer('work_size', None, 'Working size (default: trained).')
flags.DEFINE_integer('repeats', 10, 'Timed updates (in-process).')
flags.DEFINE_integer('clients', 0, 'Concurrent HTTP clients (0: time one '
                     'update in-process instead).')
flags.DEFINE_float('seconds', 60, 'How long the clients send requests.')
FLAGS = flags.FLAGS


def _painting(side: int) -> np.ndarray:
  rng = np.random.default_rng(0)
  return cv2.resize(rng.integers(0, 256, (48, 48, 3), np.uint8), (side, side),
                    interpolation=cv2.INTER_CUBIC)


def in_process(side: int) -> str:
  runtime.setup()
  colorizer = colorize.Colorizer.from_workdir(FLAGS.workdir,
                                              work_size=FLAGS.work_size)
  rng = np.random.default_rng(0)
  rgb = _painting(side)
  grey, scale = records.grey_preview(rgb)  # Once per upload.
  points, times = [], []
  for i in range(FLAGS.repeats + 1):
    if colorizer.takes_hints:
      points = page.add_point(points, rng.integers(side), rng.integers(side),
                             '#1f4e9c', 8, (side, side))
    start = time.perf_counter()
    page.preview(grey, scale, points)
    out = page.colourise(colorizer, rgb, points, 1.0)
    cv2.imencode('.png', out[..., ::-1])
    if i:  # The first compiles.
      times.append(time.perf_counter() - start)
  return (f'work size {colorizer.work_size}: median {np.median(times):.3f} '
          f's, p90 {np.percentile(times, 90):.3f} s per update over '
          f'{len(times)}')


def _rss_mb(pid: int) -> float:
  with open(f'/proc/{pid}/status', encoding='ascii') as f:
    for line in f:
      if line.startswith('VmRSS:'):
        return int(line.split()[1]) / 1024
  return float('nan')


def under_load(side: int) -> str:
  from gradio_client import Client  # pylint: disable=g-import-not-at-top
  from gradio_client import handle_file  # pylint: disable=g-import-not-at-top
  folder = tempfile.mkdtemp(prefix='colorjax_app_bench_')
  painting = os.path.join(folder, 'painting.png')
  cv2.imwrite(painting, _painting(side))
  hints = json.dumps([{'x': int(x), 'y': int(y), 'color': '#1f4e9c'}
                      for x, y in np.random.default_rng(1).integers(
                          side, size=(5, 2))])
  args = (f'--work_size={FLAGS.work_size}',) if FLAGS.work_size else ()
  with open(os.path.join(folder, 'server.log'), 'w') as log:
    url, server = app.start_server(FLAGS.workdir, args, log=log)
  try:
    clients = [Client(url, verbose=False) for _ in range(FLAGS.clients)]

    def call(client):
      start = time.perf_counter()
      client.predict(handle_file(painting), hints, 1.0,
                     api_name='/colourise')
      return time.perf_counter() - start

    call(clients[0])  # Compiles.
    before = _rss_mb(server.pid)
    peak, stop = [before], threading.Event()

    def watch():
      while not stop.wait(0.2):
        peak.append(_rss_mb(server.pid))

    def loop(client):
      times = []
      end = time.perf_counter() + FLAGS.seconds
      while time.perf_counter() < end:
        times.append(call(client))
      return times

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    rounds = []
    for _ in range(2):  # A second round shows whether memory keeps growing.
      start = time.perf_counter()
      with concurrent.futures.ThreadPoolExecutor(FLAGS.clients) as pool:
        times = sum(pool.map(loop, clients), [])
      elapsed = time.perf_counter() - start
      time.sleep(10)  # Let the server settle.
      rounds.append((times, elapsed, _rss_mb(server.pid)))
    stop.set()
    watcher.join()
    alive = server.poll() is None
    times = sum((r[0] for r in rounds), [])
    elapsed = sum(r[1] for r in rounds)
    p50, p90, p99 = np.percentile(times, [50, 90, 99])
    return (f'{FLAGS.clients} clients, 2 rounds of {FLAGS.seconds:g} s: '
            f'{len(times)} requests, {len(times) / elapsed:.2f} per s; '
            f'latency p50 {p50:.2f} s, p90 {p90:.2f} s, p99 {p99:.2f} s; '
            f'server memory {before:.0f} MB before, peak {max(peak):.0f} '
            f'MB, {rounds[0][2]:.0f} MB 10 s after the first round and '
            f'{rounds[1][2]:.0f} MB after the second; server '
            f'{"up" if alive else "DOWN"}')
  finally:
    server.terminate()
    server.wait(timeout=30)


def main(argv):
  del argv
  logging.getLogger('httpx').setLevel(logging.WARNING)  # Every request.
  side = int(round((FLAGS.megapixels * 1e6) ** 0.5))
  result = under_load(side) if FLAGS.clients else in_process(side)
  print(f'python benchmarks/app.py {" ".join(sys.argv[1:])} '
        f'({side}x{side} painting): {result}')


if __name__ == '__main__':
  absl_app.run(main)
