"""Local HTTP servers for the downloaders' tests (127.0.0.1 only), and a
command interrupted with Ctrl-C while it downloads."""

import http.server
import signal
import subprocess
import threading
import time
from typing import Callable, List, Tuple

from tiny import subprocess_env


def serve(handler_class) -> Tuple[http.server.ThreadingHTTPServer, str]:
  """(server, its base URL), serving in a daemon thread; shut it down."""
  httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler_class)
  httpd.daemon_threads = True
  threading.Thread(target=httpd.serve_forever, daemon=True).start()
  return httpd, f'http://127.0.0.1:{httpd.server_address[1]}'


class Drip(http.server.BaseHTTPRequestHandler):
  """Promises 10 kB and sends a byte every 0.2 s; or, for /big/, 5 MB."""
  fetching = threading.Event()  # Set by the first download.

  def do_GET(self):  # noqa: N802
    self.fetching.set()
    if self.path.startswith('/big/'):
      self.send_response(200)
      self.send_header('Content-Length', str(5 << 20))
      self.end_headers()
      self.wfile.write(b'x' * (5 << 20))
      return
    self.send_response(200)
    self.send_header('Content-Length', '10000')
    self.end_headers()
    try:
      for _ in range(10000):
        self.wfile.write(b'x')
        self.wfile.flush()
        time.sleep(0.2)
    except OSError:
      pass

  def do_HEAD(self):  # noqa: N802
    self.send_response(200)
    self.end_headers()

  def log_message(self, *args):
    pass


def interrupt_while_fetching(command_for: Callable[[str], List[str]]
                             ) -> Tuple[int, str, float]:
  """Serves `Drip`, runs `command_for(its base URL)`, sends it SIGINT once a
  download has begun, and returns (exit status, stderr, seconds it took to
  stop)."""
  httpd, base = serve(Drip)
  try:
    proc = subprocess.Popen(
        command_for(base), env=subprocess_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        # As at a terminal: pytest-xdist's workers ignore SIGINT, and a
        # child inherits that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    Drip.fetching.clear()
    deadline = time.monotonic() + 120
    while not Drip.fetching.wait(0.2):  # Until downloads are running.
      assert time.monotonic() < deadline and proc.poll() is None
    proc.send_signal(signal.SIGINT)
    start = time.monotonic()
    _, stderr = proc.communicate(timeout=30)
    return proc.returncode, stderr, time.monotonic() - start
  finally:
    httpd.shutdown()
