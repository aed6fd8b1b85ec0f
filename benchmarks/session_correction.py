"""Does correcting the hint model's answer after it help a clicking session?

  python benchmarks/session_correction.py [--workdir=colorjax:hints]
      [--num=40] [--clicks=10] [--reaches=0,0.1,0.25] [--blends=0.5,0.8]
      [--sigma=0,5]

On the first `--num` paintings of the run's validation split, the simulated
person of `colorjax evaluate --session` (`colorjax.evaluation.session`)
clicks where the current answer is most wrong, for each of:

* the hint model;
* Levin et al.'s propagation of the same clicks;
* `corrected R`: the hint model's answer plus what it still misses at the
  clicks (each click's colour minus the model's answer there), spread over
  the painting by Levin et al.'s affinities and fading over R of its longer
  side (`propagation.levin(..., reach=R)`; R = 0: not fading, Levin et
  al.'s own system);
* `blended B`: the hint model's answer moved toward Levin et al.'s by B
  times the clicks' confidence there (`propagation.propagate_local`,
  fading over a tenth of the longer side): Levin et al. near the clicks,
  the model away from them.

Prints the session tables with the model's paired gap to each, and the
command and the machine.
"""

import os
import platform
import sys
import time

from absl import app
from absl import flags
import jax
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from colorjax.evaluation import evaluate  # noqa: E402
from colorjax.evaluation import hint_eval  # noqa: E402
from colorjax.evaluation import session  # noqa: E402
from colorjax.evaluation import session_eval  # noqa: E402
from colorjax.hints import propagation  # noqa: E402
from colorjax.inference import runs  # noqa: E402

flags.DEFINE_string('workdir', 'colorjax:hints', 'A hint run.')
flags.DEFINE_integer('num', 40, 'Paintings of the validation split.')
flags.DEFINE_integer('clicks', 10, 'Clicks of each session.')
flags.DEFINE_list('reaches', ['0', '0.1', '0.25'],
                  'Fading lengths of the correction (0: none).')
flags.DEFINE_list('blends', ['0.5', '0.8'],
                  'How far to move toward Levin et al. near the clicks.')
flags.DEFINE_list('sigma', ['0', '5'], "The person's colour errors.")
FLAGS = flags.FLAGS


def corrected(model, reach: float):
  """The model's answer plus its residual at the hints, propagated."""
  def answer(l, h, m):
    ab = model(l, h, m)
    if not m.any():
      return ab
    return ab + propagation.levin(l, (h - ab) * m, m,
                                  np.zeros(2, np.float32), reach)
  return answer


def blended(model, levin, weight: float, reach: float = 0.1):
  """The model's answer moved toward Levin et al.'s where the clicks reach."""
  confidence = jax.jit(lambda l, h, m: propagation.propagate_local(
      l, h, m, np.zeros(2, np.float32), reach, 150)[1])

  def answer(l, h, m):
    ab = model(l, h, m)
    if not m.any():
      return ab
    c = np.asarray(confidence(l[None], h[None], m[None]))[0]
    return ab + weight * c * (levin(l, h, m) - ab)
  return answer


def main(argv):
  del argv
  config, _, state = runs.load_run(FLAGS.workdir, None)
  vibrance = evaluate.recipe_vibrance(config, None)
  images = evaluate.load_images(config, config.dataset,
                                'validation')[:FLAGS.num]
  methods = session_eval.answers(config, state, vibrance)
  model, levin = methods[hint_eval.HINT_MODEL], methods[hint_eval.LEVIN]
  for reach in FLAGS.reaches:
    methods[f'corrected {float(reach):g}'] = corrected(model, float(reach))
  for weight in FLAGS.blends:
    methods[f'blended {float(weight):g}'] = blended(model, levin,
                                                    float(weight))
  persons = [session.Person(clicks=FLAGS.clicks, colour_sigma=float(s))
             for s in FLAGS.sigma]
  counts = [n for n in (0, 1, 2, 5, 10, 20) if n <= FLAGS.clicks]
  start = time.perf_counter()
  results = session.score(images, methods, persons, config.ab_scale, counts)
  print(session.table(results))
  print(f'# {len(images)} paintings at {config.image_size} px, '
        f'{time.perf_counter() - start:.0f} s; python '
        f'benchmarks/session_correction.py {" ".join(sys.argv[1:])}; '
        f'{platform.processor() or platform.machine()}, {os.cpu_count()} '
        f'CPUs, {time.strftime("%Y-%m-%d")}')


if __name__ == '__main__':
  app.run(main)
