"""The Oxford Paintings dataset (Crowley & Zisserman) as a TFDS builder.

The dataset is a spreadsheet (``painting_dataset_2018.xlsx``, or a CSV export
of it) listing each painting's image URL (Art UK), its split (train /
validation / test) and its object labels; the images are fetched from the
URLs. Two ways in, both into the TFDS manual directory
(``~/tensorflow_datasets/downloads/manual`` by default, TFDS's
manual directory under its data_dir):

1. Download (parallel, retried, resumable; dead links are skipped and
   counted)::

     colorjax download oxford_paintings \\
         --spreadsheet=painting_dataset_2018.xlsx [--manual_dir=DIR]

2. Or put the spreadsheet and your own copies of the images there yourself:
   ``MANUAL_DIR/painting_dataset_2018.xlsx`` (or ``.csv``) and
   ``MANUAL_DIR/images/<name>`` where <name> is `image_filename(url)`.

Then train with ``--config.dataset=oxford_paintings``: TFDS builds the dataset
from the manual directory on first use. Images are stored with their longer
side at most 512 px (JPEG), so later higher-resolution training needs no
second download. Unusable images are skipped, counted and logged.
"""

import csv
import dataclasses
import hashlib
import io
import json
import os
import sys
import threading
from typing import Dict, List, Optional, Sequence
import urllib.parse

from absl import flags
from absl import logging
import cv2
from etils import epath

from colorjax import extras
from colorjax import files
from colorjax.datasets import download as download_lib
from colorjax.datasets import image_io
from colorjax.errors import DataError

__all__ = ['cli', 'download', 'find_spreadsheet', 'image_filename', 'main',
           'MAX_SIDE', 'NAME', 'OxfordPaintings', 'Painting',
           'read_spreadsheet', 'SPREADSHEET_NAMES', 'tfds']

# The builder is a TFDS class: the module needs TFDS (the [tfds] extra).
tfds = extras.require('tensorflow_datasets', 'tfds', 'the Oxford Paintings '
                      'builder')

NAME = 'oxford_paintings'
MAX_SIDE = 512
SPREADSHEET_NAMES = ('painting_dataset_2018.xlsx', 'painting_dataset_2018.csv')
_SPLITS = {'train': 'train', 'training': 'train', 'val': 'validation',
           'valid': 'validation', 'validation': 'validation', 'test': 'test'}


@dataclasses.dataclass
class Painting:
  url: str
  split: str  # 'train', 'validation' or 'test'.
  labels: List[str]


def image_filename(url: str) -> str:
  """A stable file name for a URL: a hash plus the URL's image extension."""
  ext = os.path.splitext(url.split('?')[0])[1].lower()
  ext = ext if ext in ('.jpg', '.jpeg', '.png', '.tif', '.tiff', '.webp') \
      else '.jpg'
  return hashlib.sha1(url.encode()).hexdigest()[:20] + ext


def _find_column(header: Sequence[str], *needles: str,
                 required: bool = True) -> Optional[int]:
  lowered = [str(h or '').strip().lower() for h in header]
  for needle in needles:
    for i, h in enumerate(lowered):
      if needle in h:
        return i
  if required:
    raise ValueError(f'no column like {needles} in the header {list(header)}')
  return None


def read_spreadsheet(path: str) -> List[Painting]:
  """The paintings listed in the spreadsheet (xlsx or CSV).

  Columns are found by name: the image URL ('image url', else any 'url'),
  the split ('set', 'split' or 'subset') and the labels ('label'; several
  labels separated by commas, semicolons or spaces). Rows without a URL or
  with an unknown split are ignored.
  """
  data = epath.Path(path).read_bytes()  # Any filesystem TFDS supports.
  if path.lower().endswith(('.xlsx', '.xlsm')):
    openpyxl = extras.require('openpyxl', 'tfds', 'reading an .xlsx '
                              'spreadsheet')
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True,
                                  data_only=True)
    rows = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
  else:
    rows = list(csv.reader(io.StringIO(data.decode('utf-8-sig'))))
  header, body = rows[0], rows[1:]
  url_col = _find_column(header, 'image url', 'image_url', 'imageurl', 'url')
  split_col = _find_column(header, 'set', 'split', 'subset')
  label_col = _find_column(header, 'label', required=False)
  paintings = []
  for row in body:
    url = str(row[url_col] or '').strip()
    split = _SPLITS.get(str(row[split_col] or '').strip().lower())
    if not url or split is None:
      continue
    raw = str(row[label_col] or '') if label_col is not None else ''
    labels = [l for l in raw.replace(';', ',').replace(' ', ',').split(',')
              if l]
    paintings.append(Painting(url, split, labels))
  return paintings


def find_spreadsheet(manual_dir: str) -> str:
  for name in SPREADSHEET_NAMES:
    path = epath.Path(manual_dir) / name
    if path.exists():
      return str(path)
  raise FileNotFoundError(
      f'no {" or ".join(SPREADSHEET_NAMES)} in {manual_dir}; see '
      '`colorjax download oxford_paintings --help`.')


def _fetch(url: str, dest: str, retries: int, timeout: float,
           stop: threading.Event) -> str:
  """Downloads url to dest atomically; returns 'ok', 'exists' or an error."""
  if os.path.exists(dest) and os.path.getsize(dest) > 0:
    return 'exists'
  if stop.is_set():
    return download_lib.STOPPED
  try:
    data = download_lib.fetch_bytes(url, retries, timeout, stop=stop)
  except download_lib.FetchError as e:
    return str(e)
  # Never a half-written image under the real name.
  files.write_atomically(dest, data)
  return 'ok'


def _hosts(paintings: Sequence[Painting]) -> List[str]:
  """The distinct scheme://host/ of the paintings' URLs, in order."""
  roots = []
  for p in paintings:
    parts = urllib.parse.urlsplit(p.url)
    root = f'{parts.scheme}://{parts.netloc}/'
    if root not in roots:
      roots.append(root)
  return roots


def download(paintings: Sequence[Painting], manual_dir: str, workers: int = 16,
             retries: int = 3, timeout: float = 30.0,
             check_source: bool = True) -> Dict[str, int]:
  """Fetches every painting's image into manual_dir/images (resumable).

  Returns counts: downloaded, already present, lost, not tried; the lost
  URLs and their errors go to manual_dir/download_report.json, written
  also when a Ctrl-C stops the download (then KeyboardInterrupt is raised
  again; running downloads stop within seconds, nothing half-written
  stays).

  Raises:
    DataError: with `check_source`, when none of the URLs' hosts answers
      (checked in seconds, before any download).
  """
  image_dir = os.path.join(manual_dir, 'images')
  os.makedirs(image_dir, exist_ok=True)
  dest = {p.url: os.path.join(image_dir, image_filename(p.url))
          for p in paintings}
  todo = [p for p in paintings
          if not (os.path.exists(dest[p.url]) and
                  os.path.getsize(dest[p.url]) > 0)]
  if todo and check_source:
    hosts = _hosts(todo)
    why = [download_lib.unreachable(h) for h in hosts[:3]]
    if all(why):
      raise DataError(f'cannot reach {hosts[0]} ({why[0]}); {len(todo)} of '
                      f'{len(paintings)} images still to download: check the '
                      'network and run again.')
  stop = threading.Event()
  results, interrupted = download_lib.run_all(
      todo, lambda p: _fetch(p.url, dest[p.url], retries, timeout, stop),
      workers, stop)
  counts = {'downloaded': 0, 'already present': len(paintings) - len(todo),
            'lost': 0, 'not tried': 0}
  lost = {}
  for p, result in zip(todo, results, strict=True):
    if result == 'ok':
      counts['downloaded'] += 1
    elif result == 'exists':
      counts['already present'] += 1
    elif result == download_lib.STOPPED:
      counts['not tried'] += 1
    else:
      counts['lost'] += 1
      lost[p.url] = result
  download_lib.write_report(
      os.path.join(manual_dir, 'download_report.json'),
      {'counts': counts, 'lost': dict(sorted(lost.items()))}, interrupted)
  return counts


class OxfordPaintings(tfds.core.GeneratorBasedBuilder):
  """Oxford Paintings (Crowley & Zisserman), images with longer side <= 512."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Built from the 2018 spreadsheet.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = __doc__

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(None, None, 3),
                                         encoding_format='jpeg'),
            'url': tfds.features.Text(),
            'labels': tfds.features.Sequence(tfds.features.Text()),
        }),
        homepage='https://www.robots.ox.ac.uk/~vgg/data/paintings/')

  def _split_generators(self, dl_manager):
    manual_dir = str(dl_manager.manual_dir)
    paintings = read_spreadsheet(find_spreadsheet(manual_dir))
    by_split = {s: [p for p in paintings if p.split == s]
                for s in ('train', 'validation', 'test')}
    return {s: self._generate_examples(manual_dir, ps)
            for s, ps in by_split.items() if ps}

  def _generate_examples(self, manual_dir: str, paintings: List[Painting]):
    skipped: Dict[str, int] = {}
    for p in paintings:
      path = epath.Path(manual_dir) / 'images' / image_filename(p.url)
      try:
        rgb = image_io.decode_image(path.read_bytes(), str(path))
      except FileNotFoundError:
        skipped['not downloaded'] = skipped.get('not downloaded', 0) + 1
        continue
      except image_io.ImageError as e:
        skipped[e.reason] = skipped.get(e.reason, 0) + 1
        continue
      h, w = rgb.shape[:2]
      scale = MAX_SIDE / max(h, w)
      if scale < 1:
        rgb = cv2.resize(rgb, (round(w * scale), round(h * scale)),
                         interpolation=cv2.INTER_AREA)
      yield image_filename(p.url), {'image': image_io.to_uint8(rgb),
                                    'url': p.url, 'labels': p.labels}
    for reason, n in sorted(skipped.items()):
      logging.warning('oxford_paintings: skipped %d image(s): %s.', n, reason)


def _summary(paintings: int, counts: Dict[str, int], manual_dir: str) -> str:
  text = (f'{paintings} paintings: {counts["downloaded"]} downloaded, '
          f'{counts["already present"]} already present, {counts["lost"]} '
          'lost')
  if counts.get('not tried'):
    text += f', {counts["not tried"]} not tried'
  return text + (f' (see {os.path.join(manual_dir, "download_report.json")};'
                 ' run again to continue).')


def main(argv: Sequence[str]) -> None:
  flags_ = flags.FLAGS
  if len(argv) > 1:
    raise DataError(f'unexpected arguments: {" ".join(argv[1:])}.')
  if not flags_.spreadsheet:
    raise DataError('pass --spreadsheet=painting_dataset_2018.xlsx (or its '
                    'CSV export).')
  if not os.path.isfile(flags_.spreadsheet):
    raise DataError(f'--spreadsheet={flags_.spreadsheet}: no such file.')
  for name in ('workers',):
    if flags_[name].value < 1:
      raise DataError(f'--{name}={flags_[name].value} must be at least 1.')
  if not flags_.timeout > 0:
    raise DataError(f'--timeout={flags_.timeout} must be positive (seconds).')
  manual_dir = os.path.expanduser(flags_.manual_dir or os.path.join(
      flags_.data_dir or '~/tensorflow_datasets', 'downloads', 'manual'))
  try:
    os.makedirs(manual_dir, exist_ok=True)
  except OSError as e:
    raise DataError(f'cannot write to {manual_dir} ({e.strerror}); choose a '
                    'folder you can write to with --manual_dir.') from e
  name = os.path.basename(flags_.spreadsheet)
  target = os.path.join(manual_dir, name if name in SPREADSHEET_NAMES else (
      SPREADSHEET_NAMES[0] if name.endswith('xlsx') else SPREADSHEET_NAMES[1]))
  if os.path.abspath(flags_.spreadsheet) != os.path.abspath(target):
    with open(flags_.spreadsheet, 'rb') as src:
      files.write_atomically(target, src.read())
  try:
    paintings = read_spreadsheet(target)
  except Exception as e:  # noqa: BLE001  (csv, zip and openpyxl errors)
    raise DataError(f'{flags_.spreadsheet} is not a readable Oxford Paintings '
                    f'spreadsheet ({type(e).__name__}: {e}); pass the '
                    'painting_dataset_2018.xlsx or its CSV export.') from e
  if not paintings:
    raise DataError(f'{flags_.spreadsheet} lists no painting with an image '
                    'URL and a split (train, validation, test).')
  try:
    counts = download(paintings, manual_dir, flags_.workers, flags_.retries,
                      flags_.timeout)
  except KeyboardInterrupt:
    report = os.path.join(manual_dir, 'download_report.json')
    with open(report, encoding='utf-8') as f:
      counts = json.load(f)['counts']
    print('interrupted: ' + _summary(len(paintings), counts, manual_dir),
          file=sys.stderr)
    sys.exit(130)
  print(_summary(len(paintings), counts, manual_dir) +
        ' Now train with --config.dataset=oxford_paintings.')


def cli() -> None:
  """The `download oxford_paintings` command."""
  from colorjax import runtime  # pylint: disable=g-import-not-at-top
  flags.DEFINE_string('spreadsheet', None, 'painting_dataset_2018.xlsx or .csv')
  flags.DEFINE_string('manual_dir', None, 'Default: DATA_DIR/downloads/'
                      'manual, where TFDS looks.')
  flags.DEFINE_string('data_dir', None, 'TFDS data_dir (default '
                      '~/tensorflow_datasets).')
  flags.DEFINE_integer('workers', 16, 'Parallel downloads.')
  flags.DEFINE_integer('retries', 3, 'Retries per image (not for 404/410).')
  flags.DEFINE_float('timeout', 30.0, 'Seconds per request.')
  runtime.run_tool(main)


if __name__ == '__main__':
  cli()
