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
* `sign_test`, `clopper_pearson`, `smallest_sign_p`, `seeds_for_sign_test`:
  who gets somewhere first, seed pair by seed pair. A seed that never gets
  there within the run is censored: it is known to be later than any seed
  that did, and no later or sooner than another that did not (a tie), so
  the paired sign test, made for such orderings, takes it as it is; no
  number stands in for 'never'.
* `median_with_ci`: a median over seeds with its distribution-free
  (order-statistic) interval, which censored values (inf) do not disturb
  as long as the order statistics it uses are observed.
* `seeds_for_t_test`: the seeds a t test over seeds needs to detect a
  difference as large as the one seen, with 80% power.
"""

import functools
from typing import Optional, Tuple

import numpy as np
from scipy import stats as scipy_stats

__all__ = ['clopper_pearson', 'mean_ci', 'median_with_ci', 'paired_bootstrap',
           'seed_difference_ci', 'seeds_for_sign_test', 'seeds_for_t_test',
           'sign_test', 'smallest_sign_p']


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


def sign_test(wins_a: int, wins_b: int) -> float:
  """Two-sided exact sign test of wins_a against wins_b (ties left out):
  the binomial probability, under a fair coin, of a split at least this
  uneven. 1.0 when there is nothing to test."""
  n = int(wins_a) + int(wins_b)
  if n == 0:
    return 1.0
  k = min(int(wins_a), int(wins_b))
  return float(min(1.0, 2 * scipy_stats.binom.cdf(k, n, 0.5)))


def smallest_sign_p(n: int) -> float:
  """The smallest two-sided p a sign test over n untied pairs can give (all
  n one way): no result of n pairs can be significant below it."""
  return float(min(1.0, 2 * 0.5 ** n)) if n > 0 else 1.0


def clopper_pearson(k: int, n: int, level: float = 0.95
                    ) -> Tuple[float, float]:
  """The exact (Clopper-Pearson) interval of a proportion k of n; (nan,
  nan) for n = 0."""
  if n == 0:
    return float('nan'), float('nan')
  alpha = 1 - level
  low = 0.0 if k == 0 else scipy_stats.beta.ppf(alpha / 2, k, n - k + 1)
  high = 1.0 if k == n else scipy_stats.beta.ppf(1 - alpha / 2, k + 1, n - k)
  return float(low), float(high)


def _sign_critical(n: int, alpha: float) -> int:
  """The largest minority count k of n untied pairs whose two-sided sign
  test is significant at alpha (-1: none is)."""
  k = int(scipy_stats.binom.ppf(alpha / 2, n, 0.5))
  while k >= 0 and sign_test(n - k, k) > alpha:
    k -= 1
  while k + 1 <= n // 2 and sign_test(n - k - 1, k + 1) <= alpha:
    k += 1
  return k


@functools.lru_cache(maxsize=4096)  # Shares are k / n: few distinct values.
def seeds_for_sign_test(share: float, alpha: float = 0.05,
                        power: float = 0.8, max_seeds: int = 1000) -> float:
  """The fewest untied seed pairs with which a two-sided sign test at
  `alpha` reaches `power`, if one recipe gets there first in a `share` of
  pairs; inf if no count up to max_seeds does (a share near 0.5)."""
  if not np.isfinite(share):
    return float('inf')
  minority = min(share, 1 - share)
  # Beyond a normal approximation's count with room to spare: none will.
  if minority >= 0.5 or max_seeds < 1:
    return float('inf')
  for n in range(1, max_seeds + 1):
    k = _sign_critical(n, alpha)
    if k >= 0 and scipy_stats.binom.cdf(k, n, minority) >= power:
      return float(n)
  return float('inf')


def seeds_for_t_test(mean_difference: float, sd: float, alpha: float = 0.05,
                     power: float = 0.8, max_seeds: int = 1000) -> float:
  """The fewest seeds with which a two-sided paired t test at `alpha`
  detects a mean per-seed difference `mean_difference` (per-seed sd `sd`)
  with `power`; inf if none up to max_seeds does, nan without an sd."""
  if not np.isfinite(sd) or not np.isfinite(mean_difference):
    return float('nan')
  if sd == 0:
    return 2.0 if mean_difference else float('inf')
  effect = abs(mean_difference) / sd
  for n in range(2, max_seeds + 1):
    t = scipy_stats.t.ppf(1 - alpha / 2, n - 1)
    nc = effect * np.sqrt(n)
    achieved = (1 - scipy_stats.nct.cdf(t, n - 1, nc) +
                scipy_stats.nct.cdf(-t, n - 1, nc))
    if achieved >= power:
      return float(n)
  return float('inf')


def median_with_ci(values, level: float = 0.95
                   ) -> Tuple[float, float, float]:
  """(median, low, high) over seeds, with the distribution-free interval
  of order statistics (the binomial rule); values may be inf (censored:
  never within the run), and so may the median or a bound. With too few
  values for `level`, the bounds are the smallest and largest value."""
  x = np.sort(np.asarray(values, np.float64))
  n = x.size
  if n == 0:
    return float('nan'), float('nan'), float('nan')
  median = float(np.median(x))  # inf when half or more never got there.
  alpha = 1 - level
  # The largest j with P(Binomial(n, 1/2) < j) <= alpha / 2.
  j = int(scipy_stats.binom.ppf(alpha / 2, n, 0.5))
  if scipy_stats.binom.cdf(j, n, 0.5) > alpha / 2:
    j -= 1
  j = max(j, 0)
  low, high = x[j], x[n - 1 - j]
  return median, float(low), float(high)
