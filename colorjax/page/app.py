"""A colouring page in the browser: drop a painting, dab colours, get it back.

  pip install -e ".[app]"
  colorjax page [--workdir=WORKDIR] [--seed=K] [--port=7860]

With no --workdir the page colours with the trained hint model that ships
with colorjax (`colorjax.inference.pretrained`); a training run's workdir uses that
run instead.

Serves on 127.0.0.1 (this machine only) and prints the address. Upload a
painting (colour or greyscale, any size `colorize` takes): the automatic
colourisation appears at once. Click the painting to place a hint of the
picked colour (a model trained with `configs/hints.py`); with "Stroke" on,
each click paints a line of hints from the last one; with "For the whole
painting" on, a click's colour is the painting's overall tone and reaches
everywhere (`"scope": "painting"`). A switch rings, on the result, where
the model is least sure of its colours (`colorjax.page.marks`; off by
default: clicking there did worse than clicking where the result looks
wrong). Every change
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
What it does to a painting lives in `colorjax.page.logic`, which needs no Gradio;
this module wires it to the browser.
"""

import atexit
import functools
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, Optional, Tuple
import urllib.request

from absl import flags

from colorjax import names
from colorjax import runtime
from colorjax.errors import ColorjaxError
from colorjax.inference.colorizer import Colorizer
from colorjax.page import logic

__all__ = ['build', 'cli', 'main', 'start_server']


def _gradio():
  try:
    import gradio as gr  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise runtime.UsageError('the page needs Gradio: pip install -e '
                             '".[app]"') from None
  return gr


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
  const field = () => document.querySelector(
      '#click_at textarea, #click_at input');
  document.addEventListener('change', (e) => {  // A new painting: new log.
    if (!e.target.closest('#upload')) return;
    log = [];
    const f = field();
    if (f) {
      f.value = '';
      f.dispatchEvent(new Event('input', {bubbles: true}));
    }
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
    const f = field(), go = document.querySelector('#click_go');
    if (!f || !go) return;
    log.push(what + ',' + (n++));
    f.value = log.join(';');
    f.dispatchEvent(new Event('input', {bubbles: true}));
    setTimeout(() => go.click(), 0);
  }, true);
}
"""


def _guarded(gr: Any, fn: Callable) -> Callable:
  """`fn` with a ColorjaxError shown as a short message on the page (its
  signature kept: Gradio passes event data by annotation)."""
  @functools.wraps(fn)
  def run(*args):
    try:
      return fn(*args)
    except ColorjaxError as e:
      raise gr.Error(str(e), print_exception=False) from None
  return run


def _on_upload(gr: Any, page_fns: logic.Page, path: Optional[str],
               vibrance: float, marks: bool = False) -> tuple:
  """A dropped painting: (the upload cleared, state, preview, and the old
  outputs cleared); an unreadable one is a warning and changes nothing."""
  if not path:
    return (gr.skip(),) * 7
  try:
    state, grey = page_fns.upload(path, vibrance, marks)
  except ColorjaxError as e:
    gr.Warning(str(e).replace(os.path.dirname(path) + os.sep, ''))
    return (None,) + (gr.skip(),) * 6
  return None, state, grey, None, None, None, ''


def _on_render(gr: Any, page_fns: logic.Page, state: Any) -> tuple:
  """The latest version's render, or nothing new if it was already shown."""
  out = page_fns.render(state)
  return (gr.skip(),) * 4 if out is None else out


def build(colorizer: Colorizer, workdir: str,
          work_size: Optional[int] = None, folder: Optional[str] = None,
          renders: int = 2) -> Any:
  """The Gradio Blocks of the page for `colorizer` (of `workdir`, at
  `work_size` if not the trained size), writing its files under `folder`
  (default: a new private temporary folder), with at most `renders`
  colourisations at once over every event."""
  gr = _gradio()
  folder = folder or tempfile.mkdtemp(prefix='colorjax_app_')
  page_fns = logic.Page(colorizer, workdir, folder, work_size, renders)
  hints_note = ('Click the painting to place a hint of the picked colour.'
                if colorizer.takes_hints else
                'This model was trained without hints: the page colours '
                'automatically (train one with configs/hints.py).')

  guarded = functools.partial(_guarded, gr)
  on_upload = functools.partial(_on_upload, gr, page_fns)
  on_render = functools.partial(_on_render, gr, page_fns)
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
        whole = gr.Checkbox(False, label='For the whole painting: the '
                            'colour is its overall tone and reaches '
                            'everywhere (drawn as a square)', elem_id='whole')
        # Off by default: in the simulated session, clicks at these rings
        # did worse than clicks where the result looks wrong, and than
        # random ones (docs/hints.md#where-the-model-is-unsure).
        unsure = gr.Checkbox(False, label='Ring where the model is least '
                             'sure (its answer under a mirror and one-pixel '
                             'moves)', elem_id='marks',
                             visible=colorizer.takes_hints)
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
                       [state, click_at, colour, radius, stroke, whole],
                       **edit),
        vibrance.release(guarded(page_fns.vibrance), [state, vibrance],
                         **edit),
        unsure.input(guarded(page_fns.marks), [state, unsure], **edit)]
    followed = [e.then(**render, trigger_mode='always_last').then(**trim)
                for e in edits]
    # A new upload cancels the edits of the last one still waiting, so their
    # hints never land on the new painting.
    upload.upload(on_upload, [upload, vibrance, unsure],
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
  """Starts `colorjax page --workdir=WORKDIR ARGS` on a free local
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
      [sys.executable, '-m', 'colorjax', 'page', f'--workdir={workdir}',
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
  if not 0 <= FLAGS.port <= 65535:
    raise runtime.UsageError(f'--port={FLAGS.port} must be in [0, 65535] (0: '
                             'a free one).')
  os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
  root = _private_folder()  # Before Gradio reads GRADIO_TEMP_DIR.
  # A server: memory goes back to the system after a large painting (8 MP:
  # 940 MB ten seconds after a burst of renders, against 2,735 MB with the
  # batch tools' malloc settings; benchmarks/app.py --clients=4).
  runtime.setup(keep_freed=False)
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
        quiet=True, max_file_size=logic.MAX_UPLOAD)
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


def cli() -> None:
  """The `page` command."""
  _define_flags()
  runtime.run_tool(main)


if __name__ == '__main__':
  cli()
