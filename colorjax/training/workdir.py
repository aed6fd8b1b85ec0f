"""What reads or writes a run directory: its config, lock, records and state.

Every tool that reads a run (`colorize`, `evaluate`, `compare`, the seed
report, training's resume) gets its config from `read_config`, which
validates the file and upgrades configs stored before a setting existed, in
this one place: a missing field takes the value that runs without it were
trained with (`STORED_BEFORE`), else the current default.
"""

import fcntl
import json
import os
import socket
import time
from typing import Any, Dict, List, Optional, Tuple

from absl import logging
import jax
from jax.sharding import Mesh
import ml_collections

from colorjax import files
from colorjax import names
from colorjax.errors import CheckpointError
from colorjax.errors import ConfigError
from colorjax.training import checkpoint
from colorjax.training import config_validation
from colorjax.training import steps as steps_lib

__all__ = ['check_resumable', 'check_seed_count', 'config_from_stored',
           'load_run', 'Lock', 'prepare', 'read_config', 'read_data_stats',
           'read_records', 'Records', 'seed_workdirs', 'STORED_BEFORE',
           'summary', 'write_config']

# metrics.jsonl: a few hundred bytes a record; a run writes tens of thousands.
_MAX_METRICS_BYTES = 2**30

Records = List[Dict[str, Any]]

# Fields whose default changed after runs were stored without them: the value
# those runs were trained with.
STORED_BEFORE: Dict[str, Any] = {
    'ab_scale': 110.0,  # colorjax's own scale before the reference's 127.
    'resize': 'half_pixel',
    'save_optimizer': True,
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
  if not os.path.isdir(workdir):
    raise CheckpointError(f'workdir {workdir!r} does not exist; pass the '
                          '--workdir a training run wrote.')
  path = os.path.join(workdir, names.CONFIG)
  if not os.path.lexists(path):
    raise CheckpointError(f'{workdir!r} is not a colorjax workdir (no '
                          f'{names.CONFIG}); pass the --workdir of a training '
                          'run.')
  return config_from_stored(files.read_json(path, CheckpointError), path)


def config_from_stored(stored: Any, path: str,
                       fix: str = 'restore the file from the run'
                       ) -> ml_collections.ConfigDict:
  """A stored config (what `path` holds), upgraded and checked: fields it
  lacks take the values runs without them were trained with, and every value
  is held to the ranges training holds; an error ends with `fix`."""
  from colorjax.configs import default  # pylint: disable=g-import-not-at-top
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
  try:  # The ranges training holds: a stored -110 would invert colours.
    config_validation.validate_config(config, 1, dataset=False)
  except ConfigError as e:
    raise CheckpointError(f'{path}: {e} {fix[:1].upper()}{fix[1:]}.'
                          ) from None
  return config


def write_config(workdir: str, config: ml_collections.ConfigDict) -> None:
  """Writes `config` as `workdir`/config.json, atomically (a reader sees the
  old file or the new one, never half of one)."""
  files.write_text(os.path.join(workdir, names.CONFIG),
                   config.to_json_best_effort(indent=2))


def read_records(workdir: str) -> Records:
  """The records of `workdir/metrics.jsonl` ([] if there is none yet).

  A line cut short (a process killed mid-write; a resumed run starts on the
  next line) is skipped with a warning. A resumed run repeats the steps after
  its checkpoint: a record of a step at or before one already read (of the
  same kind) replaces the records from that step on, so no step is counted
  twice.
  """
  path = os.path.join(workdir, names.METRICS)
  if not os.path.lexists(path):
    return []
  files.check_regular_file(path, _MAX_METRICS_BYTES, CheckpointError)
  try:
    with open(path, encoding='utf-8', errors='replace') as f:
      lines = [line for line in f if line.strip()]
  except OSError as e:
    raise CheckpointError(f'{path} cannot be read ({e}).') from None
  records, last = [], {}
  for i, line in enumerate(lines):
    try:
      record = json.loads(line)
    except json.JSONDecodeError:
      logging.warning('%s: skipped line %d, cut short (%d bytes).', path,
                      i + 1, len(line))
      continue
    kind, step = record.get('kind'), record.get('step')
    if isinstance(step, int):
      if step <= last.get(kind, -1):  # Repeated after a resume.
        records = [r for r in records
                   if r.get('kind') != kind or r.get('step', -1) < step]
      last[kind] = step
    records.append(record)
  return records


def _verdict(model: float, grey: float, prior: float) -> str:
  if model > grey:
    return 'worse than leaving the images grey'
  if model > prior:
    return 'better than grey, worse than painting every pixel the mean colour'
  return 'better than both grey and the mean colour'


def read_data_stats(workdir: str) -> Dict[str, Any]:
  """What training saved of its data (the mean a, b, the trivial answers'
  metrics); {} for a run that saved none.

  Raises:
    CheckpointError: the file is there but not a readable JSON object.
  """
  path = os.path.join(workdir, names.DATA_STATS)
  if not os.path.lexists(path):
    return {}
  stats = files.read_json(path, CheckpointError)
  if not isinstance(stats, dict):
    raise CheckpointError(f'{path} holds {type(stats).__name__}, not an '
                          'object; delete it (training writes it again).')
  return stats


def summary(workdir: str, name: Optional[str] = None) -> str:
  """What a finished run did, in words, where its files are and what to run
  next; '' if it has no evaluated epoch."""
  from colorjax import names as n  # pylint: disable=g-import-not-at-top
  evals = [r for r in read_records(workdir) if r.get('kind') == n.VALIDATION]
  name = name or workdir
  try:
    trivial = read_data_stats(workdir).get('validation', {})
  except CheckpointError:  # A summary goes without it.
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
      '  '.join(f'{label}: {os.path.join(name, folder)}/'
                for label, folder in (('Plots', n.PLOTS),
                                      ('Samples', n.SAMPLES),
                                      ('Checkpoints', n.CHECKPOINTS))
                if os.path.isdir(os.path.join(workdir, folder))),
      f'Next: colorjax colorize --workdir={name} --output=out '
      'PAINTING...',
      f'      colorjax evaluate --workdir={name}',
  ]
  return '\n'.join(lines)


def load_run(workdir: str, epoch: Optional[int] = None,
             mesh: Optional[Mesh] = None, temperature: Optional[float] = None,
             seed: Optional[int] = None
             ) -> Tuple[ml_collections.ConfigDict, Any, Any]:
  """The config, compiled steps and restored state of a training run.

  Args:
    workdir: a directory `train_and_evaluate` wrote.
    epoch: the checkpoint at the end of this epoch (default: the latest).
    mesh: devices to use (default: all).
    temperature: the annealed mean's temperature of an ab-classes model
      (default: the run's `config.classes.temperature`).
    seed: in a run of several seeds, which one (0-based; default 0).

  Raises:
    CheckpointError: the workdir, its config or the checkpoint is missing.
  """
  config = read_config(workdir)
  num_seeds = config.num_seeds
  if seed is not None and not 0 <= seed < num_seeds:
    raise CheckpointError(f'--seed={seed}: {workdir!r} holds {num_seeds} '
                          f'seed(s); pass 0 to {num_seeds - 1}.')
  if num_seeds > 1:
    if seed is None:
      logging.info('%s holds %d seeds; using seed_0 (pass --seed=K for '
                   'another).', workdir, num_seeds)
    return load_run(os.path.join(workdir, names.seed_dir(seed or 0)), epoch,
                    mesh, temperature)
  if temperature is not None:
    if config.head != 'classes':
      raise ConfigError(f'--temperature={temperature} applies to a model '
                        'with config.head=\'classes\'; this run regresses '
                        'ab: use --vibrance.')
    if not 0 < temperature <= 1:
      raise ConfigError(f'--temperature={temperature} must be in (0, 1] (1: '
                        'the mean of the class distribution).')
    config.classes.temperature = temperature
  mesh = mesh or steps_lib.default_mesh()
  if config.batch_size % mesh.size:  # Inference only: any batch will do.
    config.batch_size = mesh.size * max(1, config.batch_size // mesh.size)
  steps = steps_lib.Steps(config, mesh)
  state = checkpoint.restore(checkpoint.create_manager(workdir),
                             steps.abstract_state(), epoch)
  return config, steps, state


def prepare(workdir: str) -> None:
  """Creates `workdir` or says in one line why it cannot be written."""
  try:
    os.makedirs(workdir, exist_ok=True)
  except OSError as e:
    raise CheckpointError(f'cannot create workdir {workdir!r} ({e.strerror}); '
                          'pass a writable --workdir.') from e
  if not os.access(workdir, os.W_OK):
    raise CheckpointError(f'workdir {workdir!r} is not writable; pass a '
                          'writable --workdir.')


class Lock:
  """Process 0's exclusive lock on a workdir, so two runs never interleave
  checkpoints and metrics. It is a kernel lock (flock) on `workdir/lock`:
  it goes with the process, however that ends, so a lock is never stale."""

  def __init__(self, workdir: str):
    self.path = os.path.join(workdir, names.LOCK)
    self._fd = None

  def __enter__(self):
    if jax.process_index():
      return self
    try:
      fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
      raise CheckpointError(f'cannot open the lock file {self.path} '
                            f'({e.strerror}); check the workdir\'s space and '
                            'permissions.') from None
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      holder = os.pread(fd, 200, 0).decode(errors='replace').strip()
      os.close(fd)
      raise CheckpointError(
          f'workdir {os.path.dirname(self.path)!r} is in use by another run '
          f'({holder or "unknown process"}); wait for it to finish, stop it, '
          'or pass another --workdir.') from None
    self._fd = fd
    try:  # Who holds it, for the message above; a full disk may refuse.
      os.ftruncate(fd, 0)
      os.pwrite(fd, f'pid {os.getpid()} on {socket.gethostname()} since '
                f'{time.strftime("%Y-%m-%d %H:%M:%S")}\n'.encode(), 0)
    except OSError:
      pass
    return self

  def __exit__(self, *exc):
    if self._fd is not None:
      os.ftruncate(self._fd, 0)
      os.close(self._fd)  # Releases the lock.
      self._fd = None


# What shapes the saved state: a run cannot resume under other values.
_STATE_KEYS = ('model', 'generator', 'discriminator', 'cnn', 'ab_scale',
               'resize')


def check_resumable(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Raises naming what differs if `workdir` holds a run of another model."""
  if not os.path.exists(os.path.join(workdir, names.CONFIG)):
    return
  saved = json.loads(read_config(workdir).to_json_best_effort())
  current = json.loads(config.to_json_best_effort())
  changed = [k for k in _STATE_KEYS if k in saved
             and (k != 'discriminator' or current['model'] == 'gan')
             and saved[k] != current[k]]
  if changed:
    diffs = '; '.join(f'{k}: {saved[k]} there, {current[k]} now'
                      for k in changed)
    raise CheckpointError(
        f'workdir {workdir!r} holds a run of another model ({diffs}); resume '
        'it with its own config.json, or pass a fresh --workdir.')


def seed_workdirs(config: ml_collections.ConfigDict, workdir: str
                   ) -> List[Tuple[ml_collections.ConfigDict, str]]:
  """(config, workdir) of each seed: the run's own for one seed, else
  WORKDIR/seed_k with seed `config.seed + k`."""
  if config.num_seeds == 1:
    return [(config, workdir)]
  out = []
  for k in range(config.num_seeds):
    c = config.copy_and_resolve_references()
    c.seed, c.num_seeds = config.seed + k, 1
    out.append((c, os.path.join(workdir, names.seed_dir(k))))
    os.makedirs(out[-1][1], exist_ok=True)
  return out


def check_seed_count(config: ml_collections.ConfigDict, workdir: str) -> None:
  """A run resumes only with the seed count it was started with."""
  if not os.path.exists(os.path.join(workdir, names.CONFIG)):
    return
  saved = read_config(workdir).num_seeds
  if saved != config.num_seeds:
    raise CheckpointError(
        f'workdir {workdir!r} holds a run of {saved} seed(s), not '
        f'{config.num_seeds}; resume it with --config.num_seeds={saved}, or '
        'pass a fresh --workdir.')
