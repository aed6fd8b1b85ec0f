"""The README's screenshots of the colouring page, taken in headless Chromium.

  python benchmarks/app_screenshots.py [--workdir=W] [--output=docs] \
      [--painting=colorjax/data/shishkin_rye.jpg]

Starts the page (`colorjax page`, the bundled model unless
--workdir) on a free local port, uploads the painting and saves
`app_before.jpg` (its automatic colours); then, as a person would with the
colour picker, a first click of blue on the sky (`app_sky.jpg`: what the
first click does, and leaves alone) and a second of yellow on the field
(`app_after.jpg`). Needs Playwright and Debian's `chromium`.
"""

import os
import shutil
import sys
import time

from absl import app as absl_app
from absl import flags
import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from colorjax.page import app  # noqa: E402

flags.DEFINE_string('workdir', None, 'A hint model\'s run (default: the '
                    'bundled model).')
flags.DEFINE_string('painting', os.path.join(
    os.path.dirname(__file__), '..', 'colorjax', 'data', 'shishkin_rye.jpg'),
                    'The painting to show.')
flags.DEFINE_string('output', 'docs', 'Folder for the two JPEGs.')
FLAGS = flags.FLAGS

# (colour, click as fractions of the painting's width and height, the
# screenshot after it). Where they go suits Shishkin's Rye: its sky, then its
# field.
HINTS = [('#6a8fc8', (0.2, 0.12), 'app_sky.jpg'),
         ('#d8b45a', (0.5, 0.75), 'app_after.jpg')]


def _wait_for_new(page, old) -> str:
  for _ in range(240):  # At most 120 s.
    src = page.get_attribute('#result img', 'src')
    if src and src != old:
      return src
    time.sleep(0.5)
  raise SystemExit('the page did not update in 2 minutes')


def _shoot(page, path: str) -> None:
  png = page.screenshot(full_page=True)
  img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
  ok, jpg = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 85])
  assert ok
  with open(path, 'wb') as f:
    f.write(jpg.tobytes())
  print(f'wrote {path}')


def main(argv):
  del argv
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  chromium = shutil.which('chromium') or shutil.which('chromium-browser')
  if not chromium:
    raise SystemExit('no chromium: apt-get install -y chromium')
  from colorjax import names  # pylint: disable=g-import-not-at-top
  url, server = app.start_server(FLAGS.workdir or names.BUNDLED)
  try:
    with sync_playwright() as p:
      browser = p.chromium.launch(executable_path=chromium,
                                  args=['--no-sandbox'])
      page = browser.new_page(viewport={'width': 1100, 'height': 900})
      page.goto(url, timeout=60_000)
      page.set_input_files('#upload input[type=file]',
                           os.path.abspath(FLAGS.painting))
      src = _wait_for_new(page, None)
      _shoot(page, os.path.join(FLAGS.output, 'app_before.jpg'))
      for colour, (fx, fy), name in HINTS:
        page.locator('#colour button.dialog-button').click()
        page.locator('#colour .input-wrap input').fill(colour)
        page.keyboard.press('Enter')
        page.mouse.click(5, 5)  # Outside the picker: closes it.
        page.wait_for_timeout(300)
        box = page.locator('#hints img').bounding_box()
        page.locator('#hints img').click(
            position={'x': box['width'] * fx, 'y': box['height'] * fy})
        src = _wait_for_new(page, src)
        _shoot(page, os.path.join(FLAGS.output, name))
      browser.close()
  finally:
    server.terminate()
    server.wait(timeout=30)


if __name__ == '__main__':
  absl_app.run(main)
