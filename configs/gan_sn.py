"""The reference spectral-norm GAN recipe (100 epochs, no label smoothing)."""

import ml_collections

from colorjax.configs import default


def get_config(arg: str = '') -> ml_collections.ConfigDict:
  c = default.get_config()
  c.discriminator.norm = 'spectral'
  c.num_epochs = 100
  c.real_label = 1.0
  c.l1_weight = 0.985
  c.g_lr = 2e-4
  c.d_lr = 2e-4
  c.lr_decay_steps = 40_000
  c.checkpoint_epochs = (50, 100)
  return default.apply_variant(c, arg)
