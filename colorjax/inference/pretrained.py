"""The trained hint model that ships inside the package: colours right after
install, offline, with no training first.

Two files in `colorjax/data/pretrained/`: `hints.msgpack`, the generator's
weights (flax msgpack, float16: no orbax needed to read them), and
`hints.json`, its card: the config it was trained with, the training set's
mean colour, the file's SHA-256 and size (checked on every load: a truncated
or altered file is one line naming it, never a wrong picture), what it was
trained on and how (command, commit, date, machine) and its test figures.
The weights carry the training data's terms (`paintings_more`: research and
non-commercial use; docs/pretrained.md).

Every tool takes it by name where it takes a workdir (`--workdir=` the
`names.BUNDLED` name) and uses it when no workdir is given;
`Colorizer.pretrained()` in Python. `colorjax export-pretrained`
writes both files from a training run.
"""

import hashlib
import json
import os
import re
from typing import Any, Dict, NamedTuple, Optional, Tuple

import flax.serialization
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from colorjax import files
from colorjax.errors import CheckpointError
from colorjax.nets import build

__all__ = ['CARD', 'FOLDER', 'Model', 'WEIGHTS', 'config_of', 'export', 'load',
           'load_model', 'load_run', 'read_card', 'settings_digest']

FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), 'data', 'pretrained')
WEIGHTS, CARD = 'hints.msgpack', 'hints.json'
# What the weights may be stored as.
DTYPES = ('float16', 'float32')
_HEX64 = re.compile(r'^[0-9a-f]{64}$')
_REINSTALL = ('reinstall colorjax (pip install --force-reinstall -e .) or '
              'export it again (colorjax export-pretrained)')


def _is_count(value: object) -> bool:
  return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# Each field the loader reads: (the test, what it must be).
_FIELDS = {
    'sha256': (lambda v: isinstance(v, str) and _HEX64.match(v),
               '64 hex digits'),
    'settings_sha256': (lambda v: isinstance(v, str) and _HEX64.match(v),
                        '64 hex digits'),
    'bytes': (lambda v: _is_count(v) and v > 0, 'a whole number > 0'),
    'epoch': (_is_count, 'a whole number >= 0'),
    'step': (_is_count, 'a whole number >= 0'),
    'dtype': (lambda v: v in DTYPES, f'one of {DTYPES}'),
    'config': (lambda v: isinstance(v, dict), 'an object'),
    'data_stats': (lambda v: isinstance(v, dict), 'an object'),
}
_NEEDED = ('sha256', 'settings_sha256', 'bytes', 'config', 'data_stats',
           'epoch')


def settings_digest(card: Dict[str, Any]) -> str:
  """SHA-256 of what in a card changes the picture (its config and data
  statistics), as canonical JSON; the card's `settings_sha256`."""
  text = json.dumps({'config': card['config'],
                     'data_stats': card['data_stats']},
                    sort_keys=True, separators=(',', ':'))
  return hashlib.sha256(text.encode('utf-8')).hexdigest()


def read_card(folder: Optional[str] = None) -> Dict[str, Any]:
  """The model card (`hints.json`) of the model in `folder` (default: the
  bundled one), its fields checked; raises CheckpointError naming a missing
  or broken card, a field of the wrong type, or settings that are not the
  ones it was exported with."""
  path = os.path.join(folder or FOLDER, CARD)
  if not os.path.lexists(path):
    raise CheckpointError(f'{path} is missing: the bundled model is not '
                          f'installed; {_REINSTALL}.')
  card = files.read_json(path, CheckpointError)
  if not isinstance(card, dict) or any(k not in card for k in _NEEDED):
    raise CheckpointError(f'{path} is not a colorjax model card (it needs '
                          f'{", ".join(_NEEDED)}); {_REINSTALL}.')
  for key, (ok, what) in _FIELDS.items():
    if key in card and not ok(card[key]):
      raise CheckpointError(f'{path}: "{key}" is {card[key]!r}, not '
                            f'{what}; {_REINSTALL}.')
  if settings_digest(card) != card['settings_sha256']:
    raise CheckpointError(
        f'{path}: its config or data_stats differ from the ones it was '
        'exported with (settings_sha256); they change every picture: '
        f'{_REINSTALL}, or export again with the settings you want '
        '(colorjax export-pretrained --hint_gate=...).')
  return card


def _checked_bytes(path: str, card: Dict[str, Any]) -> bytes:
  """The weights file's bytes, if they are the ones the card names."""
  try:
    with open(path, 'rb') as f:
      data = f.read(int(card['bytes']) + 1)
  except OSError as e:
    raise CheckpointError(f'{path}: {e.strerror or type(e).__name__}; '
                          f'{_REINSTALL}.') from None
  if len(data) != int(card['bytes']):
    raise CheckpointError(
        f'{path} holds {len(data):,} bytes where its card says '
        f'{int(card["bytes"]):,}: the file is truncated or altered; '
        f'{_REINSTALL}.')
  digest = hashlib.sha256(data).hexdigest()
  if digest != card['sha256']:
    raise CheckpointError(
        f'{path} has SHA-256 {digest[:16]}..., not the {card["sha256"][:16]}'
        f'... its card names: the file is altered or corrupt; {_REINSTALL}.')
  return data


def config_of(card: Dict[str, Any], path: str) -> ml_collections.ConfigDict:
  """The card's config, upgraded and checked as a workdir's is."""
  from colorjax.training import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  return workdir_lib.config_from_stored(card['config'], path, _REINSTALL)


class Model(NamedTuple):
  """A trained model and what running it takes (`load_model`).

  Attributes:
    module: the generator, a Flax module with every field it was trained
      with (`colorjax.nets.build.generator` of its config).
    variables: its float32 variables, {'params': ..., 'batch_stats': ...}.
    config: the config it was trained with; `config.ab_scale` is the scale
      of its a, b (`colorjax.colour.spaces`), `config.image_size` its size.
    card: the card: provenance, checksums, test figures.
  """
  module: Any
  variables: Dict[str, Any]
  config: ml_collections.ConfigDict
  card: Dict[str, Any]


def load_model(folder: Optional[str] = None) -> Model:
  """The model in `folder` (default: the bundled one) as a Flax module and
  its variables: `model.module.apply(model.variables, l, train=False,
  hint_ab=..., hint_mask=...)` is what `colorize` runs.

  Raises:
    CheckpointError: a missing, truncated or altered file, or weights that
      do not fit the card's model, in one line naming the file.
  """
  folder = folder or FOLDER
  card = read_card(folder)
  path = os.path.join(folder, WEIGHTS)
  config = config_of(card, os.path.join(folder, CARD))
  data = _checked_bytes(path, card)
  try:
    stored = flax.serialization.msgpack_restore(data)
  except Exception as e:  # pylint: disable=broad-except
    raise CheckpointError(f'{path} is not flax msgpack ({type(e).__name__});'
                          f' {_REINSTALL}.') from None
  module = build.generator(config)
  s = config.image_size
  want = jax.eval_shape(lambda: module.init(
      jax.random.PRNGKey(0), jnp.zeros((1, s, s, 1)), train=False))
  want = {'params': want['params'],
          'batch_stats': want.get('batch_stats', {})}
  def checked(key_path, w, x):
    x = np.asarray(x, np.float32)
    if x.shape != w.shape:  # Never reshaped into place: a wrong picture.
      raise ValueError(f'{jax.tree_util.keystr(key_path)} is {x.shape}, '
                       f'not {w.shape}')
    return x

  try:
    variables = jax.tree_util.tree_map_with_path(
        checked, want, {'params': stored['params'],
                        'batch_stats': stored.get('batch_stats', {})})
  except (KeyError, TypeError, ValueError) as e:
    raise CheckpointError(f'{path} does not hold the weights of the model '
                          f'its card describes ({type(e).__name__}: '
                          f'{str(e)[:200]}); {_REINSTALL}.') from None
  return Model(module, variables, config, card)


def load(folder: Optional[str] = None
         ) -> Tuple[ml_collections.ConfigDict, Dict[str, Any], Any,
                    Dict[str, Any]]:
  """(config, float32 variables, the generator's apply, card) of the model
  in `folder` (default: the bundled one); `load_model` gives the module.

  Raises:
    CheckpointError: as `load_model`.
  """
  model = load_model(folder)
  return model.config, model.variables, model.module.apply, model.card


def load_run(folder: Optional[str] = None):
  """(config, None, state) as `workdir.load_run` returns for a run: the
  bundled model for the tools that score or draw with a state."""
  from colorjax.training import state as state_lib  # pylint: disable=g-import-not-at-top
  config, variables, apply_fn, card = load(folder)
  g = state_lib.NetState(params=variables['params'],
                         model_state=variables['batch_stats'], opt_state=None,
                         apply_fn=apply_fn, tx=None, lr_fn=None)
  state = state_lib.TrainState(step=jnp.asarray(card.get('step', 0)),
                               epoch=jnp.asarray(card['epoch']), rng=None,
                               g=g, d=None)
  return config, None, state


def export(workdir: str, output: str, dtype: str = 'float16',
           epoch: Optional[int] = None,
           provenance: Optional[Dict[str, Any]] = None,
           hint_gate: Optional[Tuple[float, float, float]] = None
           ) -> Dict[str, Any]:
  """Writes a run's generator as `output`/hints.msgpack + hints.json.

  Args:
    workdir: a training run of a hint model.
    output: the folder (created if needed).
    dtype: what the weights are stored as ('float16' halves the file).
    epoch: the checkpoint (default: the latest).
    provenance: more card fields (how it was trained, its test figures).
    hint_gate: the inference gate to ship it with (`hints.gate`; default:
      the run's).

  Returns:
    The card written.
  """
  from colorjax.training import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  if dtype not in DTYPES:
    raise CheckpointError(f'dtype {dtype!r} is not one of {DTYPES}.')
  config, _, state = workdir_lib.load_run(workdir, epoch)
  if not config.hints.enabled:
    raise CheckpointError(f'{workdir!r} is not a hint model; the bundled '
                          'model is one (configs/hints.py).')
  if hint_gate is not None:  # An inference setting; the weights are as is.
    config.hints.gate = tuple(float(v) for v in hint_gate)
  # Everything is read and checked before anything is written: a torn run
  # file leaves the bundled model as it was, never half replaced.
  data_stats = workdir_lib.read_data_stats(workdir)
  variables = jax.tree.map(lambda x: np.asarray(x).astype(dtype),
                           jax.device_get(state.g.variables()))
  data = flax.serialization.msgpack_serialize(variables)
  card = dict(provenance or {})
  card.update(
      sha256=hashlib.sha256(data).hexdigest(), bytes=len(data), dtype=dtype,
      epoch=int(state.epoch), step=int(state.step),
      parameters=int(sum(np.size(x) for x in
                         jax.tree.leaves(variables['params']))),
      config=config.to_dict(), data_stats=data_stats)
  # The stored form is what is hashed (tuples become lists).
  card = json.loads(json.dumps(card))  # Fails here, not after the weights.
  card['settings_sha256'] = settings_digest(card)
  text = json.dumps(card, indent=2)
  os.makedirs(output, exist_ok=True)
  files.write_atomically(os.path.join(output, WEIGHTS), data)
  files.write_text(os.path.join(output, CARD), text)
  return card
