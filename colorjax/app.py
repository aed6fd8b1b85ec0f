"""A colouring page in the browser: drop a painting, dab colours, get it back.

  pip install -e ".[app]"
  python -m colorjax.app [--workdir=WORKDIR] [--seed=K] [--port=7860]

With no --workdir the page colours with the trained hint model that ships
with colorjax (`colorjax.pretrained`); a training run's workdir uses that
run instead.

Serves on 127.0.0.1 (this machine only) and prints the address. Upload a
painting (colour or greyscale, any size `colorize` takes): the automatic
colourisation appears at once. Click the painting to place a hint of the
picked colour (a model trained with `configs/hints.py`); with "Stroke" on,
each click paints a line of hints from the last one. Every change
colourises again. Undo takes back the last click, Clear all hints; the
vibrance slider is `colorize --vibrance`. Every click and Undo counts, in
the order made, however fast; the page shows the latest state. The
downloads are the full-resolution PNG and the hints as the JSON file
`colorize --hints` reads: the command the page shows (every argument
quoted) reproduces the page's image bit for bit.

Scripts reach the same model over HTTP: the endpoint `/colourise` takes a
painting, a hints JSON text (at most 10,000 points) and a vibrance (null:
the model's) and returns the PNG file `colorize` writes, byte for byte,
e.g. with Gradio's client (`benchmarks/app.py` loads it so):

  from gradio_client import Client, handle_file
  png_path = Client('http://127.0.0.1:7860/').predict(
      handle_file('painting.jpg'), '[]', 1.0, api_name='/colourise')

Every bad request is one message. At most two colourisations run at once
over the whole server (uploads, edits and the endpoint together).

What a person uploads stays theirs: the page keeps uploads, Gradio's cache
and its results in one folder of its own (`$TMPDIR/colorjax_app_*`, readable
by the user alone), deletes a painting's files an hour after its last use,
and deletes the whole folder when it stops (Ctrl-C, SIGTERM or a failed
start). An upload is at most 300 MB.

The page is Gradio's (an optional extra: nothing else in colorjax imports
it), with analytics off and system fonts, so it works without internet.
What it does to a painting lives in the functions below, which need no
Gradio: `add_point`, `add_stroke`, `grey_preview`, `preview`, `colourise`
and `hints_json`.
"""

import atexit
import functools
import json
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Tuple
import urllib.request

from absl import flags
import cv2
import numpy as np

from colorjax import files
from colorjax import hint_files
from colorjax import image_io
from colorjax import names
from colorjax import runtime
from colorjax.colorizer import Colorizer
from colorjax.errors import ColorjaxError
from colorjax.errors import DataError

Point = Dict[str, Any]  # One hint as `colorize --hints` reads it.
PREVIEW_SIDE = 1024  # The page shows paintings at most this large.
# What one request to the HTTP endpoint may carry.
MAX_REQUEST_POINTS = 10_000
MAX_HINTS_TEXT = 2_000_000  # Characters of its hints JSON.
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
              radius: float, shape: Tuple[int, int]) -> List[Point]:
  """`points` and one more hint at painting pixel (x, y); a new list.

  Raises:
    HintError: outside the painting, an unknown colour, a bad radius.
  """
  point = {'x': int(x), 'y': int(y), 'color': hex_colour(colour),
           'radius': float(radius)}
  hint_files.parse_points([point], shape)  # One line if it is wrong.
  return points + [point]


def add_stroke(points: List[Point], x: float, y: float, colour: str,
               radius: float, shape: Tuple[int, int]) -> List[Point]:
  """`points` and a stroke of hints from the last one to (x, y), one per
  `radius` pixels of its length (a single point when there is none yet).

  Raises:
    HintError: as `add_point`.
  """
  if not points:
    return add_point(points, x, y, colour, radius, shape)
  x0, y0 = points[-1]['x'], points[-1]['y']
  steps = max(1, int(np.hypot(x - x0, y - y0) // max(1.0, float(radius))))
  for i in range(1, steps + 1):
    t = i / steps
    points = add_point(points, x0 + (x - x0) * t, y0 + (y - y0) * t, colour,
                       radius, shape)
  return points


def hints_json(points: List[Point]) -> str:
  """The points as the JSON file `colorize --hints` reads."""
  return json.dumps(points, indent=1) + '\n'


def grey_preview(rgb: np.ndarray, side: int = PREVIEW_SIDE
                 ) -> Tuple[np.ndarray, float]:
  """The painting's greyscale (its own lightness) at most `side` large, and
  its scale; made once per upload (shrunk first: the page shows no more)."""
  h, w = rgb.shape[:2]
  scale = min(1.0, side / max(h, w))
  if scale < 1:
    rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                     interpolation=cv2.INTER_AREA)
  return Colorizer.constant(rgb, np.zeros(2)), scale


def preview(grey: np.ndarray, scale: float, points: List[Point]
            ) -> np.ndarray:
  """`grey_preview`'s image with the hints drawn as dots of their colour
  (ringed for contrast)."""
  grey = np.array(grey)  # Writable: the dots are drawn on a copy.
  for p in points:
    centre = (round(p['x'] * scale), round(p['y'] * scale))
    r = max(3, round(p['radius'] * scale))
    rgb_dot = hint_files.hex_to_rgb(p['color'])
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


def _gradio():
  try:
    import gradio as gr  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise runtime.UsageError('the page needs Gradio: pip install -e '
                             '".[app]"') from None
  return gr


def colorize_command(workdir: str, work_size: Optional[int], vibrance: float,
                     name: str) -> str:
  """The shell command that writes what the page shows, every argument
  quoted (a painting may be called `x;id;y.jpg` or `my (1).jpg`)."""
  stem = os.path.splitext(name)[0] or 'painting'
  return shlex.join(
      ['python', '-m', 'colorjax.colorize'] +
      ([f'--workdir={workdir}'] if workdir != names.BUNDLED else []) +
      ([f'--work_size={work_size}'] if work_size else []) +
      [f'--vibrance={vibrance:g}', f'--hints={stem}.json', '--output=out',
       name])


def checked_vibrance(value: Any) -> float:
  """A request's vibrance as a float in [0, 4]; raises DataError for a
  string, a list, a bool, NaN or a value out of range."""
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
      0 <= value <= 4):
    raise DataError(f'vibrance {value!r} must be a number in [0, 4] (1: as '
                    'trained).')
  return float(value)


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


class Paintings:
  """The page's paintings, one record per upload, shared by every event.

  Edits (a click, Undo, Clear, the vibrance) are applied here, under one
  lock, in the order they arrive, and each makes a new version; a render
  draws the latest version and shows it only if no newer one has been
  shown, so no render replaces another's hints and every click counts.
  Records older than `max_age_s` (and their files) are dropped.
  """

  def __init__(self, folder: str, max_age_s: float = 3600):
    self.folder = folder
    self.max_age_s = max_age_s
    self._lock = threading.Lock()
    self._records: Dict[str, Dict[str, Any]] = {}

  def new(self, rgb: np.ndarray, name: str, vibrance: float
          ) -> Tuple[str, np.ndarray]:
    """A record for an uploaded painting: (its id, its greyscale)."""
    grey, scale = grey_preview(rgb)
    pid = os.urandom(8).hex()
    record = {'rgb': rgb, 'grey': grey, 'scale': scale, 'name': name,
              'stem': os.path.splitext(name)[0] or 'painting',
              'points': [], 'clicks': [], 'vibrance': vibrance,
              'version': 0, 'claimed': -1, 'shown': -1,
              'time': time.monotonic(), 'next': None}
    with self._lock:
      self._prune()
      self._records[pid] = record
    return pid, grey

  def edit(self, pid: str, fn) -> Dict[str, Any]:
    """Applies `fn(record) -> changes` to the latest version of `pid`; a
    copy of the new version."""
    with self._lock:
      record = self._get(pid)
      record.update(fn(record))
      record['version'] += 1
      record['time'] = time.monotonic()
      return dict(record)

  def edit_log(self, pid: str, edits: List[Tuple[int, Any]]
               ) -> Dict[str, Any]:
    """Applies the numbered `edits` [(seq, fn)] of `pid` not applied yet,
    in their order. The browser sends its whole log of edits with every
    request (requests may overtake one another, or carry a log a click
    older), so each edit is applied exactly once, in the order made."""
    with self._lock:
      record = self._get(pid)
      if record['next'] is None and edits:
        record['next'] = min(seq for seq, _ in edits)
      for seq, fn in sorted(edits, key=lambda e: e[0]):
        if seq >= record['next']:
          record.update(fn(record))
          record['next'] = seq + 1
          record['version'] += 1
      record['time'] = time.monotonic()
      return dict(record)

  def claim(self, pid: str) -> Optional[Dict[str, Any]]:
    """The latest version to render, or None if it is already rendered or
    being rendered."""
    with self._lock:
      record = self._get(pid)
      if record['version'] <= record['claimed']:
        return None
      record['claimed'] = record['version']
      return dict(record)

  def show(self, pid: str, version: int) -> bool:
    """Whether a render of `version` may be shown (nothing newer has)."""
    with self._lock:
      record = self._records.get(pid)
      if record is None or version < record['shown']:
        return False
      record['shown'] = version
      return True

  def _get(self, pid: str) -> Dict[str, Any]:
    if pid not in self._records:
      raise ColorjaxError('this painting is no longer here (the page was '
                          'idle for an hour); upload it again.')
    return self._records[pid]

  def _prune(self) -> None:
    old = [k for k, r in self._records.items()
           if time.monotonic() - r['time'] > self.max_age_s]
    for k in old:
      del self._records[k]
      shutil.rmtree(os.path.join(self.folder, k), ignore_errors=True)


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
    self.paintings = Paintings(folder)
    self.renders = threading.BoundedSemaphore(renders)

  def upload(self, path: Optional[str], vibrance: float):
    """A new painting: (its state, its greyscale), or a ColorjaxError."""
    rgb = image_io.read_image(path)
    name = os.path.basename(path)
    pid, grey = self.paintings.new(rgb, name, checked_vibrance(vibrance))
    return {'id': pid}, grey

  def sequenced(self, state, log: str, colour: str, radius: float,
                stroke: bool) -> np.ndarray:
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
          fn = self._click(float(parts[0]), float(parts[1]), colour, radius,
                           stroke)
      except (IndexError, ValueError):
        raise ColorjaxError(f'{entry!r} is not an edit of the page.'
                            ) from None
      edits.append((seq, fn))
    r = self.paintings.edit_log(state['id'], edits)
    return preview(r['grey'], r['scale'], r['points'])

  def click(self, state, x: float, y: float, colour: str, radius: float,
            stroke: bool) -> np.ndarray:
    """One more hint (or stroke) at preview pixel (x, y): the preview."""
    return self._edit(state, self._click(x, y, colour, radius, stroke))

  @staticmethod
  def _click(x: float, y: float, colour: str, radius: float, stroke: bool):
    def apply(r):
      add = add_stroke if stroke else add_point
      points = add(r['points'], x / r['scale'], y / r['scale'], colour,
                   radius, r['rgb'].shape[:2])
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
      result = colourise(self.colorizer, r['rgb'], r['points'],
                         r['vibrance'])
    session = os.path.join(self.folder, state['id'])
    os.makedirs(session, exist_ok=True)
    png = os.path.join(session, f'{r["stem"]}_colour.png')
    files.write_atomically(png, encode_png(result))
    js = os.path.join(session, f'{r["stem"]}.json')
    files.write_text(js, hints_json(r['points']))
    shown = r['grey'].shape
    small = cv2.resize(result, (shown[1], shown[0]),
                       interpolation=cv2.INTER_AREA)
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
    session = os.path.join(self.folder, 'api')
    os.makedirs(session, exist_ok=True)
    out = os.path.join(session, f'{os.urandom(8).hex()}.png')
    files.write_atomically(out, encode_png(result))
    return out


def encode_png(rgb: np.ndarray) -> bytes:
  """uint8 RGB as the PNG bytes `colorize` writes."""
  ok, encoded = cv2.imencode('.png', rgb[..., ::-1])
  if not ok:
    raise ColorjaxError('the PNG encoder refused the result')
  return encoded.tobytes()


# The page's click handler. Gradio's own `select` on an image loses the
# clicks that land while the image is being replaced (each edit replaces it),
# so the page listens on the document, maps the click to the picture's own
# pixels (from the last laid-out image, should the new one be loading) and
# sends each click, Undo and Clear through a hidden field and button: the
# field holds the numbered log of the painting's edits, and the server
# applies each once, in that order (`Paintings.edit_log`), whichever
# request brings it.
_CLICKS_JS = """
() => {
  let last = null;
  const where = (e) => {
    const box = document.querySelector('#hints');
    if (!box || !box.contains(e.target)) return null;
    const img = box.querySelector('img');
    if (img && img.naturalWidth > 0) {
      const r = img.getBoundingClientRect();
      if (r.width > 0) last = {r: r, w: img.naturalWidth, h: img.naturalHeight};
    }
    if (!last) return null;
    const x = (e.clientX - last.r.left) * last.w / last.r.width;
    const y = (e.clientY - last.r.top) * last.h / last.r.height;
    if (x < 0 || y < 0 || x >= last.w || y >= last.h) return null;
    return [x, y];
  };
  let n = 0, log = [];
  document.addEventListener('change', (e) => {  // A new painting.
    if (e.target.closest('#upload')) log = [];
  }, true);
  document.addEventListener('click', (e) => {
    let what = null;
    if (e.target.closest('#undo')) what = 'undo,';
    else if (e.target.closest('#clear')) what = 'clear,';
    else {
      const p = where(e);
      if (p) what = p[0].toFixed(1) + ',' + p[1].toFixed(1);
    }
    if (!what) return;
    const field = document.querySelector('#click_at textarea, #click_at input');
    const go = document.querySelector('#click_go');
    if (!field || !go) return;
    log.push(what + ',' + (n++));
    field.value = log.join(';');
    field.dispatchEvent(new Event('input', {bubbles: true}));
    setTimeout(() => go.click(), 0);
  }, true);
}
"""


def build(colorizer: Colorizer, workdir: str,
          work_size: Optional[int] = None, folder: Optional[str] = None,
          renders: int = 2) -> Any:
  """The Gradio Blocks of the page for `colorizer` (of `workdir`, at
  `work_size` if not the trained size), writing its files under `folder`
  (default: a new private temporary folder), with at most `renders`
  colourisations at once over every event."""
  gr = _gradio()
  folder = folder or tempfile.mkdtemp(prefix='colorjax_app_')
  page_fns = Page(colorizer, workdir, folder, work_size, renders)
  hints_note = ('Click the painting to place a hint of the picked colour.'
                if colorizer.takes_hints else
                'This model was trained without hints: the page colours '
                'automatically (train one with configs/hints.py).')

  def guarded(fn):
    """`fn` with a ColorjaxError shown as a short message on the page (its
    signature kept: Gradio passes event data by annotation)."""
    @functools.wraps(fn)
    def run(*args):
      try:
        return fn(*args)
      except ColorjaxError as e:
        raise gr.Error(str(e), print_exception=False) from None
    return run

  def on_upload(path, vibrance):
    """(the upload cleared, state, preview, and the old outputs cleared)."""
    if not path:
      return (gr.skip(),) * 7
    try:
      state, grey = page_fns.upload(path, vibrance)
    except ColorjaxError as e:
      gr.Warning(str(e).replace(os.path.dirname(path) + os.sep, ''))
      return (None,) + (gr.skip(),) * 6
    return None, state, grey, None, None, None, ''

  def on_render(state):
    out = page_fns.render(state)
    return (gr.skip(),) * 4 if out is None else out

  trim = dict(fn=runtime.give_back_freed_memory, inputs=None, outputs=None,
              api_visibility='private')
  # Gradio's copies of the results are deleted an hour after they are made.
  with gr.Blocks(title='colorjax: colour a painting',
                 analytics_enabled=False, delete_cache=(600, 3600),
                 js=_CLICKS_JS, css='#click_at, #click_go {display: none}'
                 ) as page:
    state = gr.State(None)
    model = ('the hint model that ships with colorjax'
             if workdir == names.BUNDLED else f'`{workdir}`')
    gr.Markdown(f'## colorjax: colour a painting\n{hints_note} Model: '
                f'{model}.')
    with gr.Row():
      upload = gr.File(label='Painting (drop one; another starts afresh)',
                       file_types=['image'], elem_id='upload')
      with gr.Column():
        colour = gr.ColorPicker('#1f4e9c', label='Hint colour',
                                elem_id='colour')
        radius = gr.Slider(1, 64, 8, step=1, label='Hint radius (pixels)',
                           elem_id='radius')
        stroke = gr.Checkbox(False, label='Stroke: each click paints a line '
                             'of hints from the last one', elem_id='stroke')
        vibrance = gr.Slider(0, 2, colorizer.vibrance, step=0.05,
                             label='Vibrance', elem_id='vibrance')
        with gr.Row():
          # Their clicks go through _CLICKS_JS, numbered with the others.
          gr.Button('Undo', elem_id='undo')
          gr.Button('Clear hints', elem_id='clear')
    with gr.Row():
      shown = gr.Image(label='Hints (click to place)', interactive=False,
                       elem_id='hints', format='png')
      result = gr.Image(label='Colourised', interactive=False,
                        elem_id='result', format='png')
    with gr.Row():
      png = gr.File(label='Full-resolution PNG', elem_id='png')
      js = gr.File(label='Hints (JSON for colorize --hints)', elem_id='json')
    # Clicks on the hints image reach the server through these two (see
    # _CLICKS_JS): every click counts, even while the image is replaced.
    click_at = gr.Textbox(elem_id='click_at', container=False)
    click_go = gr.Button(elem_id='click_go')
    command = gr.Textbox(label='The same from the command line',
                         elem_id='command')
    rendered = [result, png, js, command]
    # Edits: every one counts, applied one at a time in arrival order (they
    # are quick); each then asks for a render of the latest version, in the
    # render budget shared with uploads and the HTTP endpoint.
    # No progress overlay on the hints image: it would swallow the next
    # clicks while an edit is pending.
    edit = dict(outputs=shown, api_visibility='private',
                trigger_mode='multiple', concurrency_id='edit',
                concurrency_limit=1, show_progress='hidden')
    render = dict(fn=guarded(on_render), inputs=state, outputs=rendered,
                  api_visibility='private', concurrency_id='render',
                  concurrency_limit=renders)
    edits = [
        click_go.click(guarded(page_fns.sequenced),
                       [state, click_at, colour, radius, stroke], **edit),
        vibrance.release(guarded(page_fns.vibrance), [state, vibrance],
                         **edit)]
    followed = [e.then(**render, trigger_mode='always_last').then(**trim)
                for e in edits]
    # A new upload cancels the edits of the last one still waiting, so their
    # hints never land on the new painting.
    upload.upload(on_upload, [upload, vibrance],
                  [upload, state, shown] + rendered,
                  cancels=edits + followed, api_visibility='private',
                  concurrency_id='upload', concurrency_limit=renders).then(
                      **render).then(**trim)
    with gr.Row(visible=False):  # The HTTP endpoint's own fields.
      api_file, api_hints = gr.File(), gr.Textbox()
      api_vibrance, api_png = gr.JSON(), gr.File()
      gr.Button().click(guarded(page_fns.api),
                        [api_file, api_hints, api_vibrance], api_png,
                        api_name='colourise', concurrency_id='render',
                        concurrency_limit=renders).then(**trim)
  return page


def start_server(workdir: str, args: Tuple[str, ...] = (),
                 log: Optional[Any] = None, env: Optional[Dict[str, str]] = None,
                 timeout_s: float = 300) -> Tuple[str, Any]:
  """Starts `python -m colorjax.app --workdir=WORKDIR ARGS` on a free local
  port (stdout and stderr to the file object `log`) and waits, at most
  `timeout_s`, until it answers: (its address, the process). For tests,
  benchmarks and scripts; the caller terminates the process.

  Raises:
    ColorjaxError: it stopped or did not answer in time (it is killed).
  """
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
  proc = subprocess.Popen(
      [sys.executable, '-m', 'colorjax.app', f'--workdir={workdir}',
       f'--port={port}', *args], stdout=log or subprocess.DEVNULL,
      stderr=subprocess.STDOUT, env=env)
  url = f'http://127.0.0.1:{port}/'
  deadline = time.monotonic() + timeout_s
  while time.monotonic() < deadline and proc.poll() is None:
    try:
      urllib.request.urlopen(url, timeout=2)
      return url, proc
    except OSError:
      time.sleep(0.5)
  what = (f'stopped (status {proc.returncode})' if proc.poll() is not None
          else f'did not answer in {timeout_s:g} s')
  proc.kill()
  proc.wait()
  raise ColorjaxError(f'the page server for {workdir} {what}; see its log.')


FLAGS = flags.FLAGS


def _define_flags() -> None:
  flags.DEFINE_string('workdir', names.BUNDLED, 'A trained run (a hint '
                      'model takes hints; any other colours automatically); '
                      'default: the bundled hint model.')
  flags.DEFINE_integer('seed', None, 'In a run of several seeds, which one.')
  flags.DEFINE_integer('epoch', None, 'Checkpoint epoch (default: latest).')
  flags.DEFINE_integer('work_size', None, 'Working resolution, as colorize '
                       '--work_size (default: the trained size).')
  flags.DEFINE_string('host', '127.0.0.1', 'Address to listen on (default: '
                      'this machine only).')
  flags.DEFINE_integer('port', 7860, 'Port (0: a free one).')


def _private_folder() -> str:
  """The page's own folder (0700, files 0600: on a shared machine no one
  else reads the paintings), removed when the page stops, however it stops
  (a clean stop, Ctrl-C, SIGTERM, a failed start); Gradio's uploads and
  cache live in it too."""
  os.umask(0o077)
  root = tempfile.mkdtemp(prefix='colorjax_app_')
  atexit.register(shutil.rmtree, root, ignore_errors=True)
  os.environ['GRADIO_TEMP_DIR'] = os.path.join(root, 'uploads')

  def stop(*_):
    raise KeyboardInterrupt
  signal.signal(signal.SIGTERM, stop)
  return root


def main(argv):
  if len(argv) > 1:
    raise runtime.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
  root = _private_folder()  # Before Gradio reads GRADIO_TEMP_DIR.
  runtime.setup()
  runtime.for_users()
  colorizer = Colorizer.from_workdir(
      FLAGS.workdir, FLAGS.epoch, work_size=FLAGS.work_size, seed=FLAGS.seed)
  gr = _gradio()
  page = build(colorizer, FLAGS.workdir, FLAGS.work_size,
               folder=os.path.join(root, 'results'))
  port = FLAGS.port or None
  logging.getLogger('httpx').setLevel(logging.WARNING)  # Its every request.
  try:
    page.queue().launch(
        server_name=FLAGS.host, server_port=port, share=False,
        # System fonts: nothing fetched from the internet.
        theme=gr.themes.Default(font=['system-ui', 'sans-serif'],
                                font_mono=['ui-monospace', 'monospace']),
        inbrowser=False, show_error=False, prevent_thread_lock=True,
        quiet=True, max_file_size=MAX_UPLOAD)
  except OSError as e:  # Gradio's "Cannot find empty port", a bad host.
    raise runtime.UsageError(
        f'cannot serve on {FLAGS.host}:{FLAGS.port} ({str(e).split(".")[0]}); '
        'is the page already running there? Pass another --port, or '
        '--port=0 for a free one.') from None
  print(f'colorjax page: {page.local_url} (model: {colorizer.description})',
        flush=True)
  try:
    while True:
      time.sleep(0.5)
  except KeyboardInterrupt:
    pass
  finally:
    page.close()
  print('colorjax page stopped; its uploads and results are deleted.',
        flush=True)


if __name__ == '__main__':
  _define_flags()
  runtime.run_tool(main)
