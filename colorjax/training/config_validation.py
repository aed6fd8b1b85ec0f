"""Checks a config before anything is compiled; each failure is one line."""

import os

import jax
import ml_collections

from colorjax import extras
from colorjax import names
from colorjax.errors import ConfigError
from colorjax.nets import layers
from colorjax.nets import models

__all__ = ['CAST_RULE', 'COMPUTE_DTYPES', 'downsampling_factor', 'GATE_RULE',
           'HEADS', 'MODELS', 'parse_cast', 'parse_gate', 'valid_cast',
           'valid_gate', 'validate_config']

MODELS = ('gan', 'unet', 'cnn')
HEADS = ('regression', 'classes')
COMPUTE_DTYPES = ('float32', 'bfloat16')


def _require(ok: bool, message: str) -> None:
  if not ok:
    raise ConfigError(message)


GATE_RULE = 'with reach in [0, 10] (0: off) and 0 <= low < high <= 1'


def valid_gate(gate) -> bool:
  """A hint gate (reach, low, high) that `hints.gate` can use."""
  return (len(gate) == 3 and
          all(isinstance(v, (int, float)) for v in gate) and
          0 <= gate[0] <= 10 and 0 <= gate[1] < gate[2] <= 1)


CAST_RULE = 'with 0 <= lo < hi <= 150 (CIELAB chroma), or 0,0 (off)'


def valid_cast(cast) -> bool:
  """A (lo, hi) `hints.cast_chroma` that `hints.gate` can use."""
  return (len(cast) == 2 and all(isinstance(v, (int, float)) for v in cast)
          and (tuple(cast) == (0, 0) or 0 <= cast[0] < cast[1] <= 150))


def _parse_numbers(values, valid, flag: str, what: str) -> tuple:
  """The numbers of a command-line list if `valid` takes them; else a
  ConfigError naming the flag and `what` it must be."""
  try:
    numbers = tuple(float(v) for v in values)
  except ValueError:
    numbers = ()
  if not valid(numbers):
    raise ConfigError(f'{flag}={",".join(values)} must be {what}.')
  return numbers


def parse_cast(values, flag: str = '--cast_chroma') -> tuple:
  """The (lo, hi) of a command-line list ('15', '20'); ConfigError naming
  the flag if it is not one."""
  return _parse_numbers(values, valid_cast, flag,
                        f'lo,hi {CAST_RULE}, e.g. 15,20')


def parse_gate(values, flag: str = '--hint_gate') -> tuple:
  """The gate of a command-line list ('0.5', '0.15', '0.35'); ConfigError
  naming the flag if it is not one."""
  return _parse_numbers(values, valid_gate, flag,
                        f'reach,low,high {GATE_RULE}, e.g. 0.5,0.15,0.35')


def downsampling_factor(config: ml_collections.ConfigDict) -> int:
  """What image_size must be divisible by for the configured model."""
  features = (config.cnn.features if config.model == 'cnn'
              else config.generator.features)
  return 2 ** (len(features) - 1)


def _nearest_size(size: int, factor: int) -> int:
  """The valid image size nearest `size`: a multiple of `factor`, >= 16."""
  below = max(16, factor, size // factor * factor)
  above = max(16, factor, -(-size // factor) * factor)
  return below if size - below <= above - size else above


def validate_config(config: ml_collections.ConfigDict,
                    num_devices: int, dataset: bool = True) -> None:
  """Raises ConfigError naming the first bad value and what to change.

  `dataset=False` leaves out whether `config.dataset` is there: a stored
  config (a finished run's, the bundled model's) is checked on machines
  without its data.
  """
  _require(config.model in MODELS,
           f'config.model={config.model!r} is unknown; use one of {MODELS}.')
  factor = downsampling_factor(config)
  _require(isinstance(config.image_size, int) and
           0 < config.image_size <= 2048,
           f'config.image_size={config.image_size!r} must be a whole number '
           f'of pixels in [{factor}, 2048] (a batch of 32 larger crops does '
           'not fit in memory); try 32.')
  _require(config.image_size % factor == 0,
           f'config.image_size={config.image_size} must be a positive multiple '
           f'of {factor} (the generator halves it {factor.bit_length() - 1} '
           f'times); try {_nearest_size(config.image_size, factor)}.')
  _require(isinstance(config.ab_scale, (int, float)) and
           50 <= config.ab_scale <= 200,
           f'config.ab_scale={config.ab_scale!r} must be a number in [50, 200] '
           '(the model range of a, b is ab / ab_scale); use 127 (the '
           'reference) or 110.')
  _require(config.resize in models.RESIZES,
           f'config.resize={config.resize!r} is unknown; use one of '
           f'{models.RESIZES}.')
  _require(config.batch_size > 0 and config.batch_size % num_devices == 0,
           f'config.batch_size={config.batch_size} must be a positive multiple '
           f'of the number of devices ({num_devices}); try '
           f'{max(1, config.batch_size // num_devices) * num_devices}.')
  if config.model == 'gan':
    d_factor = 2 ** (len(config.discriminator.features) - 1)
    _require(config.image_size // d_factor >= 4,
             f'config.image_size={config.image_size} is too small for a '
             f'discriminator with {len(config.discriminator.features) - 1} '
             f'strided convs (its 4x4 head needs image_size >= {4 * d_factor}); '
             'raise image_size or shorten config.discriminator.features.')
    _require(config.discriminator.norm in models.NORMS,
             f'config.discriminator.norm={config.discriminator.norm!r} is '
             f'unknown; use one of {models.NORMS}.')
  _require(config.head in HEADS,
           f'config.head={config.head!r} is unknown; use one of {HEADS}.')
  if config.head == 'classes':
    _require(config.model == 'cnn',
             'config.head=\'classes\' needs config.model=\'cnn\' (the GAN\'s '
             'discriminator judges ab, not class scores).')
    _require(0 <= config.classes.rebalance <= 1,
             f'config.classes.rebalance={config.classes.rebalance} must be in '
             '[0, 1] (1: no rebalancing).')
    _require(0 < config.classes.temperature <= 1,
             f'config.classes.temperature={config.classes.temperature} must '
             'be in (0, 1] (1: the mean of the class distribution).')
  h = config.hints
  if h.enabled:
    _require(config.model != 'cnn' or config.head == 'regression',
             'config.hints.enabled needs config.head=\'regression\': a hint '
             'model refines the propagation of its hints.')
    _require(0 < h.p_none <= 1,
             f'config.hints.p_none={h.p_none} must be in (0, 1] (the chance '
             'that an image gets no hint).')
    _require(isinstance(h.max_points, int) and 1 <= h.max_points <= 1024,
             f'config.hints.max_points={h.max_points} must be an integer in '
             '[1, 1024].')
    _require(isinstance(h.propagation_iterations, int) and
             1 <= h.propagation_iterations <= 10_000,
             f'config.hints.propagation_iterations='
             f'{h.propagation_iterations} must be an integer in [1, 10000].')
    _require(isinstance(h.p_salient, (int, float)) and 0 <= h.p_salient <= 1,
             f'config.hints.p_salient={h.p_salient} must be in [0, 1] (the '
             'share of training images with hints on colourful patches).')
    _require(isinstance(h.p_worst, (int, float)) and 0 <= h.p_worst <= 1
             and h.p_salient + h.p_worst <= 1,
             f'config.hints.p_worst={h.p_worst} must be in [0, 1 - p_salient='
             f'{1 - h.p_salient:g}] (the share of training images with hints '
             'where the answer without hints is most wrong).')
    _require(isinstance(h.colour_sigma, (int, float)) and
             0 <= h.colour_sigma <= 50,
             f'config.hints.colour_sigma={h.colour_sigma} must be a number of '
             'a, b units in [0, 50] (a person\'s colour error; 0: exact).')
    _require(valid_gate(h.gate),
             f'config.hints.gate={tuple(h.gate)} must be (reach, low, high) '
             f'{GATE_RULE}.')
    _require(valid_cast(h.cast_chroma),
             f'config.hints.cast_chroma={tuple(h.cast_chroma)} must be '
             f'(lo, hi) {CAST_RULE}.')
    _require(isinstance(h.salient_points, int) and
             0 <= h.salient_points <= h.max_points,
             f'config.hints.salient_points={h.salient_points} must be an '
             f'integer in [0, max_points={h.max_points}] (0: the geometric '
             'count).')
    _require(isinstance(h.learned_gate, bool),
             f'config.hints.learned_gate={h.learned_gate!r} must be True or '
             'False.')
    _require(not (h.learned_gate and h.gate[0] > 0),
             f'config.hints.learned_gate=True and config.hints.gate='
             f'{tuple(h.gate)} are two gates: turn the fixed one off with '
             '--config.hints.gate="(0.0, 0.0, 1.0)".')
    _require(isinstance(h.far_guard, (int, float)) and h.far_guard >= 0,
             f'config.hints.far_guard={h.far_guard} must be a number >= 0 '
             '(0: no far-field guard).')
    _require(not h.far_guard or (h.p_salient > 0 and not h.learned_gate
                                 and config.model != 'gan'),
             f'config.hints.far_guard={h.far_guard} guards the images whose '
             'hints sit on colourful patches of an L1-trained generator '
             'without a learned gate: set config.hints.p_salient > 0 and '
             'learned_gate=False, or far_guard=0.')
    _require(isinstance(h.reach, (int, float)) and 0 <= h.reach <= 10,
             f'config.hints.reach={h.reach} must be a number in [0, 10] (how '
             'far a hint\'s colour carries, as a fraction of the longer side; '
             '0: everywhere, as Levin et al.).')
  _require(isinstance(config.num_seeds, int) and config.num_seeds >= 1,
           f'config.num_seeds={config.num_seeds} must be an integer >= 1 (the '
           'seeds trained side by side).')
  _require(config.num_seeds == 1 or jax.process_count() == 1,
           f'config.num_seeds={config.num_seeds} runs in one process (any '
           'number of its devices); train several seeds on several hosts as '
           'separate runs.')
  _require(config.conv_impl in layers.CONV_IMPLS,
           f'config.conv_impl={config.conv_impl!r} is unknown; use one of '
           f'{layers.CONV_IMPLS}.')
  _require(config.compute_dtype in COMPUTE_DTYPES,
           f'config.compute_dtype={config.compute_dtype!r} is unknown; use one '
           f'of {COMPUTE_DTYPES}.')
  _require(config.num_epochs > 0,
           f'config.num_epochs={config.num_epochs} must be positive.')
  for key in ('g_lr', 'd_lr', 'lr_decay_steps'):
    _require(config[key] > 0, f'config.{key}={config[key]} must be positive.')
  _require(0 < config.lr_decay_rate <= 1,
           f'config.lr_decay_rate={config.lr_decay_rate} must be in (0, 1].')
  _require(0 <= config.l1_weight <= 1,
           f'config.l1_weight={config.l1_weight} must be in [0, 1].')
  _require(0 < config.real_label <= 1,
           f'config.real_label={config.real_label} must be in (0, 1].')
  _require(0 <= config.validation_fraction < 1,
           f'config.validation_fraction={config.validation_fraction} must be '
           'in [0, 1).')
  _require(config.log_every_steps > 0,
           f'config.log_every_steps={config.log_every_steps} must be positive.')
  _require(config.eval_every_steps >= 0,
           f'config.eval_every_steps={config.eval_every_steps} must be >= 0 '
           '(0: validate at epoch ends only).')
  _require(config.eval_subset >= 0,
           f'config.eval_subset={config.eval_subset} must be >= 0 (0: the '
           'whole validation split).')
  _require(0 <= config.vibrance <= 4,
           f'config.vibrance={config.vibrance} must be in [0, 4] (1: as '
           'trained).')
  _require(config.num_sample_images >= 0,
           f'config.num_sample_images={config.num_sample_images} must be >= '
           '0.')
  _require(config.keep_checkpoints >= 1,
           f'config.keep_checkpoints={config.keep_checkpoints} must be >= 1.')
  _require(config.dataset != 'samples' or config.samples.num_validation >= 1,
           f'config.samples.num_validation={config.samples.num_validation} '
           'must be >= 1: every epoch ends with a validation.')
  if dataset:
    _validate_dataset(config.dataset)


def _validate_dataset(dataset: object) -> None:
  _require(isinstance(dataset, str) and dataset,
           'config.dataset is empty: use "samples", a folder or a TFDS name.')
  if dataset != 'samples' and not os.path.isdir(os.path.expanduser(dataset)):
    _require(os.path.basename(os.path.normpath(dataset)) != 'paintings_more',
             f'config.dataset={dataset!r}: the paintings_more corpus is not '
             f'there; build it with {names.PAINTINGS_MORE_BUILD} (2,500 '
             'paintings, about 50 MB; research and non-commercial terms) or '
             'pass --config.dataset=DIR.')
    looks_like_path = os.sep in dataset or dataset.startswith(('.', '~'))
    _require(not looks_like_path and _is_tfds_name(dataset),
             f'config.dataset={dataset!r} is unknown: use "samples", the path '
             'of an existing folder of images, or a TFDS catalogue name '
             '(e.g. cifar10).')


def _is_tfds_name(dataset: str) -> bool:
  # Slow to import: only when needed; the [tfds] extra.
  tfds = extras.require('tensorflow_datasets', 'tfds',
                        f'config.dataset={dataset!r} (not a folder: a TFDS '
                        'catalogue name?)')

  import colorjax.datasets.oxford_paintings  # noqa: F401  (registers it)
  return dataset.split(':')[0].split('/')[0] in tfds.list_builders()
