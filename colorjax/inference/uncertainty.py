"""Where a model is least sure of its colours, so a person sees where a
click would help most.

The measure is the spread of the model's answer under small changes of its
input that should not change the colours: the painting mirrored, and moved
by one working pixel down or right (each answer moved back). Where the six
answers disagree, the model is guessing; where they agree, a click adds
little. `spread` takes any batched answer (a hint model with its hints);
`peaks` picks the places to mark, the largest blurred values apart from
each other.
"""

from typing import Callable, List, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['peaks', 'spread', 'VARIANTS']

# (mirrored, down, right): the original first.
VARIANTS: Tuple[Tuple[bool, int, int], ...] = (
    (False, 0, 0), (False, 1, 0), (False, 0, 1),
    (True, 0, 0), (True, 1, 0), (True, 0, 1))

# (l (B, H, W, 1), hint_ab (B, H, W, 2), mask (B, H, W, 1)) -> ab (B, H, W, 2).
Predict = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _move(x: np.ndarray, mirrored: bool, down: int, right: int
          ) -> np.ndarray:
  """(B, H, W, C) mirrored left-right, then moved down / right by whole
  pixels, the edge repeated into the gap."""
  if mirrored:
    x = x[:, :, ::-1]
  h, w = x.shape[1:3]
  return np.pad(x, ((0, 0), (down, 0), (right, 0), (0, 0)),
                mode='edge')[:, :h, :w]


def _move_back(x: np.ndarray, mirrored: bool, down: int, right: int
               ) -> np.ndarray:
  """`_move`'s inverse (the moved-out edge repeated back in)."""
  h, w = x.shape[1:3]
  x = np.pad(x[:, down:, right:], ((0, 0), (0, down), (0, right), (0, 0)),
             mode='edge')[:, :h, :w]
  return x[:, :, ::-1] if mirrored else x


def spread(predict: Predict, l: np.ndarray, hint_ab: np.ndarray,
           mask: np.ndarray) -> np.ndarray:
  """(B, H, W) how far the answers under `VARIANTS` lie from their mean a, b
  (root mean square, in the answer's units), for a batch of inputs.

  Args:
    predict: the model's answer for a batch (model-range L, hint a, b and
      mask); called once per variant.
    l: (B, H, W, 1) model-range lightness.
    hint_ab: (B, H, W, 2) hint a, b (zeros: none).
    mask: (B, H, W, 1) where hints are given.
  """
  answers = []
  for v in VARIANTS:
    ab = predict(_move(l, *v), _move(hint_ab, *v), _move(mask, *v))
    answers.append(_move_back(np.asarray(ab, np.float32), *v))
  answers = np.stack(answers)
  centred = answers - answers.mean(axis=0, keepdims=True)
  return np.sqrt(np.mean(np.sum(np.square(centred), -1), axis=0))


def peaks(score: np.ndarray, count: int, min_gap: float,
          blur_sigma: float = 1.0,
          earlier: Sequence[Tuple[int, int]] = ()) -> List[Tuple[int, int]]:
  """Up to `count` (y, x) where the blurred `score` (H, W) is largest, each
  more than `min_gap` pixels from the others and from `earlier` points."""
  blurred = (cv2.GaussianBlur(np.asarray(score, np.float32), (0, 0),
                              blur_sigma)
             if blur_sigma > 0 else np.asarray(score, np.float32))
  yy, xx = np.mgrid[:score.shape[0], :score.shape[1]]
  allowed = np.ones(score.shape, bool)
  out: List[Tuple[int, int]] = []
  for y, x in earlier:
    allowed &= (yy - y) ** 2 + (xx - x) ** 2 > min_gap ** 2
  for _ in range(count):
    if not allowed.any():
      break
    flat = np.where(allowed, blurred, -np.inf).argmax()
    y, x = (int(v) for v in np.unravel_index(flat, score.shape))
    out.append((y, x))
    allowed &= (yy - y) ** 2 + (xx - x) ** 2 > min_gap ** 2
  return out
