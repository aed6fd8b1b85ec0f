"""The optional extras: what each adds, and one line naming the `pip
install` that adds one a feature needs.

The core install carries the models, training on folders and the embedded
samples, checkpoints, `colorize` and the bundled model. The rest is named
in setup.cfg's extras: `tfds` (TensorFlow Datasets and TensorFlow, and the
Oxford Paintings spreadsheet reader), `plots` (matplotlib), `app` (the
page: Gradio), `torch` (PyTorch weights in and out), `all`.
"""

import importlib
import importlib.util
from types import ModuleType

from colorjax.errors import MissingExtraError

__all__ = ['available', 'pyplot', 'require']


def available(module: str) -> bool:
  """Whether `module` can be imported (without importing it)."""
  try:
    return importlib.util.find_spec(module) is not None
  except (ImportError, ValueError):
    return False


def require(module: str, extra: str, feature: str) -> ModuleType:
  """`module`, imported; or MissingExtraError naming `extra` if it is not
  installed.

  Args:
    module: what to import ('matplotlib.pyplot', 'tensorflow_datasets').
    extra: the colorjax extra that installs it ('plots', 'tfds').
    feature: what needs it, for the message ('--plot', 'a TFDS data set').
  """
  try:
    return importlib.import_module(module)
  except ModuleNotFoundError as e:
    top = module.split('.')[0]
    if e.name is not None and e.name.split('.')[0] != top:
      raise  # The extra is there but broken: its own error says more.
    raise MissingExtraError(
        f'{feature} needs {top}, which the core install leaves out: pip '
        f'install "colorjax[{extra}]" (or -e ".[{extra}]" in a clone).'
    ) from None


def pyplot(feature: str) -> ModuleType:
  """matplotlib.pyplot on the Agg backend (no display on servers and CI),
  or MissingExtraError naming the `plots` extra."""
  matplotlib = require('matplotlib', 'plots', feature)
  matplotlib.use('Agg')
  return importlib.import_module('matplotlib.pyplot')
