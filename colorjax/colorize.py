"""Colourise greyscale paintings of any size with a trained generator.

  python -m colorjax.colorize --workdir=DIR [--epoch=N] INPUT... --output=OUT_DIR
                              [--work_size=256] [--compare] [--overwrite]
                              [--hints=FILE_OR_FOLDER]

(also installed as ``colorjax-colorize``). INPUT is any mix of image files and
folders (searched recursively). Each output is a PNG of the input's width and
height.

How: the image's lightness is resized so its longer side is the working size
(default: the training size), reflect-padded to a square, and colourised; the
predicted a,b are cropped, upsampled to the full image and combined with the
original full-resolution L. Out-of-gamut colours are desaturated, not clipped,
so the output keeps the input's lightness and every detail of it. One program
is compiled per working size and per full-resolution bucket (sides rounded up
to 256), not per image size.

A model trained with hints (`configs/hints.py`) also takes colour hints
(`colorjax.hint_files`): ``--hints`` names one hints file (one input) or a
folder of ``<input stem>.json`` / ``.png`` files; inputs without one are
colourised automatically.

From Python::

  colorizer = Colorizer.from_workdir('workdirs/paintings')
  rgb = colorizer.colorize(grey)            # uint8 HxW or HxWx3 -> uint8 HxWx3
  rgbs = colorizer.colorize_batch([a, b])   # any sizes
  rgb = colorizer.colorize(grey, hints=[{'x': 120, 'y': 48,
                                         'color': '#1f4e9c'}])
"""

import collections
import copy
import functools
import os
import sys
from typing import Iterable, List, Optional, Sequence, Tuple

from absl import app
from absl import flags
from absl import logging
import cv2
import jax
import jax.numpy as jnp
import numpy as np

from colorjax import batching
from colorjax import color
from colorjax import files
from colorjax import hint_files
from colorjax import image_io
from colorjax import runtime
from colorjax import sources
from colorjax import workdir as workdir_lib
from colorjax.config_validation import downsampling_factor
from colorjax.errors import ColorjaxError
from colorjax.errors import DataError
from colorjax.errors import one_line

_BUCKET = 256  # Full-resolution arrays are padded to multiples of this.
# The largest working size: the generator's activations at 2048 px already
# take several GiB per image.
MAX_WORK_SIZE = 2048


def _round_up(x: int, m: int) -> int:
  return -(-x // m) * m


@jax.jit
def _lightness(rgb: jax.Array) -> jax.Array:
  return color.rgb_to_lab(rgb)[..., 0]


GAMUTS = ('desaturate', 'clip')


@functools.partial(jax.jit, static_argnames='gamut')
def _compose(l: jax.Array, ab: jax.Array, gamut: str = 'desaturate'
             ) -> jax.Array:
  """L (H, W) and a, b (H, W, 2) to uint8 sRGB; out-of-gamut colours are
  desaturated at their lightness, or clipped per channel (the reference's
  `datasets.postprocess`, which changes their lightness)."""
  lab = jnp.concatenate([l[..., None], ab], axis=-1)
  rgb = (color.lab_to_rgb_keep_lightness(lab) if gamut == 'desaturate'
         else color.lab_to_rgb(lab))
  return jnp.round(rgb * 255).astype(jnp.uint8)


def pad_to_bucket(a: np.ndarray) -> np.ndarray:
  """Edge-pads an (H, W, ...) array to sides rounded up to the bucket size,
  so one compiled program serves every image of that bucket."""
  h, w = a.shape[:2]
  return np.pad(a, ((0, _round_up(h, _BUCKET) - h),
                    (0, _round_up(w, _BUCKET) - w)) + ((0, 0),) * (a.ndim - 2),
                mode='edge')


def _bucketed(fn, *arrays: np.ndarray, **kwargs) -> np.ndarray:
  """Applies a jitted per-pixel `fn` on arrays padded to bucket sizes."""
  h, w = arrays[0].shape[:2]
  return np.asarray(fn(*[pad_to_bucket(a) for a in arrays], **kwargs))[:h, :w]


def recipe_vibrance(config, vibrance: Optional[float] = None) -> float:
  """`vibrance` if given, else the recipe's recommended one (else 1)."""
  return float(config.vibrance if vibrance is None else vibrance)


def _checked_vibrance(vibrance: float) -> float:
  if not 0 <= vibrance <= 4:
    raise DataError(f'vibrance {vibrance} must be in [0, 4] (1: as '
                    'trained).')
  return float(vibrance)


class Colorizer:
  """A trained generator that colourises images of any size."""

  def __init__(self, apply_fn, variables, work_size: int, factor: int,
               batch_size: int = 8, vibrance: float = 1.0, *,
               ab_scale: float, gamut: str = 'desaturate',
               takes_hints: bool = False):
    """Use `from_workdir`; `apply_fn` is the generator's flax apply,
    `factor` what work sizes must be divisible by, `vibrance` the gain
    on the predicted a, b (1: as trained; >1 more saturated), `ab_scale`
    the model's a, b scale (its `config.ab_scale`) and `gamut` what happens
    to colours outside sRGB ('desaturate' keeps the painting's lightness;
    'clip' clips each channel as the reference's postprocess did);
    `takes_hints` whether the generator reads a hint map."""
    if gamut not in GAMUTS:
      raise DataError(f'gamut {gamut!r} is unknown; use one of {GAMUTS}.')
    self.gamut = gamut
    if not 0 < work_size <= MAX_WORK_SIZE or work_size % factor:
      raise DataError(f'work size {work_size} must be a multiple of {factor} '
                      f'in [{factor}, {MAX_WORK_SIZE}] for this model.')
    if not 1 <= batch_size <= 256:
      raise DataError(f'batch size {batch_size} must be in [1, 256].')
    self.work_size = work_size
    self.batch_size = batch_size
    self.vibrance = _checked_vibrance(vibrance)
    self.ab_scale = float(ab_scale)
    self._variables = variables
    self.takes_hints = takes_hints
    if takes_hints:
      self._predict = jax.jit(lambda v, l, h, m: apply_fn(
          v, l, train=False, hint_ab=h, hint_mask=m))
    else:
      self._predict = jax.jit(lambda v, l, h, m: apply_fn(v, l, train=False))

  @classmethod
  def from_workdir(cls, workdir: str, epoch: Optional[int] = None,
                   work_size: Optional[int] = None, batch_size: int = 8,
                   vibrance: Optional[float] = None,
                   temperature: Optional[float] = None,
                   seed: Optional[int] = None,
                   gamut: str = 'desaturate') -> 'Colorizer':
    """Loads the generator of a training run (latest or `epoch` checkpoint).

    `vibrance` defaults to the run's recipe (`config.vibrance`, else 1);
    `temperature` (ab-classes models) to its `config.classes.temperature`;
    `seed` picks one seed of a run of several (default 0).
    """
    config, _, state = workdir_lib.load_run(workdir, epoch, temperature=temperature,
                                      seed=seed)
    return cls(state.g.apply_fn, state.g.variables(),
               config.image_size if work_size is None else work_size,
               downsampling_factor(config),
               batch_size, recipe_vibrance(config, vibrance),
               ab_scale=config.ab_scale, gamut=gamut,
               takes_hints=bool(config.hints.enabled))

  def _work_input(self, l_full: np.ndarray) -> Tuple[np.ndarray, Tuple[int, int]]:
    """L (H, W) in [0, 100] -> model-range (S, S, 1) and the valid (h, w)."""
    s = self.work_size
    scale, nh, nw = hint_files.work_geometry(l_full.shape, s)
    small = cv2.resize(l_full, (nw, nh), interpolation=cv2.INTER_AREA
                       if scale < 1 else cv2.INTER_CUBIC)
    small = np.pad(small, ((0, s - nh), (0, s - nw)), mode='reflect'
                   if min(nh, nw) > 1 else 'edge')
    return color.l_to_model(small)[..., None].astype(np.float32), (nh, nw)

  def hint_map(self, hints, shape: Tuple[int, int]
               ) -> Tuple[np.ndarray, np.ndarray]:
    """The (S, S, 2) model-range hint a, b and (S, S, 1) mask of `hints` (a
    hints file path, a list of point dicts as in a JSON hints file,
    `hint_files` points or scribble, a (hint_ab, mask) map at the working
    size, or None) for a painting of `shape`.

    Raises:
      HintError: bad hints, or hints for a model trained without them.
    """
    if hints is None:
      return hint_files.rasterize(None, shape, self.work_size, self.ab_scale)
    if isinstance(hints, tuple) and self.takes_hints:  # A map already.
      return hints
    if not self.takes_hints:
      raise hint_files.HintError(
          'this model was trained without hint channels; train one that '
          'takes hints: python launch.py --config=configs/hints.py:cpu '
          '--workdir=workdirs/hints')
    if isinstance(hints, (str, os.PathLike)):
      hints = hint_files.read_hints(os.fspath(hints), shape)
    elif isinstance(hints, list) and not all(
        isinstance(p, hint_files.Point) for p in hints):
      hints = hint_files.parse_points(hints, shape)
    return hint_files.rasterize(hints, shape, self.work_size, self.ab_scale)

  def colorize_batch(self, images: Sequence[np.ndarray],
                     hints: Optional[Sequence[object]] = None
                     ) -> List[np.ndarray]:
    """Colourises images of any sizes: uint8/uint16/float, grey or colour.

    A colour input is reduced to its lightness first. `hints` gives each
    image's hints (see `hint_map`; None: automatic). Returns uint8 RGB
    (H, W, 3) arrays of the inputs' sizes.
    """
    rgbs = [image_io.to_float_rgb(np.asarray(img)) for img in images]
    hints = [None] * len(rgbs) if hints is None else list(hints)
    if len(hints) != len(rgbs):
      raise hint_files.HintError(f'{len(hints)} hints for {len(rgbs)} '
                                 'images; give one (or None) per image.')
    maps = [self.hint_map(h, rgb.shape[:2]) for h, rgb in zip(
        hints, rgbs, strict=True)]
    l_full = [_bucketed(_lightness, rgb) for rgb in rgbs]
    work = [self._work_input(l) for l in l_full]
    outputs = []
    s = self.work_size
    for start in range(0, len(work), self.batch_size):
      chunk = work[start:start + self.batch_size]
      batch = np.zeros((self.batch_size, s, s, 1), np.float32)
      batch[:len(chunk)] = [x for x, _ in chunk]
      hint_ab = np.zeros((self.batch_size, s, s, 2), np.float32)
      hint_mask = np.zeros((self.batch_size, s, s, 1), np.float32)
      for i, (h, m) in enumerate(maps[start:start + self.batch_size]):
        hint_ab[i], hint_mask[i] = h, m
      ab = color.ab_from_model(np.asarray(self._predict(
          self._variables, batch, hint_ab, hint_mask)),
                               np.float32(self.ab_scale))
      if not np.isfinite(ab[:len(chunk)]).all():
        raise DataError('the model\'s colours are not finite (NaN or Inf): '
                        'its weights are broken; retrain it or restore an '
                        'earlier checkpoint (--epoch).')
      ab = ab * np.float32(self.vibrance)
      for i, (_, (nh, nw)) in enumerate(chunk):
        outputs.append(self.compose(l_full[start + i], ab[i, :nh, :nw]))
    return outputs

  def compose(self, l_full: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """uint8 RGB of the full-resolution L (H, W) with CIELAB a, b of the
    working size's valid region (h, w, 2), upsampled."""
    ab_full = cv2.resize(np.asarray(ab, np.float32),
                         (l_full.shape[1], l_full.shape[0]),
                         interpolation=cv2.INTER_CUBIC)
    return _bucketed(_compose, l_full, ab_full, gamut=self.gamut)

  def with_vibrance(self, vibrance: float) -> 'Colorizer':
    """The same model with another vibrance (sharing its compiled
    programs); raises DataError outside [0, 4]."""
    other = copy.copy(self)
    other.vibrance = _checked_vibrance(vibrance)
    return other

  @staticmethod
  def constant(image: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """The image's own lightness with one CIELAB a, b everywhere: the grey
    (ab = 0) and constant-prior answers, composed as outputs are."""
    l = _bucketed(_lightness, image_io.to_float_rgb(np.asarray(image)))
    ab_full = np.broadcast_to(np.asarray(ab, np.float32), l.shape + (2,))
    return _bucketed(_compose, l, np.ascontiguousarray(ab_full))

  def colorize(self, image: np.ndarray, hints: object = None) -> np.ndarray:
    """Colourises one image (uint8 HxW or HxWx3 in, uint8 HxWx3 RGB out),
    guided by `hints` if given (see `hint_map`)."""
    return self.colorize_batch([image], [hints])[0]


def collect_inputs(inputs: Iterable[str]) -> List[Tuple[str, str]]:
  """(path, output name without extension) for files and folders' images.

  A folder's images keep their folders relative to it. Names that would
  collide get the input's extension where that tells them apart (`c.jpg`,
  `c.png` -> `c_jpg`, `c_png`), else a number (`p`, `p_2`), so every input
  has its own output.
  """
  found = []
  for item in inputs:
    if os.path.isdir(item):
      for path in sources.list_images(item):
        found.append((path, os.path.relpath(path, item)))
    else:
      found.append((item, os.path.basename(item)))
  stems = [os.path.splitext(rel)[0] for _, rel in found]
  exts = collections.defaultdict(set)
  for stem, (_, rel) in zip(stems, found, strict=True):
    exts[stem].add(os.path.splitext(rel)[1].lower())
  names = [stem if len(exts[stem]) == 1 else
           f'{stem}_{os.path.splitext(rel)[1].lstrip(".").lower()}'
           for stem, (_, rel) in zip(stems, found, strict=True)]
  seen = collections.Counter()
  unique = []
  for name in names:
    seen[name] += 1
    unique.append(name if seen[name] == 1 else f'{name}_{seen[name]}')
  return [(path, name) for (path, _), name in zip(found, unique, strict=True)]


def _write_png(path: str, rgb: np.ndarray) -> Optional[str]:
  """Writes uint8 RGB as PNG, through a temporary file renamed into place (a
  killed run never leaves half a PNG under the output's name); returns None
  or why it could not."""
  try:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    ok, encoded = cv2.imencode('.png', rgb[..., ::-1])
    if not ok:
      return 'the PNG encoder refused it'
    files.write_atomically(path, encoded.tobytes())
    return None
  except (OSError, cv2.error) as e:
    return getattr(e, 'strerror', None) or str(e).splitlines()[0]


def side_by_side(panels: Sequence[np.ndarray]) -> np.ndarray:
  """Concatenates RGB uint8 panels of equal height with a white gutter."""
  gutter = np.full((panels[0].shape[0], 8, 3), 255, np.uint8)
  out = [panels[0]]
  for p in panels[1:]:
    out += [gutter, p]
  return np.concatenate(out, axis=1)


def _plan(items: List[Tuple[str, str]], output: str, compare: bool,
          overwrite: bool) -> Tuple[List[Tuple[str, str]], List[str]]:
  """(todo [(input, output path)], errors): no input is ever an output."""
  inputs = {os.path.realpath(p) for p, _ in items}
  claimed = set()  # Outputs of earlier inputs.
  todo, errors = [], []
  for path, name in items:
    out_path = os.path.join(output, name + '.png')
    written = [out_path] + ([out_path[:-4] + '_compare.png'] if compare
                            else [])
    clash = [w for w in written if os.path.realpath(w) in inputs]
    taken = [w for w in written if os.path.realpath(w) in claimed]
    claimed.update(os.path.realpath(w) for w in written)
    if clash:
      errors.append(f'{path}: its output {clash[0]} is an input; choose '
                    'another --output.')
    elif taken:
      errors.append(f'{path}: its output {taken[0]} is another input\'s; '
                    'rename one of them.')
    elif os.path.exists(out_path) and not overwrite:
      print(one_line(f'skipped: {out_path} exists (pass --overwrite to '
                     'replace it).'), file=sys.stderr)
    else:
      todo.append((path, out_path))
  return todo, errors


def _out_of_memory(e: BaseException) -> bool:
  """Whether `e` is NumPy's, OpenCV's or XLA's way of running out of memory."""
  if isinstance(e, MemoryError):
    return True
  text = str(e)
  return ('RESOURCE_EXHAUSTED' in text or 'Out of memory' in text or
          'Insufficient memory' in text or 'Failed to allocate' in text)


def run(colorizer: 'Colorizer', inputs: Sequence[str], output: str,
        compare: bool = False, overwrite: bool = False,
        hints: Optional[str] = None) -> int:
  """The command: colourises `inputs` into `output`; returns the failure count.

  Every failure (unreadable input or hints file, an output that would
  replace an input, a write that fails) is printed with its file and
  counted. `hints` is a hints file (one input) or a folder of them.
  """
  from tqdm import tqdm  # Only the command shows progress.
  items = collect_inputs(inputs)
  if hints is not None:
    if not colorizer.takes_hints:
      colorizer.hint_map([], (1, 1))  # Raises: the model takes no hints.
    hint_files.find_hints(hints, items[0][0] if items else '', len(items))
  todo, errors = _plan(items, output, compare, overwrite)
  for error in errors:
    print(one_line(f'error: {error}'), file=sys.stderr)
  failures, written = len(errors), 0
  with tqdm(total=len(todo), unit='img', file=sys.stderr) as bar:
    for path, out_path in todo:  # One at a time: memory stays one image's.
      bar.update(1)
      rgb = None
      try:
        rgb = image_io.read_image(path)
        hints_path = (None if hints is None else
                      hint_files.find_hints(hints, path, len(items)))
        result = colorizer.colorize(rgb, hints_path)
      except ColorjaxError as e:
        bar.write(one_line(f'error: {e}'), file=sys.stderr)  # Its own line.
        failures += 1
        continue
      except Exception as e:  # pylint: disable=broad-except
        if not _out_of_memory(e):
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
      outputs = [(out_path, result)]
      if compare:
        original = image_io.to_uint8(rgb)
        panels = [Colorizer.constant(rgb, np.zeros(2)), result]
        if not batching.is_greyscale(original):
          panels.append(original)
        outputs.append((out_path[:-4] + '_compare.png', side_by_side(panels)))
      problems = [(p, why) for p, img in outputs
                  if (why := _write_png(p, img))]
      for p, why in problems:
        bar.write(one_line(f'error: cannot write {p}: {why}.'),
                  file=sys.stderr)
      failures += bool(problems)
      written += not problems
  logging.info('Colourised %d of %d images into %s.', written, len(items),
               output)
  return failures


FLAGS = flags.FLAGS


def _define_flags() -> None:
  """Command-line flags, defined only when run as a program."""
  flags.DEFINE_string('workdir', None, 'A training run\'s workdir.')
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
                    'each channel as the reference implementation did.')
  flags.mark_flags_as_required(['workdir', 'output'])


def main(argv):
  if len(argv) < 2:
    raise app.UsageError('name at least one image file or folder.')
  runtime.setup()
  colorizer = Colorizer.from_workdir(FLAGS.workdir, FLAGS.epoch,
                                     FLAGS.work_size, FLAGS.batch_size,
                                     FLAGS.vibrance, FLAGS.temperature,
                                     FLAGS.seed, FLAGS.gamut)
  failures = run(colorizer, argv[1:], FLAGS.output, FLAGS.compare,
                 FLAGS.overwrite, FLAGS.hints)
  if failures:
    print(f'{failures} input(s) failed.', file=sys.stderr)
    sys.exit(1)


def console_main() -> None:
  """Entry point of the `colorjax-colorize` console script."""
  sys.argv = [a.replace('--work-size', '--work_size', 1)
              if a.startswith('--work-size') else a for a in sys.argv]
  _define_flags()
  runtime.run_tool(main)


if __name__ == '__main__':
  console_main()
