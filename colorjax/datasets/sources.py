"""Image sources behind one interface: the embedded samples, folders, TFDS.

A source gives a (train, validation) pair of splits (`Split`): the training
split is this process's shard, the validation split is whole. The config key
``dataset`` names the source:

  * ``'samples'``: crops of the colour photographs that ship with
    scikit-image; training crops come from the top 80% of each picture and
    validation crops from the bottom 20%, so no pixel is in both.
  * a path to a folder: every image under it, recursively. With ``train/`` and
    ``validation/`` subfolders those are the splits; otherwise a stable hash of
    each file's relative path puts about `validation_fraction` of them aside.
  * a TFDS catalogue name (`colorjax.datasets.tfds_source`).

Images are decoded once, resized so their shorter side is ``image_size`` and
kept in memory (`colorjax.batching.InMemoryDataset`); a TFDS split too large
for memory is streamed.
"""

import collections
import csv
import os
from typing import List, Optional, Sequence, Tuple
import zlib

from absl import logging
import cv2
import jax
import numpy as np

from colorjax import files as files_lib
from colorjax.datasets import image_io
from colorjax.datasets.batching import InMemoryDataset
from colorjax.datasets.core import Split
from colorjax.datasets.core import finish_split
from colorjax.datasets.core import keep_if_usable
from colorjax.errors import DataError

__all__ = ['create_datasets', 'decode_images', 'HELD_OUT_SPLIT',
           'IMAGE_EXTENSIONS', 'is_folder', 'list_images', 'load_folder',
           'load_samples', 'MANIFEST', 'manifest_split', 'read_usable',
           'SAMPLE_IMAGES', 'split_folder']

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
SAMPLE_IMAGES = ('astronaut', 'chelsea', 'coffee', 'rocket',
                 'immunohistochemistry', 'hubble_deep_field',
                 'stereo_motorcycle')
# Fixed so that every run sees the same sample crops whatever its seed.
_SAMPLES_SEED = 1234


def _sample_images() -> List[np.ndarray]:
  from skimage import data
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


MANIFEST = 'MANIFEST.tsv'
_MAX_MANIFEST_BYTES = 256 * 2**20  # Millions of rows.
# Files a folder's manifest puts in this split never enter training.
HELD_OUT_SPLIT = 'test'


def manifest_split(folder: str, split: str) -> Optional[List[str]]:
  """The files the folder's MANIFEST.tsv puts in `split`, or None if the
  folder has no manifest with `file` and `split` columns.

  Raises:
    DataError: the manifest names the split but none of its files exist.
  """
  path = os.path.join(folder, MANIFEST)
  if not os.path.lexists(path):
    return None
  # There but unreadable is an error, never "no manifest": the split it
  # holds out must not be trained on.
  files_lib.check_regular_file(path, _MAX_MANIFEST_BYTES, DataError)
  try:
    with open(path, newline='', encoding='utf-8') as f:
      rows = list(csv.DictReader(f, delimiter='\t'))
  except (OSError, UnicodeDecodeError, csv.Error) as e:
    raise DataError(f'{path} cannot be read ({e}); fix or remove it.'
                    ) from None
  if not rows or not {'file', 'split'} <= set(rows[0]):
    return None
  named = [os.path.join(folder, r['file']) for r in rows
           if r['split'] == split]
  missing = [f for f in named if not os.path.exists(f)]
  if named and len(missing) == len(named):
    raise DataError(f'{path}: none of the {len(named)} {split!r} files exist '
                    f'(e.g. {missing[0]}); check the folder.')
  return named


def split_folder(folder: str,
                 validation_fraction: float) -> Tuple[List[str], List[str]]:
  """(train, validation) file lists of a folder, deterministically.

  Files that the folder's MANIFEST.tsv puts in the 'test' split are left out
  of both: they are for `evaluate --split=test` only.
  """
  train_dir = os.path.join(folder, 'train')
  val_dir = os.path.join(folder, 'validation')
  if os.path.isdir(train_dir) and os.path.isdir(val_dir):
    return list_images(train_dir), list_images(val_dir)
  paths = list_images(folder)
  held_out = set(manifest_split(folder, HELD_OUT_SPLIT) or ())
  if held_out:
    logging.info('%s: left out the %d files its %s puts in the %r split.',
                 folder, len(held_out), MANIFEST, HELD_OUT_SPLIT)
    paths = [p for p in paths if p not in held_out]
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
    keep_if_usable(rgb, image_size, skip_greyscale, path, images, skipped)
  return finish_split(images, image_size, name, skipped)


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
                    ) -> Tuple[Split, Split]:
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
    from colorjax.datasets import tfds_source  # TensorFlow only when used.
    train, val = tfds_source.load_tfds(
        config.dataset, config.image_size, config.tfds.train_split,
        config.tfds.validation_split, config.tfds.data_dir or None, shard,
        config.tfds.max_in_memory_gb)
  if not len(train):
    raise DataError(f'{train.name} yielded no usable colour image; see the '
                    'skipped-file lines above.')
  return train, val


def read_usable(path: str, image_size: int):
  """The uint8 RGB (H, W, 3) of `path` if a split at `image_size` would hold
  it (it reads, and is at least that large), else None: full-resolution
  scores are of the same images as those at the training size."""
  from colorjax.datasets import batching  # pylint: disable=g-import-not-at-top
  try:
    rgb = image_io.to_uint8(image_io.read_image(path))
  except image_io.ImageError:
    return None
  return None if batching.unusable_reason(rgb, image_size, False) else rgb
