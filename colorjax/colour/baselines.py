"""The answers that need no model, which every score stands beside.

`grey` leaves a, b = 0 (the painting stays grey); `prior` paints every pixel
the training set's mean a, b. Delta-E and the LAB accuracies reward such muted
answers, so a model's figures mean something only next to theirs (and next to
the colourfulness ratio, where both are near 0).
"""

import functools
from typing import Callable, Dict, Optional

import jax
import jax.numpy as jnp
import numpy as np

from colorjax.colour import metrics
from colorjax.colour import spaces
from colorjax.datasets import batching
from colorjax.errors import DataError

__all__ = ['ANSWERS', 'mean_ab', 'per_image', 'score_at_size']

ANSWERS = ('model', 'grey', 'prior')


def mean_ab(images: np.ndarray, ab_scale: float,
            chunk: int = 1024) -> np.ndarray:
  """The mean ab (model range at `ab_scale`) of uint8 images: the
  'constant prior'."""
  to_ab = jax.jit(lambda x: jnp.mean(spaces.rgb_uint8_to_model(x, ab_scale)[1],
                                     axis=(0, 1, 2)) * x.shape[0])
  total = sum(np.asarray(to_ab(images[i:i + chunk]))
              for i in range(0, len(images), chunk))
  return (total / len(images)).astype(np.float32)


def _per_image_scores(batch, ab, ab_scale):
  """`metrics.score_ab` of ab (model range, broadcast to the batch)."""
  l, _ = spaces.rgb_uint8_to_model(batch['rgb'], ab_scale)
  return metrics.score_ab(l, jnp.broadcast_to(ab, l.shape[:-1] + (2,)),
                          batch['rgb'], ab_scale)


@functools.partial(jax.jit, static_argnums=2)
def _score_ab_batch(batch, ab, ab_scale):
  return metrics.masked_sums(_per_image_scores(batch, ab, ab_scale),
                             batch['mask'])


_per_image_batch = jax.jit(_per_image_scores, static_argnums=2)


def score_at_size(images: np.ndarray, predict: Optional[Callable],
                  prior_ab: np.ndarray, batch_size: int,
                  ab_scale: float) -> Dict[str, Dict[str, float]]:
  """Metrics of the model (`predict(rgb) -> ab`, model range at `ab_scale`;
  None: no model) and of the grey and constant-prior answers on uint8
  `images`."""
  answers = {'model': predict, 'grey': lambda rgb: np.zeros(2, np.float32),
             'prior': lambda rgb: prior_ab}
  if predict is None:
    del answers['model']
  out = {}
  for name, answer in answers.items():
    sums = []
    for b in batching.padded_batches(images, batch_size):
      ab = answer(b['rgb'])
      if not np.isfinite(np.asarray(ab)).all():
        raise DataError(f'the {name}\'s colours are not finite (NaN or Inf): '
                        'its weights are broken; no score is given.')
      sums.append(_score_ab_batch(b, ab, ab_scale))
    out[name] = metrics.summarize(sums)
  return out


def per_image(images: np.ndarray, predict: Optional[Callable],
              prior_ab: Optional[np.ndarray] = None, batch_size: int = 32,
              *, ab_scale: float) -> Dict[str, np.ndarray]:
  """Per-image metrics (`metrics.score_ab`) of `predict(rgb) -> ab` (model
  range at `ab_scale`) on uint8 `images`, or of the constant `prior_ab` if
  `predict` is None: {metric: (N,)}, in image order."""
  out = []
  for b in batching.padded_batches(images, batch_size):
    ab = prior_ab if predict is None else predict(b['rgb'])
    scores = jax.device_get(_per_image_batch(b, ab, ab_scale))
    keep = np.asarray(b['mask']) > 0
    out.append({k: np.asarray(v)[keep] for k, v in scores.items()})
  return {k: np.concatenate([o[k] for o in out]) for k in out[0]}
