"""TFDS catalogue datasets as colorjax sources (e.g. cifar10, places365_small).

The training split is decoded once into memory when it fits, else streamed
with tf.data (`StreamingDataset`) through the same per-image code as the
in-memory path (`colorjax.datasets.batching`).
"""

import collections
from typing import Any, Dict, Iterator, Optional, Tuple

from absl import logging
import numpy as np

from colorjax import extras
from colorjax.datasets import batching
from colorjax.datasets import core
from colorjax.datasets.batching import InMemoryDataset
from colorjax.errors import DataError

__all__ = ['load_tfds', 'StreamingDataset']


def _tfds():
  """TensorFlow Datasets, imported only when a TFDS source is used."""
  return extras.require('tensorflow_datasets', 'tfds', 'a TFDS data set')


def _tfds_rgb(img: np.ndarray) -> np.ndarray:
  """A TFDS image feature (H, W, 1|3|4) as RGB (H, W, 3)."""
  return np.repeat(img, 3, -1) if img.shape[-1] == 1 else img[..., :3]


_MAX_STREAM_PASSES = 4


class StreamingDataset:
  """A TFDS split too large to decode into memory, streamed with tf.data.

  The same per-image code as the in-memory path (`unusable_reason`,
  `resize_shorter_side`, `random_crop_flip`, run inside tf.data through
  tf.numpy_function, in parallel), with the crop
  and flip of example i of an epoch drawn from (seed, epoch, process, i), so
  an epoch replays exactly. Greyscale and too-small images are dropped; the
  stream repeats so every process yields exactly `num_batches`.
  """

  def __init__(self, builder, split: str, image_key: str, image_size: int,
               num_examples: int, name: str):
    self.builder, self.split, self.image_key = builder, split, image_key
    self.image_size, self.num_examples, self.name = (image_size, num_examples,
                                                     name)
    self.skipped: Dict[str, int] = {}

  def __len__(self) -> int:
    return self.num_examples

  def num_batches(self, batch_size: int) -> int:
    return self.num_examples // batch_size

  def eval_array(self, limit: int = 8192) -> np.ndarray:
    """Centre crops of the first `limit` usable images: uint8 (N, S, S, 3)."""
    s = self.image_size
    out = []
    ds = self.builder.as_dataset(split=self.split).take(limit)
    for ex in ds.as_numpy_iterator():
      img = _tfds_rgb(ex[self.image_key])
      if not batching.unusable_reason(img, s, skip_greyscale=True):
        out.append(batching.center_crop(
            batching.resize_shorter_side(img, s), s))
    return np.stack(out) if out else np.zeros((0, s, s, 3), np.uint8)

  def train_batches(self, batch_size: int, seed: int, epoch: int,
                    process_index: int = 0, num_batches: Optional[int] = None
                    ) -> Iterator[Dict[str, np.ndarray]]:
    """This process's batches, streamed; a pure function of (seed, epoch,
    process_index) like `InMemoryDataset.train_batches`."""
    from colorjax import runtime
    tfds = _tfds()
    tf = runtime.tensorflow()
    n = self.num_batches(batch_size) if num_batches is None else num_batches
    file_seed = int(np.random.default_rng([seed, epoch, process_index])
                    .integers(2**31))
    ds = self.builder.as_dataset(
        split=self.split, shuffle_files=True,
        read_config=tfds.ReadConfig(shuffle_seed=file_seed))
    ds = ds.map(lambda ex: ex[self.image_key]).enumerate()
    s = self.image_size

    skipped = collections.defaultdict(set)  # Reason -> distinct images.

    def prepare(i, img):
      img = _tfds_rgb(img)
      reason = batching.unusable_reason(img, s, skip_greyscale=True)
      if reason:
        skipped[reason].add(int(i))  # Under the GIL: safe across threads.
        return np.zeros((s, s, 3), np.uint8), False
      rng = np.random.default_rng([seed, epoch, process_index, int(i)])
      crop = batching.random_crop_flip(
          batching.resize_shorter_side(img, s), s, rng)
      return np.ascontiguousarray(crop), True

    def tf_prepare(i, img):
      out, ok = tf.numpy_function(prepare, [i, img], [tf.uint8, tf.bool])
      out.set_shape((s, s, 3))
      ok.set_shape(())
      return out, ok

    # Bounded: a stream that cannot fill its batches must end, not spin.
    ds = (ds.repeat(_MAX_STREAM_PASSES)
          .map(tf_prepare, num_parallel_calls=tf.data.AUTOTUNE,
               deterministic=True)
          .filter(lambda img, ok: ok)
          .map(lambda img, ok: img)
          .shuffle(4 * batch_size, seed=file_seed)
          .batch(batch_size, drop_remainder=True)
          .take(n)
          .prefetch(tf.data.AUTOTUNE))
    yielded = 0
    for batch in ds.as_numpy_iterator():
      yielded += 1
      yield {'rgb': batch}
    if yielded < n:
      raise DataError(f'{self.name}: only {yielded} of {n} batches could be '
                      f'filled in {_MAX_STREAM_PASSES} passes (unusable: '
                      f'{ {r: len(v) for r, v in skipped.items()} }); lower '
                      '--config.batch_size or use other data.')
    self.skipped = {reason: len(ids) for reason, ids in skipped.items()}
    for reason, count in sorted(self.skipped.items()):
      logging.warning('%s: skipped %d streamed image(s) in epoch %d: %s.',
                      self.name, count, epoch + 1, reason)


def _num_examples(builder, split: str) -> int:
  try:
    return builder.info.splits[split].num_examples
  except Exception:  # Unknown before preparation (or under mock_data).
    return 0


def _tfds_validation_split(builder) -> str:
  splits = set(builder.info.splits.keys())
  for name in ('validation', 'test'):
    if name in splits:
      return name
  return 'train[-10%:]'


def load_tfds(name: str, image_size: int, train_split: str = 'train',
              validation_split: str = '', data_dir: Optional[str] = None,
              shard: Tuple[int, int] = (0, 1), max_in_memory_gb: float = 2.0
              ) -> Tuple[Any, InMemoryDataset]:
  """A TFDS catalogue dataset (e.g. cifar10, places365_small).

  The training split is decoded once into memory when it fits in
  `max_in_memory_gb` at the training size (CIFAR-10 at 32px: 150 MB), else
  streamed with tf.data (`StreamingDataset`); validation is in memory. The
  first `tfds.features.Image` feature (preferring 'image') is used. The
  validation split defaults to 'validation', else 'test', else the last 10%
  of train (and then the training split excludes it).
  """
  tfds = _tfds()
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except Exception as e:  # Unknown name, bad version...
    raise DataError(f'TFDS dataset {name!r} not found ({type(e).__name__}); '
                    'check --config.dataset against the TFDS catalogue.') from e
  features = builder.info.features
  keys = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
  if not keys:
    raise DataError(f'TFDS dataset {name!r} has no image feature; pick an '
                    'image dataset.')
  key = 'image' if 'image' in keys else keys[0]
  try:  # Split names are known once the dataset is prepared.
    builder.download_and_prepare()
  except Exception as e:  # Not downloadable here, manual data missing, ...
    raise DataError(
        f'cannot prepare TFDS {name!r} ({type(e).__name__}: '
        f'{str(e).splitlines()[0][:200]}); see the dataset\'s instructions '
        'or set --config.tfds.data_dir.') from e
  if not validation_split:
    validation_split = _tfds_validation_split(builder)
    if validation_split == 'train[-10%:]' and train_split == 'train':
      train_split = 'train[:-10%]'
  index, count = shard
  if count > 1:  # This process's disjoint, equal-sized part of train.
    train_split = tfds.even_splits(train_split, n=count, drop_remainder=True
                                   )[index]
  splits = []
  num_train = _num_examples(builder, train_split)
  if num_train and num_train * image_size**2 * 3 > max_in_memory_gb * 2**30:
    logging.info('%s[%s]: %d images exceed %.1f GB at %dpx: streaming them.',
                 name, train_split, num_train, max_in_memory_gb, image_size)
    stream = StreamingDataset(builder, train_split, key, image_size,
                              num_train, f'{name}[{train_split}]')
    if not len(stream.eval_array(limit=256)):
      raise DataError(f'{stream.name}: no usable colour image among its first '
                      f'256 (all greyscale, corrupt or smaller than '
                      f'{image_size}px); check the dataset and image_size.')
    splits.append(stream)
  for split, skip_grey in ((train_split, True), (validation_split, False)):
    if split == train_split and splits:
      continue
    try:
      ds = tfds.load(name, split=split, data_dir=data_dir)
      images, skipped = [], collections.defaultdict(list)
      for i, example in enumerate(tfds.as_numpy(ds)):
        core.keep_if_usable(_tfds_rgb(example[key]), image_size, skip_grey,
                        f'{name}[{split}]#{i}',
                        images, skipped)
    except DataError:
      raise
    except Exception as e:  # Not downloaded and no network, bad split, ...
      raise DataError(
          f'cannot load TFDS {name!r} split {split!r} ({type(e).__name__}: '
          f'{str(e).splitlines()[0][:150]}); prepare it with `tfds build '
          f'{name}` or set --config.tfds.data_dir.') from e
    splits.append(core.finish_split(images, image_size,
                                       f'{name}[{split}]', skipped))
  return splits[0], splits[1]
