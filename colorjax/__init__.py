"""colorjax: colourise greyscale paintings with JAX and Flax.

The public face, for your own JAX code. Each name loads its wing on first
use, so `import colorjax` is quick and loads no optional extra
(TensorFlow, matplotlib, PyTorch, Gradio):

  Flax modules          UNetGenerator, Discriminator, CNNColorizer
  from a config         load_config, build_generator, build_discriminator
  the bundled model     load_pretrained() -> Model(module, variables, config,
                        card): the module `colorize` runs, with its weights
  colour maths          spaces (sRGB <-> CIELAB, the model range; the a,b
                        scales REFERENCE_AB_SCALE and GAMUT_AB_SCALE)
  metrics and losses    metrics (CIEDE2000, LAB accuracy, PSNR, SSIM,
                        colourfulness), losses (L1, BCE, GAN losses)
  colouring paintings   Colorizer (any size, hints, vibrance)
  training              Steps (compiled init/train/eval over a mesh),
                        train_step, Recipe, train_and_evaluate

The wings hold the rest, one purpose each (docs/design.md): `colour`,
`datasets`, `hints`, `nets`, `training`, `inference`, `interop`,
`evaluation`, `benchmark`, `page`. docs/api.md shows the face in use.
"""

import importlib
from typing import TYPE_CHECKING, Any, Dict, List, Tuple

__version__ = '0.1.0'

# name -> (module, attribute; None: the module itself).
_FACE: Dict[str, Tuple[str, Any]] = {
    'UNetGenerator': ('colorjax.nets.models', 'UNetGenerator'),
    'Discriminator': ('colorjax.nets.models', 'Discriminator'),
    'CNNColorizer': ('colorjax.nets.models', 'CNNColorizer'),
    'load_config': ('colorjax.configs', 'load'),
    'build_generator': ('colorjax.nets.build', 'generator'),
    'build_discriminator': ('colorjax.nets.build', 'discriminator'),
    'load_pretrained': ('colorjax.inference.pretrained', 'load_model'),
    'spaces': ('colorjax.colour.spaces', None),
    'REFERENCE_AB_SCALE': ('colorjax.colour.spaces', 'REFERENCE_AB_SCALE'),
    'GAMUT_AB_SCALE': ('colorjax.colour.spaces', 'GAMUT_AB_SCALE'),
    'metrics': ('colorjax.colour.metrics', None),
    'losses': ('colorjax.nets.losses', None),
    'Colorizer': ('colorjax.inference.colorizer', 'Colorizer'),
    'Steps': ('colorjax.training.steps', 'Steps'),
    'train_step': ('colorjax.training.steps', 'train_step'),
    'Recipe': ('colorjax.training.steps', 'Recipe'),
    'train_and_evaluate': ('colorjax.training.train', 'train_and_evaluate'),
}

__all__ = sorted(_FACE) + ['__version__']

if TYPE_CHECKING:  # What type checkers and IDEs see; at run time, lazily.
  from colorjax.colour import metrics  # noqa: F401
  from colorjax.colour import spaces  # noqa: F401
  from colorjax.colour.spaces import GAMUT_AB_SCALE  # noqa: F401
  from colorjax.colour.spaces import REFERENCE_AB_SCALE  # noqa: F401
  from colorjax.configs import load as load_config  # noqa: F401
  from colorjax.inference.colorizer import Colorizer  # noqa: F401
  from colorjax.inference.pretrained import load_model as load_pretrained  # noqa: F401
  from colorjax.nets import losses  # noqa: F401
  from colorjax.nets.build import discriminator as build_discriminator  # noqa: F401
  from colorjax.nets.build import generator as build_generator  # noqa: F401
  from colorjax.nets.models import CNNColorizer  # noqa: F401
  from colorjax.nets.models import Discriminator  # noqa: F401
  from colorjax.nets.models import UNetGenerator  # noqa: F401
  from colorjax.training.steps import Recipe  # noqa: F401
  from colorjax.training.steps import Steps  # noqa: F401
  from colorjax.training.steps import train_step  # noqa: F401
  from colorjax.training.train import train_and_evaluate  # noqa: F401


def __getattr__(name: str) -> Any:
  if name not in _FACE:
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
  module_name, attribute = _FACE[name]
  module = importlib.import_module(module_name)
  value = module if attribute is None else getattr(module, attribute)
  globals()[name] = value  # Later look-ups skip this function.
  return value


def __dir__() -> List[str]:
  return sorted(set(globals()) | set(__all__))
