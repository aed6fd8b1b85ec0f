"""The `colorjax evaluate` command: its flags, each checked before any work,
and the report printed and written (`colorjax.evaluation.evaluate` scores).

  colorjax evaluate --workdir=DIR [--epoch=N]
      [--dataset=samples|FOLDER] [--split=validation|all|test|...]
      [--full_res] [--vibrance=1.0] [--image_size=S] [--output=FILE.json]
      [--hints=0,1,2,5,10,20 [--auto_workdir=DIR] [--plot=FILE.png]]
      [--person_hints=1,3] [--hint_gate=R,LO,HI] [--cast_chroma=LO,HI]
      [--session=20 [--session_sigma=0,5] [--session_radius=1]
       [--session_guide=error,unsure,random] [--session_plot=FILE.png]]

The report goes to WORKDIR/eval/epoch_N.json (with --dataset,
epoch_N_<dataset>_<split>.json) or --output.
"""

import os
import sys
from typing import Dict, List, Optional, Tuple

from absl import app
from absl import flags

from colorjax import files
from colorjax import names
from colorjax import runtime
from colorjax.errors import DataError
from colorjax.evaluation import hint_eval
from colorjax.evaluation import session
from colorjax.evaluation import session_eval
from colorjax.evaluation import tables
from colorjax.evaluation.evaluate import Settings
from colorjax.evaluation.evaluate import evaluate
from colorjax.training import config_validation

__all__ = ['check_outputs', 'cli', 'main', 'parse_counts', 'PLOT_FORMATS']

FLAGS = flags.FLAGS


def _define_flags() -> None:
  """Command-line flags, defined only when run as a program."""
  flags.DEFINE_string('workdir', None, 'A training run\'s workdir, or '
                      f'{names.BUNDLED} (the hint model that ships).')
  flags.DEFINE_integer('epoch', None, 'Checkpoint epoch (default: latest).')
  flags.DEFINE_string('dataset', None, '"samples" or a folder (default: the '
                      'training dataset).')
  flags.DEFINE_string('split', 'validation', 'validation (the run\'s own), '
                      'all (every image of the folder), or a split named in '
                      'the folder\'s MANIFEST.tsv (e.g. test).')
  flags.DEFINE_bool('full_res', False, 'Also score at each image\'s own size '
                    'through the colorize path.')
  flags.DEFINE_float('vibrance', None, 'Gain on the predicted a, b, as '
                     'colorize --vibrance (default: the recipe\'s).')
  flags.DEFINE_float('temperature', None, 'Models with an ab-classes head: '
                     'the annealed mean\'s temperature, as colorize '
                     '--temperature (default: the recipe\'s).')
  flags.DEFINE_integer('seed', None, 'In a run of several seeds, which one '
                       '(0-based; default 0).')
  flags.DEFINE_integer('image_size', None, 'Evaluation size (default: the '
                       'training size).')
  flags.DEFINE_string('output', None, 'JSON path (default: '
                      'WORKDIR/eval/epoch_N.json; with --dataset, '
                      'epoch_N_<dataset>_<split>.json).')
  flags.DEFINE_list('hints', None, 'Hint counts to score a hint model with, '
                    'e.g. 0,1,2,5,10,20 (simulated from the ground truth).')
  flags.DEFINE_integer('hint_seed', 0, 'Seed of the simulated hints (the '
                       'same points for every method).')
  flags.DEFINE_string('auto_workdir', None, 'With --hints: an automatic '
                      'recipe\'s workdir to score beside the hint model.')
  flags.DEFINE_list('person_hints', None, 'Hint counts (>= 1) to place as a '
                    'person would, on the most colourful patches, scoring '
                    'Delta-E00 near and far from them, e.g. 1,3.')
  flags.DEFINE_integer('session', None, 'Clicks of a simulated person\'s '
                       'correcting session (e.g. 20), scored after each.')
  flags.DEFINE_list('session_sigma', ['0', '5'], 'With --session: the '
                    'person\'s colour errors, a, b units per channel.')
  flags.DEFINE_string('session_plot', None, 'With --session: its curves '
                      '(.png), and the first painting\'s clicks as '
                      '<name>_strip.png.')
  flags.DEFINE_list('session_guide', ['error'], 'With --session: where the '
                    'person clicks: error (where the result is most wrong; '
                    'every method), and for the hint model also unsure '
                    '(where the page marks it least sure) or random.')
  flags.DEFINE_integer('session_radius', 1, 'With --session: a click\'s '
                       'patch radius in pixels.')
  flags.DEFINE_list('hint_gate', None, 'A hint model\'s gate as reach,low,'
                    'high (hints.gate; 0,0,1 turns it off), in place of its '
                    'config\'s.')
  flags.DEFINE_list('cast_chroma', None, 'A hint model\'s lo,hi CIELAB chroma '
                    'below which hints also travel beyond the gate '
                    '(hints.cast_chroma; 0,0 turns it off), in place of its '
                    'config\'s.')
  flags.DEFINE_string('plot', None, 'With --hints: write Delta-E00 against '
                      'the number of hints to this PNG.')


def _write(report: Dict[str, object], output: Optional[str]) -> str:
  """Writes the JSON report; on a read-only workdir, to the working folder."""
  data = (f'{os.path.basename(os.path.normpath(FLAGS.dataset))}_'
          f'{FLAGS.split}' if FLAGS.dataset else '')
  if not output and FLAGS.workdir == names.BUNDLED:  # No folder of its own.
    output = os.path.basename(names.eval_report(report['epoch'], data)
                              ).replace('epoch_', 'eval_bundled_epoch_')
  path = output or os.path.join(FLAGS.workdir,
                                names.eval_report(report['epoch'], data))
  for candidate in ([path] if output else
                    [path, os.path.basename(path).replace(
                        '.json', f'_{os.path.basename(FLAGS.workdir)}.json')]):
    try:
      os.makedirs(os.path.dirname(os.path.abspath(candidate)), exist_ok=True)
      files.write_json(candidate, report)
      return candidate
    except OSError as e:
      print(f'warning: cannot write {candidate} ({e.strerror}).',
            file=sys.stderr)
  raise DataError('the report could not be written (see above); pass a '
                  'writable --output. The scores are printed above.')


def parse_counts(flag: str, values: Optional[List[str]], low: int, high: int,
            example: str) -> Optional[List[int]]:
  """A list flag of whole numbers in [low, high]; None if not given; an
  empty list given explicitly is an error, not a skipped evaluation."""
  if values is None:
    return None
  try:
    counts = [int(v) for v in values]
  except ValueError:
    counts = []
  if not counts or any(not low <= n <= high for n in counts):
    raise DataError(f'--{flag}={",".join(values)} must be whole numbers in '
                    f'[{low}, {high}], e.g. {example}.')
  return counts


PLOT_FORMATS = ('.png', '.pdf', '.svg')


def check_outputs(output: Optional[str], plot: Optional[str],
                  dataset: Optional[str]) -> None:
  """Refuses, before any work, outputs that would replace what the run
  reads or each other: one line naming the flag.

  Raises:
    DataError: --output and --plot the same file; --plot not a picture
      format; an output that is an existing file of the dataset scored, a
      folder, or in a folder that does not exist.
  """
  files.check_output('output', output, not_inside=dataset)
  files.check_output('plot', plot, PLOT_FORMATS, not_inside=dataset)
  if output and plot and os.path.realpath(output) == os.path.realpath(plot):
    raise DataError(f'--output and --plot are the same file ({output}); the '
                    'plot would replace the report: name two files.')


def _session_flags() -> Tuple[float, ...]:
  """--session, --session_sigma and --session_radius checked: the sigmas."""
  if FLAGS.session is not None and not 1 <= FLAGS.session <= 1000:
    raise DataError(f'--session={FLAGS.session} must be a number of clicks '
                    'in [1, 1000], e.g. 20.')
  if not 0 <= FLAGS.session_radius <= 64:
    raise DataError(f'--session_radius={FLAGS.session_radius} must be in '
                    '[0, 64] pixels.')
  try:
    sigmas = tuple(float(v) for v in FLAGS.session_sigma)
  except ValueError:
    sigmas = ()
  if not sigmas or not all(0 <= v <= 100 for v in sigmas):
    raise DataError(f'--session_sigma={",".join(FLAGS.session_sigma)} must '
                    'be numbers in [0, 100], e.g. 0,5.')
  if FLAGS.session_plot is not None:
    if FLAGS.session is None:
      raise DataError('--session_plot draws the --session curves; pass '
                      '--session too.')
    files.check_output('session_plot', FLAGS.session_plot, ('.png',),
                       not_inside=FLAGS.dataset)
    taken = {os.path.realpath(p) for p in (FLAGS.output, FLAGS.plot) if p}
    for path in (FLAGS.session_plot,
                 session_eval.strip_path(FLAGS.session_plot)):
      if os.path.realpath(path) in taken:
        raise DataError(f'--session_plot would write {path}, which another '
                        'flag names; name another file.')
  return sigmas


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  # Every flag is checked before any work.
  counts = parse_counts('hints', FLAGS.hints, 0, 10_000, '0,1,2,5,10,20')
  person = parse_counts('person_hints', FLAGS.person_hints, 1, 100, '1,3')
  check_outputs(FLAGS.output, FLAGS.plot, FLAGS.dataset)
  sigmas = _session_flags()
  guides = tuple(FLAGS.session_guide)
  if not guides or not set(guides) <= set(session.GUIDES):
    raise DataError(f'--session_guide={",".join(guides)} must name guides '
                    f'among {",".join(session.GUIDES)}, e.g. error,unsure.')
  gate = (None if FLAGS.hint_gate is None else
          config_validation.parse_gate(FLAGS.hint_gate))
  cast = (None if FLAGS.cast_chroma is None else
          config_validation.parse_cast(FLAGS.cast_chroma))
  if FLAGS.plot and counts is None:
    raise DataError('--plot draws the --hints curve; pass --hints too.')
  runtime.setup()
  runtime.for_users()
  report = evaluate(FLAGS.workdir, Settings(
      epoch=FLAGS.epoch, dataset=FLAGS.dataset, split=FLAGS.split,
      image_size=FLAGS.image_size, full_res=FLAGS.full_res,
      vibrance=FLAGS.vibrance, temperature=FLAGS.temperature, seed=FLAGS.seed,
      hint_counts=counts, auto_workdir=FLAGS.auto_workdir,
      hint_seed=FLAGS.hint_seed, person_counts=person, hint_gate=gate,
      cast_chroma=cast, session_clicks=FLAGS.session, session_sigmas=sigmas,
      session_radius=FLAGS.session_radius, session_plot=FLAGS.session_plot,
      session_guides=guides))
  print(tables.format_report(report))
  if 'session' in report:
    print(session.table(report['session']['results']))
    for path in report['session'].get('figures', []):
      print(f'wrote {path}')
  print(f'wrote {_write(report, FLAGS.output)}')  # The report first.
  if FLAGS.plot and 'hints' in report:
    by_size = {f'{report["image_size"]} px (centre crops)':
               report['hints']['at_size']}
    if 'full_res' in report['hints']:
      by_size['full resolution (through colorize)'] = (
          report['hints']['full_res'])
    data = files.display_path(report['dataset'])
    hint_eval.plot(by_size, names.DELTA_E, FLAGS.plot,
                   f'colorjax evaluate --hints='
                   f'{",".join(FLAGS.hints)} ({data}, '
                   f'{report["split"]}, {report["num_images"]} images)')
    print(f'wrote {FLAGS.plot}')


def cli() -> None:
  """The `evaluate` command."""
  _define_flags()
  flags.mark_flags_as_required(['workdir'])
  runtime.run_tool(main)


if __name__ == '__main__':
  cli()
