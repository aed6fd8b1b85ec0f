"""Images -> training and evaluation batches: crops, flips, resizing, padding.

An `InMemoryDataset` holds decoded images of one split, each resized so its
shorter side is ``image_size``. Each training epoch takes a random crop of
every image along its longer side and a random horizontal flip, in an order
that is a pure function of (seed, epoch, process), so a resumed run replays
the same batches. Validation uses centre crops. Batches are
``{'rgb': uint8 (B, S, S, 3)}``; the conversion to (L, ab) happens on the
device (`colorjax.colour.spaces`).
"""

import collections
import dataclasses
from typing import Any, Dict, Iterable, Iterator, List, Optional

import cv2
import jax
import numpy as np

__all__ = ['center_crop', 'global_put', 'InMemoryDataset', 'is_greyscale',
           'padded_batches', 'prefetch_to_device', 'random_crop_flip',
           'resize_shorter_side', 'unusable_reason']

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


def unusable_reason(rgb: np.ndarray, image_size: int,
                    skip_greyscale: bool) -> Optional[str]:
  """Why a decoded image cannot be used (None if it can)."""
  if min(rgb.shape[:2]) < image_size:
    return f'smaller than the {image_size}px crop'
  if skip_greyscale and is_greyscale(rgb):
    return 'greyscale (nothing to learn)'
  return None


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
