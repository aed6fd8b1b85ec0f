"""Exports a colorjax GAN run as PyTorch state dicts.

  colorjax export-torch --workdir=W --output=G.pth
      [--discriminator_output=D.pth] [--epoch=N] [--seed=K]
      [--layout=reference|benchmark]

writes the generator (and discriminator) in the layout of
karoly-hars/GAN_image_colorizing's networks.py (default) or of
benchmarks/torch_reference.py (`colorjax.interop.torch_weights`). Needs the optional
extra: pip install -e ".[torch]".
"""

import os
from typing import Optional

from absl import app
from absl import flags

from colorjax import runtime
from colorjax.errors import ConfigError
from colorjax.inference import runs
from colorjax.interop import pth_files
from colorjax.interop import torch_weights

__all__ = ['cli', 'export_weights', 'main']


def export_weights(workdir: str, output: str,
                   discriminator_output: Optional[str] = None,
                   epoch: Optional[int] = None, seed: Optional[int] = None,
                   layout: str = 'reference') -> None:
  """Writes the run's generator to `output` (and its discriminator)."""
  config, _, state = runs.load_run(workdir, epoch, seed=seed)
  if config.model != 'gan':
    raise ConfigError(f'{workdir!r} holds a {config.model!r} model; '
                      'export_torch writes the GAN\'s networks.')
  outputs = [(output, 'generator', state.g)]
  if discriminator_output:
    outputs.append((discriminator_output, 'discriminator', state.d))
  dicts = [(path, torch_weights.to_torch(net.variables(), name, config,
                                         layout))
           for path, name, net in outputs]
  for path, state_dict in dicts:  # Everything converted before any write.
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    pth_files.save(state_dict, path)


FLAGS = flags.FLAGS


def _define_flags() -> None:
  flags.DEFINE_string('workdir', None, 'A GAN run\'s workdir.')
  flags.DEFINE_string('output', None, 'The generator\'s .pth.')
  flags.DEFINE_string('discriminator_output', None, 'Also write the '
                      'discriminator here.')
  flags.DEFINE_integer('epoch', None, 'Checkpoint epoch (default: latest).')
  flags.DEFINE_integer('seed', None, 'In a run of several seeds, which one.')
  flags.DEFINE_enum('layout', 'reference', list(torch_weights.LAYOUTS),
                    'reference: karoly-hars/GAN_image_colorizing; benchmark: '
                    'benchmarks/torch_reference.py.')
  flags.mark_flags_as_required(['workdir', 'output'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  runtime.setup()
  export_weights(FLAGS.workdir, FLAGS.output, FLAGS.discriminator_output,
                 FLAGS.epoch, FLAGS.seed, FLAGS.layout)
  print(f'wrote {FLAGS.output}' + (f' and {FLAGS.discriminator_output}'
                                   if FLAGS.discriminator_output else ''))


def cli() -> None:
  """The `export-torch` command."""
  _define_flags()
  runtime.run_tool(main)


if __name__ == '__main__':
  cli()
