"""Uncertainty for comparisons: intervals over seeds and a paired bootstrap.

* `mean_ci`: the mean over independent runs (seeds) with its Student-t 95%
  interval: what a reader needs to know whether another seed would change
  the figure.
* `paired_bootstrap`: the difference A - B of a metric on the same images,
  with a percentile interval that resamples images *and* seeds (so both the
  choice of test paintings and the luck of training are in it).
* `seed_difference_ci`: the same difference with a t interval over seeds.
  With few seeds the bootstrap understates the spread between seeds (it
  resamples 3 seeds as if they were the population: its variance is
  (n - 1) / n of theirs, with a normal, not a t, quantile); a comparison is
  called significant only where both intervals exclude zero.
"""

from typing import Optional, Tuple

import numpy as np
from scipy import stats as scipy_stats

__all__ = ['mean_ci', 'paired_bootstrap', 'seed_difference_ci']


def mean_ci(values, level: float = 0.95) -> Tuple[float, float]:
  """(mean, half-width of its t interval); half-width NaN for one value."""
  values = np.asarray(values, np.float64)
  values = values[np.isfinite(values)]
  if not values.size:
    return float('nan'), float('nan')
  mean = float(np.mean(values))
  if values.size < 2:
    return mean, float('nan')
  t = scipy_stats.t.ppf(0.5 + level / 2, values.size - 1)
  return mean, float(t * np.std(values, ddof=1) / np.sqrt(values.size))


def seed_difference_ci(a, b, level: float = 0.95
                       ) -> Tuple[float, float, float]:
  """(mean(A) - mean(B), low, high): a t interval over per-seed values.

  Seeds are paired by index when both sides have the same count (seed k of
  every recipe starts from the same seed with the same data order), else the
  interval is Welch's. NaN bounds for fewer than two seeds a side.
  """
  a = np.asarray(a, np.float64)
  b = np.asarray(b, np.float64)
  diff = float(np.mean(a) - np.mean(b))
  if min(a.size, b.size) < 2:
    return diff, float('nan'), float('nan')
  if a.size == b.size:
    _, half = mean_ci(a - b, level)
  else:
    va, vb = np.var(a, ddof=1) / a.size, np.var(b, ddof=1) / b.size
    dof = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    half = float(scipy_stats.t.ppf(0.5 + level / 2, dof) * np.sqrt(va + vb))
  return diff, diff - half, diff + half


def paired_bootstrap(a: np.ndarray, b: np.ndarray,
                     a_denominator: Optional[np.ndarray] = None,
                     b_denominator: Optional[np.ndarray] = None,
                     num_resamples: int = 2000, level: float = 0.95,
                     seed: int = 0) -> Tuple[float, float, float]:
  """Difference of A and B on paired images, with a bootstrap interval.

  The statistic is mean(A) - mean(B) over seeds and images, or, with
  denominators, mean(A) / mean(A_den) - mean(B) / mean(B_den) (a ratio of
  means, as the colourfulness ratio). Each resample draws the images with
  replacement (the same draw for A and B: they are paired) and each side's
  seeds with replacement.

  Args:
    a: (seeds_a, images) per-image values of A's seeds.
    b: (seeds_b, images) per-image values of B's seeds, same image order.
    a_denominator: optional (seeds_a, images) denominators of a ratio.
    b_denominator: optional (seeds_b, images).
    num_resamples: bootstrap draws.
    level: the interval's coverage.
    seed: the resampling's seed (the interval is reproducible).

  Returns:
    (difference, low, high).
  """
  a, b = np.atleast_2d(a), np.atleast_2d(b)
  if a.shape[1] != b.shape[1]:
    raise ValueError(f'A and B must score the same images; got {a.shape[1]} '
                     f'and {b.shape[1]}.')

  def value(x, den, seeds, images):
    v = x[np.ix_(seeds, images)].mean()
    return v if den is None else v / den[np.ix_(seeds, images)].mean()

  rng = np.random.default_rng(seed)
  n_img = a.shape[1]
  all_a, all_b, all_i = (np.arange(a.shape[0]), np.arange(b.shape[0]),
                         np.arange(n_img))
  diff = (value(a, a_denominator, all_a, all_i) -
          value(b, b_denominator, all_b, all_i))
  draws = np.empty(num_resamples)
  for r in range(num_resamples):
    images = rng.integers(0, n_img, n_img)
    seeds_a = rng.integers(0, a.shape[0], a.shape[0])
    seeds_b = rng.integers(0, b.shape[0], b.shape[0])
    draws[r] = (value(a, a_denominator, seeds_a, images) -
                value(b, b_denominator, seeds_b, images))
  low, high = np.percentile(draws, [50 - 50 * level, 50 + 50 * level])
  return float(diff), float(low), float(high)
