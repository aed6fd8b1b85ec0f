"""The paintings_more builder, against a local server standing in for the
source repositories (127.0.0.1 only; no network)."""

import csv
import functools
import http.server
import io
import json
import os
import socket
import sys
import threading
import time

import http_fakes
import numpy as np
from PIL import Image
import pytest

from colorjax import configs
from colorjax.datasets import paintings_more
from colorjax.errors import ConfigError
from colorjax.errors import DataError
from colorjax.training.config_validation import validate_config


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
  report = paintings_more.build(
      str(out),
      fetch=paintings_more.Fetch(base=base, workers=3, retries=2, timeout=10),
      manifest=str(manifest))
  assert report['counts'] == {'built': 3, 'present': 0, 'different': 0,
                              'failed': 3, 'not tried': 0}
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
  again = paintings_more.build(
      str(out),
      fetch=paintings_more.Fetch(base=base, workers=3, retries=0, timeout=10),
      manifest=str(manifest))
  assert again['counts'] == {'built': 1, 'present': 2, 'different': 0,
                             'failed': 3, 'not tried': 0}


def test_the_shipped_manifest_is_the_corpus():
  rows = paintings_more.read_manifest()
  assert len(rows) == 2500
  assert sum(r['split'] == 'test' for r in rows) == 260
  assert paintings_more.source_url(rows[0]).startswith(
      'https://raw.githubusercontent.com/BathVisArtData/PeopleArt/')


def test_a_missing_corpus_names_the_command_that_builds_it(tmp_path):
  config = configs.load('paintings:cpu')
  config.dataset = str(tmp_path / 'paintings_more')
  with pytest.raises(ConfigError, match='colorjax download '
                     'paintings_more'):
    validate_config(config, 1)


def _manifest(tmp_path, rows):
  manifest = tmp_path / 'manifest.tsv'
  with open(manifest, 'w', newline='') as f:
    writer = csv.DictWriter(f, list(rows[0]), delimiter='\t')
    writer.writeheader()
    writer.writerows(rows)
  return str(manifest)


def _row(i, sha='', file=None):
  return {'file': file or f'p{i}.jpg', 'artist': 'A', 'title': 'T',
          'source_repo': 'o/r', 'source_commit': 'c', 'source_path':
          f'p{i}.jpg', 'width': '256', 'height': '192', 'split': 'train',
          'sha256': sha}


def test_sha256_refuses_swapped_sources_and_rebuilds_torn_files(server,
                                                                 tmp_path):
  root, base = server
  (root / 'o' / 'r' / 'c').mkdir(parents=True)
  rows = []
  for i in range(3):
    source = _jpeg(400, 300, 10 + i)
    (root / 'o' / 'r' / 'c' / f'p{i}.jpg').write_bytes(source)
    rows.append(_row(i, paintings_more.sha256(
        paintings_more.convert(source, _row(i)))))
  # The server now hands out noise of the right size for p2.
  (root / 'o' / 'r' / 'c' / 'p2.jpg').write_bytes(_jpeg(400, 300, 99))
  manifest = _manifest(tmp_path, rows)
  out = tmp_path / 'out'
  report = paintings_more.build(
      str(out),
      fetch=paintings_more.Fetch(base=base, workers=2, retries=0),
      manifest=manifest)
  assert report['counts']['built'] == 2 and report['counts']['failed'] == 1
  assert 'differs from the manifest\'s SHA-256' in report['failed']['p2.jpg']
  assert not (out / 'p2.jpg').exists()
  # A file torn to 60% keeps its JPEG header: the SHA-256 finds the tear.
  whole = (out / 'p0.jpg').read_bytes()
  (out / 'p0.jpg').write_bytes(whole[:len(whole) * 6 // 10])
  again = paintings_more.build(
      str(out),
      fetch=paintings_more.Fetch(
          base=base, workers=2, retries=0, keep_different=True),
      manifest=manifest)
  assert again['counts'] == {'built': 1, 'present': 1, 'different': 1,
                             'failed': 0, 'not tried': 0}
  assert (out / 'p0.jpg').read_bytes() == whole
  assert (out / 'p2.jpg').exists()  # Kept, as asked, and counted.


def test_a_file_has_a_size_cap_and_a_deadline(tmp_path):
  httpd, base = http_fakes.serve(http_fakes.Drip)
  try:
    rows = [_row(0), dict(_row(1), source_repo='big/r')]
    out = tmp_path / 'out'
    start = time.monotonic()
    report = paintings_more.build(
        str(out),
        rows,
        fetch=paintings_more.Fetch(
            base=base, workers=2, retries=5, max_bytes=1 << 20, deadline=2.0),
        manifest=_manifest(tmp_path, rows))
    assert time.monotonic() - start < 15
  finally:
    httpd.shutdown()
  assert report['failed'] == {
      'p0.jpg': 'past its 2 s deadline',
      'p1.jpg': '5,242,880 bytes, over the 1,048,576 allowed'}
  assert sorted(os.listdir(out)) == ['MANIFEST.tsv', 'build_report.json']


def test_ctrl_c_stops_promptly_with_the_report_written(tmp_path):
  out = tmp_path / 'out'
  returncode, stderr, stopped_in = http_fakes.interrupt_while_fetching(
      lambda base: [sys.executable, '-m', 'colorjax', 'download',
                    'paintings_more',
                    f'--out={out}', f'--source={base}', '--workers=8'])
  assert returncode == 130, stderr[-2000:]
  assert stopped_in < 8
  last = stderr.strip().splitlines()[-1]
  assert last.startswith(f'interrupted: {out}: 0 built, 0 already there, ')
  assert 'not tried' in last
  report = json.loads((out / 'build_report.json').read_text())
  assert report['interrupted'] is True
  assert sum(report['counts'].values()) == 2500
  assert sorted(os.listdir(out)) == ['MANIFEST.tsv', 'build_report.json']


def test_an_unreachable_source_is_said_in_seconds(tmp_path):
  with socket.socket() as s:  # A port with nothing listening.
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
  start = time.monotonic()
  with pytest.raises(DataError, match=r'cannot reach http://127\.0\.0\.1:'
                     r'\d+ \(.*\); 2500 of 2500 files still to build'):
    paintings_more.build(
        str(tmp_path / 'out'),
        fetch=paintings_more.Fetch(base=f'http://127.0.0.1:{port}'))
  assert time.monotonic() - start < 10


def test_out_and_names_never_write_outside_the_folder(server, tmp_path):
  root, base = server
  (root / 'o' / 'r' / 'c').mkdir(parents=True)
  (root / 'o' / 'r' / 'c' / 'p0.jpg').write_bytes(_jpeg(400, 300, 1))
  afile = tmp_path / 'afile'
  afile.write_text('x')
  for out in (afile, afile / 'sub'):
    with pytest.raises(DataError, match=f'--out={out} is a file|cannot write '
                       f'to {out}'):
      paintings_more.build(
          str(out), [_row(0)],
          fetch=paintings_more.Fetch(base=base),
          manifest=_manifest(tmp_path, [_row(0)]))
  rows = [_row(0, file='../escape.jpg'), _row(0,
                                              file=str(tmp_path / 'abs.jpg')),
          _row(0, file='sub/x.jpg'), _row(0)]
  out = tmp_path / 'out'
  report = paintings_more.build(
      str(out),
      rows,
      fetch=paintings_more.Fetch(base=base, workers=2),
      manifest=_manifest(tmp_path, rows))
  assert report['counts']['built'] == 1 and report['counts']['failed'] == 3
  assert all(v == 'refused: the name would write outside the folder'
             for v in report['failed'].values())
  assert not (tmp_path / 'escape.jpg').exists()
  assert not (tmp_path / 'abs.jpg').exists()
  assert sorted(os.listdir(out)) == ['MANIFEST.tsv', 'build_report.json',
                                     'p0.jpg']
