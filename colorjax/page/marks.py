"""The page's marks of where the model is least sure of its colours: rings
on the shown result (`colorjax.inference.uncertainty`), behind a switch
that is off by default: in the simulated session a person who clicked at
them did worse than one who clicked where the result looked wrong, and
than one who clicked at random (docs/hints.md#where-the-model-is-unsure).
Only the shown image carries them; the PNG to download is the
colourisation alone."""

from typing import List, Sequence, Tuple

import cv2
import numpy as np

from colorjax.inference import uncertainty
from colorjax.inference.colorizer import Colorizer

__all__ = ['COUNT', 'draw', 'find']

COUNT = 3  # Rings after each render.
_GRID = 32  # The peaks are found on the map shrunk to this longer side.

Mark = Tuple[float, float, float]  # (y, x, radius) in painting pixels.


def find(colorizer: Colorizer, rgb: np.ndarray, points: Sequence[dict],
         vibrance: float, count: int = COUNT) -> List[Mark]:
  """Up to `count` places where the model is least sure of `rgb`'s colours
  with these hints: the peaks of `Colorizer.unsure`, apart from each other
  and from the hints, each with the radius of an eighth of the longer
  side."""
  v = colorizer.with_vibrance(vibrance)
  score = v.unsure(rgb, list(points) if colorizer.takes_hints else None)
  h, w = score.shape
  s = _GRID / max(h, w)
  small = cv2.resize(score, (max(1, round(w * s)), max(1, round(h * s))),
                     interpolation=cv2.INTER_AREA)
  earlier = [(p['y'] * s, p['x'] * s) for p in points]
  found = uncertainty.peaks(small, count, min_gap=_GRID / 8, blur_sigma=1.0,
                            earlier=earlier)
  radius = max(h, w) / 16
  return [((y + 0.5) / s, (x + 0.5) / s, radius) for y, x in found]


def draw(shown: np.ndarray, marks: Sequence[Mark], scale: float
         ) -> np.ndarray:
  """A copy of the shown image (uint8 RGB, `scale` times the painting's
  size) with each mark as a white ring inside a black one."""
  out = np.array(shown)
  for y, x, r in marks:
    centre = (round(x * scale), round(y * scale))
    radius = max(4, round(r * scale))
    cv2.circle(out, centre, radius + 1, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.circle(out, centre, radius, (255, 255, 255), 2, cv2.LINE_AA)
  return out
