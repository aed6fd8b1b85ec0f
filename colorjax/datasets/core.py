"""The split interface and the helpers every source shares.

The bottom of the data layer: `colorjax.datasets.sources` (samples, folders) and
`colorjax.datasets.tfds_source` both import it, and it imports neither.
"""

from typing import Dict, Iterator, List, Optional, Protocol

from absl import logging
import numpy as np

from colorjax.datasets import batching
from colorjax.datasets.batching import InMemoryDataset

__all__ = ['finish_split', 'keep_if_usable', 'Split']


class Split(Protocol):
  """What the training loop, evaluation and benchmarks need of a split."""
  name: str
  skipped: Dict[str, int]  # Unusable images per reason.

  def __len__(self) -> int:
    ...

  def num_batches(self, batch_size: int) -> int:
    """Full training batches per epoch."""

  def train_batches(self, batch_size: int, seed: int, epoch: int,
                    process_index: int = 0, num_batches: Optional[int] = None
                    ) -> Iterator[Dict[str, np.ndarray]]:
    """Shuffled, augmented batches: a pure function of (seed, epoch, process)."""

  def eval_array(self) -> np.ndarray:
    """Centre crops: uint8 (N, S, S, 3)."""


def keep_if_usable(rgb: np.ndarray, image_size: int, skip_greyscale: bool,
                    source: str, images: List[np.ndarray],
                    skipped: Dict[str, List[str]]) -> None:
  """Appends the resized image to `images`, or its source to `skipped`."""
  reason = batching.unusable_reason(rgb, image_size, skip_greyscale)
  if reason:
    skipped[reason].append(source)
  else:
    images.append(batching.resize_shorter_side(rgb, image_size))


def finish_split(images: List[np.ndarray], image_size: int, name: str,
            skipped: Dict[str, List[str]]) -> InMemoryDataset:
  """Logs one line per skip reason with examples; builds the split."""
  for reason, bad in sorted(skipped.items()):
    logging.warning('%s: skipped %d file(s): %s, e.g. %s', name, len(bad),
                    reason, ', '.join(bad[:3]))
  return InMemoryDataset(images, image_size, name,
                         {reason: len(bad) for reason, bad in skipped.items()})
