"""Files: written so that a reader never sees half of one, and named in
reports as a person would type them."""

import io
import json
import os
from typing import Any


def write_atomically(path: str, data: bytes) -> None:
  """Writes `data` to `path` through a temporary file in the same folder,
  flushed to disk and renamed into place; the temporary file never stays."""
  folder = os.path.dirname(os.path.abspath(path))
  tmp = os.path.join(folder, f'.{os.path.basename(path)}.{os.getpid()}.tmp')
  try:
    with open(tmp, 'wb') as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.unlink(tmp)


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
