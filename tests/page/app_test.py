"""The colouring page, driven in a real browser (headless Chromium).

Needs the `app` extra (Gradio), Playwright and Debian's `chromium`; `.ci/run`
installs them. Without them the test is skipped and says which is missing.
"""

import json
import os
import re
import shlex
import shutil
import socket
import stat
import struct
import subprocess
import sys
import time
import urllib.request
import zlib

import cv2
import numpy as np
import pytest
from tiny import ROOT
from tiny import subprocess_env

from colorjax import names
from colorjax.colour import spaces as color
from colorjax.errors import DataError
from colorjax.inference import colorize
from colorjax.page import app
from colorjax.page import logic as page
from colorjax.page import records

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
BLUE = '#1f4e9c'
RED = '#cc2222'


def test_points_become_the_json_colorize_reads():
  points = page.add_point([], 12.7, 30.2, 'rgba(31, 78, 156, 1)', 5, (40, 64))
  points = page.add_point(points, 0, 0, '#14c', 1, (40, 64))
  assert points == [{'x': 12, 'y': 30, 'color': BLUE, 'radius': 5.0},
                    {'x': 0, 'y': 0, 'color': '#1144cc', 'radius': 1.0}]
  assert json.loads(page.hints_json(points)) == points
  with pytest.raises(page.hint_files.HintError, match='outside the painting'):
    page.add_point(points, 64, 3, BLUE, 5, (40, 64))
  with pytest.raises(page.hint_files.HintError, match='not an sRGB hex'):
    page.add_point(points, 1, 3, 'blue-ish', 5, (40, 64))
  grey, scale = records.grey_preview(np.full((40, 64, 3), 128, np.uint8),
                                 side=32)
  shown = page.preview(grey, scale, points)
  assert shown.shape == (20, 32, 3) and scale == 0.5
  assert tuple(shown[15, 6]) == (31, 78, 156)  # The dot, in its colour.


def test_a_click_for_the_whole_painting_says_so_and_is_drawn_apart(
    tmp_path):
  points = page.add_point([], 12, 30, BLUE, 5, (40, 64), whole=True)
  assert points == [{'x': 12, 'y': 30, 'color': BLUE, 'radius': 5.0,
                     'scope': 'painting'}]
  parsed = page.hint_files.parse_points(points, (40, 64))
  assert parsed[0].scope == 'painting'
  grey = np.full((40, 64, 3), 128, np.uint8)
  square = page.preview(grey, 1.0, points)
  dot = page.preview(grey, 1.0, [dict(points[0], scope='local')])
  assert tuple(square[25, 7]) == (31, 78, 156)  # A corner of the square...
  assert tuple(dot[25, 7]) != (31, 78, 156)  # ...outside the dot.
  fns = page.Page(None, names.BUNDLED, str(tmp_path))
  pid, _ = fns.paintings.new(_png(np.full((20, 30, 3), 128, np.uint8)),
                             'p.png', 1.0)
  fns.sequenced({'id': pid}, '2.0,3.0,1;5.0,3.0,2', BLUE, 1, False, True)
  assert [p.get('scope') for p in fns.paintings.claim(pid)['points']] == [
      'painting', 'painting']


def test_a_stroke_is_a_line_of_hints_from_the_last_point():
  points = page.add_stroke([], 10, 10, BLUE, 4, (40, 64))
  assert points == [{'x': 10, 'y': 10, 'color': BLUE, 'radius': 4.0}]
  points = page.add_stroke(points, 30, 10, '#ff0000', 4, (40, 64))
  # 20 pixels at one point per 4: five more, ending where it was clicked.
  assert [(p['x'], p['y']) for p in points[1:]] == [
      (14, 10), (18, 10), (22, 10), (26, 10), (30, 10)]
  assert {p['color'] for p in points[1:]} == {'#ff0000'}
  with pytest.raises(page.hint_files.HintError, match='outside the painting'):
    page.add_stroke(points, 70, 10, BLUE, 4, (40, 64))


@pytest.mark.parametrize('name', ['x;id;y.jpg', 'my painting (1).jpg',
                                  "l'été & co.png", 'a"b$(id).png'])
def test_the_command_the_page_shows_is_a_command(name):
  command = page.colorize_command(names.BUNDLED, 64, 1.25, name)
  args = shlex.split(command)
  stem = os.path.splitext(name)[0]
  assert args == ['python', '-m', 'colorjax', 'colorize', '--work_size=64',
                  '--vibrance=1.25', f'--hints={stem}.json', '--output=out',
                  name]
  assert '--workdir=w x' in shlex.split(
      page.colorize_command('w x', None, 1, name))


def test_edits_apply_in_order_and_an_old_render_never_shows(tmp_path):
  store = records.Paintings(str(tmp_path))
  pid, _ = store.new(_png(np.full((20, 30, 3), 128, np.uint8)), 'p.png', 1.0)
  first = store.claim(pid)  # A render of version 0 starts...
  for i in range(5):  # ...while five clicks arrive,
    store.edit(pid, lambda r, i=i: {'points': r['points'] + [i]})
  store.edit(pid, lambda r: {'vibrance': 1.5})  # and a vibrance change.
  latest = store.claim(pid)
  assert latest['points'] == [0, 1, 2, 3, 4] and latest['vibrance'] == 1.5
  assert store.claim(pid) is None  # Claimed: no second render of it.
  assert store.show(pid, latest['version'])
  assert not store.show(pid, first['version'])  # Finished last: not shown.


def test_a_log_of_edits_is_applied_once_in_order_whatever_brings_it(
    tmp_path):
  fns = page.Page(None, names.BUNDLED, str(tmp_path))
  pid, _ = fns.paintings.new(_png(np.full((20, 30, 3), 128, np.uint8)),
                             'p.png', 1.0)
  state = {'id': pid}
  # Requests overtake one another and carry logs of different lengths:
  # the third click's log arrives first, then a stale one, then the rest.
  fns.sequenced(state, '2.0,3.0,4;5.0,3.0,5;9.0,3.0,6', BLUE, 1, False)
  fns.sequenced(state, '2.0,3.0,4', BLUE, 1, False)
  fns.sequenced(state, '2.0,3.0,4;5.0,3.0,5;9.0,3.0,6;undo,,7;12.0,4.0,8',
                 BLUE, 1, False)
  points = fns.paintings.claim(pid)['points']
  assert [(p['x'], p['y']) for p in points] == [(2, 3), (5, 3), (12, 4)]
  for crafted in ('drop table,9', 'nan,3.0,9', '2.0,inf,9', '-inf,1,9'):
    with pytest.raises(page.ColorjaxError, match='not an edit of the page'):
      fns.sequenced(state, crafted, BLUE, 1, False)
  assert fns.paintings.claim(pid) is None  # Nothing applied: no new version.


def _png(rgb):
  return page.image_io.encode_png(rgb)


def test_a_record_keeps_the_file_not_its_pixels(tmp_path):
  rng = np.random.default_rng(0)
  rgb = cv2.resize(rng.integers(0, 256, (12, 16, 3), np.uint8), (1600, 1200))
  data = _png(rgb)
  store = records.Paintings(str(tmp_path))
  pid, grey = store.new(data, 'p.png', 1.0)
  record = store.claim(pid)
  arrays = sum(v.nbytes for v in record.values() if isinstance(v, np.ndarray))
  assert arrays == grey.nbytes < rgb.nbytes  # The preview only.
  assert record['data'] == data and record['shape'] == (1200, 1600)
  with pytest.raises(page.image_io.ImageError, match='not an image'):
    store.new(b'not a painting', 'x.png', 1.0)


def test_the_result_shown_rings_where_the_model_is_least_sure(tmp_path):
  # The bundled model on a mid-tone painting of odd size: the shown result
  # carries rings, away from the hints; with the switch off, or in the PNG
  # to download, it is the colourisation alone.
  from colorjax.page import marks  # pylint: disable=g-import-not-at-top
  colorizer = colorize.Colorizer.pretrained()
  fns = page.Page(colorizer, names.BUNDLED, str(tmp_path))
  rng = np.random.default_rng(1)
  rgb = cv2.resize(rng.integers(60, 200, (5, 7, 3), np.uint8), (97, 71),
                   interpolation=cv2.INTER_CUBIC)
  path = str(tmp_path / 'p.png')
  cv2.imwrite(path, rgb[..., ::-1])
  state, _ = fns.upload(path, 1.0, marks=True)
  fns.click(state, 20.0, 30.0, BLUE, 4, False)
  shown, png, _, _ = fns.render(state)
  plain = cv2.resize(_rgb(open(png, 'rb').read()), shown.shape[1::-1],
                     interpolation=cv2.INTER_AREA)
  found = marks.find(colorizer, rgb,
                     page.add_point([], 20.0, 30.0, BLUE, 4, (71, 97)), 1.0)
  assert len(found) == marks.COUNT
  for y, x, _ in found:
    assert np.hypot(y - 30, x - 20) > 97 / 8  # Not on the hint.
  differ = np.abs(shown.astype(int) - plain).max(-1) > 0
  yy, xx = np.mgrid[:shown.shape[0], :shown.shape[1]]
  near = np.zeros(differ.shape, bool)
  for y, x, r in found:  # Every change is a ring around a mark.
    d = np.hypot(yy - y, xx - x)
    near |= (d > r - 5) & (d < r + 5)  # Its two rings, smoothed.
  assert differ.sum() > 50 and not (differ & ~near).any()
  fns.marks(state, False)
  shown_off, png_off, _, _ = fns.render(state)
  np.testing.assert_array_equal(shown_off, plain)
  assert open(png_off, 'rb').read() == open(png, 'rb').read()


def test_a_long_stroke_is_a_short_edit(tmp_path):
  shape = (3000, 3000)
  points = page.add_stroke([], 0, 0, BLUE, 1, shape)
  points = page.add_stroke(points, 2999, 2999, RED, 1, shape)
  # Not 4,241 (4.5 s under the lock every painting's edits share).
  assert len(points) == 1 + page.MAX_STROKE_POINTS
  assert points[-1]['x'] == points[-1]['y'] == 2999
  xs = [p['x'] for p in points]
  assert xs == sorted(xs) and max(np.diff(xs)) <= 12  # Evenly spaced.
  for bad in (float('nan'), float('inf')):
    with pytest.raises(page.hint_files.HintError, match='not a place'):
      page.add_stroke(points, bad, 5, RED, 1, shape)


def test_the_endpoints_results_go_after_an_hour(tmp_path):
  api = tmp_path / records.API_FOLDER
  api.mkdir()
  old, new = api / 'old.png', api / 'new.png'
  old.write_bytes(b'x')
  new.write_bytes(b'y')
  os.utime(old, (time.time() - 3601, time.time() - 3601))
  store = records.Paintings(str(tmp_path), max_age_s=3600)
  store.new(_png(np.full((8, 8, 3), 90, np.uint8)), 'p.png', 1.0)  # Prunes.
  assert sorted(os.listdir(api)) == ['new.png']


def test_a_bad_vibrance_is_one_message():
  for bad in ('abc', '2', [1], True, float('nan'), -0.5, 5):
    with pytest.raises(DataError, match='must be a number in'):
      page.checked_vibrance(bad)
  assert page.checked_vibrance(2) == 2.0


def test_a_workdir_without_a_checkpoint_is_one_line_at_start_up(tmp_path):
  pytest.importorskip('gradio', reason='pip install -e ".[app]"')
  result = subprocess.run(
      [sys.executable, '-m', 'colorjax', 'page', f'--workdir={tmp_path}',
       '--port=0'], cwd=ROOT, capture_output=True, text=True, timeout=120,
      env=subprocess_env())
  assert result.returncode == 1 and 'Traceback' not in result.stderr
  (line,) = [l for l in result.stderr.splitlines() if l.startswith('error:')]
  assert str(tmp_path) in line


def test_a_port_in_use_is_one_line_at_start_up(tmp_path):
  """Starting the page twice on one port: one line, not a traceback, and
  nothing left behind."""
  pytest.importorskip('gradio', reason='pip install -e ".[app]"')
  with socket.socket() as taken:
    taken.bind(('127.0.0.1', 0))
    taken.listen()
    port = taken.getsockname()[1]
    result = subprocess.run(
        [sys.executable, '-m', 'colorjax', 'page', f'--port={port}'], cwd=ROOT,
        capture_output=True, text=True, timeout=300,
        env=subprocess_env(TMPDIR=str(tmp_path)))
  assert result.returncode == 1 and 'Traceback' not in result.stderr
  (line,) = [l for l in result.stderr.splitlines() if l.startswith('error:')]
  assert f'127.0.0.1:{port}' in line and '--port=0' in line
  assert not list(tmp_path.glob('colorjax_app_*'))


def _painting(path: str) -> np.ndarray:
  """A grey painting with a bright upper band (the sky to hint)."""
  rng = np.random.default_rng(0)
  grey = np.full((150, 200), 90, np.uint8)
  grey[:60] = 170
  grey = np.clip(grey + rng.integers(-6, 7, grey.shape), 0, 255).astype(
      np.uint8)
  rgb = np.repeat(grey[..., None], 3, axis=2)
  assert cv2.imwrite(path, rgb)
  return rgb


def _declares_megapixels(path, megapixels: int) -> str:
  """A PNG whose header declares a painting of `megapixels`, in 100 bytes."""
  def chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack('>I', len(data)) + kind + data +
            struct.pack('>I', zlib.crc32(kind + data)))
  header = struct.pack('>IIBBBBB', 10_000, megapixels * 100, 8, 2, 0, 0, 0)
  path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) +
                   chunk(b'IDAT', zlib.compress(b'\0' * 64)) +
                   chunk(b'IEND', b''))
  return str(path)


def _lab(rgb: np.ndarray) -> np.ndarray:
  return np.asarray(color.rgb_to_lab(rgb.astype(np.float32) / 255.0))


@pytest.fixture(name='server', scope='module')
def server_fixture(tmp_path_factory):
  """The page's server on a free port, shared by this file's tests."""
  pytest.importorskip('gradio', reason='pip install -e ".[app]"')
  pytest.importorskip('playwright.sync_api', reason='pip install playwright')
  if not CHROMIUM:
    pytest.skip('no chromium: apt-get install -y chromium')
  log_path = tmp_path_factory.mktemp('app') / 'app.log'
  with open(log_path, 'w') as log:
    try:
      url, proc = app.start_server(
          names.BUNDLED, log=log, timeout_s=120,
          env=subprocess_env())
    except page.ColorjaxError:
      pytest.fail(log_path.read_text()[-3000:])
    try:
      yield url, proc
    finally:
      proc.terminate()
      proc.wait(timeout=30)


def _download(page, selector: str) -> bytes:
  href = page.get_attribute(f'{selector} a', 'href')
  with urllib.request.urlopen(href, timeout=30) as r:
    return r.read()


def _open_page(p, url: str):
  """(browser, page): headless Chromium with the page loaded."""
  browser = p.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox'])
  page = browser.new_page(viewport={'width': 1300, 'height': 1000})
  page.goto(url, timeout=60_000)
  return browser, page


def _upload(page, painting: str) -> str:
  """Drops a painting on the page; the src of its automatic colours."""
  page.set_input_files('#upload input[type=file]', painting)
  return _wait_for_new(page, '#result img', None)


def _wait_for_new(page, selector: str, old) -> str:
  for _ in range(240):  # Bounded: at most 120 s per update.
    src = page.get_attribute(selector, 'src')
    if src and src != old:
      return src
    time.sleep(0.5)
  raise AssertionError(f'{selector} did not update')


def _click_hints(page, fx: float, fy: float) -> None:
  """Clicks the hint image at (fx, fy) of its size, once its picture has
  loaded and been laid out (bounded): a click on an image still loading
  lands at its corner."""
  page.wait_for_function(
      "() => { const i = document.querySelector('#hints img');"
      " return i && i.complete && i.naturalWidth > 0 &&"
      " i.getBoundingClientRect().width > 0; }", timeout=120_000)
  box = page.locator('#hints img').bounding_box()
  page.locator('#hints img').click(position={'x': box['width'] * fx,
                                             'y': box['height'] * fy})


def test_a_blue_hint_colours_its_region_blue_in_the_browser(server, tmp_path):
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  url, proc = server
  painting = str(tmp_path / 'painting.png')
  original = _painting(painting)
  with sync_playwright() as p:
    browser, page = _open_page(p, url)
    # Not an image: a short message on the page, and the server goes on.
    not_image = tmp_path / 'notes.png'
    not_image.write_text('not a picture')
    page.set_input_files('#upload input[type=file]', str(not_image))
    page.get_by_text('not an image').first.wait_for(timeout=60_000)
    # A header that declares 120 megapixels: refused before it is decoded.
    page.set_input_files('#upload input[type=file]',
                         _declares_megapixels(tmp_path / 'huge.png', 120))
    page.get_by_text('too large').first.wait_for(timeout=60_000)
    assert 'Traceback' not in page.content()
    auto_src = _upload(page, painting)
    auto = cv2.imdecode(np.frombuffer(_download(page, '#png'), np.uint8),
                        cv2.IMREAD_COLOR)[..., ::-1]
    _click_hints(page, 0.5, 0.2)  # The sky's middle: x 100 of 200, y 30 of 150.
    _wait_for_new(page, '#result img', auto_src)
    for _ in range(60):  # The files follow the image.
      hints = json.loads(_download(page, '#json'))
      if hints:
        break
      time.sleep(0.5)
    hinted_png = _download(page, '#png')
    hinted = cv2.imdecode(np.frombuffer(hinted_png, np.uint8),
                          cv2.IMREAD_COLOR)[..., ::-1]
    # The rings of where the model is least sure: the switch (off at
    # first) shows them on a new shown image; the PNG to download never
    # has them.
    plain_src = page.get_attribute('#result img', 'src')
    page.locator('#marks input[type=checkbox]').check()
    _wait_for_new(page, '#result img', plain_src)
    assert _download(page, '#png') == hinted_png
    browser.close()
  assert proc.poll() is None  # The server is still up.
  assert len(hints) == 1 and hints[0]['color'] == BLUE
  assert abs(hints[0]['x'] - 100) <= 3 and abs(hints[0]['y'] - 30) <= 3
  assert hinted.shape == auto.shape == original.shape
  lab_in, lab_hint, lab_auto = _lab(original), _lab(hinted), _lab(auto)
  assert np.abs(lab_hint[..., 0] - lab_in[..., 0]).mean() < 0.5
  region = (slice(15, 45), slice(85, 115))
  a, b = lab_hint[region][..., 1].mean(), lab_hint[region][..., 2].mean()
  hue = np.degrees(np.arctan2(b, a)) % 360
  assert 220 <= hue <= 320 and np.hypot(a, b) > 8, (a, b)  # Blue.
  assert b < lab_auto[region][..., 2].mean() - 5  # Bluer than without.
  # The downloaded hints reproduce the downloaded image from the command
  # line's code path, bit for bit.
  hints_path = tmp_path / 'painting.json'
  hints_path.write_text(json.dumps(hints))
  colorizer = colorize.Colorizer.pretrained(vibrance=1.0)
  assert colorize.run(colorizer, [painting], str(tmp_path / 'out'),
                      hints=str(hints_path)) == 0
  again = cv2.imread(str(tmp_path / 'out' / 'painting.png'))[..., ::-1]
  np.testing.assert_array_equal(again, hinted)


def _rgb(data: bytes) -> np.ndarray:
  return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[
      ..., ::-1]


def _settled(page, selector: str, want, what: str):
  """The download at `selector` once `want(data)` holds (bounded)."""
  for _ in range(240):  # At most 120 s.
    try:
      data = _download(page, selector)
      if want(data):
        return data
    except (OSError, TypeError, ValueError):
      pass  # Not there yet.
    time.sleep(0.5)
  raise AssertionError(f'{what} never came')


def test_two_tabs_and_a_second_upload_keep_their_own_hints(server, tmp_path):
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  url, proc = server
  first = _painting(str(tmp_path / 'first.png'))
  rng = np.random.default_rng(1)
  second = cv2.resize(rng.integers(0, 256, (12, 9, 3), np.uint8), (90, 120),
                      interpolation=cv2.INTER_CUBIC)
  assert cv2.imwrite(str(tmp_path / 'second.png'), second[..., ::-1])
  third = np.full((64, 48, 3), 140, np.uint8)
  assert cv2.imwrite(str(tmp_path / 'third.png'), third)
  with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=CHROMIUM,
                                args=['--no-sandbox'])
    context = browser.new_context(viewport={'width': 1300, 'height': 1000})
    tabs = [context.new_page(), context.new_page()]
    for tab, name in zip(tabs, ['first.png', 'second.png'], strict=True):
      tab.goto(url, timeout=60_000)
      tab.set_input_files('#upload input[type=file]', str(tmp_path / name))
    for tab in tabs:
      _wait_for_new(tab, '#result img', None)
    # Both tabs at once: a blue point on the first; a red stroke of two
    # clicks on the second, its colour picked as a person picks it.
    tabs[1].locator('#stroke input').check()
    tabs[1].locator('#colour button.dialog-button').click()
    tabs[1].locator('#colour .input-wrap input').fill(RED)
    tabs[1].keyboard.press('Enter')
    tabs[1].mouse.click(5, 5)  # Outside the picker: closes it.
    for tab, (fx, fy) in [(tabs[0], (0.5, 0.2)), (tabs[1], (0.2, 0.5))]:
      _click_hints(tab, fx, fy)
    json_of = lambda tab, n: json.loads(_settled(
        tab, '#json', lambda d: len(json.loads(d)) >= n, f'{n} hints'))
    one = json_of(tabs[0], 1)
    json_of(tabs[1], 1)
    _click_hints(tabs[1], 0.8, 0.5)
    stroke = json_of(tabs[1], 3)
    pngs = [_rgb(_settled(tab, '#png', lambda d, s=shape: _rgb(d).shape == s,
                          'the PNG'))
            for tab, shape in [(tabs[0], first.shape), (tabs[1], second.shape)]]
    # A second upload in the first tab while its hint is still colouring:
    # the new painting starts with no hints.
    _click_hints(tabs[0], 0.3, 0.3)
    tabs[0].set_input_files('#upload input[type=file]',
                            str(tmp_path / 'third.png'))
    after = _rgb(_settled(tabs[0], '#png',
                          lambda d: _rgb(d).shape == third.shape,
                          'the third painting'))
    time.sleep(3)  # Long enough for a late edit to land, if one could.
    late_hints = json.loads(_download(tabs[0], '#json'))
    late_png = _rgb(_download(tabs[0], '#png'))
    browser.close()
  assert proc.poll() is None
  assert len(one) == 1 and one[0]['color'] == BLUE
  assert len(stroke) >= 3 and {p['color'] for p in stroke} == {RED}
  assert abs(one[0]['x'] - 100) <= 3 and abs(one[0]['y'] - 30) <= 3
  assert all(abs(p['y'] - 60) <= 3 for p in stroke)  # Its own painting's.
  xs = [p['x'] for p in stroke]
  assert xs == sorted(xs) and xs[0] < 30 and xs[-1] > 60, xs  # Left to right.
  for png, original in zip(pngs, [first, second], strict=True):
    assert png.shape == original.shape
    assert np.abs(_lab(png)[..., 0] - _lab(original)[..., 0]).mean() < 0.5
  assert late_hints == [] and late_png.shape == after.shape == third.shape


def test_the_http_endpoint_colours_as_colorize_and_refuses_in_one_line(
    server, tmp_path):
  from gradio_client import Client  # pylint: disable=g-import-not-at-top
  from gradio_client import handle_file  # pylint: disable=g-import-not-at-top
  url, proc = server
  painting = str(tmp_path / 'painting.png')
  _painting(painting)
  hints = [{'x': 100, 'y': 30, 'color': BLUE, 'radius': 6}]
  client = Client(url, verbose=False)
  got = client.predict(handle_file(painting), json.dumps(hints), 1.0,
                       api_name='/colourise')
  (tmp_path / 'painting.json').write_text(json.dumps(hints))
  colorizer = colorize.Colorizer.pretrained(vibrance=1.0)
  assert colorize.run(colorizer, [painting], str(tmp_path / 'out'),
                      hints=str(tmp_path / 'painting.json')) == 0
  # The file colorize writes, byte for byte.
  with open(got, 'rb') as a, open(tmp_path / 'out' / 'painting.png', 'rb') as b:
    assert a.read() == b.read()
  many = json.dumps([{'x': 1, 'y': 1, 'color': BLUE}] * 20_000)
  for bad, vibrance, message in [
      ('[{"x": 500, "y": 30, "color": "#1f4e9c"}]', 1.0,
       'outside the painting'),
      ('[{"x": 5', 1.0, 'not valid JSON'),
      ('[{"x": 5, "y": 5, "color": "sky"}]', 1.0, 'not an sRGB hex'),
      ('[' * 100_000 + ']' * 100_000, 1.0, 'nested too deeply'),
      ('[{"x": 1' + '0' * 5000 + ', "y": 5, "color": "#1f4e9c"}]', 1.0,
       'not usable JSON'),
      (many, 1.0, '20,000 points, more than 10,000'),
      ('[]', 9.0, 'vibrance 9'), ('[]', 'abc', "vibrance 'abc'"),
      ('[]', '2', "vibrance '2'"), ('[]', [1], r'vibrance \[1\]')]:
    with pytest.raises(Exception, match=message) as info:
      client.predict(handle_file(painting), bad, vibrance,
                     api_name='/colourise')
    assert 'Traceback' not in str(info.value)
  assert proc.poll() is None


def test_every_quick_click_and_undo_counts(server, tmp_path):
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  url, proc = server
  painting = str(tmp_path / 'quick.png')
  _painting(painting)
  count = lambda n: lambda d: len(json.loads(d)) == n
  with sync_playwright() as p:
    browser, page = _open_page(p, url)
    _upload(page, painting)
    _click_hints(page, 0.05, 0.5)
    _settled(page, '#json', count(1), 'the first hint')
    box = page.locator('#hints img').bounding_box()
    for i in range(1, 50):  # 49 more, 25 ms apart, left to right.
      page.mouse.click(box['x'] + box['width'] * (0.05 + 0.018 * i),
                       box['y'] + box['height'] * 0.5)
      page.wait_for_timeout(25)
    fifty = json.loads(_settled(page, '#json', count(50), '50 hints'))
    for _ in range(5):
      page.locator('#undo').click()
      page.wait_for_timeout(25)
    left = json.loads(_settled(page, '#json', count(45), '45 hints'))
    time.sleep(2)  # Nothing more arrives late.
    final = json.loads(_download(page, '#json'))
    browser.close()
  assert proc.poll() is None
  xs = [q['x'] for q in fifty]
  assert xs == sorted(xs) and len(set(xs)) == 50
  assert left == fifty[:45] and final == left


def test_uploads_stay_private_and_go_when_the_page_stops(tmp_path):
  pytest.importorskip('gradio', reason='pip install -e ".[app]"')
  from gradio_client import Client  # pylint: disable=g-import-not-at-top
  from gradio_client import handle_file  # pylint: disable=g-import-not-at-top
  own_tmp = tmp_path / 'tmp'
  own_tmp.mkdir()
  painting = str(tmp_path / 'painting.png')
  _painting(painting)
  with open(tmp_path / 'app.log', 'w') as log:
    url, proc = app.start_server(names.BUNDLED, log=log, timeout_s=120,
                                 env=subprocess_env(TMPDIR=str(own_tmp)))
  try:
    Client(url, verbose=False).predict(handle_file(painting), '[]', 1.0,
                                       api_name='/colourise')
    (root,) = list(own_tmp.glob('colorjax_app_*'))
    written = [root, *root.rglob('*')]
    assert any(p.name == 'painting.png' for p in written)  # The upload.
    assert sum(p.suffix == '.png' for p in written) >= 2  # And the result.
    for path in written:
      mode = stat.S_IMODE(path.stat().st_mode)
      assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
  finally:
    proc.terminate()  # SIGTERM, as a service manager stops it.
    proc.wait(timeout=60)
  assert not list(own_tmp.glob('colorjax_app_*'))


def test_one_render_budget_for_the_whole_server(tmp_path):
  """Uploads, edits and the HTTP endpoint all colour within one shared
  limit (Gradio's concurrency group 'render', 2 at a time); edits are
  applied one at a time."""
  pytest.importorskip('gradio', reason='pip install -e ".[app]"')
  blocks = app.build(colorize.Colorizer.pretrained(), names.BUNDLED,
                     folder=str(tmp_path))
  fns = list(blocks.fns.values())
  groups = {}
  for fn in fns:
    groups.setdefault(fn.concurrency_id, set()).add(fn.concurrency_limit)
  renders = [fn for fn in fns if fn.concurrency_id == 'render']
  # The endpoint, the upload's render and each edit's render: one group.
  assert any(fn.api_name == 'colourise' for fn in renders)
  assert len(renders) >= 3 and groups['render'] == {2}
  assert groups['edit'] == {1}
  # Nothing that colours runs outside it (only quick events do).
  colouring = {'colourise', 'on_render'}
  assert all(fn.concurrency_id == 'render' for fn in fns
             if getattr(fn.fn, '__name__', '') in colouring
             or fn.api_name == 'colourise')


def test_a_vibrance_change_after_a_click_keeps_the_click(server, tmp_path):
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  url, proc = server
  rng = np.random.default_rng(3)
  big = cv2.resize(rng.integers(0, 256, (30, 40, 3), np.uint8), (2400, 1800),
                   interpolation=cv2.INTER_CUBIC)  # 4.3 megapixels.
  painting = str(tmp_path / 'big.png')
  assert cv2.imwrite(painting, big)
  with sync_playwright() as p:
    browser, page = _open_page(p, url)
    _upload(page, painting)
    _click_hints(page, 0.5, 0.5)
    # The vibrance slider moved (0-2: three quarters is 1.5) while the
    # click's render is under way.
    box = page.locator('#vibrance input[type=range]').bounding_box()
    page.mouse.click(box['x'] + box['width'] * 0.75,
                     box['y'] + box['height'] / 2)
    _settled(page, '#json', lambda d: len(json.loads(d)) == 1, 'the hint')
    time.sleep(3)  # Any late render lands by now.
    final = json.loads(_download(page, '#json'))
    command = page.locator('#command textarea, #command input').first
    text = command.input_value()
    browser.close()
  assert proc.poll() is None
  assert len(final) == 1, final
  assert re.search(r'--vibrance=1\.(4|45|5|55|6) ', text), text
