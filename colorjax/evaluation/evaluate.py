"""Scores a trained model, next to two trivial answers, on any set of images
(`evaluate`); `colorjax.evaluation.command` is the `colorjax evaluate`
command and lists its flags, each the `Settings` field of its name.

`--split` is the run's own validation split, every image of a folder, or the
split that the folder's MANIFEST.tsv names (e.g. `test`). Every report scores,
on the same images, the model and two answers that need no model: `grey`
(a, b = 0) and `prior` (every pixel gets the training set's mean a, b). A
model that does not beat them has learnt little, however good its Delta-E
looks; Delta-E alone rewards grey and sepia, so the colourfulness ratio and
its absolute difference (dCF) stand beside it.

Scores are at the training size (centre crops, as validation); `--full_res`
adds the same table at each image's own size, colourised through the real
`colorize` path (the image's L kept, a, b predicted at the work size).

`--hints` (a model trained with hints) scores it with N simulated hints per
image for each N given, beside Levin et al.'s propagation of the same hints,
an automatic recipe (`--auto_workdir`) and the trivial answers
(`colorjax.evaluation.hint_eval`). `--person_hints` places hints as a person would (on
the most colourful patches, of different hues) and scores Delta-E00 near
them and far from them beside the same model without hints: a hint should
colour its region and leave the rest alone (`colorjax.hints.locality`).
`--session=N` simulates a person correcting each painting with N clicks,
each where the result looks most wrong, for the model, Levin et al. and the
model with its gate off (`colorjax.evaluation.session`); `--session_guide`
adds the hint model with a person who clicks where it is least sure (the
marks the page draws) or at random.
"""

import dataclasses
import functools
import os
from typing import Dict, List, Optional, Sequence, Tuple

import jax
import ml_collections
import numpy as np

from colorjax.colour import baselines
from colorjax.colour import full_res as full_res_metrics
from colorjax.colour import metrics
from colorjax.colour import spaces
from colorjax.datasets import sources
from colorjax.errors import DataError
from colorjax.evaluation import hint_eval
from colorjax.evaluation import session_eval
from colorjax.hints import locality
from colorjax.inference import runs
from colorjax.inference.colorizer import Colorizer
from colorjax.inference.colorizer import generator_of
from colorjax.inference.colorizer import recipe_vibrance
from colorjax.training import steps
from colorjax.training.config_validation import downsampling_factor

__all__ = ['evaluate', 'image_paths', 'load_images', 'score_full_resolution',
           'Settings', 'training_prior']


def _missing_folder(dataset: str) -> DataError:
  return DataError(f'dataset folder {dataset!r} does not exist; pass an '
                   'existing folder of images or "samples".')


def image_paths(dataset: str, split: str) -> List[str]:
  """The files of a folder's split: 'all', or a split its manifest names."""
  folder = os.path.expanduser(dataset)
  if not os.path.isdir(folder):
    raise _missing_folder(dataset)
  if split == 'all':
    return sources.list_images(folder)
  files = sources.manifest_split(folder, split)
  if files is None:
    raise DataError(f'{dataset!r} has no {sources.MANIFEST} with file and '
                    f'split columns, so it has no {split!r} split; use '
                    '--split=validation or --split=all.')
  if not files:
    raise DataError(f'{sources.MANIFEST} of {dataset!r} lists no file in '
                    f'split {split!r}.')
  return files


def load_images(config: ml_collections.ConfigDict, dataset: str,
                split: str) -> np.ndarray:
  """uint8 (N, S, S, 3) centre crops of `dataset`'s split at the config's
  size: 'validation' (the run's own), 'all' or a manifest split."""
  config = ml_collections.ConfigDict(config.to_dict())
  config.dataset = dataset
  if split == 'validation':
    if dataset != 'samples' and not sources.is_folder(dataset) and (
        os.sep in dataset or dataset.startswith(('.', '~'))):
      raise _missing_folder(dataset)
    ds = sources.create_datasets(config)[1]
  else:
    if dataset == 'samples':
      raise DataError(f'the embedded samples have no {split!r} split; use '
                      '--split=validation.')
    ds = sources.decode_images(image_paths(dataset, split), config.image_size,
                               f'{dataset} ({split})', skip_greyscale=False)
  if not len(ds):
    raise DataError(f'no usable image in {dataset!r} ({split} split).')
  return ds.eval_array()


def training_prior(workdir: str,
                   config: ml_collections.ConfigDict) -> np.ndarray:
  """The training set's mean ab, saved by training (recomputed if absent)."""
  stats = runs.read_data_stats(workdir)
  if 'mean_ab' in stats:
    return np.asarray(stats['mean_ab'], np.float32)
  return baselines.mean_ab(
      sources.create_datasets(config)[0].eval_array(), config.ab_scale)


def score_full_resolution(colorizer: Colorizer, paths: List[str],
                          prior_ab: np.ndarray, image_size: int
                          ) -> Tuple[Dict[str, Dict[str, float]], int, int]:
  """Metrics at each image's own size, through the `colorize` path, of the
  images the table at `image_size` scores (the others are skipped as it
  skips them): (results, how many scored, how many ran out of memory).
  `prior_ab` is in the model's range.

  Each answer is scored in strips (`colorjax.colour.full_res`) as soon as
  it is made (`hint_eval.score_hint_free`), so no more than one is held
  besides the painting.
  """
  prior = spaces.ab_from_model(prior_ab, colorizer.ab_scale)

  def score_one(rgb, index):
    del index
    return {name: metrics.masked_sums(scores, np.ones(1))
            for name, scores in hint_eval.score_hint_free(
                rgb, prior, {'model': colorizer}).items()}

  per_image, skipped = full_res_metrics.score_paintings(paths, image_size,
                                                        score_one)
  if not per_image:
    raise DataError('no readable image to score at full resolution.')
  return ({name: metrics.summarize([p[name] for p in per_image])
           for name in baselines.ANSWERS}, len(per_image), skipped)


@dataclasses.dataclass(frozen=True)
class Settings:
  """What `evaluate` scores and how; each field is the flag of its name.

  Attributes:
    epoch: the checkpoint at the end of this epoch (default: the latest).
    dataset: 'samples', a folder or a TFDS name (default: the run's).
    split: the run's 'validation' split, 'all' images of a folder, or a
      split its MANIFEST.tsv names.
    image_size: score at this size instead of the training size.
    full_res: also score every image at its own size, as `colorize` colours.
    vibrance: a,b multiplier (default: the recipe's).
    temperature: an ab-classes model's annealed-mean temperature.
    seed: in a run of several seeds, which one (default 0).
    hint_counts: score with this many random hints each (hint models).
    auto_workdir: an automatic run to score beside the hint model.
    hint_seed: the random hints' seed.
    person_counts: score this many hints placed as a person would, near
      and far from them.
    hint_gate: the inference gate (reach, low, high) in place of the run's.
    cast_chroma: the chroma ramp (low, high) under which a hint also speaks
      for the painting's cast.
    session_clicks: score a person's correcting session of this many clicks
      (`colorjax.evaluation.session`) for the model, Levin et al. and the
      model ungated.
    session_sigmas: the person's colour errors (a, b units per channel).
    session_radius: the patch a click reveals and hints (radius, pixels).
    session_plot: write the session's curves there (.png) and, beside it as
      `<name>_strip.png`, the first painting after 0, 1, 2, 5 and 10 clicks
      of the hint model with the clicks drawn.
    session_guides: where the person clicks (`session.GUIDES`): every
      method is scored with 'error' (where the result is most wrong); the
      hint model also with each other guide named ('unsure': where the page
      marks the model least sure, the error unknown; 'random').
  """
  epoch: Optional[int] = None
  dataset: Optional[str] = None
  split: str = 'validation'
  image_size: Optional[int] = None
  full_res: bool = False
  vibrance: Optional[float] = None
  temperature: Optional[float] = None
  seed: Optional[int] = None
  hint_counts: Optional[Sequence[int]] = None
  auto_workdir: Optional[str] = None
  hint_seed: int = 0
  person_counts: Optional[Sequence[int]] = None
  hint_gate: Optional[Tuple[float, float, float]] = None
  cast_chroma: Optional[Tuple[float, float]] = None
  session_clicks: Optional[int] = None
  session_sigmas: Sequence[float] = (0.0, 5.0)
  session_radius: int = 1
  session_plot: Optional[str] = None
  session_guides: Sequence[str] = ('error',)


def evaluate(workdir: str, settings: Settings = Settings()
             ) -> Dict[str, object]:
  """Scores the checkpoint of `epoch` and the trivial answers.

  Returns:
    The report: `results` at the training size (or `image_size`) and, with
    `full_res`, `full_res_results`, each {'model'|'grey'|'prior': metrics};
    with `hint_counts`, `hints`: {'at_size' and, with `full_res`,
    'full_res': {N: {method: metrics}}} (`colorjax.evaluation.hint_eval`); with
    `person_counts`, `person_hints`: {N: near and far scores}
    (`colorjax.hints.locality.score`).
  """
  epoch, dataset, split = settings.epoch, settings.dataset, settings.split
  image_size, full_res = settings.image_size, settings.full_res
  vibrance, hint_gate = settings.vibrance, settings.hint_gate
  cast_chroma = settings.cast_chroma
  hint_counts, person_counts = settings.hint_counts, settings.person_counts
  if full_res and split == 'validation':
    raise DataError('--full_res scores files: pass --split=all or a '
                    'manifest split (e.g. test).')
  config, _, state = runs.load_run(workdir, epoch,
                                   temperature=settings.temperature,
                                   seed=settings.seed)
  # Inference settings: any hint run takes them.
  if hint_gate is not None:
    config.hints.gate = tuple(hint_gate)
  if cast_chroma is not None:
    config.hints.cast_chroma = tuple(cast_chroma)
  if hint_gate is not None or cast_chroma is not None:
    module = state.g.apply_fn.__self__.clone(
        gate=tuple(config.hints.gate),
        cast_chroma=tuple(v / config.ab_scale
                          for v in config.hints.cast_chroma))
    state = state.replace(g=state.g.replace(apply_fn=module.apply))
  vibrance = recipe_vibrance(config, vibrance)
  dataset = dataset or config.dataset
  if image_size is not None:
    factor = downsampling_factor(config)
    if not 0 < image_size <= 2048 or image_size % factor:
      raise DataError(f'--image_size={image_size} must be a multiple of '
                      f'{factor} in [{factor}, 2048] for this model.')
    config.image_size = image_size
  images = load_images(config, dataset, split)
  prior = training_prior(workdir, config)
  # The state is an argument, not a closure: its weights are not baked into
  # the compiled program as constants.
  predict_ab = jax.jit(lambda state, rgb: steps.predict_ab(
      state, spaces.rgb_uint8_to_model(rgb, config.ab_scale)[0]) * vibrance)
  predict = functools.partial(predict_ab, state)
  report = {'workdir': workdir, 'epoch': int(state.epoch),
            'hint_gate': list(config.hints.gate),
            'cast_chroma': list(config.hints.cast_chroma),
            'dataset': dataset, 'split': split, 'num_images': len(images),
            'image_size': config.image_size, 'vibrance': vibrance,
            'temperature': (config.classes.temperature
                            if config.head == 'classes' else None),
            'results': baselines.score_at_size(images, predict, prior,
                                               config.batch_size,
                                               config.ab_scale)}
  if full_res:
    colorizer = Colorizer(generator_of(config, state), config.image_size,
                          vibrance=vibrance)
    (report['full_res_results'], report['full_res_num_images'],
     report['full_res_out_of_memory']) = score_full_resolution(
         colorizer, image_paths(dataset, split), prior, config.image_size)
  if ((hint_counts or person_counts or settings.session_clicks) and
      not config.hints.enabled):
    raise DataError('--hints, --person_hints and --session score a model '
                    'trained with hints; this one was not (train one: python '
                    'launch.py --config=configs/hints.py:cpu --workdir=...).')
  if settings.session_clicks:
    report['session'] = session_eval.score_run(
        config, state, images, vibrance, session_eval.Settings(
            settings.session_clicks, tuple(settings.session_sigmas),
            settings.session_radius, settings.hint_seed,
            tuple(settings.session_guides), settings.session_plot))
  if person_counts:
    predict_hints = jax.jit(lambda st, l, h, m: steps.predict_ab(st, l, h, m)
                            * vibrance)
    report['person_hints'] = locality.score(
        images, person_counts,
        lambda l, h, m: np.asarray(predict_hints(state, l, h, m)),
        config.ab_scale, np.asarray(config.hints.prior_ab, np.float32),
        batch_size=config.batch_size)
  if hint_counts:
    report['hints'] = hint_eval.score_run(
        config, state, images, vibrance, hint_counts, settings.auto_workdir,
        settings.hint_seed,
        image_paths(dataset, split) if full_res else None)
  return report
