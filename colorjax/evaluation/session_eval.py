"""A run's hint model scored in simulated correcting sessions (`evaluate
--session`): the model, Levin et al.'s propagation of the same clicks and
the model with its gate off, each through `colorjax.evaluation.session`,
and the model again with a person who clicks where it is unsure or at
random (`--session_guide`)."""

import dataclasses
import os
from typing import Any, Dict, Optional, Tuple

import jax
import ml_collections
import numpy as np

from colorjax import files
from colorjax.datasets import image_io
from colorjax.evaluation import hint_eval
from colorjax.evaluation import session
from colorjax.hints import propagation as hints_lib
from colorjax.inference import uncertainty
from colorjax.training import steps

__all__ = ['answers', 'GUIDE_NAMES', 'score_run', 'Settings', 'strip_path']

# How the report names a session guide's person.
GUIDE_NAMES = {'unsure': 'where unsure', 'random': 'at random'}


@dataclasses.dataclass(frozen=True)
class Settings:
  """A session's settings (`evaluate`'s --session flags).

  Attributes:
    clicks: the clicks of each session.
    sigmas: the person's colour errors (a, b units per channel), one
      person each.
    radius: the patch a click reveals and hints (radius, pixels).
    seed: the persons' seed (their colour errors).
    guides: where the person clicks (`session.GUIDES`): every method with
      'error'; the hint model also with each other guide named.
    plot: write the curves there (.png) and, beside it (`strip_path`), the
      first painting after 0, 1, 2, 5 and 10 clicks of the hint model.
  """
  clicks: int
  sigmas: Tuple[float, ...] = (0.0, 5.0)
  radius: int = 1
  seed: int = 0
  guides: Tuple[str, ...] = ('error',)
  plot: Optional[str] = None


def strip_path(session_plot: str) -> str:
  """Where `--session_plot=X.png` puts its strip: X_strip.png."""
  return os.path.splitext(session_plot)[0] + '_strip.png'


def _answers(config: ml_collections.ConfigDict, state: Any,
             vibrance: float):
  """({hint model, Levin et al.}: `session.Answer`), the model's answer for
  any state, and the jitted (state, L, hints, mask) -> a, b it calls."""
  predict = jax.jit(lambda st, l, h, m: steps.predict_ab(st, l, h, m)
                    * vibrance)

  def answer_of(st):
    return lambda l, h, m: np.asarray(predict(st, l[None], h[None],
                                              m[None]))[0]

  prior = np.asarray(config.hints.prior_ab, np.float32)
  return ({hint_eval.HINT_MODEL: answer_of(state),
           hint_eval.LEVIN: lambda l, h, m: hints_lib.levin(l, h, m, prior)},
          answer_of, predict)


def answers(config: ml_collections.ConfigDict, state: Any, vibrance: float
            ) -> Dict[str, session.Answer]:
  """The hint model (`state`, trained with `config`; its a, b times
  `vibrance`) and Levin et al.'s propagation, as the session's answers."""
  return _answers(config, state, vibrance)[0]


def score_run(config: ml_collections.ConfigDict, state: Any,
              images: np.ndarray, vibrance: float, settings: Settings
              ) -> Dict[str, object]:
  """`evaluate --session`: a run's hint model (`state`, trained with
  `config`; its a, b times `vibrance`), Levin et al.'s propagation and the
  model with its gate off, each through the same simulated sessions on
  uint8 `images` (B, H, W, 3); with other guides, the model again with
  persons who click by them."""
  methods, answer_of, predict = _answers(config, state, vibrance)
  if not config.hints.learned_gate and config.hints.gate[0] > 0:
    ungated = state.g.apply_fn.__self__.clone(gate=(0.0, 0.0, 1.0))
    methods['hint model, ungated'] = answer_of(
        state.replace(g=state.g.replace(apply_fn=ungated.apply)))
  persons = [session.Person(clicks=settings.clicks, colour_sigma=s,
                            radius=settings.radius,
                            seed=settings.seed)
             for s in settings.sigmas]
  counts = [n for n in (0, 1, 2, 5, 10, 20, 50, 100)
            if n <= settings.clicks]
  kept = {}
  out = {'clicks': settings.clicks, 'radius': settings.radius,
         'results': session.score(images, methods, persons, config.ab_scale,
                                  counts, kept)}
  model = methods[hint_eval.HINT_MODEL]

  def unsure(l, h, m):
    return uncertainty.spread(
        lambda *x: np.asarray(predict(state, *x)), l[None], h[None],
        m[None])[0]

  for guide in settings.guides:
    if guide == 'error':
      continue
    for person in persons:
      guided = dataclasses.replace(person, guide=guide)
      own = [session.run(rgb, model, guided, config.ab_scale, i,
                         unsure=unsure) for i, rgb in enumerate(images)]
      key = f'sigma {person.colour_sigma:g}'
      summary = session.summarize(own, counts)
      summary['first_minus_this'] = session.gap(
          kept[key][hint_eval.HINT_MODEL], own, counts)
      out['results'][key][
          f'{hint_eval.HINT_MODEL}, clicks {GUIDE_NAMES[guide]}'] = summary
  if settings.plot:
    session.plot(out['results'], settings.plot,
                 f'colorjax evaluate --session={settings.clicks} '
                 f'({len(images)} paintings, {config.image_size} px)')
    first = session.run(images[0], methods[hint_eval.HINT_MODEL], persons[0],
                        config.ab_scale, 0,
                        keep=[n for n in (0, 1, 2, 5, 10)
                              if n <= settings.clicks])
    files.write_atomically(
        strip_path(settings.plot),
        image_io.encode_png(session.strip(images[0], first, config.ab_scale)))
    out['figures'] = [settings.plot,
                      strip_path(settings.plot)]
  return out
