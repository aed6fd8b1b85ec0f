"""Input pipeline: image sources -> uint8 RGB batches, deterministic per epoch.

Sources (the config key ``dataset``):
  * ``'samples'``: crops of the colour photographs that ship with
    scikit-image; training crops come from the top 80% of each picture and
    validation crops from the bottom 20%, so no pixel is in both.
  * a path to a folder: every image under it, recursively. With ``train/`` and
    ``validation/`` subfolders those are the splits; otherwise a stable hash of
    each file's relative path puts about `validation_fraction` of them aside.

Images are decoded once, resized so their shorter side is ``image_size`` and
kept in memory. Each training epoch takes a random crop of every image along
its longer side and a random horizontal flip, in an order that is a pure
function of (seed, epoch), so a resumed run replays the same batches.
Validation uses centre crops. Batches are ``{'rgb': uint8 (B, S, S, 3)}``; the
conversion to (L, ab) happens on the device (`colorjax.color`).
"""

import collections
import dataclasses
import os
import zlib
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from absl import logging
import cv2
import jax
import numpy as np

from colorjax import image_io
from colorjax.errors import DataError

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
SAMPLE_IMAGES = ('astronaut', 'chelsea', 'coffee', 'rocket',
                 'immunohistochemistry', 'hubble_deep_field',
                 'stereo_motorcycle')
# Fixed so that every run sees the same sample crops whatever its seed.
_SAMPLES_SEED = 1234
# A picture whose channels never differ by more than this is greyscale.
_GREY_TOLERANCE = 3


@dataclasses.dataclass
class InMemoryDataset:
  """Decoded images of one split, each with shorter side == image_size."""
  images: List[np.ndarray]
  image_size: int
  name: str
  skipped: Dict[str, int] = dataclasses.field(default_factory=dict)

  def __len__(self) -> int:
    return len(self.images)

  def num_batches(self, batch_size: int) -> int:
    """Full batches per training epoch (the remainder is dropped)."""
    return len(self.images) // batch_size

  def train_batches(self, batch_size: int, seed: int, epoch: int,
                    process_index: int = 0, num_batches: Optional[int] = None
                    ) -> Iterator[Dict[str, np.ndarray]]:
    """Shuffled, randomly cropped and flipped batches of this process's shard.

    The order and augmentation are a pure function of (seed, epoch,
    process_index). `num_batches` (default: all full batches) lets every
    process of a multi-host run stop after the same count.
    """
    rng = np.random.default_rng([seed, epoch, process_index])
    order = rng.permutation(len(self.images))
    s = self.image_size
    n = self.num_batches(batch_size) if num_batches is None else num_batches
    for b in range(n):
      out = np.empty((batch_size, s, s, 3), np.uint8)
      for j, idx in enumerate(order[b * batch_size:(b + 1) * batch_size]):
        out[j] = random_crop_flip(self.images[idx], s, rng)
      yield {'rgb': out}

  def eval_array(self) -> np.ndarray:
    """All images centre-cropped: uint8 (N, S, S, 3)."""
    s = self.image_size
    out = np.empty((len(self.images), s, s, 3), np.uint8)
    for i, img in enumerate(self.images):
      out[i] = center_crop(img, s)
    return out


def center_crop(img: np.ndarray, size: int) -> np.ndarray:
  """The central size x size window of an image at least that large."""
  y, x = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
  return img[y:y + size, x:x + size]


def random_crop_flip(img: np.ndarray, size: int,
                     rng: np.random.Generator) -> np.ndarray:
  """A random size x size crop, flipped horizontally with probability 1/2."""
  y = rng.integers(0, img.shape[0] - size + 1)
  x = rng.integers(0, img.shape[1] - size + 1)
  crop = img[y:y + size, x:x + size]
  return crop[:, ::-1] if rng.random() < 0.5 else crop


def unusable_reason(rgb: np.ndarray, image_size: int,
                    skip_greyscale: bool) -> Optional[str]:
  """Why a decoded image cannot be used (None if it can)."""
  if min(rgb.shape[:2]) < image_size:
    return f'smaller than the {image_size}px crop'
  if skip_greyscale and is_greyscale(rgb):
    return 'greyscale (nothing to learn)'
  return None


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
      if not unusable_reason(img, s, skip_greyscale=True):
        out.append(center_crop(resize_shorter_side(img, s), s))
    return np.stack(out) if out else np.zeros((0, s, s, 3), np.uint8)

  def train_batches(self, batch_size: int, seed: int, epoch: int,
                    process_index: int = 0, num_batches: Optional[int] = None
                    ) -> Iterator[Dict[str, np.ndarray]]:
    """This process's batches, streamed; a pure function of (seed, epoch,
    process_index) like `InMemoryDataset.train_batches`."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
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
      reason = unusable_reason(img, s, skip_greyscale=True)
      if reason:
        skipped[reason].add(int(i))  # Under the GIL: safe across threads.
        return np.zeros((s, s, 3), np.uint8), False
      rng = np.random.default_rng([seed, epoch, process_index, int(i)])
      crop = random_crop_flip(resize_shorter_side(img, s), s, rng)
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


def resize_shorter_side(img: np.ndarray, size: int) -> np.ndarray:
  """Resizes so the shorter side is `size` (area filter when shrinking)."""
  h, w = img.shape[:2]
  scale = size / min(h, w)
  new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
  if (new_h, new_w) == (h, w):
    return img
  interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
  return cv2.resize(img, (new_w, new_h), interpolation=interp)


def is_greyscale(rgb: np.ndarray) -> bool:
  """True if the R, G and B channels are (nearly) equal everywhere."""
  x = rgb.astype(np.int16)
  return bool(np.abs(x[..., 0] - x[..., 1]).max() <= _GREY_TOLERANCE and
              np.abs(x[..., 1] - x[..., 2]).max() <= _GREY_TOLERANCE)


def _sample_images() -> List[np.ndarray]:
  from skimage import data  # pylint: disable=g-import-not-at-top
  images = []
  for name in SAMPLE_IMAGES:
    img = getattr(data, name)()
    images.append(img[0] if isinstance(img, tuple) else img)
  return images


def _random_crops(img: np.ndarray, n: int, out_size: int,
                  rng: np.random.Generator) -> List[np.ndarray]:
  """`n` square crops of random size and place, resized to `out_size`."""
  h, w = img.shape[:2]
  side_max = min(h, w)
  side_min = min(side_max, max(out_size, side_max // 4))
  crops = []
  for _ in range(n):
    side = int(rng.integers(side_min, side_max + 1))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = img[y:y + side, x:x + side]
    crops.append(cv2.resize(crop, (out_size, out_size),
                            interpolation=cv2.INTER_AREA))
  return crops


def load_samples(image_size: int, num_train: int, num_validation: int,
                 shard: Tuple[int, int] = (0, 1)
                 ) -> Tuple[InMemoryDataset, InMemoryDataset]:
  """The embedded sample data: random crops of scikit-image's colour photos.

  `shard` = (process_index, process_count): this process keeps every
  process_count-th training crop.
  """
  rng = np.random.default_rng(_SAMPLES_SEED)
  images = _sample_images()
  # Training crops are 1/8 larger so that random cropping still augments.
  train_size = image_size + max(1, image_size // 8)
  train, val = [], []
  for i, img in enumerate(images):
    cut = int(img.shape[0] * 0.8)
    n_train = num_train // len(images) + (i < num_train % len(images))
    n_val = num_validation // len(images) + (i < num_validation % len(images))
    train += _random_crops(img[:cut], n_train, train_size, rng)
    val += _random_crops(img[cut:], n_val, image_size, rng)
  index, count = shard
  return (InMemoryDataset(train[index::count], image_size, 'samples/train'),
          InMemoryDataset(val, image_size, 'samples/validation'))


def list_images(folder: str) -> List[str]:
  """Every image file under `folder`, recursively, sorted."""
  paths = []
  for root, dirs, files in os.walk(folder):
    dirs.sort()
    paths += [os.path.join(root, f) for f in sorted(files)
              if f.lower().endswith(IMAGE_EXTENSIONS)]
  return paths


def _in_validation(rel_path: str, fraction: float) -> bool:
  return zlib.crc32(rel_path.encode()) % 10_000 < fraction * 10_000


def split_folder(folder: str,
                 validation_fraction: float) -> Tuple[List[str], List[str]]:
  """(train, validation) file lists of a folder, deterministically."""
  train_dir = os.path.join(folder, 'train')
  val_dir = os.path.join(folder, 'validation')
  if os.path.isdir(train_dir) and os.path.isdir(val_dir):
    return list_images(train_dir), list_images(val_dir)
  paths = list_images(folder)
  val = [p for p in paths
         if _in_validation(os.path.relpath(p, folder), validation_fraction)]
  if not val and len(paths) > 1:  # Tiny folders still get a validation image.
    val = paths[-1:]
  val_set = set(val)
  return [p for p in paths if p not in val_set], val


def decode_images(paths: Sequence[str], image_size: int, name: str,
                  skip_greyscale: bool,
                  max_pixels: int = image_io.DEFAULT_MAX_PIXELS
                  ) -> InMemoryDataset:
  """Decodes files into an in-memory split; unusable files are skipped.

  Every skipped file is counted under its reason (corrupt, truncated, empty,
  not an image, too large, smaller than the crop, greyscale) and the run logs
  one line per reason with example paths.
  """
  images = []
  skipped = collections.defaultdict(list)
  for path in paths:
    try:
      rgb = image_io.to_uint8(image_io.read_image(path, max_pixels))
    except image_io.ImageError as e:
      skipped[e.reason].append(path)
      continue
    _keep_if_usable(rgb, image_size, skip_greyscale, path, images, skipped)
  return _finish(images, image_size, name, skipped)


def _keep_if_usable(rgb: np.ndarray, image_size: int, skip_greyscale: bool,
                    source: str, images: List[np.ndarray],
                    skipped: Dict[str, List[str]]) -> None:
  """Appends the resized image to `images`, or its source to `skipped`."""
  reason = unusable_reason(rgb, image_size, skip_greyscale)
  if reason:
    skipped[reason].append(source)
  else:
    images.append(resize_shorter_side(rgb, image_size))


def _finish(images: List[np.ndarray], image_size: int, name: str,
            skipped: Dict[str, List[str]]) -> InMemoryDataset:
  """Logs one line per skip reason with examples; builds the split."""
  for reason, bad in sorted(skipped.items()):
    logging.warning('%s: skipped %d file(s): %s, e.g. %s', name, len(bad),
                    reason, ', '.join(bad[:3]))
  return InMemoryDataset(images, image_size, name,
                         {reason: len(bad) for reason, bad in skipped.items()})


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
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  import colorjax.datasets  # pylint: disable=g-import-not-at-top,unused-import  # Registers ours.
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
        _keep_if_usable(_tfds_rgb(example[key]), image_size, skip_grey,
                        f'{name}[{split}]#{i}',
                        images, skipped)
    except DataError:
      raise
    except Exception as e:  # Not downloaded and no network, bad split, ...
      raise DataError(
          f'cannot load TFDS {name!r} split {split!r} ({type(e).__name__}: '
          f'{str(e).splitlines()[0][:150]}); prepare it with `tfds build '
          f'{name}` or set --config.tfds.data_dir.') from e
    splits.append(_finish(images, image_size, f'{name}[{split}]', skipped))
  return splits[0], splits[1]


def load_folder(folder: str, image_size: int, validation_fraction: float,
                shard: Tuple[int, int] = (0, 1)
                ) -> Tuple[InMemoryDataset, InMemoryDataset]:
  """Train and validation splits of a folder; this process decodes only its
  shard (`shard` = (process_index, process_count)) of the training files."""
  if not os.path.isdir(folder):
    raise DataError(f'dataset folder {folder!r} does not exist; set '
                    '--config.dataset to a folder of images or to "samples".')
  train_paths, val_paths = split_folder(folder, validation_fraction)
  index, count = shard
  train = decode_images(train_paths[index::count], image_size,
                        f'{folder} (train)', True)
  val = decode_images(val_paths, image_size, f'{folder} (validation)', False)
  if not len(train):
    raise DataError(f'no usable colour image found in {folder!r} (looked for '
                    f'{", ".join(IMAGE_EXTENSIONS)}); point --config.dataset '
                    'at a folder of colour images.')
  if not len(val):
    raise DataError(f'no validation image in {folder!r}; add a validation/ '
                    'subfolder or raise --config.validation_fraction.')
  return train, val


def is_folder(dataset: str) -> bool:
  return os.path.isdir(os.path.expanduser(dataset))


def create_datasets(config, shard: Optional[Tuple[int, int]] = None
                    ) -> Tuple[InMemoryDataset, InMemoryDataset]:
  """The (train, validation) splits named by ``config.dataset``.

  'samples', a folder of images, or a TFDS catalogue name. The training split
  is this process's shard (default: (jax.process_index(),
  jax.process_count())); every process gets the whole validation split.
  """
  shard = shard or (jax.process_index(), jax.process_count())
  if config.dataset == 'samples':
    train, val = load_samples(config.image_size, config.samples.num_train,
                              config.samples.num_validation, shard)
  elif is_folder(config.dataset):
    train, val = load_folder(os.path.expanduser(config.dataset),
                             config.image_size, config.validation_fraction,
                             shard)
  else:
    train, val = load_tfds(config.dataset, config.image_size,
                           config.tfds.train_split,
                           config.tfds.validation_split,
                           config.tfds.data_dir or None, shard,
                           config.tfds.max_in_memory_gb)
  if not len(train):
    raise DataError(f'{train.name} yielded no usable colour image; see the '
                    'skipped-file lines above.')
  return train, val


def padded_batches(images: np.ndarray, batch_size: int
                   ) -> Iterator[Dict[str, np.ndarray]]:
  """Fixed-size batches of all `images`; the last is zero-padded and masked."""
  for start in range(0, len(images), batch_size):
    chunk = images[start:start + batch_size]
    pad = np.zeros((batch_size - len(chunk),) + images.shape[1:], images.dtype)
    yield {'rgb': np.concatenate([chunk, pad]),
           'mask': (np.arange(batch_size) < len(chunk)).astype(np.float32)}


def prefetch_to_device(batches: Iterable[Dict[str, np.ndarray]], sharding: Any,
                       size: int = 2) -> Iterator[Dict[str, jax.Array]]:
  """Keeps `size` batches in flight to the devices ahead of the consumer.

  Each batch is this process's part of the global batch
  (`jax.make_array_from_process_local_data`); the copies are asynchronous, so
  the next batch's transfer overlaps the running step.
  """
  queue = collections.deque()
  for batch in batches:
    queue.append(jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(sharding, x), batch))
    if len(queue) >= size:
      yield queue.popleft()
  while queue:
    yield queue.popleft()


def global_put(tree: Any, sharding: Any) -> Any:
  """Places host data that is identical on every process onto `sharding`."""
  return jax.tree.map(
      lambda x: jax.make_array_from_callback(
          np.shape(x), sharding, lambda index: np.asarray(x)[index]), tree)
