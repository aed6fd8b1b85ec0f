"""Colour hints from a person: JSON points or a scribble image, and their map
at a model's working size.

A hints file for one painting is either

* a JSON list of points in the painting's own pixel coordinates (x = column,
  y = row), each with one colour: ``"color": "#1f4e9c"`` (sRGB hex),
  ``"rgb": [31, 78, 156]`` or ``"ab": [12.5, -30.1]`` (CIELAB a, b), and an
  optional ``"radius"`` in pixels (default: one working-size cell) and
  ``"scope": "painting"`` for a colour meant as the painting's overall tone
  (it travels everywhere, past the gate; default ``"local"``), e.g.
  ``[{"x": 120, "y": 48, "color": "#1f4e9c"}]``; an empty list is no hint; or
* a scribble image (PNG or WebP with alpha, the painting's size): every
  opaque pixel (alpha >= 128) is a hint of its colour.

Only a colour's a, b are used: the painting keeps its own lightness. Hints
are mapped to the working size as `colorize` maps the painting (longer side
to the working size), averaged where several fall in one cell.
"""

import dataclasses
import json
import numbers
import os
import re
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from colorjax import files
from colorjax.colour import spaces as color
from colorjax.datasets import image_io
from colorjax.errors import DataError

__all__ = ['check_inside', 'for_painting',
           'hex_to_rgb', 'SCOPES',
           'HintError', 'Hints',
           'MAX_HINTS_BYTES', 'parse_points', 'Point', 'rasterize',
           'read_hints', 'read_scribble', 'rgb_to_ab', 'Scribble',
           'SCRIBBLE_EXTENSIONS', 'to_json', 'work_geometry']

SCRIBBLE_EXTENSIONS = ('.png', '.webp')
SCOPES = ('local', 'painting')
_HEX = re.compile(r'^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$')
_MAX_POINTS = 100_000
# A hints file's largest size: 100,000 points of about 60 characters.
MAX_HINTS_BYTES = 8 * 2**20


class HintError(DataError):
  """A hints file or value that cannot be used (one line, names it)."""


def _is_number(value: object) -> bool:
  """A finite real number (numpy's included), not a bool."""
  return (not isinstance(value, (bool, np.bool_)) and
          isinstance(value, numbers.Real) and bool(np.isfinite(value)))


@dataclasses.dataclass(frozen=True)
class Point:
  """One hint: CIELAB a, b at painting pixel (x, y), over `radius` pixels
  (None: one working-size cell). `scope` 'local' (a click's default: the
  colour of its region, kept there by a gated model's gate) or 'painting'
  (the painting's overall tone: it travels everywhere, ungated).

  Raises:
    HintError: a coordinate or radius that is not a finite number (or a
      radius <= 0), an ab that is not two numbers in [-128, 128].
  """
  x: float
  y: float
  ab: Tuple[float, float]
  radius: Optional[float] = None
  scope: str = 'local'

  def __post_init__(self):
    if self.scope not in SCOPES:
      raise HintError(f'Point scope={self.scope!r} must be one of {SCOPES} '
                      '("painting": the colour is the painting\'s overall '
                      'tone and travels everywhere).')
    for key in ('x', 'y'):
      if not _is_number(getattr(self, key)):
        raise HintError(f'Point {key}={getattr(self, key)!r} must be a '
                        'finite number (painting pixels).')
    ab = self.ab
    if (not isinstance(ab, (tuple, list, np.ndarray)) or len(ab) != 2 or
        not all(_is_number(v) and -128 <= v <= 128 for v in ab)):
      raise HintError(f'Point ab={ab!r} must be two CIELAB numbers in '
                      '[-128, 128].')
    if self.radius is not None and not (_is_number(self.radius) and
                                        self.radius > 0):
      raise HintError(f'Point radius={self.radius!r} must be a number > 0 '
                      '(pixels) or None.')


@dataclasses.dataclass(frozen=True)
class Scribble:
  """Hint colours painted on a layer: CIELAB a, b (H, W, 2) where `opaque`
  (H, W) is True.

  Raises:
    HintError: shapes that do not match, or a, b that are not finite numbers
      in [-128, 128] where opaque.
  """
  ab: np.ndarray
  opaque: np.ndarray

  def __post_init__(self):
    ab, opaque = np.asarray(self.ab), np.asarray(self.opaque)
    if (ab.ndim != 3 or ab.shape[-1] != 2 or opaque.shape != ab.shape[:2]
        or ab.dtype.kind not in 'iuf'):
      raise HintError(f'a Scribble is numbers ab (H, W, 2) and opaque (H, W), '
                      f'not {ab.dtype} {ab.shape} and {opaque.shape}.')
    painted = ab[opaque.astype(bool)]
    if painted.size and not (np.isfinite(painted).all() and
                             np.abs(painted).max() <= 128):
      raise HintError('a Scribble\'s a, b must be finite numbers in [-128, '
                      '128] where it is opaque.')


Hints = Union[List[Point], Scribble]


def hex_to_rgb(value: str) -> Tuple[int, int, int]:
  """'#1f4e9c' or '#14c' -> (31, 78, 156); raises HintError."""
  m = _HEX.match(value.strip()) if isinstance(value, str) else None
  if not m:
    raise HintError(f'colour {value!r} is not an sRGB hex colour like '
                    '"#1f4e9c".')
  h = m.group(1)
  if len(h) == 3:
    h = ''.join(c * 2 for c in h)
  return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


def rgb_to_ab(rgb: Sequence[float]) -> Tuple[float, float]:
  """CIELAB a, b of an 8-bit sRGB colour."""
  lab = np.asarray(color.rgb_to_lab(np.asarray(rgb, np.float32) / 255.0))
  return float(lab[1]), float(lab[2])


def _number(point: dict, key: str, where: str) -> float:
  value = point.get(key)
  if not _is_number(value):
    raise HintError(f'{where}: "{key}" must be a finite number, not '
                    f'{value!r}.')
  return float(value)


def _point_colour(point: dict, where: str
                  ) -> Tuple[str, Tuple[float, ...]]:
  """('rgb', (r, g, b)) or ('ab', (a, b)) of a point; raises HintError."""
  given = [k for k in ('color', 'rgb', 'ab') if k in point]
  if len(given) != 1:
    raise HintError(f'{where}: give exactly one colour, as "color" ("#rrggbb"),'
                    ' "rgb" ([r, g, b] in 0-255) or "ab" ([a, b] CIELAB).')
  value = point[given[0]]
  if given[0] == 'color':
    try:
      return 'rgb', hex_to_rgb(value)
    except HintError as e:
      raise HintError(f'{where}: {e}') from None
  n = 3 if given[0] == 'rgb' else 2
  if (not isinstance(value, (list, tuple, np.ndarray)) or len(value) != n or
      not all(_is_number(v) for v in value)):
    raise HintError(f'{where}: "{given[0]}" must be a list of {n} numbers, '
                    f'not {value!r}.')
  if given[0] == 'rgb':
    if not all(0 <= v <= 255 for v in value):
      raise HintError(f'{where}: "rgb" values must be in 0-255, not {value}.')
    return 'rgb', tuple(value)
  if not all(-128 <= v <= 128 for v in value):
    raise HintError(f'{where}: "ab" values must be in [-128, 128], not '
                    f'{value}.')
  return 'ab', (float(value[0]), float(value[1]))


def _check_inside(point: Point, shape: Tuple[int, int], where: str) -> None:
  h, w = shape
  if not (0 <= point.x < w and 0 <= point.y < h):
    raise HintError(f'{where} at (x={point.x:g}, y={point.y:g}) is outside '
                    f'the painting ({w} x {h} pixels; x < {w}, y < {h}).')
  if point.radius is not None and not point.radius <= max(h, w):
    raise HintError(f'{where}: "radius" {point.radius:g} must be in (0, '
                    f'{max(h, w)}] pixels.')


def for_painting(hints: Optional[Hints]) -> bool:
  """Whether any hint says its colour is the painting's overall tone."""
  return isinstance(hints, list) and any(
      isinstance(p, Point) and p.scope == 'painting' for p in hints)


def check_inside(points: Sequence[Point], shape: Tuple[int, int],
                 source: str = 'hints') -> None:
  """Raises HintError for a point outside a painting of `shape` (H, W) or a
  radius larger than it."""
  for i, point in enumerate(points):
    _check_inside(point, shape, f'{source}: point {i}')


def parse_points(points: object, shape: Tuple[int, int],
                 source: str = 'hints') -> List[Point]:
  """Points from decoded JSON, checked against a painting of `shape` (H, W).

  Raises:
    HintError: not a list of point objects, a point outside the painting, a
      missing or unknown colour, a bad radius; the message names the point.
  """
  if not isinstance(points, list):
    raise HintError(f'{source}: expected a JSON list of points like '
                    '[{"x": 10, "y": 20, "color": "#1f4e9c"}], not '
                    f'{type(points).__name__}.')
  if len(points) > _MAX_POINTS:
    raise HintError(f'{source}: {len(points)} points; at most {_MAX_POINTS} '
                    '(use a scribble image for dense hints).')
  h, w = shape
  out, colours = [], []
  for i, p in enumerate(points):
    where = f'{source}: point {i}'
    if not isinstance(p, dict):
      raise HintError(f'{where} is {p!r}, not an object like {{"x": 10, '
                      '"y": 20, "color": "#1f4e9c"}.')
    unknown = set(p) - {'x', 'y', 'color', 'rgb', 'ab', 'radius', 'scope'}
    if unknown:
      raise HintError(f'{where}: unknown field(s) {sorted(unknown)}; use x, '
                      'y, one of color / rgb / ab, and optionally radius and '
                      'scope.')
    scope = p.get('scope', 'local')
    if scope not in SCOPES:
      raise HintError(f'{where}: "scope" {scope!r} must be "local" or '
                      '"painting" (the painting\'s overall tone).')
    x, y = _number(p, 'x', where), _number(p, 'y', where)
    radius = _number(p, 'radius', where) if 'radius' in p else None
    if radius is not None and radius <= 0:
      raise HintError(f'{where}: "radius" {radius:g} must be in (0, '
                      f'{max(h, w)}] pixels.')
    point = Point(x, y, (0.0, 0.0), radius, scope)
    _check_inside(point, shape, where)
    colours.append(_point_colour(p, where))
    out.append(point)
  # Every sRGB colour converted in one call: linear in the points.
  rgb = [i for i, (kind, _) in enumerate(colours) if kind == 'rgb']
  if rgb:
    lab = np.asarray(color.rgb_to_lab(
        np.asarray([colours[i][1] for i in rgb], np.float32) / 255.0))
    for i, (_, a, b) in zip(rgb, lab.tolist(), strict=True):
      colours[i] = ('ab', (a, b))
  return [dataclasses.replace(p, ab=(float(c[0]), float(c[1])))
          for p, (_, c) in zip(out, colours, strict=True)]


def read_scribble(path: str, shape: Tuple[int, int]) -> Scribble:
  """A scribble layer of the painting's size; raises HintError.

  8- and 16-bit RGBA, palette with transparency and grey + alpha files all
  give their colours as painted (16-bit values at full precision); an
  animated file is refused (which frame holds the hints is ambiguous).
  """
  raw = image_io.read_raw(path)
  frames = _frames(path)
  if frames > 1:
    raise HintError(f'{path} is animated ({frames} frames); save the hints '
                    'as one still PNG or WebP with transparency.')
  if raw.ndim != 3 or raw.shape[2] not in (2, 4):
    raise HintError(f'{path}: a scribble needs an alpha channel (paint the '
                    'hints on a transparent layer and save it as PNG or '
                    'WebP with transparency).')
  if raw.shape[:2] != tuple(shape):
    raise HintError(f'{path} is {raw.shape[1]} x {raw.shape[0]} pixels, the '
                    f'painting {shape[1]} x {shape[0]}; a scribble must have '
                    'the painting\'s size.')
  # Stored integers to [0, 1]: 8-bit / 255, 16-bit / 65535.
  full = float(np.iinfo(raw.dtype).max) if raw.dtype.kind in 'ui' else 1.0
  values = raw.astype(np.float32) / full
  rgb = values[..., :-1]
  if rgb.shape[-1] == 1:  # Grey + alpha.
    rgb = np.repeat(rgb, 3, -1)
  opaque = values[..., -1] >= 128 / 255
  lab = np.asarray(color.rgb_to_lab(np.clip(rgb, 0.0, 1.0)))
  return Scribble(lab[..., 1:].astype(np.float32), opaque)


def _frames(path: str) -> int:
  """The number of frames of an image file (1 for a still)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  try:
    with Image.open(path) as im:
      return int(getattr(im, 'n_frames', 1))
  except Exception:  # pylint: disable=broad-except
    return 1  # read_raw has already checked the file; a still it is.


def read_hints(path: str, shape: Tuple[int, int]) -> Hints:
  """The hints in `path` (JSON points or a scribble image) for a painting of
  `shape` (H, W); raises HintError naming the file and the problem."""
  ext = os.path.splitext(path)[1].lower()
  if ext in SCRIBBLE_EXTENSIONS:
    try:
      return read_scribble(path, shape)
    except image_io.ImageError as e:
      raise HintError(f'hints {e}') from None
  if ext != '.json':
    raise HintError(f'{path}: hints are a .json list of points or a '
                    f'{"/".join(SCRIBBLE_EXTENSIONS)} scribble with alpha.')
  return parse_points(files.read_json(path, HintError, MAX_HINTS_BYTES),
                      shape, path)


def work_geometry(shape: Tuple[int, int], work_size: int
                  ) -> Tuple[float, int, int]:
  """(scale, h, w): how `colorize` fits a painting of `shape` into a square
  of side `work_size` (longer side to it; the rest is padding)."""
  h, w = shape
  scale = work_size / max(h, w)
  return scale, max(1, round(h * scale)), max(1, round(w * scale))


def rasterize(hints: Optional[Hints], shape: Tuple[int, int], work_size: int,
              ab_scale: float) -> Tuple[np.ndarray, np.ndarray]:
  """The hint map at the working size: (S, S, 2) a, b in the model range and
  its (S, S, 1) mask."""
  s = work_size
  total = np.zeros((s, s, 2), np.float64)
  count = np.zeros((s, s), np.float64)
  scale, nh, nw = work_geometry(shape, s)
  if isinstance(hints, Scribble):
    weight = hints.opaque.astype(np.float32)
    small_w = cv2.resize(weight, (nw, nh), interpolation=cv2.INTER_AREA)
    small_ab = cv2.resize(hints.ab * weight[..., None], (nw, nh),
                          interpolation=cv2.INTER_AREA)
    if small_ab.ndim == 2:
      small_ab = small_ab[..., None]
    total[:nh, :nw] = small_ab
    count[:nh, :nw] = small_w
  elif hints:
    for p in hints:  # Each point touches only the cells of its disc.
      cy, cx = p.y * scale, p.x * scale  # In cells; cell centres at +0.5.
      r = 0.5 if p.radius is None else max(0.5, p.radius * scale)
      iy, ix = min(int(cy), nh - 1), min(int(cx), nw - 1)
      y0, y1 = max(0, min(iy, int(cy - r))), min(nh, max(iy, int(cy + r)) + 1)
      x0, x1 = max(0, min(ix, int(cx - r))), min(nw, max(ix, int(cx + r)) + 1)
      inside = ((np.arange(y0, y1)[:, None] + 0.5 - cy) ** 2 +
                (np.arange(x0, x1)[None, :] + 0.5 - cx) ** 2 <= r * r)
      inside[iy - y0, ix - x0] = True
      total[y0:y1, x0:x1][inside] += p.ab
      count[y0:y1, x0:x1][inside] += 1
  mask = count > 0
  ab = np.where(mask[..., None], total / np.maximum(count, 1e-12)[..., None],
                0.0) / ab_scale
  return ab.astype(np.float32), mask[..., None].astype(np.float32)


def to_json(points: Sequence[Point]) -> str:
  """Points as the JSON list `read_hints` reads (colours as CIELAB a, b)."""
  out = []
  for p in points:
    d = {'x': p.x, 'y': p.y, 'ab': [round(p.ab[0], 4), round(p.ab[1], 4)]}
    if p.radius is not None:
      d['radius'] = p.radius
    if p.scope != 'local':
      d['scope'] = p.scope
    out.append(d)
  return json.dumps(out, indent=1)
