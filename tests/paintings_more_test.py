"""The paintings_more builder, against a local server standing in for the
source repositories (127.0.0.1 only; no network)."""

import csv
import functools
import http.server
import io
import json
import os
import threading

import numpy as np
from PIL import Image
import pytest

from colorjax import configs
from colorjax.config_validation import validate_config
from colorjax.datasets import paintings_more
from colorjax.errors import ConfigError


def _jpeg(w, h, seed):
  rng = np.random.RandomState(seed)
  img = Image.fromarray(rng.randint(0, 256, (h, w, 3), np.uint8))
  out = io.BytesIO()
  img.save(out, 'JPEG', quality=95)
  return out.getvalue()


class _Flaky(http.server.SimpleHTTPRequestHandler):
  """Serves a folder; fails the first request for each path in `flaky`."""
  flaky = set()

  def do_GET(self):  # noqa: N802
    if self.path in self.flaky:
      self.flaky.discard(self.path)
      self.send_error(503)
      return
    super().do_GET()

  def log_message(self, *args):
    pass


@pytest.fixture(name='server')
def server_fixture(tmp_path):
  root = tmp_path / 'served'
  handler = functools.partial(_Flaky, directory=str(root))
  httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
  thread = threading.Thread(target=httpd.serve_forever, daemon=True)
  thread.start()
  yield root, f'http://127.0.0.1:{httpd.server_address[1]}'
  httpd.shutdown()
  httpd.server_close()


def test_builds_checks_resumes_and_reports(server, tmp_path):
  root, base = server
  rows = []
  # (source size, manifest size, what the server has)
  cases = [((512, 300), (256, 150), 'ok'), ((300, 600), (128, 256), 'ok'),
           ((400, 400), (256, 256), 'flaky'), ((400, 400), (256, 256), 'gone'),
           ((400, 400), (256, 256), 'corrupt'), ((100, 90), (256, 230), 'ok')]
  for i, ((w, h), (mw, mh), kind) in enumerate(cases):
    path = f'Style One/painter-{i}_title.jpg'  # A space: quoted in the URL.
    rows.append({'file': f'p{i}.jpg', 'artist': 'A', 'title': 'T',
                 'source_repo': 'owner/repo', 'source_commit': 'c0ffee',
                 'source_path': path, 'width': str(mw), 'height': str(mh),
                 'split': 'test' if i == 1 else 'train'})
    dest = root / 'owner' / 'repo' / 'c0ffee' / path
    dest.parent.mkdir(parents=True, exist_ok=True)
    if kind != 'gone':
      dest.write_bytes(b'not a jpeg' if kind == 'corrupt' else
                       _jpeg(w, h, i))
    if kind == 'flaky':
      _Flaky.flaky.add('/owner/repo/c0ffee/Style%20One/' + dest.name)
  manifest = tmp_path / 'manifest.tsv'
  with open(manifest, 'w', newline='') as f:
    writer = csv.DictWriter(f, list(rows[0]), delimiter='\t')
    writer.writeheader()
    writer.writerows(rows)
  out = tmp_path / 'out'
  report = paintings_more.build(str(out), base=base, workers=3, retries=2,
                                timeout=10, manifest=str(manifest))
  assert report['counts'] == {'built': 3, 'present': 0, 'failed': 3}
  assert report['failed']['p3.jpg'] == 'HTTP 404'
  assert 'not a readable image' in report['failed']['p4.jpg']
  assert 'under 128 px' in report['failed']['p5.jpg']
  with Image.open(out / 'p0.jpg') as im:
    assert im.size == (256, 150) and im.mode == 'RGB'
  with Image.open(out / 'p1.jpg') as im:
    assert im.size == (128, 256)
  assert (out / 'MANIFEST.tsv').exists()
  assert json.loads((out / 'build_report.json').read_text()) == report
  assert not [p for p in os.listdir(out) if p.endswith('.part')]
  # Resumable: built files are kept; a torn one is built again.
  (out / 'p0.jpg').write_bytes((out / 'p0.jpg').read_bytes()[:100])
  again = paintings_more.build(str(out), base=base, workers=3, retries=0,
                               timeout=10, manifest=str(manifest))
  assert again['counts'] == {'built': 1, 'present': 2, 'failed': 3}


def test_the_shipped_manifest_is_the_corpus():
  rows = paintings_more.read_manifest()
  assert len(rows) == 2500
  assert sum(r['split'] == 'test' for r in rows) == 260
  assert paintings_more.source_url(rows[0]).startswith(
      'https://raw.githubusercontent.com/BathVisArtData/PeopleArt/')


def test_a_missing_corpus_names_the_command_that_builds_it(tmp_path):
  config = configs.load('paintings:cpu')
  config.dataset = str(tmp_path / 'paintings_more')
  with pytest.raises(ConfigError, match='python -m colorjax.datasets.'
                     'paintings_more'):
    validate_config(config, 1)
