"""The non-adversarial baseline: a plain CNN encoder-decoder trained with L1."""

import ml_collections

from colorjax.configs import default


def get_config(arg: str = '') -> ml_collections.ConfigDict:
  c = default.get_config()
  c.model = 'cnn'
  c.l1_weight = 1.0
  return default.apply_variant(c, arg)
