"""The `paintings_more` corpus: 2,500 paintings, built from public sources.

  colorjax download paintings_more [--out=DIR] [--workers=16]
      [--max_mb=64] [--deadline=300] [--keep_different]

The corpus the `paintings` and `hints` recipes train on: 2,500 colour
reproductions of paintings (WikiArt images gathered by research data sets:
BathVisArtData/PeopleArt and lwzhuo/wikiart), each resized to 256 px on its
longer side, with a `test` split that no run trains on. Terms: non-commercial
research use, as those data sets' (many of the works are still in copyright);
this corpus adds no licence of its own.

The manifest that ships with colorjax (`paintings_more_manifest.tsv`: file,
artist, title, source repository, commit, path, size, split, SHA-256) fixes
every file: each is fetched from its repository at its commit (parallel,
retried; at most --max_mb a file and --deadline seconds a file), decoded,
converted to RGB, resized so its longer side is 256 px (Lanczos), saved as
JPEG quality 90 under its manifest name through a temporary file, and
checked against the manifest's SHA-256 of the reference build: a file that
differs (a changed source, a swapped file, or a Pillow whose JPEG encoder
differs) is reported and not written, unless --keep_different. Files already
there with the manifest's SHA-256 are kept, so a second run only fetches
what is missing, torn or altered. Before fetching it checks in seconds that
the source answers; the first Ctrl-C stops the workers within seconds,
writes the report and leaves only whole files. What could not be built is
listed in `DIR/build_report.json` and counted on the last line.
"""

import csv
import dataclasses
import hashlib
import io
import json
import os
import shutil
import sys
import threading
from typing import Dict, List, Optional, Sequence
import urllib.parse

from absl import flags
from PIL import Image

from colorjax import files
from colorjax import names
from colorjax.datasets import download as download_lib
from colorjax.errors import DataError

__all__ = ['build', 'cli', 'convert', 'DEFAULT_DIR', 'Fetch', 'LONGER_SIDE',
           'main', 'MANIFEST', 'read_manifest', 'safe_name', 'sha256', 'SOURCE',
           'source_url']

MANIFEST = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'paintings_more_manifest.tsv')
DEFAULT_DIR = names.PAINTINGS_MORE_DIR
SOURCE = 'https://raw.githubusercontent.com'
LONGER_SIDE = 256


def read_manifest(path: str = MANIFEST) -> List[Dict[str, str]]:
  """The manifest's rows (dicts keyed by its header)."""
  with open(path, encoding='utf-8', newline='') as f:
    rows = list(csv.DictReader(f, delimiter='\t'))
  need = {'file', 'source_repo', 'source_commit', 'source_path', 'width',
          'height', 'split'}
  if not rows or not need <= set(rows[0]):
    raise DataError(f'{path} is not a paintings_more manifest (columns '
                    f'{sorted(need)}).')
  return rows


def source_url(row: Dict[str, str], base: str = SOURCE) -> str:
  """The URL of a manifest row's original image."""
  return (f'{base.rstrip("/")}/{row["source_repo"]}/{row["source_commit"]}/'
          f'{urllib.parse.quote(row["source_path"])}')


def safe_name(name: str) -> bool:
  """A manifest file name that stays inside the output folder: one plain
  component, no folders, no '..', not absolute."""
  return (bool(name) and name not in ('.', '..') and os.sep not in name and
          (os.altsep is None or os.altsep not in name) and
          os.path.basename(name) == name and not os.path.isabs(name))


def sha256(data: bytes) -> str:
  return hashlib.sha256(data).hexdigest()


def _is_built(path: str, row: Dict[str, str]) -> bool:
  """The file is there and whole: its manifest SHA-256 (or, for manifests
  without one, it decodes entirely at the manifest's size)."""
  try:
    with open(path, 'rb') as f:
      data = f.read()
    if row.get('sha256'):
      return sha256(data) == row['sha256']
    with Image.open(io.BytesIO(data)) as im:
      im.load()  # A torn JPEG has its header; decoding finds the tear.
      return im.size == (int(row['width']), int(row['height']))
  except Exception:  # noqa: BLE001  (missing, torn or not an image)
    return False


def convert(data: bytes, row: Dict[str, str]) -> bytes:
  """The corpus file of one original: RGB, longer side 256 (Lanczos), JPEG
  quality 90. Raises ValueError for what the corpus leaves out."""
  try:
    with Image.open(io.BytesIO(data)) as im:
      if im.mode == 'CMYK':
        raise ValueError('CMYK')
      im = im.convert('RGB')
      w, h = im.size
      if min(w, h) < 128:
        raise ValueError(f'{w}x{h}: under 128 px')
      scale = LONGER_SIDE / max(w, h)
      size = (max(1, round(w * scale)), max(1, round(h * scale)))
      if size != (int(row['width']), int(row['height'])):
        raise ValueError(f'{w}x{h} gives {size[0]}x{size[1]}, the manifest '
                         f'says {row["width"]}x{row["height"]}')
      out = io.BytesIO()
      im.resize(size, Image.LANCZOS).save(out, 'JPEG', quality=90)
      return out.getvalue()
  except ValueError:
    raise
  except Exception as e:  # noqa: BLE001  (Pillow raises many kinds)
    raise ValueError(f'not a readable image ({type(e).__name__})') from e


@dataclasses.dataclass(frozen=True)
class Fetch:
  """How each file is fetched and checked (`build`; the command's flags).

  Attributes:
    base: where the source repositories are served (a mirror, or a local
      server in tests).
    workers: parallel downloads.
    retries: retries per file after a transient error.
    timeout: seconds a connection or read may wait.
    max_bytes: a source file larger than this is refused.
    deadline: seconds one file may take, retries included.
    keep_different: keep files whose SHA-256 differs from the manifest's.
  """
  base: str = SOURCE
  workers: int = 16
  retries: int = 3
  timeout: float = 30.0
  max_bytes: int = 64 << 20
  deadline: float = 300.0
  keep_different: bool = False


def _build_one(row: Dict[str, str], out: str, o: Fetch,
               stop: threading.Event) -> str:
  """'built', 'different' (kept), or why it could not be built (`build`
  has checked the file is not already there)."""
  if not safe_name(row['file']):
    return 'refused: the name would write outside the folder'
  path = os.path.join(out, row['file'])
  if stop.is_set():
    return download_lib.STOPPED
  try:
    data = convert(download_lib.fetch_bytes(
        source_url(row, o.base), o.retries, o.timeout, o.max_bytes,
        o.deadline, stop), row)
    differs = bool(row.get('sha256')) and sha256(data) != row['sha256']
    if differs and not o.keep_different:
      return ('differs from the manifest\'s SHA-256 (a changed source, or a '
              'Pillow that encodes differently: --keep_different keeps it)')
    files.write_atomically(path, data)
  except (download_lib.FetchError, ValueError, OSError) as e:
    return str(e) or type(e).__name__
  return 'different' if differs else 'built'


def _count(result: str, name: str, counts: Dict[str, int],
           failed: Dict[str, str]) -> None:
  if result == download_lib.STOPPED:
    counts['not tried'] += 1
  elif result in counts:
    counts[result] += 1
  else:
    counts['failed'] += 1
    failed[name] = result


def _prepare(out: str, manifest: str) -> str:
  """The output folder, created, with the manifest copied in; one line if
  it cannot be."""
  out = os.path.expanduser(out)
  if os.path.lexists(out) and not os.path.isdir(out):
    raise DataError(f'--out={out} is a file, not a folder; choose a folder.')
  try:
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(manifest, os.path.join(out, 'MANIFEST.tsv'))
  except OSError as e:
    raise DataError(f'cannot write to {out} ({e.strerror}); choose a folder '
                    'you can write to with --out.') from e
  return out


def build(out: str, rows: Optional[Sequence[Dict[str, str]]] = None,
          fetch: Fetch = Fetch(), manifest: str = MANIFEST,
          check_source: bool = True) -> Dict[str, object]:
  """Builds (or completes) the corpus in `out`; returns the report.

  Args:
    out: the folder (created); it gets the manifest as MANIFEST.tsv, so its
      `test` split is held out of training like the original's.
    rows: manifest rows to build (default: all of `manifest`).
    fetch: where from and how each file is fetched and checked.
    manifest: the manifest file.
    check_source: first check that `fetch.base` answers (DataError if not).

  Raises:
    DataError: `out` cannot be written, or the source cannot be reached.
  """
  rows = read_manifest(manifest) if rows is None else list(rows)
  out = _prepare(out, manifest)
  todo = [r for r in rows if not (safe_name(r['file']) and
                                  _is_built(os.path.join(out, r['file']), r))]
  if todo and check_source:
    why = download_lib.unreachable(fetch.base)
    if why:
      raise DataError(f'cannot reach {fetch.base} ({why}); {len(todo)} of '
                      f'{len(rows)} files still to build: check the network '
                      'or pass --source=a mirror.')
  stop = threading.Event()
  # Each existing file is read and checked once, here.
  counts = {'built': 0, 'present': len(rows) - len(todo), 'different': 0,
            'failed': 0, 'not tried': 0}
  failed = {}
  results, interrupted = download_lib.run_all(
      todo, lambda r: _build_one(r, out, fetch, stop), fetch.workers, stop)
  for r, result in zip(todo, results, strict=True):
    _count(result, r['file'], counts, failed)
  report = {'counts': counts, 'failed': dict(sorted(failed.items()))}
  download_lib.write_report(os.path.join(out, 'build_report.json'), report,
                            interrupted)
  return report


FLAGS = flags.FLAGS


def _define_flags() -> None:
  flags.DEFINE_string('out', DEFAULT_DIR, 'The folder to build (or complete).')
  flags.DEFINE_integer('workers', 16, 'Parallel downloads.')
  flags.DEFINE_integer('retries', 3, 'Retries per file.')
  flags.DEFINE_string('source', SOURCE, 'Where the source repositories are '
                      'served ({source}/{repo}/{commit}/{path}).')
  flags.DEFINE_integer('max_mb', 64, 'A source file larger than this many '
                       'MiB is refused.')
  flags.DEFINE_float('deadline', 300.0, 'Seconds one file may take, retries '
                     'included.')
  flags.DEFINE_bool('keep_different', False, 'Keep files whose SHA-256 '
                    'differs from the manifest\'s (another Pillow encodes '
                    'them differently; scores then differ slightly from the '
                    'reference corpus\').')


def _summary(out: str, counts: Dict[str, int]) -> str:
  text = (f'{out}: {counts["built"]} built, {counts["present"]} already '
          f'there, {counts["failed"]} failed')
  if counts.get('different'):
    text += f', {counts["different"]} kept though they differ from the ' \
            'manifest\'s SHA-256'
  if counts.get('not tried'):
    text += f', {counts["not tried"]} not tried'
  return text + ' (listed in build_report.json; run again to continue).'


def main(argv):
  if len(argv) > 1:
    raise DataError(f'unexpected arguments: {" ".join(argv[1:])}.')
  for name in ('workers', 'max_mb'):
    if FLAGS[name].value < 1:
      raise DataError(f'--{name}={FLAGS[name].value} must be at least 1.')
  if not FLAGS.deadline > 0:
    raise DataError(f'--deadline={FLAGS.deadline} must be positive (seconds).')
  out = os.path.expanduser(FLAGS.out)
  try:
    report = build(out, fetch=Fetch(
        base=FLAGS.source, workers=FLAGS.workers, retries=FLAGS.retries,
        max_bytes=FLAGS.max_mb << 20, deadline=FLAGS.deadline,
        keep_different=FLAGS.keep_different))
  except KeyboardInterrupt:
    with open(os.path.join(out, 'build_report.json'), encoding='utf-8') as f:
      counts = json.load(f)['counts']
    print('interrupted: ' + _summary(out, counts), file=sys.stderr)
    sys.exit(130)
  print(_summary(out, report['counts']))
  if report['counts']['failed']:
    sys.exit(1)


def cli() -> None:
  """The `download paintings_more` command."""
  from colorjax import runtime  # pylint: disable=g-import-not-at-top
  _define_flags()
  runtime.run_tool(main)


if __name__ == '__main__':
  cli()
