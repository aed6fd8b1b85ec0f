"""User-facing errors: each message is one line naming the problem and the fix.

`launch.py` and the command-line tools print these without a traceback.
"""


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
