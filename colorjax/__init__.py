"""colorjax: colourise greyscale paintings with a conditional GAN in JAX/Flax."""

__version__ = '0.1.0'
