"""Colourise greyscale paintings of any size with a trained generator.

  colorjax colorize [--workdir=DIR] [--epoch=N] INPUT... --output=OUT_DIR
                              [--work_size=256] [--compare] [--overwrite]
                              [--hints=FILE_OR_FOLDER]

(also installed as ``colorjax-colorize``). With no --workdir it colours with
the trained hint model that ships with colorjax (`colorjax.inference.pretrained`).
INPUT is any mix of image files and
folders (searched recursively). Each output is a PNG of the input's width and
height.

How: `colorjax.colorizer.Colorizer` (the image's lightness at the working
size, its colours upsampled onto the full-resolution L).

A model trained with hints (`configs/hints.py`) also takes colour hints
(`colorjax.hints.hint_files`): ``--hints`` names one hints file (one input) or a
folder of ``<input stem>.json`` / ``.png`` files; inputs without one are
colourised automatically.

From Python, see `colorjax.inference.colorizer`.
"""

import collections
import os
import sys
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from absl import app
from absl import flags
import cv2
import numpy as np

from colorjax import files
from colorjax import names
from colorjax import runtime
from colorjax.datasets import batching
from colorjax.datasets import image_io
from colorjax.datasets import sources
from colorjax.errors import ColorjaxError
from colorjax.errors import DataError
from colorjax.errors import is_out_of_memory
from colorjax.errors import one_line
from colorjax.hints import hint_lookup
from colorjax.inference.colorizer import GAMUTS
from colorjax.inference.colorizer import Colorizer

__all__ = ['Colorizer', 'collect_inputs', 'run', 'side_by_side']


def collect_inputs(inputs: Iterable[str]
                   ) -> Tuple[List[Tuple[str, str]], List[str]]:
  """(inputs [(path, output name without extension)], earlier outputs):
  the given files, and the images of the given folders.

  A folder's images keep their folders relative to it; a PNG that colorjax
  wrote (an earlier run's output kept beside its paintings) is not read from
  a folder but returned apart, so a rerun never colours its own outputs.
  Names that would collide get the input's extension where that tells them
  apart (`c.jpg`, `c.png` -> `c_jpg`, `c_png`), else the first free number
  (`p`, `p_2`; never a name another input has), so every input has its own
  output.
  """
  found, own = [], []
  for item in inputs:
    if os.path.isdir(item):
      for path in sources.list_images(item):
        if image_io.made_by_colorjax(path):
          own.append(path)
        else:
          found.append((path, os.path.relpath(path, item)))
    else:
      found.append((item, os.path.basename(item)))
  stems = [os.path.splitext(rel)[0] for _, rel in found]
  exts = collections.defaultdict(set)
  for stem, (_, rel) in zip(stems, found, strict=True):
    exts[stem].add(os.path.splitext(rel)[1].lower())
  wanted = [stem if len(exts[stem]) == 1 else
            f'{stem}_{os.path.splitext(rel)[1].lstrip(".").lower()}'
            for stem, (_, rel) in zip(stems, found, strict=True)]
  # A suffix must not take a name that an input has as its own.
  used = {os.path.normcase(n) for n in wanted}
  given = set()
  unique = []
  for name in wanted:
    key = os.path.normcase(name)
    if key not in given:
      given.add(key)
      unique.append(name)
      continue
    k = 2
    while os.path.normcase(f'{name}_{k}') in used | given:
      k += 1
    given.add(os.path.normcase(f'{name}_{k}'))
    unique.append(f'{name}_{k}')
  return ([(path, name) for (path, _), name in zip(found, unique, strict=True)],
          own)


def _write_png(path: str, rgb: np.ndarray, replace: bool) -> Optional[str]:
  """Writes uint8 RGB as PNG, through a temporary file moved into place (a
  killed run never leaves half a PNG under the output's name); without
  `replace`, a file that appeared there since the plan (another run's) is
  kept. Returns None or why it could not."""
  try:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    files.write_atomically(path, image_io.encode_png(rgb), replace=replace)
    return None
  except FileExistsError:
    return ('another program wrote it since this run began; kept it (pass '
            '--overwrite to replace it)')
  except (OSError, cv2.error, image_io.ImageError) as e:
    return getattr(e, 'strerror', None) or str(e).splitlines()[0]


def side_by_side(panels: Sequence[np.ndarray], gutter: int = 8
                 ) -> np.ndarray:
  """Concatenates RGB uint8 panels of equal height with a white gutter of
  `gutter` pixels."""
  gutter = np.full((panels[0].shape[0], gutter, 3), 255, np.uint8)
  out = [panels[0]]
  for p in panels[1:]:
    out += [gutter, p]
  return np.concatenate(out, axis=1)


def _plan(items: List[Tuple[str, str]], output: str, compare: bool,
          overwrite: bool, hints: Optional[str] = None
          ) -> Tuple[List[Tuple[str, Dict[str, str]]], List[str]]:
  """(todo [(input, {'main' | 'compare': the output path to write})],
  errors): no input, hints
  file included, is ever an output, and no existing output (the compare
  panel included) is replaced without `overwrite`; an input whose outputs
  exist only in part gets the missing ones (a rerun completes a run that
  stopped)."""
  inputs = {os.path.realpath(p) for p, _ in items}
  if hints is not None:  # The user's hints files are inputs too.
    inputs |= ({os.path.realpath(os.path.join(hints, f))
                for f in os.listdir(hints)} if os.path.isdir(hints)
               else {os.path.realpath(hints)})
  claimed = set()  # Outputs of earlier inputs.
  todo, errors = [], []
  for path, name in items:
    out_path = os.path.join(output, name + '.png')
    parts = {'main': out_path}
    if compare:
      parts['compare'] = os.path.join(output, name + '_compare.png')
    written = list(parts.values())
    clash = [w for w in written if os.path.realpath(w) in inputs]
    taken = [w for w in written if os.path.realpath(w) in claimed]
    claimed.update(os.path.realpath(w) for w in written)
    existing = [w for w in written if os.path.lexists(w)]
    missing = {k: w for k, w in parts.items() if w not in existing}
    if clash:
      errors.append(f'{path}: its output {clash[0]} is an input or a hints '
                    'file; choose another --output.')
    elif taken:
      errors.append(f'{path}: its output {taken[0]} is another input\'s; '
                    'rename one of them.')
    elif existing and not overwrite:
      print(one_line(f'skipped: {existing[0]} exists (pass --overwrite to '
                     'replace it).'), file=sys.stderr)
      if missing:
        todo.append((path, missing))
    else:
      todo.append((path, parts))
  return todo, errors


def run(colorizer: 'Colorizer', inputs: Sequence[str], output: str,
        compare: bool = False, overwrite: bool = False,
        hints: Optional[str] = None) -> int:
  """The command: colourises `inputs` into `output`; returns the failure count.

  Every failure (unreadable input or hints file, an output that would
  replace an input, a write that fails) is printed with its file and
  counted. `hints` is a hints file (one input) or a folder of them.
  """
  from tqdm import tqdm  # Only the command shows progress.
  items, own = collect_inputs(inputs)
  if own:
    print(one_line(
        f'note: left out {len(own)} PNG(s) colorjax wrote, found in the input '
        f'folders (earlier outputs, e.g. {own[0]}); name one as a file to '
        'colour it again.'), file=sys.stderr)
  if not items:  # An empty folder is no success: say so, and fail.
    print(one_line(
        f'error: no image found in {", ".join(inputs)} (it reads '
        f'{", ".join(sources.IMAGE_EXTENSIONS)} files); nothing was '
        'colourised.'), file=sys.stderr)
    return 1
  if hints is not None:
    if not colorizer.takes_hints:
      colorizer.hint_map([], (1, 1))  # Raises: the model takes no hints.
    if not os.path.isdir(hints):  # One file: for exactly one input.
      hint_lookup.find_hints(hints, items[0][0] if items else '', len(items))
  ambiguous = ({} if hints is None or not os.path.isdir(hints) else
               hint_lookup.ambiguous_inputs(hints, [p for p, _ in items]))
  todo, errors = _plan(items, output, compare, overwrite, hints)
  errors += [ambiguous[p] for p, _ in todo if p in ambiguous]
  todo = [(p, w) for p, w in todo if p not in ambiguous]
  for error in errors:
    print(one_line(f'error: {error}'), file=sys.stderr)
  failures, written = len(errors), 0
  with tqdm(total=len(todo), unit='img', file=sys.stderr) as bar:
    for path, wanted in todo:  # One at a time: memory stays one image's.
      bar.update(1)
      rgb = None
      try:
        rgb = image_io.read_image(path)
        hints_path = (None if hints is None else
                      hint_lookup.find_hints(hints, path, len(items)))
        result = colorizer.colorize(rgb, hints_path)
      except ColorjaxError as e:
        bar.write(one_line(f'error: {e}'), file=sys.stderr)  # Its own line.
        failures += 1
        continue
      except Exception as e:  # pylint: disable=broad-except
        if not is_out_of_memory(e):
          raise
        size = (f' ({rgb.shape[1]} x {rgb.shape[0]}, '
                f'{rgb.shape[0] * rgb.shape[1] / 1e6:.1f} megapixels)'
                if rgb is not None else '')
        bar.write(one_line(f'error: {path}{size}: out of memory; the other '
                           'inputs go on. Colourise it alone, on a machine '
                           'with more memory, or shrink it.'),
                  file=sys.stderr)
        failures += 1
        continue
      outputs = [(wanted['main'], result)] if 'main' in wanted else []
      if 'compare' in wanted:
        original = image_io.to_uint8(rgb)
        panels = [Colorizer.constant(rgb, np.zeros(2)), result]
        if not batching.is_greyscale(original):
          panels.append(original)
        outputs.append((wanted['compare'], side_by_side(panels)))
      problems = [(p, why) for p, img in outputs
                  if (why := _write_png(p, img, replace=overwrite))]
      for p, why in problems:
        bar.write(one_line(f'error: cannot write {p}: {why}.'),
                  file=sys.stderr)
      failures += bool(problems)
      written += not problems
  print(f'colourised {written} of {len(items)} images into {output}',
        file=sys.stderr)
  return failures


FLAGS = flags.FLAGS


def _define_flags() -> None:
  """Command-line flags, defined only when run as a program."""
  flags.DEFINE_string('workdir', names.BUNDLED, 'A training run\'s workdir '
                      '(default: the hint model that ships with colorjax).')
  flags.DEFINE_integer('epoch', None, 'Checkpoint epoch (default: latest).')
  flags.DEFINE_string('output', None, 'Folder for the colourised PNGs.')
  flags.DEFINE_integer('work_size', None, 'Working resolution (default: the '
                       'training size); also --work-size.')
  flags.DEFINE_bool('compare', False, 'Also write NAME_compare.png: input | '
                    'output [| original if colour].')
  flags.DEFINE_bool('overwrite', False, 'Replace existing outputs.')
  flags.DEFINE_integer('batch_size', 8, 'Images per generator call.')
  flags.DEFINE_float('vibrance', None, 'Gain on the predicted a, b: 1 as '
                     'trained, >1 more saturated (default: the recipe\'s '
                     'config.vibrance, else 1).')
  flags.DEFINE_float('temperature', None, 'Models with an ab-classes head: '
                     'the annealed mean\'s temperature in (0, 1]; lower is '
                     'more vivid (default: the recipe\'s).')
  flags.DEFINE_integer('seed', None, 'In a run of several seeds, which one '
                       '(0-based; default 0).')
  flags.DEFINE_string('hints', None, 'Colour hints (models trained with '
                      'hints): a JSON list of points or a scribble PNG/WebP '
                      'with alpha for one input, or a folder of '
                      '<input name>.json / .png files.')
  flags.DEFINE_enum('gamut', 'desaturate', GAMUTS, 'Colours outside sRGB: '
                    'desaturate them at the painting\'s lightness, or clip '
                    'each channel as the reference implementation did (its '
                    'OpenCV LAB conversions in and out, pixel for pixel).')
  flags.mark_flags_as_required(['output'])


def main(argv):
  if len(argv) < 2:
    raise app.UsageError('name at least one image file or folder.')
  if FLAGS.output is not None and not FLAGS.output.strip():
    # An unset shell variable: never the working folder by accident.
    raise DataError('--output= is empty; name the folder for the '
                    'colourised PNGs (--output=. for this one).')
  runtime.setup()
  runtime.for_users()
  colorizer = Colorizer.from_workdir(FLAGS.workdir, FLAGS.epoch,
                                     FLAGS.work_size, FLAGS.batch_size,
                                     FLAGS.vibrance, FLAGS.temperature,
                                     FLAGS.seed, FLAGS.gamut)
  print(f'model: {colorizer.description}', file=sys.stderr)
  failures = run(colorizer, argv[1:], FLAGS.output, FLAGS.compare,
                 FLAGS.overwrite, FLAGS.hints)
  if failures:
    print(f'{failures} input(s) failed.', file=sys.stderr)
    sys.exit(1)


def cli() -> None:
  """The `colorize` command (and the `colorjax-colorize` console script)."""
  sys.argv = [a.replace('--work-size', '--work_size', 1)
              if a.startswith('--work-size') else a for a in sys.argv]
  _define_flags()
  runtime.run_tool(main)


if __name__ == '__main__':
  cli()
