"""A person's correcting session, simulated: look at the result, click where
it is most wrong, give the colour believed to be there, and go on.

Each click lands where the blurred Delta-E00 of the current result is
largest, not within `Person.min_gap` pixels of an earlier click, and reveals
the true mean a, b of the (2r + 1)^2 patch around it (r = `Person.radius`),
off by a person's colour error (Gaussian, `Person.colour_sigma` a, b units
per channel), as a hint over that patch. Any method that reads hints (a hint
model, Levin et al.'s propagation, the same model ungated) is an `Answer`;
the session is scored after every click.

Scores: the mean Delta-E00 after each number of clicks, the clicks a
painting needs to reach a target (`clicks_to_reach`; never: inf), and the
share of clicks that made the painting worse (`summarize`).
"""

import dataclasses
import functools
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import jax
import jax.numpy as jnp
import numpy as np

from colorjax import extras
from colorjax.colour import metrics
from colorjax.colour import spaces
from colorjax.evaluation import hint_eval
from colorjax.evaluation import stats
from colorjax.inference import colorize
from colorjax.inference import uncertainty

__all__ = ['Answer', 'clicks_to_reach', 'error_map', 'gap', 'GUIDES',
           'next_click',
           'patch_mean', 'Person', 'plot', 'run', 'score', 'Session',
           'strip', 'summarize', 'table']

# (l (H, W, 1), hint_ab (H, W, 2), hint_mask (H, W, 1)), all in the model
# range -> a, b (H, W, 2) in the model range.
Answer = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

GUIDES = ('error', 'unsure', 'random')


@dataclasses.dataclass(frozen=True)
class Person:
  """How the simulated person clicks.

  Attributes:
    clicks: how many clicks the session has.
    colour_sigma: the error of the colour they give, a, b units per channel
      (0: the painted colour exactly).
    radius: a click reveals and hints the (2r + 1)^2 patch around it.
    min_gap: no click within this many pixels of an earlier one.
    blur_sigma: the error map is blurred first (a person sees regions, not
      pixels).
    seed: fixes the colour errors (and a random guide's clicks).
    guide: where the person clicks: 'error', where the result is most wrong
      (they see it); 'unsure', where the model's answer is least sure
      (`colorjax.inference.uncertainty`, as the page marks it; the error
      unknown); 'random', anywhere not near an earlier click.
  """
  clicks: int = 20
  colour_sigma: float = 0.0
  radius: int = 1
  min_gap: float = 3.0
  blur_sigma: float = 1.0
  seed: int = 0
  guide: str = 'error'

  def __post_init__(self):
    if self.guide not in GUIDES:
      raise ValueError(f'guide={self.guide!r} is unknown; use one of '
                       f'{GUIDES}.')
    if not (isinstance(self.clicks, int) and 0 <= self.clicks <= 1000):
      raise ValueError(f'clicks={self.clicks!r} must be a whole number in '
                       '[0, 1000].')
    if not (isinstance(self.radius, int) and 0 <= self.radius <= 64):
      raise ValueError(f'radius={self.radius!r} must be a whole number of '
                       'pixels in [0, 64].')
    for name in ('colour_sigma', 'min_gap', 'blur_sigma'):
      value = getattr(self, name)
      if not (isinstance(value, (int, float)) and 0 <= value < 1e3):
        raise ValueError(f'{name}={value!r} must be a number >= 0.')


@dataclasses.dataclass(frozen=True)
class Session:
  """One painting's session: `delta_e[k]` is the mean Delta-E00 after k
  clicks (k = 0 .. clicks), `clicks[k]` the (y, x) of click k + 1, and
  `frames[k]` the answer's a, b (model range) after k clicks, for the k
  asked to be kept."""
  delta_e: np.ndarray
  clicks: List[Tuple[int, int]]
  frames: Dict[int, np.ndarray] = dataclasses.field(default_factory=dict)

  @property
  def worse(self) -> np.ndarray:
    """For each click, whether it left the painting worse than before."""
    return np.diff(self.delta_e) > 0


@functools.partial(jax.jit, static_argnums=3)
def _error_map(l, ab, rgb, ab_scale):
  pred_lab = spaces.rgb_to_lab(spaces.model_to_rgb(l, ab, ab_scale))
  true_lab = spaces.rgb_to_lab(rgb.astype(jnp.float32) / 255.0)
  return metrics.delta_e_ciede2000(pred_lab, true_lab)


def error_map(l: np.ndarray, ab: np.ndarray, rgb: np.ndarray,
              ab_scale: float) -> np.ndarray:
  """(H, W) Delta-E00 of the displayed L + ab (model range, through sRGB)
  against the uint8 painting `rgb` (H, W, 3)."""
  return np.asarray(_error_map(l, ab, rgb, float(ab_scale)))


def next_click(error: np.ndarray, earlier: Sequence[Tuple[int, int]],
               min_gap: float, blur_sigma: float = 1.0
               ) -> Optional[Tuple[int, int]]:
  """(y, x) where the blurred `error` (H, W) is largest, at least `min_gap`
  pixels (more than it) from every earlier click; None if nowhere is."""
  found = uncertainty.peaks(error, 1, min_gap, blur_sigma, earlier)
  return found[0] if found else None


def patch_mean(true_ab: np.ndarray, y: int, x: int, radius: int
               ) -> np.ndarray:
  """The mean a, b (2,) of the (2r + 1)^2 patch around (y, x), cut at the
  painting's edges."""
  h, w = true_ab.shape[:2]
  patch = true_ab[max(0, y - radius):min(h, y + radius + 1),
                  max(0, x - radius):min(w, x + radius + 1)]
  return patch.reshape(-1, 2).mean(axis=0)


def run(rgb: np.ndarray, answer: Answer, person: Person, ab_scale: float,
        index: int = 0, keep: Sequence[int] = (),
        unsure: Optional[Callable[[np.ndarray, np.ndarray, np.ndarray],
                                  np.ndarray]] = None) -> Session:
  """The session on one uint8 painting (H, W, 3) for one method.

  `index` picks the painting's own colour errors (the same for every
  method given the same person and index); the answers after the click
  counts in `keep` are kept as `frames`. A person guided by 'unsure' clicks
  where `unsure(l, hint_ab, mask)` (H, W) is largest.
  """
  if person.guide == 'unsure' and unsure is None:
    raise ValueError("a person guided by 'unsure' needs the method's unsure "
                     'map (unsure=...).')
  pick = np.random.default_rng([person.seed, index, 1])
  l, true_ab = (np.asarray(x)[0] for x in
                spaces.rgb_uint8_to_model(rgb[None], ab_scale))
  hint_ab = np.zeros(true_ab.shape, np.float32)
  mask = np.zeros(true_ab.shape[:2] + (1,), np.float32)
  noise = np.random.default_rng([person.seed, index]).normal(
      0.0, person.colour_sigma, (person.clicks, 2)) / ab_scale
  r = person.radius
  clicks, curve, frames = [], [], {}
  for k in range(person.clicks + 1):
    ab = np.asarray(answer(l, hint_ab, mask), np.float32)
    if k in keep:
      frames[k] = ab
    error = error_map(l, ab, rgb, ab_scale)
    curve.append(float(error.mean()))
    if k == person.clicks:
      break
    guide = error
    if person.guide == 'unsure':
      guide = np.asarray(unsure(l, hint_ab, mask), np.float32)
    elif person.guide == 'random':
      guide = pick.random(error.shape).astype(np.float32)
    click = next_click(guide, clicks, person.min_gap,
                       person.blur_sigma if person.guide != 'random' else 0)
    if click is None:  # Every pixel is near a click: the person stops.
      curve += [curve[-1]] * (person.clicks - k)
      frames.update({n: ab for n in keep if n > k})
      break
    y, x = click
    colour = patch_mean(true_ab, y, x, r) + noise[k]
    hint_ab[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1] = colour
    mask[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1] = 1.0
    clicks.append(click)
  return Session(np.asarray(curve), clicks, frames)


def clicks_to_reach(session: Session, target: float) -> float:
  """The first click count whose Delta-E00 is at most `target` (0: already
  there); inf if the session never gets there (censored, not a number to
  average)."""
  hit = np.flatnonzero(session.delta_e <= target)
  return float(hit[0]) if hit.size else float('inf')


def summarize(sessions: Sequence[Session], counts: Sequence[int],
              targets: Sequence[float] = (6.0, 5.0)) -> Dict[str, object]:
  """The mean Delta-E00 after each of `counts` clicks, the median clicks to
  reach each target with how many paintings never did, and the share of
  clicks that made a painting worse."""
  curves = np.stack([s.delta_e for s in sessions])
  reach = {}
  for target in targets:
    needed = np.asarray([clicks_to_reach(s, target) for s in sessions])
    reach[f'{target:g}'] = {
        'median_clicks': float(np.median(needed)),  # inf if half never do.
        'never': int(np.isinf(needed).sum()), 'paintings': len(sessions)}
  worse = np.concatenate([s.worse for s in sessions])
  cis = {int(n): stats.mean_ci(curves[:, n]) for n in counts
         if n < curves.shape[1]}
  return {'delta_e': {int(n): float(curves[:, n].mean()) for n in counts
                      if n < curves.shape[1]},
          'delta_e_ci': {n: [m - h, m + h] for n, (m, h) in cis.items()},
          'clicks_to_reach': reach,
          'worse_click_share': float(worse.mean()) if worse.size else 0.0}


def gap(first: Sequence[Session], other: Sequence[Session],
        counts: Sequence[int]) -> Dict[int, List[float]]:
  """{n: [mean, low, high]}: the first method's Delta-E00 minus the other's
  after n clicks, the mean over paintings of their paired differences with
  its 95% t interval (negative: the first is better)."""
  a = np.stack([s.delta_e for s in first])
  b = np.stack([s.delta_e for s in other])
  out = {}
  for n in counts:
    if n < a.shape[1]:
      mean, half = stats.mean_ci(a[:, n] - b[:, n])
      out[int(n)] = [mean, mean - half, mean + half]
  return out


def score(images: np.ndarray, methods: Dict[str, Answer],
          persons: Sequence[Person], ab_scale: float,
          counts: Sequence[int] = (0, 1, 2, 5, 10, 20),
          kept: Optional[Dict[str, Dict[str, List[Session]]]] = None
          ) -> Dict[str, Dict[str, object]]:
  """{'sigma S': {method: `summarize` of its sessions}} over uint8 images
  (B, H, W, 3), one session per image, person and method; every method
  meets the same colour errors (the person's seed and the image's index).
  Each method after the first also has 'first_minus_this', the `gap` of
  the first method (the model) to it. `kept`, if given, receives the
  sessions themselves, by the same keys."""
  out = {}
  for person in persons:
    sessions = {name: [run(rgb, answer, person, ab_scale, i)
                       for i, rgb in enumerate(images)]
                for name, answer in methods.items()}
    first = next(iter(sessions.values()))
    out[f'sigma {person.colour_sigma:g}'] = by_method = {}
    if kept is not None:
      kept[f'sigma {person.colour_sigma:g}'] = sessions
    for k, (name, own) in enumerate(sessions.items()):
      by_method[name] = summarize(own, counts)
      if k:
        by_method[name]['first_minus_this'] = gap(first, own, counts)
  return out


def table(results: Dict[str, Dict[str, object]]) -> str:
  """Markdown: mean Delta-E00 after each click count, the median clicks to
  each target (never-reaching paintings counted apart) and the share of
  worse clicks, a row per method and colour error."""
  lines = []
  for sigma, by_method in results.items():
    first = next(iter(by_method.values()))
    counts = list(first['delta_e'])
    targets = list(first['clicks_to_reach'])
    lines += [f'Session, colour error {sigma} (mean Delta-E00 after N '
              'clicks; median clicks to reach a target, paintings that never '
              'did in brackets; share of clicks that made it worse):', '',
              '| method | ' + ' | '.join(f'{n}' for n in counts) + ' | ' +
              ' | '.join(f'clicks to <= {t}' for t in targets) +
              ' | worse clicks |',
              '|---' * (len(counts) + len(targets) + 2) + '|']
    for name, s in by_method.items():
      reach = [f"{r['median_clicks']:g} ({r['never']})"
               for r in s['clicks_to_reach'].values()]
      lines.append(f'| {name} | ' + ' | '.join(
          f'{v:.2f}' for v in s['delta_e'].values()) + ' | ' +
                   ' | '.join(reach) +
                   f" | {100 * s['worse_click_share']:.0f}% |")
    lines.append('')
    first_name = next(iter(by_method))
    for name, s in by_method.items():
      if 'first_minus_this' in s:
        lines.append(f'{first_name} minus {name} (mean of paired '
                     'differences [95% interval]): ' + '; '.join(
                         f'{n}: {m:+.2f} [{lo:+.2f}, {hi:+.2f}]' for n, (
                             m, lo, hi) in s['first_minus_this'].items()))
    lines.append('')
  return '\n'.join(lines)


def plot(results: Dict[str, Dict[str, object]], path: str, title: str
         ) -> None:
  """Mean Delta-E00 against clicks, one panel per colour error, one line
  per method ([plots] extra)."""
  plt = extras.pyplot('--session_plot')
  fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4),
                           squeeze=False)
  for ax, (sigma, by_method) in zip(axes[0], results.items(), strict=True):
    for (name, s), style in zip(by_method.items(), ('o-', 's--', '^:', 'd-.'),
                                strict=False):
      counts = [int(n) for n in s['delta_e']]
      ax.plot(counts, list(s['delta_e'].values()), style, label=name)
    hint_eval.count_axes(ax, counts,
                         'clicks (each where the result is most wrong)',
                         'Delta-E00 (lower is better)',
                         f'colour error {sigma}')
  hint_eval.finish_figure(plt, fig, title, path)


def strip(rgb: np.ndarray, result: Session, ab_scale: float,
          zoom: int = 6) -> np.ndarray:
  """One painting's session as uint8 RGB panels side by side: its kept
  frames in click order, each with the clicks made so far drawn as rings,
  then the original; every panel `zoom` times larger (nearest)."""
  l = np.asarray(spaces.rgb_uint8_to_model(rgb[None], ab_scale)[0])[0]
  panels = []
  for k in sorted(result.frames):
    shown = np.asarray(spaces.model_to_rgb(l, result.frames[k], ab_scale))
    big = np.repeat(np.repeat(np.round(shown * 255).astype(np.uint8), zoom, 0),
                    zoom, 1)
    big = np.ascontiguousarray(big)
    for y, x in result.clicks[:k]:
      centre = (x * zoom + zoom // 2, y * zoom + zoom // 2)
      cv2.circle(big, centre, zoom + 2, (255, 255, 255), 2, cv2.LINE_AA)
      cv2.circle(big, centre, zoom + 2, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(big, f'{k}', (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (255, 255, 255), 2, cv2.LINE_AA)
    cv2.putText(big, f'{k}', (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (0, 0, 0), 1, cv2.LINE_AA)
    panels.append(big)
  panels.append(np.repeat(np.repeat(rgb, zoom, 0), zoom, 1))
  return colorize.side_by_side(panels, gutter=4)
