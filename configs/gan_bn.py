"""The term project's GAN: U-Net generator, batch-normalised discriminator."""

import ml_collections

from colorjax.configs import default


def get_config(arg: str = '') -> ml_collections.ConfigDict:
  return default.get_config(arg)
