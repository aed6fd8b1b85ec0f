"""Imports PyTorch weights of the GAN as a colorjax run (epoch 0).

  colorjax import-torch --generator=G.pth [--discriminator=D.pth]
      --config=configs/gan_bn.py --workdir=W

reads the state dicts (`torch.load(..., weights_only=True)`; the optional
extra: pip install -e ".[torch]"), maps every tensor to our modules
(`colorjax.interop.torch_weights`: the karoly-hars/GAN_image_colorizing layout or
that of benchmarks/torch_reference.py) and writes an ordinary checkpoint at
epoch 0 that `colorize`, `evaluate` and `launch.py` (to continue training,
with fresh optimizer state) accept. Without --discriminator the
discriminator starts from the config's seed. Any mismatch stops with one
line before anything is written.
"""

import os
import shutil
from typing import Optional

from absl import app
from absl import flags
from absl import logging
import jax
import ml_collections
from ml_collections import config_flags

from colorjax import names
from colorjax import runtime
from colorjax.datasets import batching
from colorjax.errors import CheckpointError
from colorjax.errors import ConfigError
from colorjax.interop import pth_files
from colorjax.interop import torch_weights
from colorjax.training import checkpoint
from colorjax.training import steps as steps_lib
from colorjax.training import workdir as workdir_lib
from colorjax.training.config_validation import validate_config
from colorjax.training.state import TrainState
from colorjax.training.steps import Steps

__all__ = ['cli', 'import_weights', 'main']


def _expected(net) -> dict:
  return {'params': net.params, 'batch_stats': net.model_state}


def import_weights(config: ml_collections.ConfigDict, generator: str,
                   discriminator: Optional[str], workdir: str) -> TrainState:
  """Writes the weights into a new run in `workdir`; returns its state.

  Raises:
    ColorjaxError: a bad config, a non-empty workdir, or weights that do not
      fit (torch_weights.TorchWeightsError); nothing is written then.
  """
  if config.model != 'gan':
    raise ConfigError(f'config.model={config.model!r}: import_torch brings '
                      'in the GAN (U-Net generator and discriminator); use '
                      'configs/gan_bn.py or gan_sn.py.')
  validate_config(config, jax.device_count())
  if os.path.exists(os.path.join(workdir, names.CONFIG)) or os.path.isdir(
      os.path.join(workdir, names.CHECKPOINTS)):
    raise CheckpointError(f'workdir {workdir!r} already holds a run; pass a '
                          'fresh --workdir.')
  steps = Steps(config, steps_lib.default_mesh())
  abstract = steps.abstract_state()
  g = torch_weights.to_flax(pth_files.load(generator), 'generator',
                            config, _expected(abstract.g))
  d = None
  if discriminator:
    d = torch_weights.to_flax(pth_files.load(discriminator),
                              'discriminator', config, _expected(abstract.d))
  state = steps.init()  # Fresh optimizer states and rng; epoch 0, step 0.
  put = lambda tree: batching.global_put(tree, steps.replicated)
  state = state.replace(g=state.g.replace(
      params=put(g['params']), model_state=put(g['batch_stats'])))
  if d is not None:
    state = state.replace(d=state.d.replace(
        params=put(d['params']), model_state=put(d['batch_stats'])))
  else:
    logging.info('No --discriminator: the discriminator starts from seed %d.',
                 config.seed)
  _write_run(config, state, workdir)
  return state


def _write_run(config: ml_collections.ConfigDict, state: TrainState,
               workdir: str) -> None:
  """Builds the run in a temporary sibling folder and moves it into place
  (checkpoints first, the config that marks a run last), so a failed write
  (a full disk) leaves `workdir` as it was and a retry can succeed."""
  workdir = os.path.abspath(workdir)
  parent = os.path.dirname(workdir)
  tmp = os.path.join(parent, f'.{os.path.basename(workdir)}.import-'
                             f'{os.getpid()}')
  shutil.rmtree(tmp, ignore_errors=True)  # Left by a killed attempt.
  manager = None
  try:
    os.makedirs(tmp)
    manager = checkpoint.create_manager(tmp, config)
    checkpoint.save(manager, state, steps_per_epoch=0)
    manager.wait_until_finished()
    workdir_lib.write_config(tmp, config)
    if not os.path.isdir(workdir) or not os.listdir(workdir):
      os.replace(tmp, workdir)  # One rename (onto an empty folder too).
    else:
      for name in (names.CHECKPOINTS, names.CONFIG):
        os.replace(os.path.join(tmp, name), os.path.join(workdir, name))
  except Exception as e:  # Orbax raises many types for a failed write.
    if manager is not None:
      try:  # An asynchronous save must end before its folder goes.
        manager.wait_until_finished()
      except Exception:  # pylint: disable=broad-except
        pass
    raise CheckpointError(
        f'could not write the imported run to {workdir} ({type(e).__name__}: '
        f'{str(e).splitlines()[0][:200] if str(e) else ""}); nothing was '
        'written there; free space (the run needs about 4 bytes per weight '
        'and 8 more for the optimizer) and run the same command again.'
    ) from e
  finally:
    if manager is not None:
      manager.close()
    shutil.rmtree(tmp, ignore_errors=True)


FLAGS = flags.FLAGS


def _define_flags() -> None:
  flags.DEFINE_string('generator', None, 'The generator\'s state dict (.pth).')
  flags.DEFINE_string('discriminator', None, 'The discriminator\'s state '
                      'dict (optional).')
  flags.DEFINE_string('workdir', None, 'A new workdir for the imported run.')
  config_flags.DEFINE_config_file('config', None, 'The recipe the weights '
                                  'were trained with (configs/gan_bn.py, '
                                  'gan_sn.py).', lock_config=True)
  flags.mark_flags_as_required(['generator', 'workdir', 'config'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  runtime.setup()
  import_weights(FLAGS.config, FLAGS.generator, FLAGS.discriminator,
                 FLAGS.workdir)
  print(f'wrote {FLAGS.workdir} (epoch 0); colourise with python -m '
        f'colorjax.inference.colorize --workdir={FLAGS.workdir} ...')


def cli() -> None:
  """The `import-torch` command."""
  _define_flags()
  runtime.run_tool(main)


if __name__ == '__main__':
  cli()
