"""PyTorch .pth state dicts read and written as NumPy arrays (the optional
torch extra), for `colorjax.interop.torch_weights`' conversions.

`load` never unpickles arbitrary objects and refuses, in one line, what is
not a dense state dict of tensors; `save` writes atomically.
"""

import io
import re
from typing import Dict, Mapping

import numpy as np

from colorjax import extras
from colorjax import files
from colorjax.interop.torch_weights import TorchWeightsError

__all__ = ['load', 'save']


# The reference's G is about 200 MB in float32; a state dict 20 times larger
# is not one of these models.
_MAX_PTH_BYTES = 4 * 2**30


def _torch():
  # The optional extra, imported only when a .pth is read or written.
  return extras.require('torch', 'torch', 'reading or writing .pth files')


def load(path: str) -> Dict[str, np.ndarray]:
  """A .pth state dict as NumPy arrays, never unpickling arbitrary objects.

  Accepts a plain state dict or one wrapped as {'state_dict': ...}; strips
  a DataParallel 'module.' prefix.
  """
  torch = _torch()
  # Looked at before torch opens it: a FIFO would hang the load.
  files.check_regular_file(path, _MAX_PTH_BYTES, TorchWeightsError)
  try:
    obj = torch.load(path, map_location='cpu', weights_only=True)
  except FileNotFoundError:
    raise TorchWeightsError(f'{path!r} does not exist.') from None
  except Exception as e:  # noqa: BLE001  (torch raises many kinds here)
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e)
    raise TorchWeightsError(
        f'{path!r} is not a PyTorch state dict loadable with '
        f'weights_only=True ({first}); save model.state_dict(), not the '
        'model.') from None
  if isinstance(obj, Mapping) and set(obj) == {'state_dict'}:
    obj = obj['state_dict']
  if not isinstance(obj, Mapping) or not obj or not all(
      isinstance(v, torch.Tensor) for v in obj.values()):
    raise TorchWeightsError(
        f'{path!r} holds a {type(obj).__name__}, not a state dict of '
        'tensors; save model.state_dict().')
  out = {}
  for k, v in obj.items():
    if not isinstance(k, str):
      raise TorchWeightsError(f'{path!r} has a key {k!r} that is not a '
                              'string; save model.state_dict().')
    if v.layout != torch.strided or v.is_meta:
      kind = ('a meta tensor (no data)' if v.is_meta else
              f'{v.layout} (sparse)')
      raise TorchWeightsError(f'{path!r}: tensor {k!r} is {kind}; save a '
                              'dense state dict with values.')
    # Checked before any copy: a declared shape can be far larger than the
    # file (a broadcast view), and no layer of ours has 2**28 values.
    if v.numel() > 2**28:
      raise TorchWeightsError(f'{path!r}: tensor {k!r} has shape '
                              f'{tuple(v.shape)}, larger than any colorjax '
                              'layer; not a colorjax-compatible state dict.')
    if v.is_floating_point() and v.dtype != torch.float32:
      v = v.float()  # bfloat16 / float16 / float64: NumPy takes float32.
    out[re.sub(r'^module\.', '', k)] = v.detach().cpu().numpy()
  return out


def save(state_dict: Mapping[str, np.ndarray], path: str) -> None:
  """Writes NumPy arrays as a torch state dict (.pth)."""
  torch = _torch()
  # Through a temporary file in the same folder, renamed into place: a
  # reader never sees half a .pth.
  buffer = io.BytesIO()
  torch.save({k: torch.from_numpy(np.array(v))
              for k, v in state_dict.items()}, buffer)
  files.write_atomically(path, buffer.getvalue())
