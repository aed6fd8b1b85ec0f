"""Writes a hint model's weights and card as the model colorjax ships.

  colorjax export-pretrained --workdir=W \
      [--output=colorjax/pretrained] [--dtype=float16] [--hint_gate=R,LO,HI] \
      [--train_command='python launch.py ...'] [--eval_report=W/eval.json]

The weights go to OUTPUT/hints.msgpack (flax msgpack, float16 by default)
and the card to OUTPUT/hints.json: the run's config and mean colour, the
file's SHA-256, the epoch and step, the command that trained it and the
commit it was trained at, the date and machine of the export, and the test
figures of `--eval_report` (an `evaluate --hints` JSON of the same run).
Loading checks the SHA-256 (`colorjax.inference.pretrained`). The human-readable card
is docs/pretrained.md.
"""

import datetime
import os
import platform
import subprocess
from typing import Any, Dict, Optional

from absl import flags

from colorjax import files
from colorjax import runtime
from colorjax.errors import CheckpointError
from colorjax.inference import pretrained
from colorjax.training import config_validation

__all__ = ['cli', 'main', 'TERMS']

FLAGS = flags.FLAGS

TERMS = ('Trained on the train split of paintings_more (2,500 WikiArt-derived '
         'paintings; research and non-commercial terms, see its README): '
         'the weights carry those terms.')


def _git_commit() -> Optional[str]:
  """The checkout's commit (None outside a git checkout)."""
  try:
    out = subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True,
                         text=True, check=True, timeout=10,
                         cwd=os.path.dirname(os.path.abspath(__file__)))
    return out.stdout.strip() or None
  except (OSError, subprocess.SubprocessError):
    return None


def _test_figures(path: str) -> Dict[str, Any]:
  """Delta-E00 and colourfulness ratio by hint count and method of an
  `evaluate --hints` report."""
  report = files.read_json(path, CheckpointError)
  try:
    at_size = report['hints']['at_size']
  except (KeyError, TypeError):
    raise CheckpointError(f'{path} is not an evaluate --hints report.'
                          ) from None
  return {'dataset': os.path.basename(str(report.get('dataset', ''))),
          'split': report.get('split'), 'images': report.get('num_images'),
          'image_size': report.get('image_size'),
          'delta_e': {n: {m: round(v['delta_e'], 3) for m, v in r.items()}
                      for n, r in at_size.items()},
          'colourfulness_ratio': {
              n: {m: round(v['colourfulness_ratio'], 3)
                  for m, v in r.items()} for n, r in at_size.items()}}


def main(argv):
  del argv
  runtime.setup()
  provenance = {
      'name': 'colorjax hint model',
      'terms': TERMS,
      'train_command': FLAGS.train_command,
      'trained_at_commit': FLAGS.trained_at_commit or _git_commit(),
      'exported': datetime.date.today().isoformat(),
      'machine': f'{platform.machine()}, {os.cpu_count()} CPU cores, '
                 f'{platform.system()}',
  }
  if FLAGS.eval_report:
    provenance['test'] = _test_figures(FLAGS.eval_report)
  gate = (None if FLAGS.hint_gate is None else
          config_validation.parse_gate(FLAGS.hint_gate))
  card = pretrained.export(FLAGS.workdir, FLAGS.output, FLAGS.dtype,
                           FLAGS.epoch, provenance, gate)
  print(f'wrote {os.path.join(FLAGS.output, pretrained.WEIGHTS)} '
        f'({card["bytes"] / 2**20:.2f} MiB, {card["parameters"]:,} '
        f'parameters, epoch {card["epoch"]}, sha256 {card["sha256"]}) and '
        f'{pretrained.CARD}')


def cli() -> None:
  """The `export-pretrained` command."""
  flags.DEFINE_string('workdir', None, 'A hint model\'s training run.',
                      required=True)
  flags.DEFINE_string('output', pretrained.FOLDER, 'The folder to write '
                      'hints.msgpack and hints.json to (default: the '
                      'package\'s).')
  flags.DEFINE_enum('dtype', 'float16', pretrained.DTYPES, 'The stored '
                    'weights\' type.')
  flags.DEFINE_integer('epoch', None, 'Checkpoint epoch (default: latest).')
  flags.DEFINE_string('train_command', None, 'The command that trained it '
                      '(for the card).')
  flags.DEFINE_string('trained_at_commit', None, 'The commit it was trained '
                      'at (default: this checkout\'s).')
  flags.DEFINE_string('eval_report', None, 'An evaluate --hints JSON of the '
                      'run, for the card\'s test figures.')
  flags.DEFINE_list('hint_gate', None, 'The inference gate reach,low,high '
                    'to ship it with (default: the run\'s config).')
  runtime.run_tool(main)


if __name__ == '__main__':
  cli()
