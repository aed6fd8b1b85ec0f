"""BN vs SN discriminator (and the CNN baseline), compared fairly.

Report on runs that exist:

  colorjax compare DIR_A DIR_B ... [--output=REPORT_DIR]

Train the three recipes with the same seed, data, image size, batch size and
number of epochs (so the same number of steps), then report:

  colorjax compare --train --workdir=DIR [--size=demo]
      [--dataset=samples|FOLDER] [--num_epochs=N] [--seed=0]

Re-running the --train form resumes unfinished runs. The report
(`report.md` and overlaid curves in the output folder) gives each run's final
and best validation metrics, its training images/s and wall time, and the grey
and constant-prior baselines on the same validation images.

With error bars: N seeds of each recipe, each recipe one N-seed program,
plus a matched pair (the BN recipe with a spectral-norm discriminator, so the
two differ only there), scored on a held-out split:

  colorjax compare --train --workdir=DIR --seeds=3
      --dataset=../shared/data/paintings_more --split=test [--size=demo]
      [--num_epochs=N]

writes `report.md`, `report.json` and `seeds.png` (`colorjax.benchmark.seed_report`):
means with 95% intervals over seeds, paired bootstrap differences, training
stability and a `verdict:` line.
"""

import json
import os
import time
from typing import Dict, Optional, Sequence

from absl import app
from absl import flags
from absl import logging
import ml_collections
import numpy as np

from colorjax import configs as configs_lib
from colorjax import files
from colorjax import names
from colorjax import runtime
from colorjax.benchmark import seed_report
from colorjax.colour import baselines as baselines_lib
from colorjax.errors import CheckpointError
from colorjax.errors import ConfigError
from colorjax.errors import TrainingDiverged
from colorjax.evaluation import evaluate
from colorjax.evaluation import tables
from colorjax.training import plots
from colorjax.training import train
from colorjax.training import workdir as workdir_lib

__all__ = ['build_report', 'cli', 'COMPARISONS', 'main', 'MATCHED',
           'recipe_configs', 'RECIPES', 'SEED_RECIPES', 'SHARED_KEYS',
           'STOPPED', 'train_all', 'wall_seconds']

RECIPES = (('bn', 'gan_bn'), ('sn', 'gan_sn'), ('cnn', 'cnn'))
# With --seeds: also the BN recipe with a spectral-norm discriminator.
MATCHED = 'sn_matched'
SEED_RECIPES = RECIPES[:2] + ((MATCHED, 'gan_bn'),) + RECIPES[2:]
# (A, B, what differs) of the --seeds report.
COMPARISONS = (
    ('bn', 'sn', 'the reference recipes: normalisation, and also real_label, '
     'l1_weight, learning rates and decay'),
    ('bn', MATCHED, 'matched pair: only the normalisation differs'),
)
# Settings every run of a --train comparison shares, taken from the BN recipe.
SHARED_KEYS = ('seed', 'dataset', 'image_size', 'batch_size', 'num_epochs',
               'validation_fraction', 'samples', 'conv_impl', 'compute_dtype',
               'num_seeds', 'eval_every_steps', 'eval_subset')


def recipe_configs(size: str = '', recipes=RECIPES,
                   **overrides) -> Dict[str, object]:
  """The configs of `recipes` with SHARED_KEYS equalised (BN's values +
  overrides); the matched recipe gets a spectral-norm discriminator."""
  configs = {name: configs_lib.load(f'{recipe}:{size}')
             for name, recipe in recipes}
  if MATCHED in configs:
    configs[MATCHED].discriminator.norm = 'spectral'
  reference = configs['bn']
  for key, value in overrides.items():
    if value is not None:
      reference[key] = value
  for config in configs.values():
    for key in SHARED_KEYS:
      config[key] = reference[key]
    config.checkpoint_epochs = ()
  return configs


STOPPED = ('stopped as asked: every run is saved; run the same command '
           'again to continue.')


def train_all(workdir: str, configs: Dict[str, object]
              ) -> Optional[Dict[str, str]]:
  """Trains each config into workdir/NAME (resuming); returns {NAME: run
  dir}, or None when the process was asked to stop (SIGINT / SIGTERM): the
  run being trained is saved and the later ones are left for the next call
  (`STOPPED` says so).

  A run whose training diverges is recorded (NAME/diverged.json; its last
  good checkpoint is kept and scored) and the others still train. The wall
  time recorded adds up over resumes (a rerun with more epochs continues
  the runs, their curves and their clock).
  """
  run_dirs = {}
  for name, config in configs.items():
    run_dir = os.path.join(workdir, name)
    logging.info('Training %s into %s.', name, run_dir)
    start = time.perf_counter() - (wall_seconds(run_dir) or 0.0)
    try:
      train.train_and_evaluate(config, run_dir)
    except TrainingDiverged as e:
      logging.error('%s diverged: %s', name, e)
      files.write_json(os.path.join(run_dir, seed_report.DIVERGED),
                       {'error': str(e)})
    files.write_json(os.path.join(run_dir, names.WALL_TIME),
                     {'seconds': time.perf_counter() - start})
    run_dirs[name] = run_dir
    if runtime.stop_asked():
      logging.warning('Stopped as asked while training %s; run the same '
                      'command again to continue every run.', name)
      return None
  return run_dirs


def wall_seconds(run_dir: str) -> Optional[float]:
  """The training wall time `train_all` recorded (None if it did not)."""
  path = os.path.join(run_dir, names.WALL_TIME)
  if not os.path.lexists(path):
    return None
  return float(files.read_json(path, CheckpointError)['seconds'])


def _run_summary(run_dir: str) -> Dict[str, object]:
  if not os.path.isdir(run_dir):
    raise CheckpointError(f'{run_dir!r} does not exist or is not a folder; '
                          'name a training run\'s workdir.')
  records = plots.read_records(run_dir)
  evals = [r for r in records if r['kind'] == names.VALIDATION]
  if not evals:
    raise CheckpointError(f'{run_dir!r} has no evaluated epoch in '
                          f'{names.METRICS}; train it first.')
  config = json.loads(workdir_lib.read_config(run_dir).to_json_best_effort())
  best = min(evals, key=lambda r: r[names.val(names.DELTA_E)])
  rates = [r[names.IMAGES_PER_SEC] for r in records
           if r['kind'] == names.TRAIN and names.IMAGES_PER_SEC in r]
  wall = wall_seconds(run_dir)
  if wall is None:  # From the log's timestamps (includes any pause between
    # resumes).
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
  n_cols = len(tables.COLUMNS)
  lines = [
      '# BN vs SN discriminator vs CNN: report', '',
      'Validation metrics at the final epoch (best Delta-E in brackets, with '
      'its epoch). Colour metrics are on the displayed sRGB image.', '',
      f'| run | model | epochs | steps | {tables.metric_headers()} | '
      'best Delta-E (epoch) | train img/s | wall time |',
      '|---' * (n_cols + 7) + '|']
  for r in runs:
    f = r['final']
    lines.append(
        f"| {r['name']} | {r['model']} | {f['epoch']} | {f['step']} | "
        f"{tables.metric_cells(f, names.VAL_PREFIX)} | "
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
        c['batch_size'], config.ab_scale)
    lines += ['', f"Baselines on the same {len(images)} validation images of "
              f"`{files.display_path(c['dataset'])}` at {c['image_size']}px:",
              '',
              f'| baseline | {tables.metric_headers()} |',
              '|---' * (n_cols + 1) + '|']
    for name, values in baselines.items():
      label = {'grey': 'grey (a, b = 0)',
               'prior': 'constant prior (training mean a, b)'}[name]
      lines.append(f'| {label} | {tables.metric_cells(values)} |')
  lines += ['', 'Curves (all runs overlaid):', '']
  lines += [f'![{os.path.basename(p)}]({os.path.basename(p)})'
            for p in plot_paths]
  markdown = '\n'.join(lines) + '\n'
  files.write_text(os.path.join(output, names.REPORT), markdown)
  return markdown


FLAGS = flags.FLAGS


def _define_flags() -> None:
  """Command-line flags, defined only when run as a program."""
  flags.DEFINE_bool('train', False, 'Train the three recipes first.')
  flags.DEFINE_string('workdir', None, 'With --train: where the runs go.')
  flags.DEFINE_enum('size', '', ['', 'demo'], 'Config variant for --train.')
  flags.DEFINE_string('dataset', None, 'With --train: shared dataset.')
  flags.DEFINE_integer('num_epochs', None, 'With --train: shared epochs.')
  flags.DEFINE_integer('seed', None, 'With --train: shared (first) seed.')
  flags.DEFINE_integer('seeds', None, 'With --train: train each recipe with '
                       'this many seeds (one program each), add the matched '
                       'pair, and report intervals over seeds.')
  flags.DEFINE_string('split', 'test', 'With --seeds: the split of --dataset '
                      'to score (a MANIFEST.tsv split, or all).')
  flags.DEFINE_list('recipes', None, 'With --seeds: train and compare only '
                    'these of bn, sn, sn_matched, cnn (default: all four).')
  flags.DEFINE_integer('eval_every_steps', None, 'With --train: also '
                       'validate every this many steps (on --eval_subset '
                       'images), so that the steps-to-quality questions '
                       'count steps finer than an epoch.')
  flags.DEFINE_integer('eval_subset', None, 'With --eval_every_steps: the '
                       'validation images those validations use (0: all).')
  flags.DEFINE_string('output', None, 'Report folder (default: the --train '
                      'workdir, or the runs\' common parent).')


def main(argv):
  files.check_output_folder('output', FLAGS.output)
  if FLAGS.seeds is not None:
    _main_seeds()
    return
  if FLAGS.train:
    if not FLAGS.workdir:
      raise app.UsageError('--train needs --workdir.')
    configs = recipe_configs(FLAGS.size, dataset=FLAGS.dataset,
                             num_epochs=FLAGS.num_epochs, seed=FLAGS.seed,
                             eval_every_steps=FLAGS.eval_every_steps,
                             eval_subset=FLAGS.eval_subset)
    runtime.setup(configs['bn'].compilation_cache_dir)
    trained = train_all(FLAGS.workdir, configs)
    if trained is None:
      print(STOPPED)
      return
    run_dirs = list(trained.values())
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


def _main_seeds() -> None:
  """`--train --seeds=N`: the N-seed comparison and its report."""
  if FLAGS.seeds < 1:
    raise ConfigError(f'--seeds={FLAGS.seeds} must be >= 1 (seeds per '
                      'recipe; 3 or more give intervals).')
  if not FLAGS.train or not FLAGS.workdir or not FLAGS.dataset:
    raise app.UsageError('--seeds needs --train, --workdir and --dataset '
                         '(a folder with a held-out split).')
  names_all = [name for name, _ in SEED_RECIPES]
  chosen = FLAGS.recipes or names_all
  unknown = sorted(set(chosen) - set(names_all))
  if unknown or 'bn' not in chosen:
    raise ConfigError(f'--recipes={",".join(chosen)}: choose from '
                      f'{", ".join(names_all)}, bn among them (the others '
                      'take its shared settings).')
  configs = recipe_configs(
      FLAGS.size, [r for r in SEED_RECIPES if r[0] in chosen],
      dataset=FLAGS.dataset, num_epochs=FLAGS.num_epochs, seed=FLAGS.seed,
      num_seeds=FLAGS.seeds, eval_every_steps=FLAGS.eval_every_steps,
      eval_subset=FLAGS.eval_subset)
  comparisons = [c for c in COMPARISONS if c[0] in chosen and c[1] in chosen]
  runtime.setup(configs['bn'].compilation_cache_dir)
  evaluate.image_paths(FLAGS.dataset, FLAGS.split)  # Fails before training.
  run_dirs = train_all(FLAGS.workdir, configs)
  if run_dirs is None:
    print(STOPPED)
    return
  output = FLAGS.output or FLAGS.workdir
  print(seed_report.build(
      run_dirs, FLAGS.dataset, FLAGS.split, comparisons, output,
      {n: wall_seconds(d) for n, d in run_dirs.items()
       if wall_seconds(d) is not None}))
  print(f'wrote {os.path.join(output, names.REPORT)}')


def cli() -> None:
  """The `compare` command."""
  _define_flags()
  runtime.run_tool(main)


if __name__ == '__main__':
  cli()
