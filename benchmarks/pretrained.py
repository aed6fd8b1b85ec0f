"""The bundled model from a cold start: seconds to the first 1-megapixel
painting, and per painting after, beside the same for a training run.

  python benchmarks/pretrained.py [--workdir=DIR] [--size=1024] [--repeats=5]

Each model is timed in a fresh Python process (a cold start: imports, loading
the weights, compiling or reading the compiled programs from colorjax's
cache as `colorize` does, the first painting), which then colours --repeats
more paintings of --size x --size; medians over --runs processes and the
repeats. The first process of all fills the cache (COLORJAX_CACHE_DIR, in
a temporary folder here): its time is printed apart. With --workdir, a
training run's model is timed the same way beside it (its orbax checkpoint
instead of the flat file).
"""

import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

flags.DEFINE_string('workdir', None, 'A training run to time beside it.')
flags.DEFINE_integer('size', 1024, 'Side of the square test painting.')
flags.DEFINE_integer('repeats', 5, 'Paintings after the first, per process.')
flags.DEFINE_integer('runs', 3, 'Cold starts per model.')
FLAGS = flags.FLAGS

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')

# One cold start: everything after the interpreter starts.
_CHILD = r'''
import json, sys, time
start = time.perf_counter()
import numpy as np
from colorjax import names, runtime
from colorjax.inference.colorizer import Colorizer
runtime.setup()
runtime.for_users()  # As colorize and the page: the compilation cache on.
workdir, size, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
colorizer = Colorizer.from_workdir(workdir)
loaded = time.perf_counter() - start
image = np.random.default_rng(0).integers(0, 256, (size, size), np.uint8)
colorizer.colorize(image)
first = time.perf_counter() - start
after = []
for _ in range(repeats):
  t = time.perf_counter()
  colorizer.colorize(image)
  after.append(time.perf_counter() - t)
print(json.dumps({'loaded': loaded, 'first': first, 'after': after}))
'''


def _cold(workdir: str, cache: str):
  env = dict(os.environ, JAX_PLATFORMS=os.environ.get('JAX_PLATFORMS', 'cpu'),
             TF_CPP_MIN_LOG_LEVEL='3', COLORJAX_CACHE_DIR=cache)
  out = subprocess.run([sys.executable, '-c', _CHILD, workdir,
                        str(FLAGS.size), str(FLAGS.repeats)],
                       capture_output=True, text=True, cwd=ROOT, env=env,
                       check=True, timeout=600)
  return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv):
  del argv
  from colorjax import names  # pylint: disable=g-import-not-at-top
  models = [('bundled model', names.BUNDLED)]
  if FLAGS.workdir:
    models.append(('training run', FLAGS.workdir))
  print(f'# python benchmarks/pretrained.py {" ".join(sys.argv[1:])}')
  print(f'# {os.cpu_count()} CPU cores, {time.strftime("%Y-%m-%d")}')
  print(f'| model | cold start to the first {FLAGS.size}x{FLAGS.size} '
        'painting (s) | of which loading (s) | each painting after (s) | '
        'the very first start, compiling (s) |')
  print('|---|---|---|---|---|')
  for label, workdir in models:
    with tempfile.TemporaryDirectory() as cache:
      empty = _cold(workdir, cache)
      runs = [_cold(workdir, cache) for _ in range(FLAGS.runs)]
    print(f'| {label} | {np.median([r["first"] for r in runs]):.2f} | '
          f'{np.median([r["loaded"] for r in runs]):.2f} | '
          f'{np.median([t for r in runs for t in r["after"]]):.3f} | '
          f'{empty["first"]:.2f} |', flush=True)


if __name__ == '__main__':
  app.run(main)
