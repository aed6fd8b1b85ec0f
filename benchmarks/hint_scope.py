"""One colour for the whole painting against one local click, and nothing.

  python benchmarks/hint_scope.py [--dataset=DIR] [--num=30] [--size=128]
      [--sigma=0,5] [--workdir=colorjax:hints]

For each painting (the first `--num` files by name of `--dataset`, their
longer side shrunk to `--size`), through `Colorizer.colorize`:

* `nothing`: automatic;
* `local click`: one hint of radius size/32 on the most colourful patch
  (the largest chroma of the blurred true a, b), its true mean colour;
* `painting tone`: one hint at the centre, `"scope": "painting"`, whose
  colour is the painting's true mean a, b;

each colour off by a Gaussian error of `--sigma` a, b units per channel
(seed 0, the same error for both hints of a painting), beside `grey` and
`prior` (the model's training mean colour). Prints mean Delta-E00 and the
colourfulness ratio of each, with the command and the machine.
"""

import os
import platform
import sys
import time

from absl import app
from absl import flags
import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from colorjax import names  # noqa: E402
from colorjax.colour import metrics  # noqa: E402
from colorjax.colour import spaces  # noqa: E402
from colorjax.datasets import image_io  # noqa: E402
from colorjax.datasets import sources  # noqa: E402
from colorjax.inference import runs  # noqa: E402
from colorjax.inference.colorizer import Colorizer  # noqa: E402

flags.DEFINE_string('dataset', os.path.join(
    os.path.dirname(__file__), '..', '..', 'shared', 'data', 'paintings'),
                    'A folder of colour paintings.')
flags.DEFINE_integer('num', 30, 'Paintings (the first, by name).')
flags.DEFINE_integer('size', 128, 'Their longer side, in pixels.')
flags.DEFINE_list('sigma', ['0', '5'], 'Colour errors (a, b units).')
flags.DEFINE_string('workdir', names.BUNDLED, 'A hint model.')
FLAGS = flags.FLAGS


def _scores(out: np.ndarray, rgb: np.ndarray):
  pred = spaces.rgb_to_lab(out / 255.0)
  true = spaces.rgb_to_lab(rgb / 255.0)
  de = float(np.mean(metrics.delta_e_ciede2000(pred, true)))
  cf_true = float(metrics.colourfulness(rgb[None] / 255.0)[0])
  cf = float(metrics.colourfulness(out[None] / 255.0)[0])
  return de, cf / max(cf_true, 1e-6)


def main(argv):
  del argv
  colorizer = Colorizer.from_workdir(FLAGS.workdir)
  # The training set's mean a, b (model range in the run's records).
  prior = np.asarray(runs.read_data_stats(FLAGS.workdir)['mean_ab'],
                     np.float32) * colorizer.ab_scale
  paths = sorted(sources.list_images(FLAGS.dataset))[:FLAGS.num]
  rows = {}
  start = time.time()
  for sigma in [float(s) for s in FLAGS.sigma]:
    rng = np.random.default_rng(0)
    scores = {k: [] for k in ('grey', 'prior', 'nothing', 'local click',
                              'painting tone')}
    for path in paths:
      rgb = image_io.to_uint8(image_io.read_image(path))
      h, w = rgb.shape[:2]
      scale = FLAGS.size / max(h, w)
      rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA)
      h, w = rgb.shape[:2]
      ab = np.asarray(spaces.rgb_to_lab(rgb / 255.0))[..., 1:]
      blurred = cv2.GaussianBlur(ab, (0, 0), max(1.0, FLAGS.size / 64))
      y, x = np.unravel_index(np.hypot(blurred[..., 0],
                                       blurred[..., 1]).argmax(), (h, w))
      r = max(1, FLAGS.size // 32)
      error = rng.normal(0.0, sigma, 2)
      local = blurred[y, x] + error
      tone = ab.reshape(-1, 2).mean(0) + error
      grey = Colorizer.constant(rgb, np.zeros(2))
      answers = {
          'grey': grey,
          'prior': Colorizer.constant(rgb, prior),
          'nothing': colorizer.colorize(rgb),
          'local click': colorizer.colorize(rgb, [
              {'x': int(x), 'y': int(y), 'radius': r,
               'ab': [float(v) for v in np.clip(local, -128, 128)]}]),
          'painting tone': colorizer.colorize(rgb, [
              {'x': w // 2, 'y': h // 2, 'radius': r, 'scope': 'painting',
               'ab': [float(v) for v in np.clip(tone, -128, 128)]}]),
      }
      for k, out in answers.items():
        scores[k].append(_scores(out, rgb))
    rows[sigma] = {k: np.mean(v, axis=0) for k, v in scores.items()}
  print(f'# python benchmarks/hint_scope.py --num={FLAGS.num} '
        f'--size={FLAGS.size} --sigma={",".join(FLAGS.sigma)} '
        f'({len(paths)} paintings of '
        f'{os.path.normpath(os.path.abspath(FLAGS.dataset))}; '
        f'{platform.machine()}, '
        f'{os.cpu_count()} CPUs, {time.strftime("%Y-%m-%d")}, '
        f'{time.time() - start:.0f} s)')
  print('| colour error | answer | Delta-E00 | colourfulness ratio |')
  print('|---|---|---|---|')
  for sigma, by in rows.items():
    for k, (de, cf) in by.items():
      print(f'| {sigma:g} | {k} | {de:.2f} | {cf:.2f} |')


if __name__ == '__main__':
  app.run(main)
