"""User-facing errors: each message is one line naming the problem and the fix.

`launch.py` and the command-line tools print these without a traceback.
"""

__all__ = ['CheckpointError', 'ColorjaxError', 'ConfigError', 'DataError',
           'is_out_of_memory', 'MissingExtraError', 'one_line',
           'TrainingDiverged']


def one_line(text: str) -> str:
  """`text` as one printable line: a control character (a newline in a file
  name) or an undecodable byte (a name that is not UTF-8) is escaped."""
  return ''.join(
      c if c.isprintable() or c == ' ' else
      c.encode('unicode_escape', 'backslashreplace').decode('ascii')
      for c in text)


def is_out_of_memory(e: BaseException) -> bool:
  """Whether `e` is NumPy's, OpenCV's or XLA's way of running out of memory."""
  if isinstance(e, MemoryError):
    return True
  text = str(e)
  return ('RESOURCE_EXHAUSTED' in text or 'Out of memory' in text or
          'Insufficient memory' in text or 'Failed to allocate' in text)


class ColorjaxError(Exception):
  """Base class for errors caused by the user's input, not by a bug."""


class ConfigError(ColorjaxError, ValueError):
  """A config value is invalid."""


class DataError(ColorjaxError):
  """A dataset is missing, empty or unusable."""


class CheckpointError(ColorjaxError):
  """A workdir or checkpoint is missing, unreadable or incompatible."""


class TrainingDiverged(ColorjaxError):
  """A loss or gradient became NaN or Inf."""


class MissingExtraError(ColorjaxError, ImportError):
  """A feature needs an optional extra that is not installed; the message
  names the `pip install` that adds it."""
