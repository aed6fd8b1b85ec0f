"""Seconds per update of the colouring page, without the browser.

  python benchmarks/app.py --workdir=DIR [--megapixels=1] [--work_size=N]

One update is what the page does after each click: the preview with the
hints drawn (on the greyscale made once at the upload), the full-resolution
colourisation with those hints, and the PNG encoding of the download.
Prints the median and 90th percentile over --repeats updates (each with one
more hint) after a compiling first one.
"""

import os
import sys
import time

from absl import app as absl_app
from absl import flags
import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from colorjax import app  # noqa: E402
from colorjax import colorize  # noqa: E402
from colorjax import runtime  # noqa: E402

flags.DEFINE_string('workdir', None, 'A trained run.', required=True)
flags.DEFINE_float('megapixels', 1.0, 'Painting size.')
flags.DEFINE_integer('work_size', None, 'Working size (default: trained).')
flags.DEFINE_integer('repeats', 10, 'Timed updates.')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  runtime.setup()
  colorizer = colorize.Colorizer.from_workdir(FLAGS.workdir,
                                              work_size=FLAGS.work_size)
  side = int(round((FLAGS.megapixels * 1e6) ** 0.5))
  rng = np.random.default_rng(0)
  rgb = cv2.resize(rng.integers(0, 256, (48, 48, 3), np.uint8), (side, side),
                   interpolation=cv2.INTER_CUBIC)
  grey, scale = app.grey_preview(rgb)  # Once per upload.
  points, times = [], []
  for i in range(FLAGS.repeats + 1):
    if colorizer.takes_hints:
      points = app.add_point(points, rng.integers(side), rng.integers(side),
                             '#1f4e9c', 8, (side, side))
    start = time.perf_counter()
    app.preview(grey, scale, points)
    out = app.colourise(colorizer, rgb, points, 1.0)
    cv2.imencode('.png', out[..., ::-1])
    if i:  # The first compiles.
      times.append(time.perf_counter() - start)
  print(f'python benchmarks/app.py --workdir={FLAGS.workdir} '
        f'--megapixels={FLAGS.megapixels:g} (work size '
        f'{colorizer.work_size}): median {np.median(times):.3f} s, p90 '
        f'{np.percentile(times, 90):.3f} s per update over {len(times)}')


if __name__ == '__main__':
  absl_app.run(main)
