"""Peak memory of `colorize` (or `evaluate --full_res`) per megapixel.

  python benchmarks/colorize_memory.py --workdir=DIR [--megapixels=1,4,16]
      [--tool=colorize|evaluate]

Runs `colorjax colorize` (or `colorjax evaluate
--full_res --hints=0,1` on a folder holding just that painting) once per
size, each in its own process, on a square painting of that many
megapixels, and prints the peak resident memory (the process's maxrss), the
part above a 0.1-megapixel painting's (start-up, JAX and the model), and
that part per megapixel. Full-resolution scoring should need no more than
colouring the same painting.
"""

import os
import subprocess
import sys
import tempfile

from absl import app
from absl import flags
import cv2
import numpy as np

flags.DEFINE_string('workdir', None, 'A trained run.', required=True)
flags.DEFINE_list('megapixels', ['1', '4', '16'], 'Painting sizes.')
flags.DEFINE_enum('tool', 'colorize', ['colorize', 'evaluate'], 'What to run.')
FLAGS = flags.FLAGS


def _peak_mb(workdir: str, megapixels: float, folder: str) -> float:
  side = int(round((megapixels * 1e6) ** 0.5))
  rng = np.random.default_rng(0)
  picture = cv2.resize(rng.integers(0, 256, (64, 64, 3), np.uint8),
                       (side, side), interpolation=cv2.INTER_CUBIC)
  images = os.path.join(folder, f'mp{megapixels:g}')
  os.makedirs(images, exist_ok=True)
  path = os.path.join(images, f'p{side}.png')
  cv2.imwrite(path, picture)
  code = ('import resource, runpy, sys\n'
          f'sys.argv = ["colorjax", "{FLAGS.tool}"] + sys.argv[1:]\n'
          'try:\n'
          '  runpy.run_module("colorjax", run_name="__main__")\n'
          'finally:\n'
          '  print("maxrss_kb", resource.getrusage(resource.RUSAGE_SELF)'
          '.ru_maxrss, file=sys.stderr)\n')
  if FLAGS.tool == 'colorize':
    args = [f'--output={os.path.join(folder, "out")}', '--overwrite', path]
  else:
    args = [f'--dataset={images}', '--split=all', '--full_res',
            '--hints=0,1', f'--output={os.path.join(folder, "e.json")}']
  result = subprocess.run(
      [sys.executable, '-c', code, f'--workdir={workdir}'] + args,
      capture_output=True, text=True, check=False)
  lines = [l for l in result.stderr.splitlines() if l.startswith('maxrss_kb')]
  if result.returncode or not lines:
    raise SystemExit(f'{FLAGS.tool} failed at {megapixels} MP:\n'
                     f'{result.stderr[-2000:]}')
  return int(lines[-1].split()[1]) / 1024


def main(argv):
  del argv
  with tempfile.TemporaryDirectory() as folder:
    base = _peak_mb(FLAGS.workdir, 0.1, folder)
    print(f'python benchmarks/colorize_memory.py --workdir={FLAGS.workdir} '
          f'--tool={FLAGS.tool}')
    print(f'0.1 MP painting: peak {base:.0f} MB (start-up, JAX, the model)')
    for mp in FLAGS.megapixels:
      peak = _peak_mb(FLAGS.workdir, float(mp), folder)
      print(f'{float(mp):g} MP painting: peak {peak:.0f} MB, '
            f'{peak - base:.0f} MB above the small one, '
            f'{(peak - base) / float(mp):.0f} MB per megapixel')


if __name__ == '__main__':
  app.run(main)
