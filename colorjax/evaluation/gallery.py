"""A gallery of paintings: grey input | prior | each run | the original.

  colorjax gallery --dataset=FOLDER --split=test \\
      --run=NAME=WORKDIR [--run=NAME=WORKDIR ...] --output=gallery.jpg \\
      [--num=8] [--height=160]

Each row is one painting of the split at full resolution, colourised through
the real `colorize` path (each run at its recipe's vibrance); the paintings
are spread evenly over the split's sorted file list, so the same command draws
the same figure. The prior column paints the first run's training mean a, b.
"""

import os
from typing import Callable, List, Optional, Sequence, Tuple

from absl import app
from absl import flags
import cv2
import numpy as np

from colorjax import files
from colorjax import runtime
from colorjax.colour import spaces
from colorjax.datasets import image_io
from colorjax.errors import DataError
from colorjax.evaluation import command
from colorjax.evaluation import evaluate
from colorjax.evaluation import hint_eval
from colorjax.hints import hint_files
from colorjax.inference.colorizer import Colorizer

__all__ = ['cli', 'draw', 'draw_hints', 'main', 'pick']


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

  def panels(rgb, _):
    out = [('grey input', Colorizer.constant(rgb, np.zeros(2))),
           ('constant prior', Colorizer.constant(rgb, prior))]
    out += [(name, c.colorize(rgb)) for name, c in colorizers]
    return out + [('original', rgb)]

  return _layout(paths, panels, height)


def _dots(rgb: np.ndarray, hint_ab: np.ndarray, mask: np.ndarray,
          scale: float) -> np.ndarray:
  """The grey painting with each hint cell drawn as a square of its colour
  (at lightness 65), edged in white and black so it shows on any ground."""
  out = Colorizer.constant(rgb, np.zeros(2)).copy()
  ys, xs = np.nonzero(mask[..., 0])
  cells = [((int(x / scale), int(y / scale)),
            (int((x + 1) / scale) - 1, int((y + 1) / scale) - 1))
           for y, x in zip(ys, xs, strict=True)]
  for grow, fill in ((3, (0, 0, 0)), (2, (255, 255, 255))):
    for (x0, y0), (x1, y1) in cells:
      cv2.rectangle(out, (x0 - grow, y0 - grow), (x1 + grow, y1 + grow),
                    fill, -1)
  for ((x0, y0), (x1, y1)), y, x in zip(cells, ys, xs, strict=True):
    lab = np.asarray([65.0, *hint_ab[y, x]], np.float32)
    fill = np.asarray(spaces.lab_to_rgb(lab)) * 255
    cv2.rectangle(out, (x0, y0), (x1, y1), tuple(float(c) for c in fill), -1)
  return out


def draw_hints(paths: Sequence[str], hint_workdir: str,
               auto_workdir: Optional[str], counts: Sequence[int],
               height: int, seed: int = 0,
               split_paths: Optional[Sequence[str]] = None) -> np.ndarray:
  """grey input | automatic | for each N: the N hints as dots, the hint
  model's result | the original. With `split_paths` (the split `paths` come
  from, in `evaluate.image_paths` order) the hints are those `evaluate
  --hints --full_res` draws for the same paintings."""
  every = list(split_paths or paths)
  model = Colorizer.from_workdir(hint_workdir)
  auto = Colorizer.from_workdir(auto_workdir) if auto_workdir else None
  s = model.work_size

  def panels(rgb, row):
    index = every.index(paths[row]) if paths[row] in every else row
    out = [('grey input', Colorizer.constant(rgb, np.zeros(2)))]
    if auto is not None:
      out.append(('automatic', auto.colorize(rgb)))
    out.append(('hint model, no hint', model.colorize(rgb)))
    scale = hint_files.work_geometry(rgb.shape[:2], s)[0]
    for n in counts:
      work_ab, work_mask = hint_eval.work_hints(rgb, s, model.ab_scale, n,
                                                seed, index)
      out.append((f'{n} hints', _dots(rgb, work_ab * model.ab_scale,
                                      work_mask, scale)))
      out.append((f'with {n} hints', model.colorize(rgb, (work_ab,
                                                          work_mask))))
    return out + [('original', rgb)]

  return _layout(paths, panels, height)


def _layout(paths: Sequence[str], panels_of: Callable, height: int
            ) -> np.ndarray:
  """Rows of labelled panels, one row per painting."""
  gutter = 6
  rows = []
  for i, path in enumerate(paths):
    rgb = image_io.to_uint8(image_io.read_image(path))
    panels = panels_of(rgb, i)
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
  flags.DEFINE_string('hint_run', None, 'Instead of --run: a hint model\'s '
                      'workdir, drawn with --hints simulated hints.')
  flags.DEFINE_string('auto_run', None, 'With --hint_run: an automatic '
                      'recipe\'s workdir, one more column.')
  flags.DEFINE_list('hints', ['5', '10'], 'With --hint_run: hint counts.')
  flags.DEFINE_list('files', [], 'These files of the split (names), instead '
                    'of --num spread over it.')
  flags.DEFINE_string('output', None, 'The figure (.jpg or .png).')
  flags.DEFINE_integer('num', 8, 'Paintings (rows).')
  flags.DEFINE_integer('height', 160, 'Row height in pixels.')
  flags.DEFINE_integer('quality', 85, 'JPEG quality.')
  flags.mark_flags_as_required(['dataset', 'output'])


# What a figure may be: a row height a screen shows (a 100,000-pixel row
# would take 45 GB) and rows a page holds.
MAX_HEIGHT, MAX_ROWS = 2048, 200
FORMATS = ('.jpg', '.jpeg', '.png')


def check_flags() -> List[int]:
  """Every flag checked before any work (one line naming it); returns the
  hint counts."""
  for flag, value, low, high in (('num', FLAGS.num, 1, MAX_ROWS),
                                 ('height', FLAGS.height, 16, MAX_HEIGHT),
                                 ('quality', FLAGS.quality, 1, 100)):
    if not low <= value <= high:
      raise DataError(f'--{flag}={value} must be in [{low}, {high}].')
  files.check_output('output', FLAGS.output, FORMATS, make_folder=True,
                     not_inside=FLAGS.dataset)
  return command.parse_counts('hints', FLAGS.hints, 0, 10_000, '5,10')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  counts = check_flags()
  runtime.setup()
  if FLAGS.hint_run:
    paths = _paths()
    figure = draw_hints(paths, FLAGS.hint_run, FLAGS.auto_run,
                        counts, FLAGS.height,
                        split_paths=evaluate.image_paths(FLAGS.dataset,
                                                         FLAGS.split))
    _save(figure, f'{len(paths)} paintings with {",".join(FLAGS.hints)} '
          'hints')
    return
  runs = []
  for spec in FLAGS.run:
    name, sep, workdir = spec.partition('=')
    if not sep:
      raise DataError(f'--run={spec!r} must be NAME=WORKDIR.')
    runs.append((name, workdir))
  if not runs:
    raise DataError('name at least one --run=NAME=WORKDIR.')
  paths = _paths()
  figure = draw(paths, runs, FLAGS.height)
  _save(figure, f'{len(paths)} paintings; columns grey, prior, '
        f'{", ".join(n for n, _ in runs)}, original')


def _paths() -> List[str]:
  """--files of the split, else --num spread over it."""
  every = evaluate.image_paths(FLAGS.dataset, FLAGS.split)
  if not FLAGS.files:
    return pick(every, FLAGS.num)
  by_name = {os.path.basename(p): p for p in every}
  missing = [f for f in FLAGS.files if f not in by_name]
  if missing:
    raise DataError(f'--files: {", ".join(missing)} not in the {FLAGS.split} '
                    'split.')
  return [by_name[f] for f in FLAGS.files]


def _save(figure: np.ndarray, what: str) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
  if os.path.splitext(FLAGS.output)[1].lower() == '.png':
    data = image_io.encode_png(figure)
  else:
    ok, encoded = cv2.imencode('.jpg', figure[..., ::-1],
                               [cv2.IMWRITE_JPEG_QUALITY, FLAGS.quality])
    if not ok:
      raise DataError(f'cannot encode {FLAGS.output}.')
    data = encoded.tobytes()
  try:
    files.write_atomically(FLAGS.output, data)
  except OSError as e:
    raise DataError(f'cannot write {FLAGS.output} ({e.strerror}); pass a '
                    'writable --output.') from None
  print(f'wrote {FLAGS.output} ({os.path.getsize(FLAGS.output) / 1024:.0f} '
        f'KB): {what}')


def cli() -> None:
  """The `gallery` command."""
  _define_flags()
  runtime.run_tool(main)


if __name__ == '__main__':
  cli()
