"""The Oxford Paintings builder and downloader, offline with fake data."""

import csv
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import cv2
import http_fakes
import numpy as np
import openpyxl
import pytest
import tensorflow_datasets as tfds
from tiny import subprocess_env

from colorjax.datasets import batching
from colorjax.datasets import oxford_paintings as op
from colorjax.datasets import sources
from colorjax.datasets import tfds_source
from colorjax.errors import DataError
from colorjax.training import checkpoint
from colorjax.training import train

URL = 'http://artuk.example/paintings/{}.jpg'
SPLITS = ['train'] * 5 + ['validation'] * 2 + ['test'] * 2


def make_manual_dir(root: str, xlsx: bool = False) -> str:
  """A fake spreadsheet (the real one's shape) and images; one is corrupt."""
  os.makedirs(os.path.join(root, 'images'), exist_ok=True)
  rows = [['Painting ID', 'Image URL', 'Set', 'Labels']]
  rng = np.random.default_rng(0)
  for i, split in enumerate(SPLITS):
    url = URL.format(i)
    rows.append([f'P{i}', url, split.capitalize(), 'horse;boat'])
    path = os.path.join(root, 'images', op.image_filename(url))
    img = rng.integers(0, 256, (700 + 10 * i, 600, 3), np.uint8)
    cv2.imwrite(path, img)
  # The last training painting's file is corrupt: skipped, not fatal.
  with open(os.path.join(root, 'images', op.image_filename(URL.format(4))),
            'wb') as f:
    f.write(b'\xff\xd8\xff garbage')
  rows.append(['P99', '', 'train', ''])  # No URL: ignored.
  if xlsx:
    book = openpyxl.Workbook()
    for row in rows:
      book.active.append(row)
    book.save(os.path.join(root, 'painting_dataset_2018.xlsx'))
  else:
    with open(os.path.join(root, 'painting_dataset_2018.csv'), 'w',
              newline='') as f:
      csv.writer(f).writerows(rows)
  return root


_EXAMPLE_DIR = make_manual_dir(tempfile.mkdtemp(prefix='oxford_fake_'),
                               xlsx=True)


class OxfordPaintingsBuilderTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = op.OxfordPaintings
  EXAMPLE_DIR = _EXAMPLE_DIR
  SPLITS = {'train': 4, 'validation': 2, 'test': 2}  # One train image corrupt.
  SKIP_CHECKSUMS = True


def test_spreadsheet_parsing_csv_and_xlsx(tmp_path):
  csv_rows = op.read_spreadsheet(os.path.join(
      make_manual_dir(str(tmp_path / 'c')), 'painting_dataset_2018.csv'))
  xlsx_rows = op.read_spreadsheet(os.path.join(
      _EXAMPLE_DIR, 'painting_dataset_2018.xlsx'))
  assert csv_rows == xlsx_rows and len(csv_rows) == 9
  assert [p.split for p in csv_rows] == SPLITS
  assert csv_rows[0].labels == ['horse', 'boat']


def test_images_are_kept_at_longer_side_512():
  builder = op.OxfordPaintings(data_dir=tempfile.mkdtemp())
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=_EXAMPLE_DIR))
  for ex in tfds.as_numpy(builder.as_dataset(split='validation')):
    assert max(ex['image'].shape[:2]) == 512


class _Handler(http.server.BaseHTTPRequestHandler):
  calls = {}

  def do_GET(self):
    n = self.calls[self.path] = self.calls.get(self.path, 0) + 1
    if self.path.startswith('/dead'):
      self.send_error(404)
    elif self.path.startswith('/flaky') and n == 1:
      self.send_error(503)
    elif self.path.startswith('/slow'):
      time.sleep(1.5)
      self.send_error(500)
    else:
      ok, body = cv2.imencode('.jpg', np.full((8, 8, 3), 128, np.uint8))
      self.send_response(200)
      self.end_headers()
      self.wfile.write(body.tobytes())

  def log_message(self, *args):
    pass


def test_download_is_parallel_retried_resumable_and_counts_losses(tmp_path):
  server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  base = f'http://127.0.0.1:{server.server_address[1]}'
  paintings = [op.Painting(f'{base}/ok{i}.jpg', 'train', []) for i in range(6)]
  paintings += [op.Painting(f'{base}/dead.jpg', 'train', []),
                op.Painting(f'{base}/flaky.jpg', 'test', []),
                op.Painting(f'{base}/slow.jpg', 'test', [])]
  try:
    counts = op.download(paintings, str(tmp_path), workers=4, retries=1,
                         timeout=0.5)
    assert counts == {'downloaded': 7, 'already present': 0, 'lost': 2,
                      'not tried': 0}
    report = json.load(open(tmp_path / 'download_report.json'))
    assert report['lost'][f'{base}/dead.jpg'] == 'HTTP 404'
    assert _Handler.calls['/dead.jpg'] == 1  # Dead links are not retried.
    assert _Handler.calls['/flaky.jpg'] == 2  # Retried once, then fine.
    assert not [f for f in os.listdir(tmp_path / 'images')
                if f.endswith('.part')]
    again = op.download(paintings, str(tmp_path), workers=4, retries=0,
                        timeout=0.5)
    assert again == {'downloaded': 0, 'already present': 7, 'lost': 2,
                     'not tried': 0}
  finally:
    server.shutdown()


def test_an_unreachable_host_is_one_line_in_seconds(tmp_path):
  with socket.socket() as s:  # A port with nothing listening.
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
  paintings = [op.Painting(f'http://127.0.0.1:{port}/p{i}.jpg', 'train', [])
               for i in range(3)]
  start = time.monotonic()
  with pytest.raises(DataError, match=rf'cannot reach http://127\.0\.0\.1:'
                     rf'{port}/ \(.*\); 3 of 3 images still to download'):
    op.download(paintings, str(tmp_path))
  assert time.monotonic() - start < 10
  assert not os.listdir(tmp_path / 'images')


def _spreadsheet(path, urls):
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['Image URL', 'Set', 'Labels'])
    writer.writerows([u, 'train', 'boat'] for u in urls)
  return path


def test_ctrl_c_stops_the_download_with_the_report_written(tmp_path):
  manual = tmp_path / 'manual'

  def command(base):
    sheet = _spreadsheet(tmp_path / 'sheet.csv',
                         [f'{base}/p{i}.jpg' for i in range(40)])
    return [sys.executable, '-m', 'colorjax', 'download', 'oxford_paintings',
            f'--spreadsheet={sheet}', f'--manual_dir={manual}', '--workers=8']

  returncode, stderr, stopped_in = http_fakes.interrupt_while_fetching(command)
  assert returncode == 130, stderr[-2000:]
  assert stopped_in < 8
  assert stderr.strip().splitlines()[-1].startswith(
      'interrupted: 40 paintings: 0 downloaded, 0 already present, 0 lost, '
      '40 not tried')
  report = json.loads((manual / 'download_report.json').read_text())
  assert report['interrupted'] is True and report['counts']['not tried'] == 40
  assert not os.listdir(manual / 'images')  # Nothing half-written.


@pytest.mark.parametrize('case', ['missing', 'corrupt', 'empty'])
def test_a_bad_spreadsheet_is_one_line(tmp_path, case):
  sheet = tmp_path / 'painting_dataset_2018.xlsx'
  if case == 'corrupt':
    sheet.write_bytes(b'PK\x03\x04 not a workbook')
  elif case == 'empty':
    sheet = _spreadsheet(tmp_path / 'sheet.csv', [])
  result = subprocess.run(
      [sys.executable, '-m', 'colorjax', 'download', 'oxford_paintings',
       f'--spreadsheet={sheet}', f'--manual_dir={tmp_path / "manual"}'],
      env=subprocess_env(), capture_output=True, text=True, timeout=120,
      check=False)
  assert result.returncode == 1
  expected = {'missing': f'error: --spreadsheet={sheet}: no such file.',
              'corrupt': f'error: {sheet} is not a readable Oxford Paintings '
                         'spreadsheet (BadZipFile',
              'empty': f'error: {sheet} lists no painting with an image URL'}
  assert result.stderr.strip().startswith(expected[case]), result.stderr
  assert len(result.stderr.strip().splitlines()) == 1


def test_trains_with_config_dataset_oxford_paintings(tiny_config, tmp_path):
  make_manual_dir(str(tmp_path / 'downloads' / 'manual'))
  config = tiny_config(dataset='oxford_paintings', batch_size=4,
                       **{'tfds.data_dir': str(tmp_path)})
  state = train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert int(state.step) == 1  # 4 usable training paintings, batch 4.
  manager = checkpoint.create_manager(str(tmp_path / 'run'))
  assert checkpoint.epochs(manager) == {1: 1}


def test_large_splits_stream_deterministically(tiny_config, tmp_path):
  make_manual_dir(str(tmp_path / 'downloads' / 'manual'))
  train_ds, val_ds = tfds_source.load_tfds(
      'oxford_paintings', 32, data_dir=str(tmp_path), max_in_memory_gb=0)
  assert isinstance(train_ds, tfds_source.StreamingDataset)
  assert isinstance(val_ds, batching.InMemoryDataset)
  epoch = lambda e: np.stack([b['rgb'] for b in train_ds.train_batches(
      2, seed=0, epoch=e, num_batches=3)])
  a = epoch(0)
  assert a.shape == (3, 2, 32, 32, 3) and a.dtype == np.uint8  # Repeats.
  np.testing.assert_array_equal(a, epoch(0))
  assert not np.array_equal(a, epoch(1))
  assert train_ds.eval_array().shape == (4, 32, 32, 3)  # Corrupt one gone.
  # A stream with nothing usable stops with a clear error, never spins.
  with pytest.raises(sources.DataError, match='no usable colour image'):
    tfds_source.load_tfds('oxford_paintings', 640, data_dir=str(tmp_path),
                             max_in_memory_gb=0)
  # Images too small for the crop are counted, not silently dropped.
  other = tmp_path / 'other'
  make_manual_dir(str(other / 'downloads' / 'manual'))
  cv2.imwrite(str(other / 'downloads' / 'manual' / 'images' /
                  op.image_filename(URL.format(0))),
              np.full((20, 20, 3), (10, 200, 30), np.uint8))
  small, _ = tfds_source.load_tfds('oxford_paintings', 32,
                                      data_dir=str(other), max_in_memory_gb=0)
  list(small.train_batches(1, seed=0, epoch=0, num_batches=3))
  assert small.skipped == {'smaller than the 32px crop': 1}
  # And it trains through the loop.
  config = tiny_config(dataset='oxford_paintings', batch_size=4,
                       **{'tfds.data_dir': str(tmp_path),
                          'tfds.max_in_memory_gb': 0.0})
  state = train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert int(state.step) == 1
