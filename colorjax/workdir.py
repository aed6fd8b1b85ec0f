"""A run directory's config: one reader and one writer for `config.json`.

Every tool that reads a run (`colorize`, `evaluate`, `compare`, the seed
report, training's resume) gets its config from `read_config`, which
validates the file and upgrades configs stored before a setting existed, in
this one place: a missing field takes the value that runs without it were
trained with (`STORED_BEFORE`), else the current default.
"""

import json
import os
import tempfile
from typing import Any, Dict, List, Optional

from absl import logging
import ml_collections

from colorjax import names
from colorjax.errors import CheckpointError

Records = List[Dict[str, Any]]

# Fields whose default changed after runs were stored without them: the value
# those runs were trained with.
STORED_BEFORE: Dict[str, Any] = {
    'ab_scale': 110.0,  # colorjax's own scale before the reference's 127.
    'resize': 'half_pixel',
}


def _merge(base: ml_collections.ConfigDict, stored: Dict[str, Any],
           path: str, prefix: str = '') -> None:
  """Overlays `stored` on `base`, checking each value's type against it."""
  for key, value in stored.items():
    name = prefix + key
    if key not in base:
      base[key] = value  # A field this version does not know: kept as is.
      continue
    default = base[key]
    if isinstance(default, ml_collections.ConfigDict):
      if not isinstance(value, dict):
        raise CheckpointError(f'{path}: field {name!r} must be an object, '
                              f'not {value!r}; restore the file from the run '
                              'or start a fresh --workdir.')
      _merge(default, value, path, name + '.')
      continue
    if isinstance(default, bool) or default is None:
      ok = default is None or isinstance(value, bool)
    elif isinstance(default, (int, float)):
      ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
            and (isinstance(default, float) or isinstance(value, int)))
    elif isinstance(default, (tuple, list)):
      ok = isinstance(value, (tuple, list))
      value = tuple(value) if ok else value
    else:
      ok = isinstance(value, type(default))
    if not ok:
      raise CheckpointError(
          f'{path}: field {name!r} is {value!r}, not a '
          f'{type(default).__name__} like {default!r}; fix it or restore the '
          'file from the run.')
    with base.ignore_type():
      base[key] = float(value) if isinstance(default, float) else value


def read_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a run in `workdir` was trained with, upgraded and checked.

  Raises:
    CheckpointError: no workdir, no config file, or a file that is not a
      config (torn, empty, wrong types), with the file and field named.
  """
  from colorjax.configs import default  # pylint: disable=g-import-not-at-top
  if not os.path.isdir(workdir):
    raise CheckpointError(f'workdir {workdir!r} does not exist; pass the '
                          '--workdir a training run wrote.')
  path = os.path.join(workdir, names.CONFIG)
  if not os.path.isfile(path):
    raise CheckpointError(f'{workdir!r} is not a colorjax workdir (no '
                          f'{names.CONFIG}); pass the --workdir of a training '
                          'run.')
  try:
    with open(path, encoding='utf-8') as f:
      stored = json.load(f)
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
    raise CheckpointError(f'{path} cannot be read as JSON ({e}); restore it '
                          'from the run or start a fresh --workdir.') from e
  if not isinstance(stored, dict):
    raise CheckpointError(f'{path} holds {type(stored).__name__}, not a '
                          'config object; restore it from the run.')
  for key in ('model', 'image_size', 'batch_size'):
    if key not in stored:
      raise CheckpointError(f'{path} has no {key!r} field: not a colorjax '
                            'config; restore it from the run.')
  config = default.get_config()
  config.update(STORED_BEFORE)
  _merge(config, stored, path)
  return config


def write_config(workdir: str, config: ml_collections.ConfigDict) -> None:
  """Writes `config` as `workdir`/config.json, atomically (a reader sees the
  old file or the new one, never half of one)."""
  write_text(os.path.join(workdir, names.CONFIG),
             config.to_json_best_effort(indent=2))


def write_text(path: str, text: str) -> None:
  """Writes `text` to `path` through a temporary file renamed into place."""
  folder = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp-',
                             suffix=os.path.basename(path))
  try:
    with os.fdopen(fd, 'w', encoding='utf-8') as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def read_records(workdir: str) -> Records:
  """The records of `workdir/metrics.jsonl` ([] if there is none yet).

  A line cut short (a process killed mid-write; a resumed run starts on the
  next line) is skipped with a warning.
  """
  path = os.path.join(workdir, names.METRICS)
  if not os.path.exists(path):
    return []
  with open(path) as f:
    lines = [line for line in f if line.strip()]
  records = []
  for i, line in enumerate(lines):
    try:
      records.append(json.loads(line))
    except json.JSONDecodeError:
      logging.warning('%s: skipped line %d, cut short (%d bytes).', path,
                      i + 1, len(line))
  return records


def _verdict(model: float, grey: float, prior: float) -> str:
  if model > grey:
    return 'worse than leaving the images grey'
  if model > prior:
    return 'better than grey, worse than painting every pixel the mean colour'
  return 'better than both grey and the mean colour'


def summary(workdir: str, name: Optional[str] = None) -> str:
  """What a finished run did, in words, where its files are and what to run
  next; '' if it has no evaluated epoch."""
  from colorjax import names as n  # pylint: disable=g-import-not-at-top
  evals = [r for r in read_records(workdir) if r.get('kind') == n.VALIDATION]
  name = name or workdir
  try:
    with open(os.path.join(workdir, n.DATA_STATS), encoding='utf-8') as f:
      trivial = json.load(f).get('validation', {})
  except (OSError, ValueError):
    trivial = {}
  if not evals or not {'grey', 'prior'} <= set(trivial):
    return ''
  last = evals[-1]
  de, cf = last[n.val(n.DELTA_E)], last.get(n.val(n.COLOURFULNESS_RATIO))
  grey, prior = trivial['grey'][n.DELTA_E], trivial['prior'][n.DELTA_E]
  lines = [
      f'Finished epoch {last["epoch"]}: validation Delta-E00 {de:.2f} '
      f'(lower is better; grey {grey:.2f}, mean colour {prior:.2f}): '
      f'{_verdict(de, grey, prior)}.' +
      (f' Colourfulness {cf:.2f} of the originals\'.' if cf is not None
       else ''),
      f'Plots: {os.path.join(name, n.PLOTS)}/  samples: '
      f'{os.path.join(name, n.SAMPLES)}/  checkpoints: '
      f'{os.path.join(name, n.CHECKPOINTS)}/',
      f'Next: python -m colorjax.colorize --workdir={name} --output=out '
      'PAINTING...',
      f'      python -m colorjax.evaluate --workdir={name}',
  ]
  return '\n'.join(lines)
