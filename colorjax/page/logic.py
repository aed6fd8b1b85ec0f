"""What the colouring page does to a painting, with no Gradio: pure functions
(hints from clicks, the preview, the colours, the command that reproduces
them) and `Page`, one small method per
event, which `colorjax.page.app` wires to the browser."""

import json
import os
import re
import shlex
import threading
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from colorjax import files
from colorjax import names
from colorjax.datasets import image_io
from colorjax.errors import ColorjaxError
from colorjax.hints import hint_files
from colorjax.inference.colorizer import Colorizer
from colorjax.inference.colorizer import checked_vibrance
from colorjax.page import marks
from colorjax.page import records

__all__ = ['add_point', 'add_stroke', 'api_points', 'checked_vibrance',
           'colorize_command', 'colourise', 'encode_png', 'hex_colour',
           'hints_json', 'MAX_HINTS_TEXT', 'MAX_REQUEST_POINTS',
           'MAX_STROKE_POINTS', 'MAX_UPLOAD', 'Page', 'Point', 'preview']

Point = Dict[str, Any]  # One hint as `colorize --hints` reads it.
# What one request to the HTTP endpoint may carry.
MAX_REQUEST_POINTS = 10_000
MAX_HINTS_TEXT = 2_000_000  # Characters of its hints JSON.
MAX_STROKE_POINTS = 256  # The points one stroke adds, however long.
# The largest upload: a 100-megapixel painting (image_io's cap) as a PNG.
MAX_UPLOAD = '300mb'
_RGBA = re.compile(r'rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)')


def hex_colour(value: str) -> str:
  """'#1f4e9c', '#14c' or 'rgba(31, 78, 156, 1)' (colour pickers give
  either) as '#1f4e9c'; raises HintError."""
  m = _RGBA.match(value.strip()) if isinstance(value, str) else None
  if m:
    rgb = [min(255, max(0, round(float(v)))) for v in m.groups()]
  else:
    rgb = hint_files.hex_to_rgb(value)
  return '#' + ''.join(f'{v:02x}' for v in rgb)


def add_point(points: List[Point], x: float, y: float, colour: str,
              radius: float, shape: Tuple[int, int],
              whole: bool = False) -> List[Point]:
  """`points` and one more hint at painting pixel (x, y); a new list.
  `whole`: its colour is the painting's overall tone (`"scope":
  "painting"`), not its region's.

  Raises:
    HintError: outside the painting, an unknown colour, a bad radius.
  """
  if not all(np.isfinite(v) for v in (x, y, radius)):
    raise hint_files.HintError(f'a click at ({x}, {y}) with radius {radius} '
                               'is not a place on the painting.')
  point = {'x': int(x), 'y': int(y), 'color': hex_colour(colour),
           'radius': float(radius)}
  if whole:
    point['scope'] = 'painting'
  hint_files.parse_points([point], shape)  # One line if it is wrong.
  return points + [point]


def add_stroke(points: List[Point], x: float, y: float, colour: str,
               radius: float, shape: Tuple[int, int],
               whole: bool = False) -> List[Point]:
  """`points` and a stroke of hints from the last one to (x, y), one per
  `radius` pixels of its length (a single point when there is none yet).

  Raises:
    HintError: as `add_point`.
  """
  end = add_point([], x, y, colour, radius, shape, whole)[0]  # Checked once.
  if not points:
    return [end]
  x0, y0 = points[-1]['x'], points[-1]['y']  # Inside: the line is too.
  steps = max(1, int(np.hypot(x - x0, y - y0) // max(1.0, float(radius))))
  # A long stroke gets its points further apart: every edit stays short, so
  # no other painting's click waits on it.
  steps = min(steps, MAX_STROKE_POINTS)
  return points + [dict(end, x=int(x0 + (x - x0) * i / steps),
                        y=int(y0 + (y - y0) * i / steps))
                   for i in range(1, steps + 1)]


def hints_json(points: List[Point]) -> str:
  """The points as the JSON file `colorize --hints` reads."""
  return json.dumps(points, indent=1) + '\n'


def preview(grey: np.ndarray, scale: float, points: List[Point]
            ) -> np.ndarray:
  """`records.grey_preview`'s image with the hints drawn as dots of their colour
  (ringed for contrast); a colour for the whole painting as a square."""
  grey = np.array(grey)  # Writable: the dots are drawn on a copy.
  for p in points:
    centre = (round(p['x'] * scale), round(p['y'] * scale))
    r = max(3, round(p['radius'] * scale))
    rgb_dot = hint_files.hex_to_rgb(p['color'])
    if p.get('scope') == 'painting':  # The painting's tone: a square.
      x0, y0 = centre[0] - r, centre[1] - r
      x1, y1 = centre[0] + r, centre[1] + r
      cv2.rectangle(grey, (x0 - 2, y0 - 2), (x1 + 2, y1 + 2), (255, 255, 255),
                    -1)
      cv2.rectangle(grey, (x0 - 1, y0 - 1), (x1 + 1, y1 + 1), (0, 0, 0), -1)
      cv2.rectangle(grey, (x0, y0), (x1, y1), rgb_dot, -1)
      continue
    cv2.circle(grey, centre, r + 2, (255, 255, 255), -1, cv2.LINE_AA)
    cv2.circle(grey, centre, r + 1, (0, 0, 0), -1, cv2.LINE_AA)
    cv2.circle(grey, centre, r, rgb_dot, -1, cv2.LINE_AA)
  return grey


def colourise(colorizer: Colorizer, rgb: np.ndarray,
              points: List[Point], vibrance: float) -> np.ndarray:
  """The full-resolution colourisation that `colorize --vibrance=V
  --hints=<hints_json(points)>` writes (automatic without points)."""
  # Each request its own vibrance. The batch size stays the command line's:
  # the same compiled program, so the page and `colorize` agree bit for bit.
  return colorizer.with_vibrance(vibrance).colorize(
      rgb, points if colorizer.takes_hints else None)


def colorize_command(workdir: str, work_size: Optional[int], vibrance: float,
                     name: str) -> str:
  """The shell command that writes what the page shows, every argument
  quoted (a painting may be called `x;id;y.jpg` or `my (1).jpg`)."""
  stem = os.path.splitext(name)[0] or 'painting'
  return shlex.join(
      ['python', '-m', 'colorjax', 'colorize'] +
      ([f'--workdir={workdir}'] if workdir != names.BUNDLED else []) +
      ([f'--work_size={work_size}'] if work_size else []) +
      [f'--vibrance={vibrance:g}', f'--hints={stem}.json', '--output=out',
       name])


def api_points(text: Any, shape: Tuple[int, int]) -> List[Point]:
  """The hints of an `/colourise` request (a JSON text of points as
  `colorize --hints` reads; empty: none), parsed once; raises HintError."""
  if text is None or text == '':
    return []
  if not isinstance(text, str):
    raise hint_files.HintError('hints must be a JSON text (a list of points).')
  if len(text) > MAX_HINTS_TEXT:
    raise hint_files.HintError(
        f'hints: {len(text):,} characters, more than {MAX_HINTS_TEXT:,}; send '
        f'at most {MAX_REQUEST_POINTS:,} points.')
  points = files.parse_json(text, 'hints', hint_files.HintError)
  if isinstance(points, list) and len(points) > MAX_REQUEST_POINTS:
    raise hint_files.HintError(f'hints: {len(points):,} points, more than '
                               f'{MAX_REQUEST_POINTS:,} in one request.')
  hint_files.parse_points(points, shape)  # One line if any is wrong.
  return points


class Page:
  """What the page does, one small method per event; `build` wires them to
  Gradio. Renders (an upload's, an edit's, the HTTP endpoint's) share one
  budget, `renders`, however many events and tabs ask at once."""

  def __init__(self, colorizer: Colorizer, workdir: str, folder: str,
               work_size: Optional[int] = None, renders: int = 2):
    self.colorizer = colorizer
    self.workdir = workdir
    self.work_size = work_size
    self.folder = folder
    self.paintings = records.Paintings(folder)
    self.renders = threading.BoundedSemaphore(renders)

  def upload(self, path: Optional[str], vibrance: float,
             marks: bool = False):
    """A new painting: (its state, its greyscale), or a ColorjaxError;
    `marks`: whether its results ring where the model is least sure."""
    data = image_io.read_encoded(path)
    name = os.path.basename(path)
    pid, grey = self.paintings.new(data, name, checked_vibrance(vibrance),
                                   bool(marks))
    return {'id': pid}, grey

  def sequenced(self, state, log: str, colour: str, radius: float,
                stroke: bool, whole: bool = False) -> np.ndarray:
    """The browser's log of this painting's edits (see `_CLICKS_JS`):
    'X,Y,N' (a click at preview pixel X, Y), 'undo,,N' or 'clear,,N',
    separated by ';'; those not applied yet are, in N's order."""
    if not state:
      raise ColorjaxError('upload a painting first.')
    if not isinstance(log, str) or len(log) > MAX_HINTS_TEXT:
      raise ColorjaxError('the page sent edits it could not have made.')
    edits = []
    for entry in filter(None, log.split(';')):
      parts = entry.split(',')
      try:
        seq = int(parts[2])
        if parts[0] in ('undo', 'clear'):
          fn = self._undo if parts[0] == 'undo' else self._clear
        else:
          x, y = float(parts[0]), float(parts[1])
          if not (np.isfinite(x) and np.isfinite(y)):
            raise ValueError('not a place')
          fn = self._click(x, y, colour, radius, stroke, bool(whole))
      except (IndexError, ValueError):
        raise ColorjaxError(f'{entry!r} is not an edit of the page.'
                            ) from None
      edits.append((seq, fn))
    r = self.paintings.edit_log(state['id'], edits)
    return preview(r['grey'], r['scale'], r['points'])

  def click(self, state, x: float, y: float, colour: str, radius: float,
            stroke: bool, whole: bool = False) -> np.ndarray:
    """One more hint (or stroke) at preview pixel (x, y): the preview."""
    return self._edit(state, self._click(x, y, colour, radius, stroke,
                                         whole))

  @staticmethod
  def _click(x: float, y: float, colour: str, radius: float, stroke: bool,
             whole: bool = False):
    def apply(r):
      add = add_stroke if stroke else add_point
      points = add(r['points'], x / r['scale'], y / r['scale'], colour,
                   radius, r['shape'], whole)
      # Undo takes back a click: its one point or its whole stroke.
      return {'points': points,
              'clicks': r['clicks'] + [len(points) - len(r['points'])]}
    return apply

  @staticmethod
  def _undo(r):
    if not r['clicks']:
      return {}
    return {'points': r['points'][:len(r['points']) - r['clicks'][-1]],
            'clicks': r['clicks'][:-1]}

  @staticmethod
  def _clear(r):
    return {'points': [], 'clicks': []}

  def undo(self, state) -> np.ndarray:
    return self._edit(state, self._undo)

  def clear(self, state) -> np.ndarray:
    return self._edit(state, self._clear)

  def marks(self, state, on: bool) -> np.ndarray:
    """Whether the shown result marks where the model is least sure."""
    return self._edit(state, lambda r: {'marks': bool(on)})

  def vibrance(self, state, vibrance: float) -> np.ndarray:
    v = checked_vibrance(vibrance)
    return self._edit(state, lambda r: {'vibrance': v})

  def _edit(self, state, fn) -> np.ndarray:
    if not state:
      raise ColorjaxError('upload a painting first.')
    r = self.paintings.edit(state['id'], fn)
    return preview(r['grey'], r['scale'], r['points'])

  def render(self, state) -> Optional[Tuple[Any, ...]]:
    """The latest version's colours: (small image, PNG path, JSON path,
    command), or None when there is nothing newer to show."""
    if not state:
      return None
    r = self.paintings.claim(state['id'])
    if r is None:
      return None
    with self.renders:
      rgb = image_io.decode_image(r['data'], r['name'])
      result = colourise(self.colorizer, rgb, r['points'], r['vibrance'])
      found = (marks.find(self.colorizer, rgb, r['points'], r['vibrance'])
               if r.get('marks') and self.colorizer.takes_hints else [])
      del rgb
    session = os.path.join(self.folder, state['id'])
    os.makedirs(session, exist_ok=True)
    png = os.path.join(session, f'{r["stem"]}_colour.png')
    files.write_atomically(png, encode_png(result))
    js = os.path.join(session, f'{r["stem"]}.json')
    files.write_text(js, hints_json(r['points']))
    shown = r['grey'].shape
    small = marks.draw(cv2.resize(result, (shown[1], shown[0]),
                                  interpolation=cv2.INTER_AREA), found,
                       r['scale'])
    if not self.paintings.show(state['id'], r['version']):
      return None
    return small, png, js, colorize_command(self.workdir, self.work_size,
                                            r['vibrance'], r['name'])

  def api(self, path: Optional[str], hints: Any, vibrance: Any) -> str:
    """The `/colourise` endpoint: a painting, a hints JSON text and a
    vibrance (None: the model's) to the PNG file `colorize` would write."""
    if not path:
      raise ColorjaxError('send a painting.')
    try:
      rgb = image_io.read_image(path)
      points = api_points(hints, rgb.shape[:2])
      v = (self.colorizer.vibrance if vibrance is None else
           checked_vibrance(vibrance))
      if points and not self.colorizer.takes_hints:
        self.colorizer.hint_map(points, rgb.shape[:2])  # Says how to train.
      with self.renders:
        result = colourise(self.colorizer, rgb, points, v)
    except ColorjaxError as e:
      raise ColorjaxError(str(e).replace(os.path.dirname(path) + os.sep, '')
                          ) from None
    session = os.path.join(self.folder, records.API_FOLDER)
    os.makedirs(session, exist_ok=True)
    records.prune_files(session, self.paintings.max_age_s)
    out = os.path.join(session, f'{os.urandom(8).hex()}.png')
    files.write_atomically(out, encode_png(result))
    return out


def encode_png(rgb: np.ndarray) -> bytes:
  """uint8 RGB as the PNG bytes `colorize` writes (`image_io.encode_png`)."""
  return image_io.encode_png(rgb)
