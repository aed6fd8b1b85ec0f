"""Files: read only when they are regular files (never a hang, never a
traceback), written so that a reader never sees half of one, and named in
reports as a person would type them."""

import io
import itertools
import json
import os
import stat
from typing import Any, Optional, Sequence, Type

from colorjax.errors import DataError

__all__ = ['check_output', 'check_output_folder', 'check_regular_file',
           'display_path', 'MAX_JSON_BYTES', 'parse_json',
           'read_json', 'save_figure', 'write_atomically', 'write_json',
           'write_text']

MAX_JSON_BYTES = 64 * 2**20  # Far above any report, config or hints file.
_TMP_COUNTER = itertools.count()


def check_regular_file(path: str, max_bytes: int,
                       error: Type[Exception] = DataError) -> None:
  """Refuses what is not a regular file of at most `max_bytes` (a FIFO
  would hang a read, a device such as /dev/zero exhaust memory) with
  `error`, one line naming it."""
  try:
    info = os.stat(path)  # Follows links.
  except OSError as e:  # Missing, a link loop, no permission on a folder.
    raise error(f'{path}: {e.strerror or type(e).__name__}.') from None
  if not stat.S_ISREG(info.st_mode):
    raise error(f'{path} is not a regular file (a folder, FIFO, socket or '
                'device).')
  if info.st_size > max_bytes:
    raise error(f'{path} is {info.st_size / 2**20:.0f} MiB, more than the '
                f'{max_bytes / 2**20:.0f} MiB allowed.')


def parse_json(text: str, name: str, error: Type[Exception] = DataError
               ) -> Any:
  """The JSON document `text` (what `name` holds); anything that is not
  plain JSON is `error`, one line naming it: bad syntax, nesting too deep
  for the parser (RecursionError), a number too long to convert."""
  try:
    return json.loads(text)
  except json.JSONDecodeError as e:
    raise error(f'{name} is not valid JSON ({e.msg} at line {e.lineno}, '
                f'column {e.colno}).') from None
  except RecursionError:
    raise error(f'{name} is nested too deeply to be a hints or config '
                'file.') from None
  except ValueError as e:  # E.g. an integer of thousands of digits.
    raise error(f'{name} is not usable JSON ({str(e).splitlines()[0]}).'
                ) from None


def read_json(path: str, error: Type[Exception] = DataError,
              max_bytes: int = MAX_JSON_BYTES) -> Any:
  """The JSON document at `path`; what is not a regular file, cannot be
  read or is not JSON is `error`, one line naming the file."""
  check_regular_file(path, max_bytes, error)
  try:
    with open(path, encoding='utf-8') as f:
      text = f.read()
  except (OSError, UnicodeDecodeError) as e:
    raise error(f'{path} cannot be read ({e}).') from None
  return parse_json(text, path, error)


def write_atomically(path: str, data: bytes, replace: bool = True) -> None:
  """Writes `data` to `path` through a temporary file in the same folder,
  flushed to disk and moved into place; the temporary file never stays.

  With `replace=False` the last step claims the name only if it is still
  free (a hard link, which fails on an existing name): a file another
  process wrote there since the caller looked is never replaced.

  Raises:
    FileExistsError: `replace=False` and `path` exists.
    OSError: the write failed (nothing is left under `path`'s name).
  """
  folder = os.path.dirname(os.path.abspath(path))
  # Short and unique: a name near the 255-byte limit still has a temporary.
  tmp = os.path.join(folder, f'.{os.path.basename(path)[:64]}.'
                     f'{os.getpid()}.{next(_TMP_COUNTER)}.tmp')
  try:
    with open(tmp, 'wb') as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    if replace:
      os.replace(tmp, path)
    else:
      _claim(tmp, path)
  finally:
    if os.path.lexists(tmp):
      os.unlink(tmp)


def _claim(tmp: str, path: str) -> None:
  """Moves `tmp` to `path` unless `path` exists (then FileExistsError)."""
  try:
    os.link(tmp, path)
    return
  except FileExistsError:
    raise
  except OSError:  # A file system without hard links: claim, then move.
    pass
  fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
  os.close(fd)
  os.replace(tmp, path)


def check_output(flag: str, path: Optional[str],
                 formats: Sequence[str] = (), make_folder: bool = False,
                 not_inside: Optional[str] = None) -> None:
  """Refuses, before any work, an output file the tool could not write or
  should not: one line naming `--flag`.

  Args:
    flag: the flag's name, for the message.
    path: the file (None: not asked for; nothing to check).
    formats: the extensions it may end with (lower case, with the dot).
    make_folder: the tool creates a missing folder (else it must exist).
    not_inside: a folder whose files it must not replace (a dataset read).

  Raises:
    DataError: an empty name, a folder, a missing folder, another format, or
      an existing file inside `not_inside`.
  """
  if path is None:
    return
  if not path.strip():
    raise DataError(f'--{flag}= is empty; name a file or leave the flag out.')
  if os.path.isdir(path):
    raise DataError(f'--{flag}={path} is a folder; name a file in it.')
  if formats and os.path.splitext(path)[1].lower() not in formats:
    raise DataError(f'--{flag}={path}: it is written as '
                    f'{" or ".join(formats)}; end the name with one.')
  folder = os.path.dirname(os.path.abspath(path))
  if not make_folder and not os.path.isdir(folder):
    raise DataError(f'--{flag}={path}: the folder {folder} does not exist; '
                    'create it first.')
  root = os.path.expanduser(not_inside or '')
  if root and os.path.isdir(root) and os.path.isfile(path):
    root = os.path.realpath(root)
    if os.path.commonpath([root, os.path.realpath(path)]) == root:
      raise DataError(f'--{flag}={path} is a file of {not_inside}, which this '
                      f'run reads; write the {flag} outside it.')


def check_output_folder(flag: str, path: Optional[str]) -> None:
  """Refuses, before any work, an output folder that is an existing file or
  an empty name (one line naming `--flag`)."""
  if path is None:
    return
  if not path.strip():
    raise DataError(f'--{flag}= is empty; name a folder or leave the flag '
                    'out.')
  if os.path.lexists(path) and not os.path.isdir(path):
    raise DataError(f'--{flag}={path} is a file, not a folder; name a folder '
                    'for the report.')


def display_path(path: str) -> str:
  """`path` as a report names it: relative to the working directory when
  it is near (at most one level up), else under `~` when in the home
  folder, else as it is; names that are not paths ('samples') unchanged."""
  if not os.path.isabs(path):
    return path
  rel = os.path.relpath(path)
  if not rel.startswith(os.path.join(os.pardir, os.pardir)):
    return rel
  home = os.path.expanduser('~')
  if home not in ('', os.sep) and path.startswith(home + os.sep):
    return '~' + path[len(home):]
  return path


def write_text(path: str, text: str) -> None:
  """`write_atomically` for text (UTF-8)."""
  write_atomically(path, text.encode('utf-8'))


def write_json(path: str, value: Any) -> None:
  """`write_atomically` for a JSON document (indented)."""
  write_text(path, json.dumps(value, indent=2))


def save_figure(fig: Any, path: str, **kwargs: Any) -> None:
  """A matplotlib figure written as `write_atomically` writes (its format
  from the extension)."""
  buffer = io.BytesIO()
  fig.savefig(buffer, format=os.path.splitext(path)[1].lstrip('.') or 'png',
              **kwargs)
  write_atomically(path, buffer.getvalue())
