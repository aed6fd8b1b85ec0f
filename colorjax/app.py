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
vibrance slider is `colorize --vibrance`. The downloads are the
full-resolution PNG and the hints as the JSON file `colorize --hints`
reads: the same command reproduces the page's image bit for bit.

Scripts reach the same model over HTTP: the endpoint `/colourise` takes a
painting, a hints JSON text and a vibrance and returns the PNG, e.g. with
Gradio's client (`benchmarks/app.py` loads it so):

  from gradio_client import Client, handle_file
  png = Client('http://127.0.0.1:7860/').predict(
      handle_file('painting.jpg'), '[]', 1.0, api_name='/colourise')

The page is Gradio's (an optional extra: nothing else in colorjax imports
it), with analytics off and system fonts, so it works without internet.
What it does to a painting lives in the functions below, which need no
Gradio: `add_point`, `add_stroke`, `grey_preview`, `preview`, `colourise`
and `hints_json`.
"""

import json
import logging
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
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

Point = Dict[str, Any]  # One hint as `colorize --hints` reads it.
PREVIEW_SIDE = 1024  # The page shows paintings at most this large.
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
  out = colorizer.with_vibrance(vibrance).colorize(
      rgb, points if colorizer.takes_hints else None)
  runtime.give_back_freed_memory()
  return out


def _gradio():
  try:
    import gradio as gr  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise runtime.UsageError('the page needs Gradio: pip install -e '
                             '".[app]"') from None
  return gr


def build(colorizer: Colorizer, workdir: str,
          work_size: Optional[int] = None) -> Any:
  """The Gradio Blocks of the page for `colorizer` (of `workdir`, at
  `work_size` if not the trained size)."""
  gr = _gradio()
  folder = tempfile.mkdtemp(prefix='colorjax_app_')
  hints_note = ('Click the painting to place a hint of the picked colour.'
                if colorizer.takes_hints else
                'This model was trained without hints: the page colours '
                'automatically (train one with configs/hints.py).')

  def fail(e: Exception):
    raise gr.Error(str(e), print_exception=False)

  def render(state: Dict[str, Any], vibrance: float):
    rgb, points = state['rgb'], state['points']
    shown = preview(state['grey'], state['scale'], points)
    result = colourise(colorizer, rgb, points, vibrance)
    small = cv2.resize(result, (shown.shape[1], shown.shape[0]),
                       interpolation=cv2.INTER_AREA)
    stem = state['stem']
    session = os.path.join(folder, state['id'])
    os.makedirs(session, exist_ok=True)
    png = os.path.join(session, f'{stem}_colour.png')
    ok, encoded = cv2.imencode('.png', result[..., ::-1])
    if not ok:
      fail(ColorjaxError('the PNG encoder refused the result'))
    files.write_atomically(png, encoded.tobytes())
    js = os.path.join(session, f'{stem}.json')
    files.write_text(js, hints_json(points))
    command = shlex.join(
        ['python', '-m', 'colorjax.colorize'] +
        ([f'--workdir={workdir}'] if workdir != names.BUNDLED else []) +
        ([f'--work_size={work_size}'] if work_size else []) +
        [f'--vibrance={vibrance:g}', f'--hints={stem}.json', '--output=out',
         state['name']])
    return state, shown, small, png, js, command

  def on_upload(path: Optional[str], vibrance: float, state):
    """(the upload, then the outputs). The upload clears, ready for the
    next painting (the page names the one shown); a file that is not a
    usable image is a short message."""
    if not path:
      return (gr.skip(),) + (None,) * 5 + ('',)
    try:
      rgb = image_io.read_image(path)
    except ColorjaxError as e:
      gr.Warning(str(e).replace(os.path.dirname(path) + os.sep, ''))
      return (None,) + (gr.skip(),) * 6
    grey, scale = grey_preview(rgb)
    state = {'rgb': rgb, 'points': [], 'clicks': [],
             'id': os.urandom(8).hex(),
             'grey': grey, 'scale': scale,
             'name': os.path.basename(path),
             'stem': os.path.splitext(os.path.basename(path))[0] or 'painting'}
    return (None,) + render(state, vibrance)

  def on_click(state, colour: str, radius: float, stroke: bool,
               vibrance: float, evt: gr.SelectData):
    if not state:
      fail(ColorjaxError('upload a painting first.'))
    x, y = (v / state['scale'] for v in evt.index)
    add = add_stroke if stroke else add_point
    try:
      points = add(state['points'], x, y, colour, radius,
                   state['rgb'].shape[:2])
    except ColorjaxError as e:
      fail(e)
    # Undo takes back a click: its one point or its whole stroke.
    clicks = state['clicks'] + [len(points) - len(state['points'])]
    return render(dict(state, points=points, clicks=clicks), vibrance)

  def on_change(state, vibrance: float, drop: str):
    if not state:
      return (state,) + (gr.skip(),) * 5
    points, clicks = state['points'], state['clicks']
    if drop == 'undo' and clicks:
      points, clicks = points[:len(points) - clicks[-1]], clicks[:-1]
    elif drop == 'clear':
      points, clicks = [], []
    return render(dict(state, points=points, clicks=clicks), vibrance)

  def on_api(path: Optional[str], hints: str, vibrance: float) -> np.ndarray:
    """The `/colourise` endpoint: a painting, a hints JSON text (as
    `colorize --hints` reads; empty: none) and a vibrance, to the PNG."""
    if not path:
      fail(ColorjaxError('send a painting.'))
    try:
      rgb = image_io.read_image(path)
      try:
        points = json.loads(hints or '[]')
      except json.JSONDecodeError as e:
        raise hint_files.HintError(f'hints: not JSON ({e})') from None
      hint_files.parse_points(points, rgb.shape[:2])
      if points and not colorizer.takes_hints:
        colorizer.hint_map(points, rgb.shape[:2])  # Says how to train one.
      return colourise(colorizer, rgb, points, colorizer.vibrance
                       if vibrance is None else vibrance)
    except ColorjaxError as e:
      fail(ColorjaxError(str(e).replace(os.path.dirname(path) + os.sep, '')))

  # Gradio's copies of the results are deleted an hour after they are made.
  with gr.Blocks(title='colorjax: colour a painting',
                 analytics_enabled=False, delete_cache=(600, 3600)) as page:
    state = gr.State(None)
    gr.Markdown(f'## colorjax: colour a painting\n{hints_note} Model: '
                f'`{workdir}`.')
    with gr.Row():
      upload = gr.File(label='Painting (drop one; another starts afresh)',
                       file_types=['image'],
                       elem_id='upload')
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
          undo = gr.Button('Undo', elem_id='undo')
          clear = gr.Button('Clear hints', elem_id='clear')
    with gr.Row():
      shown = gr.Image(label='Hints (click to place)', interactive=False,
                       elem_id='hints', format='png')
      result = gr.Image(label='Colourised', interactive=False,
                        elem_id='result', format='png')
    with gr.Row():
      png = gr.File(label='Full-resolution PNG', elem_id='png')
      js = gr.File(label='Hints (JSON for colorize --hints)', elem_id='json')
    command = gr.Textbox(label='The same from the command line',
                         elem_id='command')
    outputs = [state, shown, result, png, js, command]
    edits = [
        shown.select(on_click, [state, colour, radius, stroke, vibrance],
                     outputs, api_visibility='private'),
        undo.click(lambda s, v: on_change(s, v, 'undo'), [state, vibrance],
                   outputs, api_visibility='private'),
        clear.click(lambda s, v: on_change(s, v, 'clear'), [state, vibrance],
                    outputs, api_visibility='private'),
        vibrance.release(lambda s, v: on_change(s, v, 'same'),
                         [state, vibrance], outputs,
                         api_visibility='private')]
    # A new upload cancels the edits of the last one still running, so their
    # hints never land on the new painting.
    upload.upload(on_upload, [upload, vibrance, state], [upload] + outputs,
                  cancels=edits, api_visibility='private')
    with gr.Row(visible=False):  # The HTTP endpoint's own fields.
      api_file, api_hints = gr.File(), gr.Textbox()
      api_vibrance, api_png = gr.Number(), gr.Image(format='png')
      gr.Button().click(on_api, [api_file, api_hints, api_vibrance], api_png,
                        api_name='colourise')
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


def main(argv):
  if len(argv) > 1:
    raise runtime.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
  gr = _gradio()
  runtime.setup()
  colorizer = Colorizer.from_workdir(
      FLAGS.workdir, FLAGS.epoch, work_size=FLAGS.work_size, seed=FLAGS.seed)
  page = build(colorizer, FLAGS.workdir, FLAGS.work_size)
  port = FLAGS.port or None
  logging.getLogger('httpx').setLevel(logging.WARNING)  # Its every request.
  try:
    page.queue(default_concurrency_limit=2).launch(
        server_name=FLAGS.host, server_port=port, share=False,
        # System fonts: nothing fetched from the internet.
        theme=gr.themes.Default(font=['system-ui', 'sans-serif'],
                                font_mono=['ui-monospace', 'monospace']),
        inbrowser=False, show_error=False, prevent_thread_lock=True,
        quiet=True)
  except OSError as e:  # Gradio's "Cannot find empty port", a bad host.
    raise runtime.UsageError(
        f'cannot serve on {FLAGS.host}:{FLAGS.port} ({str(e).split(".")[0]}); '
        'is the page already running there? Pass another --port, or '
        '--port=0 for a free one.') from None
  print(f'colorjax page: {page.local_url}', flush=True)
  page.block_thread()


if __name__ == '__main__':
  _define_flags()
  runtime.run_tool(main)
