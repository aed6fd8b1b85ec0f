"""The `paintings_more` corpus: 2,500 paintings, built from public sources.

  python -m colorjax.datasets.paintings_more [--out=DIR] [--workers=16]

The corpus the `paintings` and `hints` recipes train on: 2,500 colour
reproductions of paintings (WikiArt images gathered by research data sets:
BathVisArtData/PeopleArt and lwzhuo/wikiart), each resized to 256 px on its
longer side, with a `test` split that no run trains on. Terms: non-commercial
research use, as those data sets' (many of the works are still in copyright);
this corpus adds no licence of its own.

The manifest that ships with colorjax (`paintings_more_manifest.tsv`: file,
artist, title, source repository, commit, path, size, split) fixes every
file: each is fetched from its repository at its commit (parallel, retried),
decoded, converted to RGB, resized so its longer side is 256 px (Lanczos) and
saved as JPEG quality 90 under its manifest name, through a temporary file.
Files already there with the manifest's size are kept, so a second run only
fetches what is missing. What could not be built is listed in
`DIR/build_report.json` and counted on the last line.
"""

import concurrent.futures
import csv
import io
import json
import os
import shutil
import sys
from typing import Dict, List, Optional, Sequence
import urllib.parse

from absl import flags
from PIL import Image

from colorjax import files
from colorjax import names
from colorjax.datasets import download as download_lib
from colorjax.errors import DataError

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


def _is_built(path: str, row: Dict[str, str]) -> bool:
  try:
    with Image.open(path) as im:
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


def _build_one(row: Dict[str, str], out: str, base: str, retries: int,
               timeout: float) -> str:
  """'built', 'present', or why the file could not be built."""
  path = os.path.join(out, row['file'])
  if _is_built(path, row):
    return 'present'
  try:
    data = download_lib.fetch_bytes(source_url(row, base), retries, timeout)
    files.write_atomically(path, convert(data, row))
  except (download_lib.FetchError, ValueError, OSError) as e:
    return str(e) or type(e).__name__
  return 'built'


def build(out: str, rows: Optional[Sequence[Dict[str, str]]] = None,
          base: str = SOURCE, workers: int = 16, retries: int = 3,
          timeout: float = 30.0, manifest: str = MANIFEST
          ) -> Dict[str, object]:
  """Builds (or completes) the corpus in `out`; returns the report.

  Args:
    out: the folder (created); it gets the manifest as MANIFEST.tsv, so its
      `test` split is held out of training like the original's.
    rows: manifest rows to build (default: all of `manifest`).
    base: where the source repositories are served (a mirror, or a local
      server in tests).
    workers: parallel downloads.
    retries: retries per file after a transient error.
    timeout: seconds per request.
    manifest: the manifest file.
  """
  rows = read_manifest(manifest) if rows is None else list(rows)
  out = os.path.expanduser(out)
  os.makedirs(out, exist_ok=True)
  shutil.copyfile(manifest, os.path.join(out, 'MANIFEST.tsv'))
  counts = {'built': 0, 'present': 0, 'failed': 0}
  failed = {}
  with concurrent.futures.ThreadPoolExecutor(max(1, workers)) as pool:
    futures = {pool.submit(_build_one, r, out, base, retries, timeout):
               r['file'] for r in rows}
    for future in concurrent.futures.as_completed(futures):
      result = future.result()
      if result in counts:
        counts[result] += 1
      else:
        counts['failed'] += 1
        failed[futures[future]] = result
  report = {'counts': counts, 'failed': dict(sorted(failed.items()))}
  files.write_atomically(os.path.join(out, 'build_report.json'),
                                json.dumps(report, indent=1).encode())
  return report


FLAGS = flags.FLAGS


def _define_flags() -> None:
  flags.DEFINE_string('out', DEFAULT_DIR, 'The folder to build (or complete).')
  flags.DEFINE_integer('workers', 16, 'Parallel downloads.')
  flags.DEFINE_integer('retries', 3, 'Retries per file.')
  flags.DEFINE_string('source', SOURCE, 'Where the source repositories are '
                      'served ({source}/{repo}/{commit}/{path}).')


def main(argv):
  if len(argv) > 1:
    raise DataError(f'unexpected arguments: {" ".join(argv[1:])}.')
  report = build(FLAGS.out, base=FLAGS.source, workers=FLAGS.workers,
                 retries=FLAGS.retries)
  c = report['counts']
  print(f'{os.path.expanduser(FLAGS.out)}: {c["built"]} built, '
        f'{c["present"]} already there, {c["failed"]} failed (listed in '
        'build_report.json; run again to retry them).')
  if c['failed']:
    sys.exit(1)


if __name__ == '__main__':
  from colorjax import runtime  # pylint: disable=g-import-not-at-top
  _define_flags()
  runtime.run_tool(main)
