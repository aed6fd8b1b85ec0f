"""Every Python block of README.md and docs/*.md runs, as written.

The blocks of one page run in order in one namespace, in a fresh process
from the repository's root (where a reader of a clone runs them). A block
whose first line is `# needs: NAME[, NAME]` runs where those modules are
installed (CI installs every extra); `page` there means the colouring page
serving on 127.0.0.1:7860, which this test starts for the block.
"""

import glob
import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
from typing import List, Tuple

import pytest
from tiny import ROOT
from tiny import subprocess_env

PAGE_PORT = 7860
_BLOCK = re.compile(r'^```python\n(.*?)^```', re.M | re.S)
_NEEDS = re.compile(r'^# needs: (.+)$')


def python_blocks(path: str) -> List[Tuple[int, str]]:
  """(first line number, code) of each ```python block of a Markdown file."""
  text = open(path, encoding='utf-8').read()
  return [(text.count('\n', 0, m.start(1)) + 1, m.group(1))
          for m in _BLOCK.finditer(text)]


def needs(code: str) -> List[str]:
  """What a block's `# needs:` first line names (none: [])."""
  m = _NEEDS.match(code.split('\n', 1)[0])
  return [n.strip() for n in m.group(1).split(',')] if m else []


PAGES = [p for p in ['README.md'] + sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, 'docs',
                                                             '*.md')))
         if python_blocks(os.path.join(ROOT, p))]


def test_the_pages_with_code_are_found():
  # A parser that found nothing would pass every page below.
  assert {'README.md', 'docs/api.md', 'docs/colorize.md'} <= set(PAGES)
  blocks = python_blocks(os.path.join(ROOT, 'docs', 'api.md'))
  assert len(blocks) >= 5 and needs(blocks[-1][1]) == ['torch']


def _serve_page(log_path: str) -> subprocess.Popen:
  """The page on 127.0.0.1:PAGE_PORT, answering (at most 180 s to start)."""
  with socket.socket() as s:
    if s.connect_ex(('127.0.0.1', PAGE_PORT)) == 0:
      pytest.fail(f'port {PAGE_PORT} is taken; the docs\' page block needs '
                  'it free')
  log = open(log_path, 'w', encoding='utf-8')
  server = subprocess.Popen(
      [sys.executable, '-m', 'colorjax', 'page', f'--port={PAGE_PORT}'],
      cwd=ROOT, env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT)
  deadline = time.monotonic() + 180
  while time.monotonic() < deadline and server.poll() is None:
    with socket.socket() as s:
      if s.connect_ex(('127.0.0.1', PAGE_PORT)) == 0:
        return server
    time.sleep(0.5)
  server.kill()
  pytest.fail(f'the page did not start: {open(log_path).read()[-2000:]}')


@pytest.mark.parametrize('page', PAGES)
def test_the_python_blocks_of_a_page_run(page, tmp_path):
  runnable, missing = [], []
  for line, code in python_blocks(os.path.join(ROOT, page)):
    absent = [n for n in needs(code)
              if n != 'page' and importlib.util.find_spec(n) is None]
    if absent:
      missing.append(f'{page}:{line} needs {", ".join(absent)}')
    else:
      runnable.append((line, code))
  script = ['import sys', 'namespace = {"__name__": "__main__"}']
  for line, code in runnable:
    script += [f'print("--- {page}:{line}", flush=True)',
               f'exec(compile({code!r}, {f"{page}:{line}"!r}, "exec"), '
               'namespace)']
  path = tmp_path / 'blocks.py'
  path.write_text('\n'.join(script) + '\n')
  server = None
  if any('page' in needs(code) for _, code in runnable):
    server = _serve_page(str(tmp_path / 'page.log'))
  try:
    result = subprocess.run([sys.executable, str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=900,
                            env=subprocess_env())
  finally:
    if server is not None:
      server.terminate()
      server.wait(timeout=30)
  assert result.returncode == 0, (
      f'{page}: a block failed:\n{result.stdout[-1500:]}\n'
      f'{result.stderr[-3000:]}')
  assert result.stdout.count('--- ') == len(runnable)
  if missing:  # Said, not hidden: CI installs every extra.
    pytest.skip('; '.join(missing))
