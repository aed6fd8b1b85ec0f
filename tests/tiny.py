"""A tiny config for tests: the default shrunk to compile in seconds."""

from colorjax.configs import default


def tiny_config(**overrides):
  """The default config shrunk to tiny widths and data: compiles in seconds."""
  c = default.get_config()
  c.image_size = 16
  c.batch_size = 8
  c.generator.features = (8, 16, 16, 16, 16)
  c.discriminator.features = (8, 16, 16)
  c.cnn.features = (8, 16, 16)
  c.samples.num_train = 32
  c.samples.num_validation = 8
  c.num_epochs = 1
  c.log_every_steps = 2
  c.checkpoint_epochs = ()
  c.compilation_cache_dir = ''
  for key, value in overrides.items():
    target = c
    *path, last = key.split('.')
    for p in path:
      target = target[p]
    target[last] = value
  return c
