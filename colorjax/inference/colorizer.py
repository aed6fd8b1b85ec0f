"""The Colorizer: a trained generator that colourises paintings of any size.

The image's lightness is resized so its longer side is the working size
(default: the training size), reflect-padded to a square, and colourised;
the predicted a, b are cropped, upsampled to the full image and combined
with the original full-resolution L. Out-of-gamut colours are desaturated,
not clipped, so the output keeps the input's lightness and every detail of
it. One program is compiled per working size and per full-resolution bucket
(sides rounded up to 256), not per image size.

A model trained with hints (`configs/hints.py`) also takes colour hints
(`colorjax.hints.hint_files`).

  colorizer = Colorizer.pretrained()        # the model that ships, or
  colorizer = Colorizer.from_workdir('workdirs/hints')
  rgb = colorizer.colorize(grey)            # uint8 HxW or HxWx3 -> uint8 HxWx3
  rgbs = colorizer.colorize_batch([a, b])   # any sizes
  rgb = colorizer.colorize(grey, hints=[{'x': 120, 'y': 48,
                                         'color': '#1f4e9c'}])

The page (`colorjax.page.app`), `evaluate`, `gallery` and the `colorize` command
(`colorjax.inference.colorize`) all colour through it.
"""

import copy
import dataclasses
import functools
import numbers
import os
from typing import Any, Callable, List, Optional, Sequence, Tuple

import cv2
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from colorjax import names
from colorjax.colour import spaces as color
from colorjax.datasets import image_io
from colorjax.errors import DataError
from colorjax.hints import hint_files
from colorjax.inference import runs
from colorjax.inference import uncertainty
from colorjax.training.config_validation import downsampling_factor

__all__ = ['checked_vibrance', 'Colorizer', 'GAMUTS', 'Generator',
           'generator_of', 'MAX_WORK_SIZE',
           'pad_to_bucket', 'recipe_vibrance', 'reference_lightness',
           'reference_postprocess']

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


@jax.jit
def _compose(l: jax.Array, ab: jax.Array) -> jax.Array:
  """L (H, W) and a, b (H, W, 2) to uint8 sRGB, out-of-gamut colours
  desaturated at their lightness."""
  lab = jnp.concatenate([l[..., None], ab], axis=-1)
  return jnp.round(color.lab_to_rgb_keep_lightness(lab) * 255).astype(
      jnp.uint8)


def reference_lightness(rgb: np.ndarray) -> np.ndarray:
  """CIELAB L (H, W) of float RGB as the reference's `datasets.preprocess`
  computes it: OpenCV's float BGR -> LAB (its sRGB curve is approximate: up
  to 0.19 L from the exact one)."""
  bgr = np.ascontiguousarray(np.asarray(rgb, np.float32)[..., ::-1])
  return cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB)[..., 0]


def reference_postprocess(l: np.ndarray, ab: np.ndarray) -> np.ndarray:
  """uint8 sRGB of L (H, W) and a, b (H, W, 2) as the reference's
  `datasets.postprocess` makes them: OpenCV's float LAB -> BGR (which clips
  each channel to [0, 1], changing the lightness of colours outside sRGB),
  then `(bgr * 255).astype(np.uint8)`."""
  lab = np.concatenate([np.asarray(l, np.float32)[..., None],
                        np.asarray(ab, np.float32)], -1)
  bgr = cv2.cvtColor(np.ascontiguousarray(lab), cv2.COLOR_LAB2BGR)
  return np.ascontiguousarray((bgr[..., ::-1] * 255.0).astype(np.uint8))


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


def checked_vibrance(vibrance: object) -> float:
  """A vibrance as a float in [0, 4]; raises DataError for a string, a
  bool, NaN or a value out of range."""
  if (isinstance(vibrance, (bool, np.bool_)) or
      not isinstance(vibrance, numbers.Real) or not 0 <= vibrance <= 4):
    raise DataError(f'vibrance {vibrance!r} must be a number in [0, 4] (1: '
                    'as trained).')
  return float(vibrance)


# Float pixels this far outside [0, 1] are rounding or a resampler's
# overshoot, clipped; beyond it they are another scale (0-255), refused.
_FLOAT_SLACK = 0.02


def _checked_image(image, index: int) -> np.ndarray:
  """An input as float RGB; a DataError naming what is wrong with it."""
  try:
    array = np.asarray(image)
  except (TypeError, ValueError) as e:
    raise DataError(f'image {index} is not an array ({e}).') from None
  if array.dtype == object or array.dtype.kind not in 'uif':
    raise DataError(f'image {index} has dtype {array.dtype}; give uint8, '
                    'uint16 or float pixels.')
  if array.ndim not in (2, 3) or 0 in array.shape[:2]:
    raise DataError(f'image {index} has shape {array.shape}; give an H x W '
                    'or H x W x C image with at least one pixel.')
  if array.dtype.kind in 'iu' and array.dtype not in (np.uint8, np.uint16):
    # int32/int64 (a list's, a cast's) says nothing of 0-255 or 0-65535.
    raise DataError(
        f'image {index} has dtype {array.dtype} (values {array.min()} to '
        f'{array.max()}), whose range is ambiguous; give '
        'np.asarray(image, np.uint8) for 0-255, np.uint16 for 0-65535, or '
        'floats in [0, 1].')
  if array.dtype.kind == 'f':
    if not np.isfinite(array).all():
      raise DataError(f'image {index} has NaN or infinite pixels; give '
                      'finite values in [0, 1].')
    low, high = float(array.min()), float(array.max())
    if low < -_FLOAT_SLACK or high > 1 + _FLOAT_SLACK:
      raise DataError(
          f'image {index} has float pixels in [{low:g}, {high:g}]; give '
          'floats in [0, 1] (divide 0-255 values by 255) or a uint8 array.')
  return image_io.to_float_rgb(array)


@dataclasses.dataclass(frozen=True)
class Generator:
  """A trained generator, as the Colorizer runs it.

  Attributes:
    apply_fn: the generator's flax apply (`module.apply`).
    variables: its variables ({'params': ..., 'batch_stats': ...}).
    factor: what its input sizes must be divisible by
      (`config_validation.downsampling_factor`).
    ab_scale: its a, b scale (the config's `ab_scale`).
    takes_hints: whether it reads a hint map.
    ungated_apply_fn: the same generator with its inference gate off (every
      hint travels), for hints that speak for the whole painting; None when
      it has no fixed gate.
  """
  apply_fn: Callable[..., Any]
  variables: Any
  factor: int
  ab_scale: float
  takes_hints: bool = False
  ungated_apply_fn: Optional[Callable[..., Any]] = None


def generator_of(config: ml_collections.ConfigDict, state: Any) -> Generator:
  """The generator of a train state (`runs.load_run`) trained with
  `config`."""
  h = config.hints
  ungated = None
  module = getattr(state.g.apply_fn, '__self__', None)
  if h.enabled and not h.learned_gate and h.gate[0] > 0 and module is not None:
    ungated = module.clone(gate=(0.0, 0.0, 1.0)).apply  # Reach 0: off.
  return Generator(state.g.apply_fn, state.g.variables(),
                   downsampling_factor(config), float(config.ab_scale),
                   bool(h.enabled), ungated)


class Colorizer:
  """A trained generator that colourises images of any size."""

  def __init__(self, generator: Generator, work_size: int,
               batch_size: int = 8, vibrance: float = 1.0,
               gamut: str = 'desaturate'):
    """Use `from_workdir` or `pretrained`; `work_size` is the size the
    generator runs at (a multiple of its factor), `vibrance` the gain on the
    predicted a, b (1: as trained; >1 more saturated) and `gamut` what
    happens to colours outside sRGB ('desaturate' keeps the painting's
    lightness; 'clip' is the reference's pre- and post-processing: OpenCV's
    LAB both ways, each channel clipped, which changes their lightness)."""
    apply_fn, variables = generator.apply_fn, generator.variables
    factor, ab_scale = generator.factor, generator.ab_scale
    takes_hints = generator.takes_hints
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
    self.vibrance = checked_vibrance(vibrance)
    self.ab_scale = float(ab_scale)
    self.generator = generator  # What it runs (another form: a clone).
    self._variables = variables
    self.takes_hints = takes_hints
    self.description = 'a generator'  # What the tools name it as.
    if takes_hints:
      self._predict = jax.jit(lambda v, l, h, m: apply_fn(
          v, l, train=False, hint_ab=h, hint_mask=m))
    else:
      self._predict = jax.jit(lambda v, l, h, m: apply_fn(v, l, train=False))
    ungated = generator.ungated_apply_fn
    self._predict_ungated = None if ungated is None else jax.jit(
        lambda v, l, h, m: ungated(v, l, train=False, hint_ab=h, hint_mask=m))

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
    config, _, state = runs.load_run(workdir, epoch,
                                     temperature=temperature, seed=seed)
    colorizer = cls(generator_of(config, state),
                    config.image_size if work_size is None else work_size,
                    batch_size, recipe_vibrance(config, vibrance), gamut)
    colorizer.description = (
        f'the bundled hint model ({names.BUNDLED}, epoch {int(state.epoch)})'
        if workdir == names.BUNDLED else
        f'{workdir}, epoch {int(state.epoch)}')
    return colorizer

  @classmethod
  def pretrained(cls, work_size: Optional[int] = None, batch_size: int = 8,
                 vibrance: Optional[float] = None,
                 gamut: str = 'desaturate') -> 'Colorizer':
    """The trained hint model that ships with colorjax (`colorjax.inference.pretrained`):
    colours with no training first, automatically or with hints."""
    return cls.from_workdir(names.BUNDLED, work_size=work_size,
                            batch_size=batch_size, vibrance=vibrance,
                            gamut=gamut)

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
    """The (S, S, 2) model-range hint a, b and (S, S, 1) mask of `hints`
    (see `_resolve`)."""
    return self._resolve(hints, shape)[:2]

  def _resolve(self, hints, shape: Tuple[int, int]
               ) -> Tuple[np.ndarray, np.ndarray, bool]:
    """The (S, S, 2) model-range hint a, b and (S, S, 1) mask of `hints` (a
    hints file path, a list or tuple of point dicts as in a JSON hints file,
    `hint_files` points or scribble, a (hint_ab, mask) map at the working
    size, or None) for a painting of `shape`, and whether a hint speaks for
    the whole painting (`"scope": "painting"`: that painting is coloured with
    the gate open, so its hints travel everywhere, as with the gate off).

    Raises:
      HintError: bad hints, or hints for a model trained without them.
    """
    if hints is None:
      return hint_files.rasterize(None, shape, self.work_size,
                                  self.ab_scale) + (False,)
    if not self.takes_hints:
      raise hint_files.HintError(
          'this model was trained without hint channels; train one that '
          'takes hints: python launch.py --config=configs/hints.py:cpu '
          '--workdir=workdirs/hints')
    if isinstance(hints, tuple) and hints and all(
        isinstance(p, (dict, hint_files.Point)) for p in hints):
      hints = list(hints)  # Points given as a tuple.
    if isinstance(hints, tuple):  # A map already: checked, never guessed.
      return self._checked_map(hints) + (False,)
    if isinstance(hints, (str, os.PathLike)):
      hints = hint_files.read_hints(os.fspath(hints), shape)
    elif isinstance(hints, list) and not all(
        isinstance(p, hint_files.Point) for p in hints):
      hints = hint_files.parse_points(hints, shape)
    elif isinstance(hints, list):
      hint_files.check_inside(hints, shape)
    elif (isinstance(hints, hint_files.Scribble) and
          tuple(np.shape(hints.opaque)) != tuple(shape)):
      raise hint_files.HintError(
          f'the Scribble is {np.shape(hints.opaque)[1]} x '
          f'{np.shape(hints.opaque)[0]} pixels, the painting {shape[1]} x '
          f'{shape[0]}; a scribble must have the painting\'s size.')
    elif not isinstance(hints, (list, hint_files.Scribble)):
      raise hint_files.HintError(
          f'hints given as {type(hints).__name__}; give a list of points '
          '(dicts like {"x": 10, "y": 20, "color": "#1f4e9c"}), a hints file '
          'path, or a (hint_ab, mask) map at the working size.')
    return hint_files.rasterize(hints, shape, self.work_size,
                                self.ab_scale) + (hint_files.for_painting(hints),)

  def _checked_map(self, hints: tuple) -> Tuple[np.ndarray, np.ndarray]:
    s = self.work_size
    if len(hints) != 2:
      raise hint_files.HintError(
          f'a hint map is a (hint_ab, mask) pair, not a tuple of '
          f'{len(hints)}; for points give a list.')
    ab, mask = (np.asarray(h, np.float32) for h in hints)
    if ab.shape != (s, s, 2) or mask.shape != (s, s, 1):
      raise hint_files.HintError(
          f'a hint map must be ({s}, {s}, 2) a, b and ({s}, {s}, 1) mask at '
          f'the working size, not {ab.shape} and {mask.shape}.')
    if not (np.isfinite(ab).all() and np.isfinite(mask).all()):
      raise hint_files.HintError('the hint map holds NaN or infinite values.')
    return ab, mask

  def colorize_batch(self, images: Sequence[np.ndarray],
                     hints: Optional[Sequence[object]] = None
                     ) -> List[np.ndarray]:
    """Colourises images of any sizes: uint8/uint16/float, grey or colour.

    A colour input is reduced to its lightness first. `hints` gives each
    image's hints (see `hint_map`; None: automatic). Returns uint8 RGB
    (H, W, 3) arrays of the inputs' sizes.
    """
    # One float copy of one painting at a time: only its L is kept.
    l_full = [self.lightness(_checked_image(img, i))
              for i, img in enumerate(images)]
    hints = [None] * len(l_full) if hints is None else list(hints)
    if len(hints) != len(l_full):
      raise hint_files.HintError(f'{len(hints)} hints for {len(l_full)} '
                                 'images; give one (or None) per image.')
    maps = [self._resolve(h, l.shape) for h, l in zip(hints, l_full,
                                                      strict=True)]
    work = [self._work_input(l) for l in l_full]
    outputs = []
    s = self.work_size
    for start in range(0, len(work), self.batch_size):
      chunk = work[start:start + self.batch_size]
      batch = np.zeros((self.batch_size, s, s, 1), np.float32)
      batch[:len(chunk)] = [x for x, _ in chunk]
      hint_ab = np.zeros((self.batch_size, s, s, 2), np.float32)
      hint_mask = np.zeros((self.batch_size, s, s, 1), np.float32)
      whole = np.zeros(self.batch_size, bool)
      for i, (h, m, w) in enumerate(maps[start:start + self.batch_size]):
        hint_ab[i], hint_mask[i], whole[i] = h, m, w
      ab = np.asarray(self._predict(self._variables, batch, hint_ab,
                                    hint_mask))
      if whole.any() and self._predict_ungated is not None:
        # A colour for the whole painting: its painting's gate is open.
        ab = np.where(whole[:, None, None, None], np.asarray(
            self._predict_ungated(self._variables, batch, hint_ab,
                                  hint_mask)), ab)
      ab = color.ab_from_model(ab, np.float32(self.ab_scale))
      if not np.isfinite(ab[:len(chunk)]).all():
        raise DataError('the model\'s colours are not finite (NaN or Inf): '
                        'its weights are broken; retrain it or restore an '
                        'earlier checkpoint (--epoch).')
      ab = ab * np.float32(self.vibrance)
      for i, (_, (nh, nw)) in enumerate(chunk):
        outputs.append(self.compose(l_full[start + i], ab[i, :nh, :nw]))
    return outputs

  def lightness(self, rgb: np.ndarray) -> np.ndarray:
    """CIELAB L (H, W) of float RGB (H, W, 3) in [0, 1], as this colorizer
    reads a painting (its gamut's way: `reference_lightness` for 'clip')."""
    if self.gamut == 'clip':
      return reference_lightness(rgb)
    return _bucketed(_lightness, rgb)

  def compose(self, l_full: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """uint8 RGB of the full-resolution L (H, W) with CIELAB a, b of the
    working size's valid region (h, w, 2), upsampled."""
    ab_full = cv2.resize(np.asarray(ab, np.float32),
                         (l_full.shape[1], l_full.shape[0]),
                         interpolation=cv2.INTER_CUBIC)
    if self.gamut == 'clip':
      return reference_postprocess(l_full, ab_full)
    return _bucketed(_compose, l_full, ab_full)

  def with_vibrance(self, vibrance: float) -> 'Colorizer':
    """The same model with another vibrance (sharing its compiled
    programs); raises DataError outside [0, 4]."""
    other = copy.copy(self)
    other.vibrance = checked_vibrance(vibrance)
    return other

  @staticmethod
  def constant(image: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """The image's own lightness with one CIELAB a, b everywhere: the grey
    (ab = 0) and constant-prior answers, composed as outputs are."""
    l = _bucketed(_lightness, _checked_image(image, 0))
    ab_full = np.broadcast_to(np.asarray(ab, np.float32), l.shape + (2,))
    return _bucketed(_compose, l, np.ascontiguousarray(ab_full))

  def _batched(self, predict, l: np.ndarray, hint_ab: np.ndarray,
               mask: np.ndarray) -> np.ndarray:
    """`predict` over any number of work-size inputs, in this colorizer's
    compiled batch size."""
    out = []
    b = self.batch_size
    for start in range(0, len(l), b):
      n = len(l[start:start + b])
      pad = ((0, b - n), (0, 0), (0, 0), (0, 0))
      out.append(np.asarray(predict(
          self._variables, np.pad(l[start:start + b], pad),
          np.pad(hint_ab[start:start + b], pad),
          np.pad(mask[start:start + b], pad)))[:n])
    return np.concatenate(out)

  def unsure(self, image: np.ndarray, hints: object = None) -> np.ndarray:
    """Where the model is least sure of its colours for `image` with
    `hints` (as `colorize` takes them): (H, W) float32 at the image's size,
    the spread of its a, b (CIELAB units) under a mirror and one-pixel moves
    of its input (`colorjax.inference.uncertainty`). Large where a click
    would help most."""
    l_full = self.lightness(_checked_image(image, 0))
    hint_ab, mask, whole = self._resolve(hints, l_full.shape)
    x, (nh, nw) = self._work_input(l_full)
    predict = (self._predict_ungated if whole and self._predict_ungated
               is not None else self._predict)
    spread = uncertainty.spread(
        functools.partial(self._batched, predict), x[None], hint_ab[None],
        mask[None])[0, :nh, :nw] * self.ab_scale * self.vibrance
    return cv2.resize(spread.astype(np.float32),
                      (l_full.shape[1], l_full.shape[0]),
                      interpolation=cv2.INTER_LINEAR)

  def colorize(self, image: np.ndarray, hints: object = None) -> np.ndarray:
    """Colourises one image (uint8 HxW or HxWx3 in, uint8 HxWx3 RGB out),
    guided by `hints` if given (see `hint_map`)."""
    return self.colorize_batch([image], [hints])[0]
