"""Writing files so that a reader never sees half of one."""

import os


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
