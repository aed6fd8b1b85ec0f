"""Which hints file goes with which painting, for `colorize --hints`: the
file itself for one input, or `<input stem>.json|.png|.webp` in a folder;
an input whose name another input shares gets none, with a reason.
"""

import os
from typing import List, Optional, Sequence

from colorjax.hints.hint_files import SCRIBBLE_EXTENSIONS
from colorjax.hints.hint_files import HintError

__all__ = ['ambiguous_inputs', 'find_hints', 'stem_of']


def _candidates(hints: str, stem: str) -> List[str]:
  """The entries of folder `hints` that would be `stem`'s hints file
  (regular files, folders and links alike)."""
  return [os.path.join(hints, stem + ext)
          for ext in ('.json',) + SCRIBBLE_EXTENSIONS
          if os.path.lexists(os.path.join(hints, stem + ext))]


def stem_of(input_path: str) -> str:
  """The name a hints folder knows an input by: its file name without the
  extension (`x/a.png` and `y/a.jpg` are both `a`)."""
  return os.path.splitext(os.path.basename(input_path))[0]


def ambiguous_inputs(hints: str, inputs: Sequence[str]) -> dict:
  """{input: why} for the inputs that share a name with another input and
  have a hints file in folder `hints`: which painting it was made for
  cannot be told, so neither gets it."""
  by_stem = {}
  for path in inputs:
    by_stem.setdefault(stem_of(path), []).append(path)
  out = {}
  for stem, paths in by_stem.items():
    if len(paths) > 1 and _candidates(hints, stem):
      for path in paths:
        out[path] = (f'{path}: {os.path.join(hints, stem)}.* could be the '
                     f'hints of {len(paths)} inputs ({", ".join(paths)}); '
                     'rename the paintings apart, or colour them in separate '
                     'runs.')
  return out


def find_hints(hints: str, input_path: str, num_inputs: int
               ) -> Optional[str]:
  """The hints file of `input_path`: `hints` itself (a file, for one input)
  or `hints`/<input stem>.json|.png|.webp (a folder; None if absent).

  Raises:
    HintError: two hints files for one input, or an entry of that name that
      is not a readable file (a folder, a dangling link, a link loop).
  """
  if os.path.isdir(hints):
    found = _candidates(hints, stem_of(input_path))
    if len(found) > 1:
      raise HintError(f'{hints} holds {len(found)} hints files for '
                      f'{input_path} ({", ".join(found)}); keep one.')
    if found and not os.path.isfile(found[0]):
      raise HintError(f'{found[0]}, the hints of {input_path}, is not a '
                      'readable file (a folder, a dangling link or a link '
                      'loop); replace or remove it.')
    return found[0] if found else None
  if not os.path.exists(hints):
    raise HintError(f'--hints={hints} does not exist; pass a hints file or a '
                    'folder of <input name>.json / .png files.')
  if num_inputs != 1:
    raise HintError(f'--hints={hints} is one file but {num_inputs} inputs '
                    'were given; pass a folder holding <input name>.json or '
                    '.png for each.')
  return hints
