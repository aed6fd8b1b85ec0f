"""A tiny config for tests: the default shrunk to compile in seconds; and the
environment of the commands tests run."""

import os

from colorjax.configs import default

# The repository's root (tests live one or two folders below it).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def xla_flags(devices: int, level: str) -> str:
  """The tests' XLA_FLAGS, built here only: `devices` virtual CPU devices
  (none forced for one) compiled at optimisation `level` ('default' or a
  number; see tests/conftest.py for why the tests use 0)."""
  flags = (f'--xla_force_host_platform_device_count={devices}'
           if devices > 1 else '')
  if level != 'default':
    flags += f' --xla_backend_optimization_level={level}'
  return flags.strip()


def subprocess_env(devices: int = 1, **extra: str) -> dict:
  """The environment for a command a test runs: on the CPU with `devices`
  virtual devices (one, as a user's plain command sees), compiled at the
  tests' XLA optimisation level (tests/conftest.py), plus `extra`."""
  level = os.environ.get('COLORJAX_TEST_XLA_OPT_LEVEL', '0')
  return dict(os.environ, XLA_FLAGS=xla_flags(devices, level),
              JAX_PLATFORMS='cpu', **extra)


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


def manifest_folder(folder):
  """Six colour pictures of different sizes; MANIFEST.tsv puts 2 in 'test'."""
  import cv2  # pylint: disable=g-import-not-at-top
  from skimage import data as skdata  # pylint: disable=g-import-not-at-top
  folder.mkdir()
  rows = ['file\tsplit']
  pictures = [skdata.astronaut(), skdata.coffee(), skdata.chelsea()]
  for i in range(6):
    img = pictures[i % 3][:60 + 7 * i, :90 - 5 * i]
    name = f'p{i}.png'
    cv2.imwrite(str(folder / name), img[..., ::-1])
    rows.append(f'{name}\t{"test" if i in (1, 4) else "train"}')
  (folder / 'MANIFEST.tsv').write_text('\n'.join(rows) + '\n')
  return folder
