"""Data sources, splits, determinism and bad files."""

import os

import cv2
import numpy as np
import pytest

from colorjax.datasets import sources
from colorjax.errors import DataError


def _write(path, img):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  assert cv2.imwrite(str(path), img)


def _colour(seed, h=40, w=60):
  return np.random.default_rng(seed).integers(0, 256, (h, w, 3), np.uint8)


def test_epochs_are_a_pure_function_of_seed_and_epoch():
  train, _ = sources.load_samples(16, 40, 8)
  epoch = lambda seed, e: [b['rgb'] for b in train.train_batches(8, seed, e)]
  a, b, c, d = epoch(0, 3), epoch(0, 3), epoch(0, 4), epoch(1, 3)
  assert len(a) == 5 and a[0].shape == (8, 16, 16, 3) and a[0].dtype == np.uint8
  np.testing.assert_array_equal(np.stack(a), np.stack(b))
  assert not np.array_equal(np.stack(a), np.stack(c))
  assert not np.array_equal(np.stack(a), np.stack(d))


def test_samples_are_fixed_and_split_by_region():
  t1, v1 = sources.load_samples(16, 21, 7)
  t2, _ = sources.load_samples(16, 21, 7)
  assert (len(t1), len(v1)) == (21, 7)
  np.testing.assert_array_equal(t1.images[5], t2.images[5])
  assert v1.eval_array().shape == (7, 16, 16, 3)


def test_folder_with_split_subfolders_and_bad_files(tmp_path):
  for i in range(3):
    _write(tmp_path / 'train' / f'sub{i % 2}' / f'{i}.png', _colour(i))
  _write(tmp_path / 'validation' / 'v.jpg', _colour(9))
  grey = np.repeat(_colour(5)[..., :1], 3, axis=-1)
  _write(tmp_path / 'train' / 'grey.png', grey)
  (tmp_path / 'train' / 'broken.jpg').write_bytes(b'not a jpeg')
  (tmp_path / 'train' / 'empty.png').write_bytes(b'')
  (tmp_path / 'train' / 'notes.txt').write_text('ignored')
  train, val = sources.load_folder(str(tmp_path), 32, 0.1)
  assert (len(train), len(val)) == (3, 1)
  assert all(min(img.shape[:2]) == 32 for img in train.images)
  assert train.images[0].shape == (32, 48, 3)  # Aspect ratio kept.


def test_folder_without_subfolders_splits_deterministically(tmp_path):
  for i in range(30):
    _write(tmp_path / f'{i:02d}.png', _colour(i, 20, 20))
  a = sources.split_folder(str(tmp_path), 0.2)
  b = sources.split_folder(str(tmp_path), 0.2)
  assert a == b and len(a[1]) > 0 and not set(a[0]) & set(a[1])
  assert len(a[0]) + len(a[1]) == 30


def test_empty_or_missing_folder_is_a_clear_error(tmp_path):
  with pytest.raises(DataError, match='no usable colour image'):
    sources.load_folder(str(tmp_path), 32, 0.1)
  with pytest.raises(DataError, match='does not exist'):
    sources.load_folder(str(tmp_path / 'nope'), 32, 0.1)


def test_shared_paintings_load():
  folder = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared',
                        'data', 'paintings')
  if not os.path.isdir(folder):
    pytest.skip('../shared/data/paintings is not beside this checkout')
  train, val = sources.load_folder(folder, 32, 0.1)
  assert len(train) + len(val) == 200 and len(val) >= 10


def test_process_shards_are_disjoint_complete_and_deterministic(tmp_path):
  for i in range(23):
    _write(tmp_path / 'train' / f'{i:02d}.png', _colour(i, 20, 24 + i))
  _write(tmp_path / 'validation' / 'v.png', _colour(99))
  shards = [sources.load_folder(str(tmp_path), 16, 0.1, (p, 3))[0]
            for p in range(3)]
  widths = sorted(img.shape[1] for ds in shards for img in ds.images)
  full = sources.load_folder(str(tmp_path), 16, 0.1)[0]
  assert widths == sorted(img.shape[1] for img in full.images)  # Disjoint+all.
  # All processes stop after the same number of batches (the fewest any has).
  steps = min(ds.num_batches(2) for ds in shards)
  batches = [list(ds.train_batches(2, 0, 5, p, steps))
             for p, ds in enumerate(shards)]
  assert [len(b) for b in batches] == [steps] * 3 == [3] * 3
  again = list(shards[1].train_batches(2, 0, 5, 1, steps))
  np.testing.assert_array_equal(np.stack([b['rgb'] for b in again]),
                                np.stack([b['rgb'] for b in batches[1]]))
  other = list(shards[1].train_batches(2, 0, 5, 2, steps))  # Other process.
  assert not np.array_equal(np.stack([b['rgb'] for b in other]),
                            np.stack([b['rgb'] for b in batches[1]]))
