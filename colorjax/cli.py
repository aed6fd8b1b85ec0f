"""colorjax's one command: `colorjax COMMAND [--flags]`, also
`python -m colorjax COMMAND`.

Each command is a tool of one wing; only the chosen one is imported, so
`colorjax --help` starts at once and a command needs only its own extras.
`colorjax COMMAND --help` prints that command's usage and flags.
"""

import importlib
import sys
from typing import List, Optional, Sequence, Tuple

__all__ = ['COMMANDS', 'main', 'usage']

# name -> (module, what it does in one line). The modules' `cli()` define
# their flags and run.
COMMANDS: dict[str, Tuple[str, str]] = {
    'colorize': ('colorjax.inference.colorize',
                 'colour greyscale paintings (the bundled model or a run)'),
    'train': ('colorjax.training.launch',
              'train a recipe (as python launch.py --config=...)'),
    'evaluate': ('colorjax.evaluation.command',
                 'score a run beside the grey and prior answers'),
    'gallery': ('colorjax.evaluation.gallery',
                'a strip of paintings: grey, automatic, hinted, original'),
    'pareto': ('colorjax.evaluation.pareto',
               'Delta-E against colourfulness for evaluate reports'),
    'compare': ('colorjax.benchmark.compare',
                'BN versus SN (and the CNN) over seeds, with intervals'),
    'page': ('colorjax.page.app',
             'the colouring page in the browser (needs [app])'),
    'import-torch': ('colorjax.interop.import_torch',
                     'a run from PyTorch .pth weights (needs [torch])'),
    'export-torch': ('colorjax.interop.export_torch',
                     'a run\'s weights as PyTorch .pth (needs [torch])'),
    'export-pretrained': ('colorjax.inference.export_pretrained',
                          'write a hint run as the bundled model'),
    'download': ('', 'fetch a data set: download oxford_paintings | '
                 'paintings_more'),
}
DOWNLOADS = {
    'oxford_paintings': 'colorjax.datasets.oxford_paintings',
    'paintings_more': 'colorjax.datasets.paintings_more',
}


def usage() -> str:
  """What `colorjax --help` prints: the commands, one line each."""
  width = max(len(n) for n in COMMANDS)
  lines = ['usage: colorjax COMMAND [--flags]   (colorjax COMMAND --help for '
           'its flags)', '', 'commands:']
  lines += [f'  {n:<{width}}  {doc}' for n, (_, doc) in COMMANDS.items()]
  return '\n'.join(lines)


def _module_of(argv: Sequence[str]) -> Tuple[Optional[str], List[str], str]:
  """(module, the argv it runs with, or an error line) for `argv`."""
  name = argv[1]
  if name not in COMMANDS:
    return None, [], (f'error: unknown command {name!r}; the commands are '
                      f'{", ".join(COMMANDS)} (colorjax --help).')
  module, rest = COMMANDS[name][0], list(argv[2:])
  if name == 'download':
    which = rest[0] if rest else ''
    if which not in DOWNLOADS:
      return None, [], ('error: colorjax download takes a data set first: '
                        f'{" or ".join(DOWNLOADS)} (e.g. colorjax download '
                        'paintings_more --help).')
    module, name, rest = DOWNLOADS[which], f'download {which}', rest[1:]
  return module, [f'colorjax {name}'] + rest, ''


def main(argv: Optional[Sequence[str]] = None) -> None:
  """Runs the command named in `argv` (default: `sys.argv`)."""
  argv = list(sys.argv if argv is None else argv)
  if len(argv) < 2 or argv[1] in ('-h', '--help', '-?', '--helpfull', 'help'):
    print(usage())
    sys.exit(0 if len(argv) >= 2 else 2)
  module, sys.argv, error = _module_of(argv)
  if error:
    print(error, file=sys.stderr)
    sys.exit(2)
  importlib.import_module(module).cli()
