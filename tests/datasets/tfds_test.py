"""TFDS catalogue datasets, offline with tfds.testing.mock_data."""

import json

import numpy as np
import pytest
import tensorflow_datasets as tfds

from colorjax import names
from colorjax.datasets import tfds_source
from colorjax.errors import DataError
from colorjax.training import train


def test_cifar10_trains_through_the_loop(tiny_config, tmp_path):
  config = tiny_config(dataset='cifar10')
  with tfds.testing.mock_data(num_examples=24):
    state = train.train_and_evaluate(config, str(tmp_path))
  assert int(state.step) == 24 // 8
  evals = [json.loads(l) for l in open(tmp_path / names.METRICS)
           if '"eval"' in l]
  assert evals and np.isfinite(evals[-1][names.val(names.DELTA_E)])


def test_image_feature_found_and_resized(tmp_path):
  with tfds.testing.mock_data(num_examples=6):
    train_ds, val_ds = tfds_source.load_tfds('places365_small', 32)
  assert len(train_ds) == 6 and len(val_ds) == 6
  assert all(min(img.shape[:2]) == 32 and img.dtype == np.uint8
             for img in train_ds.images)
  assert train_ds.name == 'places365_small[train[:-10%]]' or (
      train_ds.name == 'places365_small[train]')


def test_dataset_without_images_is_a_clear_error():
  with tfds.testing.mock_data(num_examples=2):
    with pytest.raises(DataError, match='no image feature'):
      tfds_source.load_tfds('imdb_reviews', 32)


def test_missing_data_is_a_clear_error(tmp_path):
  # Oxford Paintings with an empty manual directory: nothing to build from.
  with pytest.raises(DataError, match="cannot prepare TFDS 'oxford_paintings'"
                     '.*Manual directory .* is empty') as info:
    tfds_source.load_tfds('oxford_paintings', 32, data_dir=str(tmp_path))
  assert '\n' not in str(info.value)
