"""Scores a trained model, next to two trivial baselines, on any dataset.

  python -m colorjax.evaluate --workdir=DIR [--epoch=N] [--dataset=samples|FOLDER]
                              [--split=validation|all] [--output=FILE.json]

Prints a table and writes JSON. Every report has two baselines scored on the
same images: `grey` (a, b = 0) and `prior` (every pixel gets the training
set's mean a, b). A model that does not beat them has learnt little, however
good its Delta-E looks.
"""

import json
import os
import sys
from typing import Dict, Optional

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from colorjax import color
from colorjax import input_pipeline
from colorjax import metrics
from colorjax import runtime
from colorjax import train
from colorjax.config_validation import downsampling_factor
from colorjax.errors import ColorjaxError, DataError

# Columns of the printed table: (metric, header, format).
COLUMNS = (
    ('delta_e', 'Delta-E00 (lower)', '{:.2f}'),
    ('lab_acc_term_project', 'LAB acc term', '{:.1%}'),
    ('lab_acc_nazeri', 'LAB acc 2%', '{:.1%}'),
    ('ab_auc', 'ab AUC', '{:.3f}'),
    ('psnr', 'PSNR dB', '{:.2f}'),
    ('ssim', 'SSIM', '{:.3f}'),
    ('colourfulness_ratio', 'colourful/true', '{:.2f}'),
    ('mean_abs_dl', 'mean abs dL', '{:.2f}'),
)


def load_images(config: ml_collections.ConfigDict, dataset: str,
                split: str) -> np.ndarray:
  """uint8 (N, S, S, 3) centre crops of `dataset` at the config's size."""
  config = ml_collections.ConfigDict(config.to_dict())
  config.dataset = dataset
  if split == 'all' and dataset != 'samples':
    paths = input_pipeline.list_images(os.path.expanduser(dataset))
    ds = input_pipeline.decode_images(paths, config.image_size, dataset,
                                      skip_greyscale=False)
  else:
    ds = input_pipeline.create_datasets(config)[1]
  if not len(ds):
    raise DataError(f'no usable image in {dataset!r} ({split} split).')
  images = ds.eval_array()
  if images.shape[1:3] != (config.image_size, config.image_size):
    raise DataError(f'{dataset!r} gives {images.shape[1]}x{images.shape[2]} '
                    f'images but the model was trained at {config.image_size}'
                    f'x{config.image_size}; pass --image_size.')
  return images


def training_prior(workdir: str,
                   config: ml_collections.ConfigDict) -> np.ndarray:
  """The training set's mean ab, saved by training (recomputed if absent)."""
  path = os.path.join(workdir, train.DATA_STATS)
  if os.path.exists(path):
    with open(path) as f:
      return np.asarray(json.load(f)['mean_ab'], np.float32)
  return train.mean_ab(input_pipeline.create_datasets(config)[0].eval_array())


def score_baselines(images: np.ndarray, prior_ab: np.ndarray,
                    batch_size: int) -> Dict[str, Dict[str, float]]:
  """Metrics of the grey and constant-prior baselines on `images`."""

  @jax.jit
  def score_constant(batch, ab):
    l, _ = color.rgb_uint8_to_model(batch['rgb'])
    pred = jnp.broadcast_to(ab, l.shape[:-1] + (2,))
    return metrics.masked_sums(metrics.score_ab(l, pred, batch['rgb']),
                               batch['mask'])

  out = {}
  for name, ab in (('grey', np.zeros(2, np.float32)), ('prior', prior_ab)):
    sums = [score_constant(b, ab)
            for b in input_pipeline.padded_batches(images, batch_size)]
    out[name] = metrics.summarize(sums)
  return out


def evaluate(workdir: str, epoch: Optional[int] = None,
             dataset: Optional[str] = None, split: str = 'validation',
             image_size: Optional[int] = None) -> Dict[str, object]:
  """Scores the checkpoint of `epoch` and the baselines; returns the report."""
  config, trainer, state = train.load_run(workdir, epoch)
  dataset = dataset or config.dataset
  if image_size:
    factor = downsampling_factor(config)
    if image_size % factor:
      raise DataError(f'--image_size={image_size} must be a multiple of '
                      f'{factor} for this model.')
    config.image_size = image_size
  images = load_images(config, dataset, split)
  results = {'model': {k[len('val_'):]: v for k, v in
                       trainer.evaluate(state, images).items()}}
  results.update(score_baselines(images, training_prior(workdir, config),
                                 config.batch_size))
  return {'workdir': os.path.abspath(workdir), 'epoch': int(state.epoch),
          'dataset': dataset, 'split': split, 'num_images': len(images),
          'image_size': config.image_size, 'results': results}


def metric_headers() -> str:
  """The COLUMNS headers as Markdown cells: 'a | b | ...'."""
  return ' | '.join(h for _, h, _ in COLUMNS)


def metric_cells(values: Dict[str, float], prefix: str = '') -> str:
  """`values[prefix + metric]` formatted as Markdown cells, in COLUMNS order."""
  return ' | '.join(fmt.format(values[prefix + k]) for k, _, fmt in COLUMNS)


def format_table(report: Dict[str, object]) -> str:
  """A Markdown table: one row per model / baseline."""
  lines = [f'| | {metric_headers()} |', '|---' * (len(COLUMNS) + 1) + '|']
  for name, values in report['results'].items():
    lines.append(f'| {name} | {metric_cells(values)} |')
  return '\n'.join(lines)


FLAGS = flags.FLAGS


def _define_flags() -> None:
  """Command-line flags, defined only when run as a program."""
  flags.DEFINE_string('workdir', None, 'A training run\'s workdir.')
  flags.DEFINE_integer('epoch', None, 'Checkpoint epoch (default: latest).')
  flags.DEFINE_string('dataset', None, '"samples" or a folder (default: the '
                      'training dataset).')
  flags.DEFINE_enum('split', 'validation', ['validation', 'all'],
                    'For a folder: its validation split or every image.')
  flags.DEFINE_integer('image_size', None, 'Evaluation size (default: the '
                       'training size).')
  flags.DEFINE_string('output', None, 'JSON path (default: '
                      'WORKDIR/eval/epoch_N.json).')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  runtime.setup()
  try:
    report = evaluate(FLAGS.workdir, FLAGS.epoch, FLAGS.dataset, FLAGS.split,
                      FLAGS.image_size)
  except ColorjaxError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  output = FLAGS.output or os.path.join(
      FLAGS.workdir, 'eval', f'epoch_{report["epoch"]}.json')
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  with open(output, 'w') as f:
    json.dump(report, f, indent=2)
  print(f'{report["dataset"]} ({report["split"]}, {report["num_images"]} '
        f'images at {report["image_size"]}px), epoch {report["epoch"]}:')
  print(format_table(report))
  print(f'wrote {output}')


if __name__ == '__main__':
  _define_flags()
  flags.mark_flags_as_required(['workdir'])
  app.run(main)
