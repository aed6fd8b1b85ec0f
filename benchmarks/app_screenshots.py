"""The README's screenshots of the colouring page, taken in headless Chromium.

  python benchmarks/app_screenshots.py --workdir=workdirs/hints_cpu \
      --painting=../shared/data/paintings/shishkin_rye.jpg --output=docs

Starts the page (`python -m colorjax.app`) on a free local port, uploads the
painting and saves `app_before.jpg` (its automatic colours); then paints a
blue stroke across the sky, a yellow one across the field and a green point
on a tree, as a person would with the colour picker and the Stroke box, and
saves `app_after.jpg`. Needs Playwright and Debian's `chromium`.
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
from colorjax import app  # noqa: E402

flags.DEFINE_string('workdir', None, 'A hint model\'s run.', required=True)
flags.DEFINE_string('painting', None, 'The painting to show.', required=True)
flags.DEFINE_string('output', 'docs', 'Folder for the two JPEGs.')
FLAGS = flags.FLAGS

# (colour, clicks as fractions of the painting's width and height): a
# stroke when there are several clicks. Where they go suits Shishkin's Rye.
HINTS = [('#5b84c4', [(0.05, 0.12), (0.35, 0.1), (0.62, 0.14), (0.95, 0.2)]),
         ('#d9b24a', [(0.05, 0.72), (0.5, 0.7), (0.95, 0.74)]),
         ('#3f5a2a', [(0.78, 0.3)])]


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
  url, server = app.start_server(FLAGS.workdir)
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
      for colour, clicks in HINTS:
        page.locator('#colour button.dialog-button').click()
        page.locator('#colour .input-wrap input').fill(colour)
        page.keyboard.press('Enter')
        page.mouse.click(5, 5)  # Outside the picker: closes it.
        page.wait_for_timeout(300)
        # A stroke's first click is a point of its own; the next ones join.
        page.locator('#stroke input').uncheck()
        for fx, fy in clicks:
          box = page.locator('#hints img').bounding_box()
          page.locator('#hints img').click(
              position={'x': box['width'] * fx, 'y': box['height'] * fy})
          src = _wait_for_new(page, src)
          page.locator('#stroke input').check()
      _shoot(page, os.path.join(FLAGS.output, 'app_after.jpg'))
      browser.close()
  finally:
    server.terminate()
    server.wait(timeout=30)


if __name__ == '__main__':
  absl_app.run(main)
