"""The recipes, installed as `colorjax.configs`; `load` finds one by name.

`default.py` holds every knob with the term project's values; each other
recipe calls `default.get_config()` and overrides a few fields. An argument
after a colon picks a size variant (e.g. ``gan_bn:demo``).
"""

import importlib
import importlib.util
import os
import pkgutil

import ml_collections

from colorjax.errors import ConfigError


def names() -> list[str]:
  """The recipes that ship with colorjax (not `default`, which they extend)."""
  return sorted(m.name for m in pkgutil.iter_modules(__path__)
                if m.name != 'default')


def load(spec: str) -> ml_collections.ConfigDict:
  """A config from a recipe name or a config file path, with its variant.

  Works from any working directory: names resolve inside the installed
  package, paths relative to the working directory.

  Args:
    spec: ``NAME[:VARIANT]`` (e.g. ``gan_sn:demo``) or
      ``PATH.py[:VARIANT]`` (e.g. ``configs/gan_bn.py``).

  Raises:
    ConfigError: no such recipe or file, or it has no `get_config`.
  """
  name, _, arg = spec.partition(':')
  if name.endswith('.py') or os.sep in name:
    path = os.path.expanduser(name)
    if not os.path.isfile(path):
      raise ConfigError(f'config file {name!r} does not exist; pass a recipe '
                        f'name ({", ".join(names())}) or a config file path.')
    module_spec = importlib.util.spec_from_file_location(
        f'colorjax_config_{abs(hash(os.path.abspath(path)))}', path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
  elif name in names() or name == 'default':
    module = importlib.import_module(f'{__name__}.{name}')
  else:
    raise ConfigError(f'unknown recipe {name!r}; use one of '
                      f'{", ".join(names())} or a config file path.')
  if not hasattr(module, 'get_config'):
    raise ConfigError(f'{spec!r} has no get_config(); a config file defines '
                      'get_config(arg).')
  try:
    return module.get_config(arg)
  except ValueError as e:  # An unknown variant.
    raise ConfigError(f'{spec!r}: {e}') from e
