"""BN vs SN discriminator (and the CNN baseline), compared fairly.

Report on runs that exist:

  python -m colorjax.compare DIR_A DIR_B ... [--output=REPORT_DIR]

Train the three recipes with the same seed, data, image size, batch size and
number of epochs (so the same number of steps), then report:

  python -m colorjax.compare --train --workdir=DIR [--size=demo]
      [--dataset=samples|FOLDER] [--num_epochs=N] [--seed=0]

Re-running the --train form resumes unfinished runs. The report
(`report.md` and overlaid curves in the output folder) gives each run's final
and best validation metrics, its training images/s and wall time, and the grey
and constant-prior baselines on the same validation images.
"""

import json
import os
import sys
import time
from typing import Dict, List, Sequence

from absl import app
from absl import flags
from absl import logging
import ml_collections
import numpy as np

from colorjax import baselines as baselines_lib
from colorjax import configs as configs_lib
from colorjax import evaluate
from colorjax import names
from colorjax import plots
from colorjax import runtime
from colorjax import train
from colorjax.errors import CheckpointError
from colorjax.errors import ColorjaxError

RECIPES = (('bn', 'gan_bn'), ('sn', 'gan_sn'), ('cnn', 'cnn'))
# Settings every run of a --train comparison shares, taken from the BN recipe.
SHARED_KEYS = ('seed', 'dataset', 'image_size', 'batch_size', 'num_epochs',
               'validation_fraction', 'samples', 'conv_impl', 'compute_dtype')


def recipe_configs(size: str = '', **overrides) -> Dict[str, object]:
  """The three configs with SHARED_KEYS equalised (BN's values + overrides)."""
  configs = {name: configs_lib.load(f'{recipe}:{size}')
             for name, recipe in RECIPES}
  reference = configs['bn']
  for key, value in overrides.items():
    if value is not None:
      reference[key] = value
  for config in configs.values():
    for key in SHARED_KEYS:
      config[key] = reference[key]
    config.checkpoint_epochs = ()
  return configs


def train_all(workdir: str, configs: Dict[str, object]) -> List[str]:
  """Trains each config into workdir/NAME (resuming); returns the run dirs."""
  run_dirs = []
  for name, config in configs.items():
    run_dir = os.path.join(workdir, name)
    logging.info('Training %s into %s.', name, run_dir)
    start = time.perf_counter()
    train.train_and_evaluate(config, run_dir)
    with open(os.path.join(run_dir, names.WALL_TIME), 'w') as f:
      json.dump({'seconds': time.perf_counter() - start}, f)
    run_dirs.append(run_dir)
  return run_dirs


def _run_summary(run_dir: str) -> Dict[str, object]:
  records = plots.read_records(run_dir)
  evals = [r for r in records if r['kind'] == names.VALIDATION]
  if not evals:
    raise CheckpointError(f'{run_dir!r} has no evaluated epoch in '
                          f'{names.METRICS}; train it first.')
  with open(os.path.join(run_dir, names.CONFIG)) as f:
    config = json.load(f)
  best = min(evals, key=lambda r: r[names.val(names.DELTA_E)])
  rates = [r[names.IMAGES_PER_SEC] for r in records
           if r['kind'] == names.TRAIN and names.IMAGES_PER_SEC in r]
  wall_path = os.path.join(run_dir, names.WALL_TIME)
  if os.path.exists(wall_path):
    with open(wall_path) as f:
      wall = json.load(f)['seconds']
  else:  # From the log's timestamps (includes any pause between resumes).
    wall = records[-1].get('time', 0) - records[0].get('time', 0)
  model = config['model'] + (f" ({config['discriminator']['norm']} D)"
                             if config['model'] == 'gan' else '')
  return {'name': os.path.basename(os.path.normpath(run_dir)), 'model': model,
          'config': config, 'final': evals[-1], 'best': best,
          'images_per_sec': float(np.median(rates)) if rates else float('nan'),
          'wall_seconds': wall, 'records': records}


def build_report(run_dirs: Sequence[str], output: str) -> str:
  """Writes output/report.md and the overlaid plots; returns the Markdown."""
  runs = [_run_summary(d) for d in run_dirs]
  os.makedirs(output, exist_ok=True)
  plot_paths = plots.plot_runs({r['name']: r['records'] for r in runs}, output,
                               plots.read_trivial_answers(run_dirs[0]))
  n_cols = len(evaluate.COLUMNS)
  lines = [
      '# BN vs SN discriminator vs CNN: report', '',
      'Validation metrics at the final epoch (best Delta-E in brackets, with '
      'its epoch). Colour metrics are on the displayed sRGB image.', '',
      f'| run | model | epochs | steps | {evaluate.metric_headers()} | '
      'best Delta-E (epoch) | train img/s | wall time |',
      '|---' * (n_cols + 7) + '|']
  for r in runs:
    f = r['final']
    lines.append(
        f"| {r['name']} | {r['model']} | {f['epoch']} | {f['step']} | "
        f"{evaluate.metric_cells(f, names.VAL_PREFIX)} | "
        f"{r['best'][names.val(names.DELTA_E)]:.2f} "
        f"({r['best']['epoch']}) | {r['images_per_sec']:.1f} | "
        f"{r['wall_seconds'] / 60:.1f} min |")
  # Baselines on each distinct validation set the runs used.
  seen = set()
  for r, run_dir in zip(runs, run_dirs, strict=True):
    c = r['config']
    key = (c['dataset'], c['image_size'], c['validation_fraction'])
    if key in seen:
      continue
    seen.add(key)
    config = ml_collections.ConfigDict(c)
    images = evaluate.load_images(config, c['dataset'], 'validation')
    baselines = baselines_lib.score_at_size(
        images, None, evaluate.training_prior(run_dir, config),
        c['batch_size'])
    lines += ['', f"Baselines on the same {len(images)} validation images of "
              f"`{c['dataset']}` at {c['image_size']}px:", '',
              f'| baseline | {evaluate.metric_headers()} |',
              '|---' * (n_cols + 1) + '|']
    for name, values in baselines.items():
      label = {'grey': 'grey (a, b = 0)',
               'prior': 'constant prior (training mean a, b)'}[name]
      lines.append(f'| {label} | {evaluate.metric_cells(values)} |')
  lines += ['', 'Curves (all runs overlaid):', '']
  lines += [f'![{os.path.basename(p)}]({os.path.basename(p)})'
            for p in plot_paths]
  markdown = '\n'.join(lines) + '\n'
  with open(os.path.join(output, names.REPORT), 'w') as f:
    f.write(markdown)
  return markdown


FLAGS = flags.FLAGS


def _define_flags() -> None:
  """Command-line flags, defined only when run as a program."""
  flags.DEFINE_bool('train', False, 'Train the three recipes first.')
  flags.DEFINE_string('workdir', None, 'With --train: where the runs go.')
  flags.DEFINE_enum('size', '', ['', 'demo'], 'Config variant for --train.')
  flags.DEFINE_string('dataset', None, 'With --train: shared dataset.')
  flags.DEFINE_integer('num_epochs', None, 'With --train: shared epochs.')
  flags.DEFINE_integer('seed', None, 'With --train: shared seed.')
  flags.DEFINE_string('output', None, 'Report folder (default: the --train '
                      'workdir, or the runs\' common parent).')


def main(argv):
  try:
    if FLAGS.train:
      if not FLAGS.workdir:
        raise app.UsageError('--train needs --workdir.')
      configs = recipe_configs(FLAGS.size, dataset=FLAGS.dataset,
                               num_epochs=FLAGS.num_epochs, seed=FLAGS.seed)
      runtime.setup(configs['bn'].compilation_cache_dir)
      run_dirs = train_all(FLAGS.workdir, configs)
      output = FLAGS.output or FLAGS.workdir
    else:
      run_dirs = argv[1:]
      if not run_dirs:
        raise app.UsageError('name the run directories to compare, or --train.')
      output = FLAGS.output or os.path.join(
          os.path.commonpath([os.path.abspath(d) for d in run_dirs]),
          os.path.splitext(names.REPORT)[0])
    print(build_report(run_dirs, output))
    print(f'wrote {os.path.join(output, names.REPORT)}')
  except ColorjaxError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  _define_flags()
  app.run(main)
