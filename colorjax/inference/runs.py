"""A model by the name a tool is given: a training run's directory, or the
bundled model (`names.BUNDLED`).

The run directory (`colorjax.training.workdir`) knows runs only; this is the
one place that also knows the model shipped in the package, so that every
tool taking `--workdir` takes the bundled model the same way.
"""

from typing import Any, Dict, Optional, Tuple

from jax.sharding import Mesh
import ml_collections

from colorjax import names
from colorjax.errors import CheckpointError
from colorjax.inference import pretrained
from colorjax.training import workdir as workdir_lib

__all__ = ['load_run', 'read_config', 'read_data_stats']


def read_config(workdir: str) -> ml_collections.ConfigDict:
  """The config of a run or of the bundled model (`workdir.read_config`)."""
  if workdir == names.BUNDLED:
    return pretrained.config_of(pretrained.read_card(), pretrained.CARD)
  return workdir_lib.read_config(workdir)


def read_data_stats(workdir: str) -> Dict[str, Any]:
  """What training saved of its data (`workdir.read_data_stats`)."""
  if workdir == names.BUNDLED:
    return dict(pretrained.read_card()['data_stats'])
  return workdir_lib.read_data_stats(workdir)


def load_run(workdir: str, epoch: Optional[int] = None,
             mesh: Optional[Mesh] = None, temperature: Optional[float] = None,
             seed: Optional[int] = None
             ) -> Tuple[ml_collections.ConfigDict, Any, Any]:
  """(config, steps, state) of a run (`workdir.load_run`), or of the bundled
  model, whose steps are None.

  Raises:
    CheckpointError: the run or its checkpoint is missing; an epoch or a seed
      asked of the bundled model, which has one of each.
  """
  if workdir == names.BUNDLED:
    if epoch is not None or seed:
      raise CheckpointError(f'the bundled model ({names.BUNDLED}) has one '
                            'epoch and one seed; drop --epoch and --seed.')
    if temperature is not None:
      raise CheckpointError(f'--temperature={temperature} applies to a model '
                            'with config.head=\'classes\'; the bundled model '
                            'predicts a, b directly: drop --temperature.')
    return pretrained.load_run()
  return workdir_lib.load_run(workdir, epoch, mesh, temperature, seed)
