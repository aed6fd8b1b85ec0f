"""A gallery of paintings: grey input | prior | each run | the original.

  python -m colorjax.gallery --dataset=FOLDER --split=test \\
      --run=NAME=WORKDIR [--run=NAME=WORKDIR ...] --output=gallery.jpg \\
      [--num=8] [--height=160]

Each row is one painting of the split at full resolution, colourised through
the real `colorize` path (each run at its recipe's vibrance); the paintings
are spread evenly over the split's sorted file list, so the same command draws
the same figure. The prior column paints the first run's training mean a, b.
"""

import os
import sys
from typing import List, Sequence, Tuple

from absl import app
from absl import flags
import cv2
import numpy as np

from colorjax import evaluate
from colorjax import image_io
from colorjax import runtime
from colorjax.colorize import Colorizer
from colorjax.errors import DataError


def pick(paths: Sequence[str], num: int) -> List[str]:
  """`num` paths spread evenly over the sorted list."""
  paths = sorted(paths)
  if len(paths) < num:
    raise DataError(f'the split has {len(paths)} images, fewer than --num='
                    f'{num}.')
  return [paths[i] for i in np.linspace(0, len(paths) - 1, num).astype(int)]


def _label(tile: np.ndarray, text: str) -> np.ndarray:
  """A white strip with `text` above the tile."""
  strip = np.full((22, tile.shape[1], 3), 255, np.uint8)
  cv2.putText(strip, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
              (0, 0, 0), 1, cv2.LINE_AA)
  return np.concatenate([strip, tile])


def draw(paths: Sequence[str], runs: Sequence[Tuple[str, str]],
         height: int) -> np.ndarray:
  """The gallery as one uint8 RGB image."""
  colorizers = [(name, Colorizer.from_workdir(workdir))
                for name, workdir in runs]
  prior = evaluate.training_prior(runs[0][1], None) * colorizers[0][1].ab_scale
  gutter = 6
  rows = []
  for i, path in enumerate(paths):
    rgb = image_io.to_uint8(image_io.read_image(path))
    panels = [('grey input', Colorizer.constant(rgb, np.zeros(2))),
              ('constant prior', Colorizer.constant(rgb, prior))]
    panels += [(name, c.colorize(rgb)) for name, c in colorizers]
    panels.append(('original', rgb))
    tiles = []
    for label, img in panels:
      width = round(img.shape[1] * height / img.shape[0])
      tile = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
      tiles += [_label(tile, label) if i == 0 else tile,
                np.full((height + (22 if i == 0 else 0), gutter, 3), 255,
                        np.uint8)]
    rows += [np.concatenate(tiles[:-1], axis=1),
             np.full((gutter, 1, 3), 255, np.uint8)]
  width = max(r.shape[1] for r in rows)
  rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)),
                 constant_values=255) for r in rows[:-1]]
  return np.concatenate(rows)


FLAGS = flags.FLAGS


def _define_flags() -> None:
  flags.DEFINE_string('dataset', None, 'A folder with a MANIFEST.tsv split.')
  flags.DEFINE_string('split', 'test', 'The manifest split (or "all").')
  flags.DEFINE_multi_string('run', [], 'NAME=WORKDIR, one column each.')
  flags.DEFINE_string('output', None, 'The figure (.jpg or .png).')
  flags.DEFINE_integer('num', 8, 'Paintings (rows).')
  flags.DEFINE_integer('height', 160, 'Row height in pixels.')
  flags.DEFINE_integer('quality', 85, 'JPEG quality.')
  flags.mark_flags_as_required(['dataset', 'output'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  runtime.setup()
  runs = []
  for spec in FLAGS.run:
    name, sep, workdir = spec.partition('=')
    if not sep:
      raise DataError(f'--run={spec!r} must be NAME=WORKDIR.')
    runs.append((name, workdir))
  if not runs:
    raise DataError('name at least one --run=NAME=WORKDIR.')
  paths = pick(evaluate.image_paths(FLAGS.dataset, FLAGS.split), FLAGS.num)
  figure = draw(paths, runs, FLAGS.height)
  os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
  if not cv2.imwrite(FLAGS.output, figure[..., ::-1],
                     [cv2.IMWRITE_JPEG_QUALITY, FLAGS.quality]):
    print(f'error: cannot write {FLAGS.output}; pass a writable --output.',
          file=sys.stderr)
    sys.exit(1)
  print(f'wrote {FLAGS.output} ({os.path.getsize(FLAGS.output) / 1024:.0f} '
        f'KB): {len(paths)} paintings; columns grey, prior, '
        f'{", ".join(n for n, _ in runs)}, original')


if __name__ == '__main__':
  _define_flags()
  runtime.run_tool(main)
