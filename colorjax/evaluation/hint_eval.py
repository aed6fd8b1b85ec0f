"""Scores colourisation with N simulated hints, as Zhang, Zhu et al. 2017 did.

For each hint count N, every image gets N points drawn from its ground truth
with a fixed seed (`colorjax.hint_simulation.simulate`: uniform positions, squares of
1-3 px at 32 px revealing their mean a, b), and the same points go to every
method that reads hints:

* `hint model`: the run being evaluated (a model trained with hints);
* `Levin et al. 2004`: the propagation of the same hints by the exact
  sparse solve (`colorjax.hints.levin`), no learning;
* `automatic`: a recipe without hints (`--auto_workdir`), the same for
  every N;
* `grey` and `prior`: the answers that need no model.

At the evaluation size the images are centre crops (as validation); at full
resolution each painting goes through `colorize`'s path (its longer side to
the working size, a, b upsampled onto its own L), the hints drawn at the
working size, and Levin's a, b upsampled the same way.
"""

import functools
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import cv2
import jax
import jax.numpy as jnp
import numpy as np

from colorjax import extras
from colorjax import files
from colorjax.colour import full_res as full_res_metrics
from colorjax.colour import metrics
from colorjax.colour import spaces
from colorjax.datasets import image_io
from colorjax.hints import hint_files
from colorjax.hints import propagation as hints_lib
from colorjax.hints import simulation
from colorjax.inference.colorizer import Colorizer
from colorjax.inference.colorizer import generator_of

__all__ = ['at_size', 'AUTO', 'count_axes', 'finish_figure',
           'full_resolution', 'HINT_MODEL', 'LEVIN',
           'METHODS', 'plot', 'score_hint_free', 'score_run', 'simulate_fixed',
           'table', 'work_hints']

HINT_MODEL, LEVIN, AUTO = 'hint model', 'Levin et al. 2004', 'automatic'
METHODS = (HINT_MODEL, LEVIN, AUTO, 'grey', 'prior')


def _key(seed: int, count: int, index: int = 0) -> jax.Array:
  return jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(seed),
                                               count), index)


def simulate_fixed(true_ab: np.ndarray, count: int, seed: int,
                   index: int = 0) -> Sequence[np.ndarray]:
  """`count` hints per image of true a, b (B, H, W, 2), the same for a given
  (seed, count, index): (hint_ab, mask) as NumPy arrays."""
  b, h = true_ab.shape[:2]
  if count == 0:
    return (np.zeros(true_ab.shape, np.float32),
            np.zeros(true_ab.shape[:-1] + (1,), np.float32))
  hint_ab, mask = simulation.simulate(
      _key(seed, count, index), jnp.asarray(true_ab),
      jnp.full((b,), count, jnp.int32), count,
      simulation.patch_sizes(max(h, true_ab.shape[2])))
  return np.asarray(hint_ab), np.asarray(mask)


def work_hints(rgb: np.ndarray, work_size: int, ab_scale: float,
               count: int, seed: int, index: int
               ) -> Sequence[np.ndarray]:
  """`simulate_fixed`'s hints for one painting drawn at `colorize`'s working
  size: (hint_ab (S, S, 2), mask (S, S, 1)), zero in the padding."""
  _, nh, nw = hint_files.work_geometry(rgb.shape[:2], work_size)
  small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
  _, true_ab = spaces.rgb_uint8_to_model(small[None], ab_scale)
  hint_ab, mask = simulate_fixed(np.asarray(true_ab), count, seed, index)
  work_ab = np.zeros((work_size, work_size, 2), np.float32)
  work_mask = np.zeros((work_size, work_size, 1), np.float32)
  work_ab[:nh, :nw], work_mask[:nh, :nw] = hint_ab[0], mask[0]
  return work_ab, work_mask


@jax.jit
def _scores(l, ab, rgb, scale):
  return metrics.score_ab(l, ab, rgb, scale)


def _summarize(per_image: List[Dict[str, np.ndarray]]) -> Dict[str, float]:
  sums = [dict({k: np.sum(v) for k, v in p.items()},
               count=np.float32(len(next(iter(p.values())))))
          for p in per_image]
  return metrics.summarize(sums)


def at_size(images: np.ndarray, counts: Sequence[int], seed: int,
            predict: Callable, ab_scale: float, prior_ab: np.ndarray,
            auto: Optional[Callable] = None, batch_size: int = 32
            ) -> Dict[int, Dict[str, Dict[str, float]]]:
  """{N: {method: metrics}} on uint8 centre crops (B, S, S, 3).

  Args:
    images: the evaluation images.
    counts: the hint counts N.
    seed: fixes the hints.
    predict: (l, hint_ab, hint_mask) -> model-range a, b of the hint model.
    ab_scale: the hint model's a, b scale; `prior_ab` is in its range.
    prior_ab: (2,) its training set's mean a, b: the prior answer, and
      Levin's answer where there is no hint.
    auto: rgb uint8 -> CIELAB a, b of the automatic recipe (None: not
      scored).
    batch_size: images per call.
  """
  out = {}
  auto_ab = None
  for n in counts:
    per = {m: [] for m in METHODS if m != AUTO or auto is not None}
    for start in range(0, len(images), batch_size):
      rgb = images[start:start + batch_size]
      l, true_ab = (np.asarray(x) for x in
                    spaces.rgb_uint8_to_model(rgb, ab_scale))
      hint_ab, mask = simulate_fixed(true_ab, n, seed, start)
      answers = {
          HINT_MODEL: np.asarray(predict(l, hint_ab, mask)),
          LEVIN: np.stack([hints_lib.levin(l[i], hint_ab[i], mask[i],
                                           prior_ab)
                           for i in range(len(rgb))]),
          'grey': np.zeros_like(true_ab),
          'prior': np.broadcast_to(prior_ab, true_ab.shape),
      }
      if auto is not None:
        if auto_ab is None or len(auto_ab) <= start:
          auto_ab = (np.zeros((0,) + true_ab.shape[1:], np.float32)
                     if auto_ab is None else auto_ab)
          auto_ab = np.concatenate([auto_ab, auto(rgb) / ab_scale])
        answers[AUTO] = auto_ab[start:start + len(rgb)]
      for m, ab in answers.items():
        per[m].append(jax.device_get(_scores(l, np.asarray(ab, np.float32),
                                             rgb, ab_scale)))
    out[n] = {m: _summarize(p) for m, p in per.items()}
  return out


def score_hint_free(rgb: np.ndarray, prior: np.ndarray,
                    models: Mapping[str, Colorizer]
                    ) -> Dict[str, Dict[str, np.ndarray]]:
  """`full_res_metrics.score` of the answers that take no hint, at the
  painting's size: grey, the prior (CIELAB a, b) and each of `models`'
  automatic colours, by name. Each answer is made when the one before has
  been scored, so one is held at a time."""
  def answers():
    yield 'grey', Colorizer.constant(rgb, np.zeros(2))
    yield 'prior', Colorizer.constant(rgb, prior)
    for name, model in models.items():
      yield name, model.colorize(rgb)

  scores = {}
  for name, out in answers():
    scores[name] = full_res_metrics.score(out, rgb)
    del out  # Before the next answer is made.
  return scores


def full_resolution(paths: Sequence[str], counts: Sequence[int], seed: int,
                    colorizer: Colorizer, prior_ab: np.ndarray,
                    auto: Optional[Colorizer] = None,
                    image_size: Optional[int] = None
                    ) -> Dict[int, Dict[str, Dict[str, float]]]:
  """{N: {method: metrics}} at each painting's own size, through the
  `colorize` path of `colorizer` (a hint model) and `auto`, of the paintings
  a split at `image_size` (default: the working size) holds."""
  s = colorizer.work_size
  scale_ab = colorizer.ab_scale
  per = {n: {m: [] for m in METHODS if m != AUTO or auto is not None}
         for n in counts}

  def score_one(rgb, index):
    # The answers that do not depend on the hints, scored once for every
    # count.
    fixed = score_hint_free(rgb, prior_ab * scale_ab,
                            {} if auto is None else {AUTO: auto})
    l_full = colorizer.lightness(image_io.to_float_rgb(rgb))
    l_work, (nh, nw) = colorizer._work_input(l_full)  # pylint: disable=protected-access
    scores = {}
    for n in counts:
      work_ab, work_mask = work_hints(rgb, s, scale_ab, n, seed, index)
      scores[n] = dict(fixed)
      scores[n][HINT_MODEL] = full_res_metrics.score(
          colorizer.colorize(rgb, (work_ab, work_mask)), rgb)
      levin = hints_lib.levin(l_work[:nh, :nw], work_ab[:nh, :nw],
                              work_mask[:nh, :nw], prior_ab)
      scores[n][LEVIN] = full_res_metrics.score(
          colorizer.compose(l_full, levin * scale_ab), rgb)
    return scores

  per_painting, _ = full_res_metrics.score_paintings(
      paths, image_size or s, score_one)
  for scores in per_painting:
    for n, by_method in scores.items():
      for m, values in by_method.items():
        per[n][m].append(values)
  return {n: {m: _summarize(p) for m, p in d.items()}
          for n, d in per.items()}


def score_run(config, state, images: np.ndarray, vibrance: float,
              counts: Sequence[int], auto_workdir: Optional[str], seed: int,
              full_res_paths: Optional[Sequence[str]]) -> Dict[str, object]:
  """`evaluate --hints`: the run's hint model (`state`, `config`) at the
  evaluation size on `images` and, with `full_res_paths`, at full
  resolution, beside an automatic run (`auto_workdir`) and the baselines."""
  from colorjax.inference import runs  # pylint: disable=g-import-not-at-top
  from colorjax.inference.colorizer import recipe_vibrance  # pylint: disable=g-import-not-at-top
  from colorjax.training import steps  # pylint: disable=g-import-not-at-top
  scale = config.ab_scale
  prior = np.asarray(config.hints.prior_ab, np.float32)
  predict_fn = jax.jit(lambda st, l, h, m: steps.predict_ab(st, l, h, m) *
                       vibrance)
  auto_size = auto_colorizer = None
  if auto_workdir:
    auto_config, _, auto_state = runs.load_run(auto_workdir)
    auto_vibrance = recipe_vibrance(auto_config, None)
    auto_predict = jax.jit(lambda st, rgb: steps.predict_ab(
        st, spaces.rgb_uint8_to_model(rgb, auto_config.ab_scale)[0]) *
                           auto_vibrance * auto_config.ab_scale)
    auto_size = lambda rgb: np.asarray(auto_predict(auto_state, rgb))
    auto_colorizer = Colorizer.from_workdir(auto_workdir,
                                            work_size=config.image_size)
  out = {'counts': list(counts), 'seed': seed,
         'auto_workdir': auto_workdir,
         'at_size': at_size(
             images, counts, seed, functools.partial(predict_fn, state),
             scale, prior, auto_size, config.batch_size)}
  if full_res_paths is not None:
    colorizer = Colorizer(generator_of(config, state), config.image_size,
                          vibrance=vibrance)
    out['full_res'] = full_resolution(
        full_res_paths, counts, seed, colorizer, prior, auto_colorizer,
        config.image_size)
  return out


def table(results: Dict[int, Dict[str, Dict[str, float]]],
          metric: str) -> str:
  """A Markdown table of one metric: a row per method, a column per N."""
  counts = sorted(results)
  methods = [m for m in METHODS if m in results[counts[0]]]
  lines = ['| method | ' + ' | '.join(f'{n} hints' for n in counts) + ' |',
           '|---' * (len(counts) + 1) + '|']
  for m in methods:
    lines.append(f'| {m} | ' + ' | '.join(
        f'{results[n][m][metric]:.2f}' for n in counts) + ' |')
  return '\n'.join(lines)


def plot(results_by_size: Dict[str, Dict[int, Dict[str, Dict[str, float]]]],
         metric: str, path: str, title: str) -> None:
  """Delta-E00 (or `metric`) against the number of hints, one panel per
  resolution, one line per method."""
  plt = extras.pyplot('--plot')
  fig, axes = plt.subplots(1, len(results_by_size),
                           figsize=(5.5 * len(results_by_size), 4),
                           squeeze=False)
  styles = {HINT_MODEL: 'o-', LEVIN: 's--', AUTO: '^:', 'grey': 'k-',
            'prior': 'k--'}
  for ax, (label, results) in zip(axes[0], results_by_size.items(),
                                  strict=True):
    counts = sorted(results)
    for m in METHODS:
      if m in results[counts[0]]:
        ax.plot(counts, [results[n][m][metric] for n in counts],
                styles[m], label=m, alpha=0.6 if m in ('grey', 'prior')
                else 1.0)
    count_axes(ax, counts, 'hints per painting',
               metric.replace('delta_e', 'Delta-E00 (lower is better)'),
               label)
  finish_figure(plt, fig, title, path)


def count_axes(ax, counts: Sequence[int], xlabel: str, ylabel: str,
               title: str) -> None:
  """A panel of a metric against a count (hints, clicks): symlog x with a
  tick at each count, labels, grid and legend."""
  ax.set_xscale('symlog', linthresh=1)
  ax.set_xticks(counts)
  ax.set_xticklabels([str(n) for n in counts])
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.set_title(title)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)


def finish_figure(plt, fig, title: str, path: str) -> None:
  """Titles, lays out, writes (whole) and closes a figure."""
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  files.save_figure(fig, path, dpi=110)
  plt.close(fig)
