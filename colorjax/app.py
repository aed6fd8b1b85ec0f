"""A colouring page in the browser: drop a painting, dab colours, get it back.

  pip install -e ".[app]"
  python -m colorjax.app --workdir=WORKDIR [--seed=K] [--port=7860]

Serves on 127.0.0.1 (this machine only) and prints the address. Upload a
painting (colour or greyscale, any size `colorize` takes): the automatic
colourisation appears at once. Click the painting to place a hint of the
picked colour (a model trained with `configs/hints.py`); every change
colourises again. Undo and Clear take hints back; the vibrance slider is
`colorize --vibrance`. The downloads are the full-resolution PNG and the
hints as the JSON file `colorize --hints` reads: the same command
reproduces the page's image bit for bit.

The page is Gradio's (an optional extra: nothing else in colorjax imports
it), with analytics off and system fonts, so it works without internet.
What it does to a painting lives in the functions below, which need no
Gradio: `add_point`, `grey_preview`, `preview`, `colourise` and
`hints_json`.
"""

import copy
import json
import logging
import os
import re
import tempfile
from typing import Any, Dict, List, Optional, Tuple

from absl import flags
import cv2
import numpy as np

from colorjax import colorize as colorize_lib
from colorjax import hint_files
from colorjax import image_io
from colorjax import runtime
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
  return colorize_lib.Colorizer.constant(rgb, np.zeros(2)), scale


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


def colourise(colorizer: colorize_lib.Colorizer, rgb: np.ndarray,
              points: List[Point], vibrance: float) -> np.ndarray:
  """The full-resolution colourisation that `colorize --vibrance=V
  --hints=<hints_json(points)>` writes (automatic without points)."""
  own = copy.copy(colorizer)  # Each request its own vibrance.
  own.vibrance = float(vibrance)
  # The batch size stays the command line's: the same compiled program, so
  # the page and `colorize` agree bit for bit.
  return own.colorize(rgb, points if colorizer.takes_hints else None)


def _gradio():
  try:
    import gradio as gr  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise runtime.UsageError('the page needs Gradio: pip install -e '
                             '".[app]"') from None
  return gr


def build(colorizer: colorize_lib.Colorizer, workdir: str) -> Any:
  """The Gradio Blocks of the page for `colorizer`."""
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
    with open(png, 'wb') as f:
      f.write(encoded.tobytes())
    js = os.path.join(session, f'{stem}.json')
    with open(js, 'w', encoding='utf-8') as f:
      f.write(hints_json(points))
    command = (f'python -m colorjax.colorize --workdir={workdir} '
               f'--vibrance={vibrance:g} --hints={stem}.json --output=out '
               f'{state["name"]}')
    return state, shown, small, png, js, command

  def on_upload(path: Optional[str], vibrance: float, state):
    """(the upload, then the outputs); a file that is not a usable image is
    a short message, and the upload clears for the next one."""
    if not path:
      return (gr.skip(),) + (None,) * 5 + ('',)
    try:
      rgb = image_io.read_image(path)
    except ColorjaxError as e:
      gr.Warning(str(e).replace(os.path.dirname(path) + os.sep, ''))
      return (None,) + (gr.skip(),) * 6
    grey, scale = grey_preview(rgb)
    state = {'rgb': rgb, 'points': [], 'id': os.urandom(8).hex(),
             'grey': grey, 'scale': scale,
             'name': os.path.basename(path),
             'stem': os.path.splitext(os.path.basename(path))[0] or 'painting'}
    return (gr.skip(),) + render(state, vibrance)

  def on_click(state, colour: str, radius: float, vibrance: float,
               evt: gr.SelectData):
    if not state:
      fail(ColorjaxError('upload a painting first.'))
    x, y = (v / state['scale'] for v in evt.index)
    try:
      state = dict(state, points=add_point(
          state['points'], x, y, colour, radius, state['rgb'].shape[:2]))
    except ColorjaxError as e:
      fail(e)
    return render(state, vibrance)

  def on_change(state, vibrance: float, drop: str):
    if not state:
      return (state,) + (gr.skip(),) * 5
    points = {'undo': state['points'][:-1], 'clear': [],
              'same': state['points']}[drop]
    return render(dict(state, points=points), vibrance)

  with gr.Blocks(title='colorjax: colour a painting',
                 analytics_enabled=False) as page:
    state = gr.State(None)
    gr.Markdown(f'## colorjax: colour a painting\n{hints_note} Model: '
                f'`{workdir}`.')
    with gr.Row():
      upload = gr.File(label='Painting', file_types=['image'],
                       elem_id='upload')
      with gr.Column():
        colour = gr.ColorPicker('#1f4e9c', label='Hint colour',
                                elem_id='colour')
        radius = gr.Slider(1, 64, 8, step=1, label='Hint radius (pixels)',
                           elem_id='radius')
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
    upload.upload(on_upload, [upload, vibrance, state], [upload] + outputs)
    shown.select(on_click, [state, colour, radius, vibrance], outputs)
    undo.click(lambda s, v: on_change(s, v, 'undo'), [state, vibrance],
               outputs)
    clear.click(lambda s, v: on_change(s, v, 'clear'), [state, vibrance],
                outputs)
    vibrance.release(lambda s, v: on_change(s, v, 'same'), [state, vibrance],
                     outputs)
  return page


FLAGS = flags.FLAGS


def _define_flags() -> None:
  flags.DEFINE_string('workdir', None, 'A trained run (a hint model takes '
                      'hints; any other colours automatically).')
  flags.DEFINE_integer('seed', None, 'In a run of several seeds, which one.')
  flags.DEFINE_integer('epoch', None, 'Checkpoint epoch (default: latest).')
  flags.DEFINE_string('host', '127.0.0.1', 'Address to listen on (default: '
                      'this machine only).')
  flags.DEFINE_integer('port', 7860, 'Port (0: a free one).')
  flags.mark_flags_as_required(['workdir'])


def main(argv):
  if len(argv) > 1:
    raise runtime.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
  gr = _gradio()
  runtime.setup()
  colorizer = colorize_lib.Colorizer.from_workdir(
      FLAGS.workdir, FLAGS.epoch, seed=FLAGS.seed)
  page = build(colorizer, FLAGS.workdir)
  port = FLAGS.port or None
  logging.getLogger('httpx').setLevel(logging.WARNING)  # Its every request.
  page.queue(default_concurrency_limit=2).launch(
      server_name=FLAGS.host, server_port=port, share=False,
      # System fonts: nothing fetched from the internet.
      theme=gr.themes.Default(font=['system-ui', 'sans-serif'],
                              font_mono=['ui-monospace', 'monospace']),
      inbrowser=False, show_error=False, prevent_thread_lock=True,
      quiet=True)
  print(f'colorjax page: {page.local_url}', flush=True)
  page.block_thread()


if __name__ == '__main__':
  _define_flags()
  runtime.run_tool(main)
