"""PyTorch state dicts <-> colorjax variables, for the GAN's two networks.

Two PyTorch layouts are understood:

* 'reference': karoly-hars/GAN_image_colorizing (`networks.py`), the
  implementation the term project followed. Generator `down1..downN`,
  `up1..up(N-1)`, `final`, each `<block>.model.0` (conv) and `.model.1`
  (BatchNorm2d); discriminator `down1..downM`, `final`; its spectral norm is
  the repository's own module: `<block>.model.0.module.{weight_bar, bias,
  weight_u, weight_v}`, and it runs one power iteration on every call, eval
  included (as flax's `SpectralNorm` does).
* 'benchmark': our `benchmarks/torch_reference.py` (`down.i.0`, `up.i.0`,
  `head`, `body.j`), whose spectral norm is `torch.nn.utils.spectral_norm`
  (`weight_orig`, `weight_u`, `weight_v`): in eval mode it runs no iteration
  and divides by `u . W v` with the stored vectors.

Conv2d weights (O, I, kH, kW) become HWIO kernels; ConvTranspose2d weights
(I, O, kH, kW) are flipped in space and become HWIO (`layers.ConvTranspose`).
BatchNorm's weight, bias, running mean and running variance map to flax's
scale, bias, mean and var; `num_batches_tracked` is not needed (momentum is
fixed). Every function here is NumPy; `colorjax.interop.pth_files` reads
and writes the .pth files (with torch).
"""

import dataclasses
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from colorjax.errors import ColorjaxError

__all__ = ['Architecture', 'detect_layout', 'LAYOUTS', 'to_flax', 'to_torch',
           'TorchWeightsError']

LAYOUTS = ('reference', 'benchmark')
_BN = ('weight', 'bias', 'running_mean', 'running_var')
_EPS = 1e-12
# Our variable names -> torch's, for error messages.
_TORCH_NAME = {'kernel': 'weight', 'scale': 'weight', 'mean': 'running_mean',
               'var': 'running_var', 'u': 'weight_u'}


class TorchWeightsError(ColorjaxError, ValueError):
  """A state dict that does not fit the network (one line, names the key)."""


@dataclasses.dataclass(frozen=True)
class _Layer:
  kind: str  # 'conv', 'conv_t', 'bn', 'sn' (a spectrally normalised conv).
  ours: str  # Our module name ('down0', 'conv1_bn', ...).
  theirs: str  # The torch key prefix, with its trailing dot.


def _generator_layers(num_down: int, layout: str) -> List[_Layer]:
  out = []
  for i in range(num_down):
    p = f'down{i + 1}.model.' if layout == 'reference' else f'down.{i}.'
    out += [_Layer('conv', f'down{i}', p + '0.'),
            _Layer('bn', f'down{i}_bn', p + '1.')]
  for i in range(num_down - 1):
    p = f'up{i + 1}.model.' if layout == 'reference' else f'up.{i}.'
    out += [_Layer('conv_t', f'up{i}', p + '0.'),
            _Layer('bn', f'up{i}_bn', p + '1.')]
  head = 'final.model.0.' if layout == 'reference' else 'head.'
  return out + [_Layer('conv', 'head', head)]


def _discriminator_layers(num_convs: int, norm: str,
                          layout: str) -> List[_Layer]:
  """num_convs: the first conv and the strided ones (features' length)."""
  if layout == 'reference':
    out = [_Layer('conv', 'conv0', 'down1.model.0.')]
    for i in range(1, num_convs):
      p = f'down{i + 1}.model.'
      if norm == 'spectral':
        out.append(_Layer('sn', f'conv{i}', p + '0.module.'))
      else:
        out.append(_Layer('conv', f'conv{i}', p + '0.'))
        if norm == 'batch':
          out.append(_Layer('bn', f'conv{i}_bn', p + '1.'))
    return out + [_Layer('conv', 'head', 'final.model.0.')]
  out, j = [_Layer('conv', 'conv0', 'body.0.')], 2  # body.1 is a LeakyReLU.
  for i in range(1, num_convs):
    if norm == 'spectral':
      out.append(_Layer('sn', f'conv{i}', f'body.{j}.'))
      j += 2
    else:
      out.append(_Layer('conv', f'conv{i}', f'body.{j}.'))
      if norm == 'batch':
        out.append(_Layer('bn', f'conv{i}_bn', f'body.{j + 1}.'))
      j += 3 if norm == 'batch' else 2
  return out + [_Layer('conv', 'head', f'body.{j}.')]


def _torch_keys(layer: _Layer, layout: str) -> Tuple[str, ...]:
  if layer.kind == 'bn':
    return _BN
  if layer.kind == 'sn':
    return (('weight_bar', 'bias', 'weight_u', 'weight_v')
            if layout == 'reference' else
            ('weight_orig', 'bias', 'weight_u', 'weight_v'))
  return ('weight', 'bias')


@dataclasses.dataclass(frozen=True)
class Architecture:
  """What the mapping needs to know of a network: its depth and, for a
  discriminator, its normalisation. Read from a config, from our variables
  or from a state dict, so a module built by hand converts too."""
  network: str  # 'generator' or 'discriminator'.
  depth: int  # len(features).
  norm: str = 'batch'  # The discriminator's: 'batch', 'spectral', 'none'.

  @classmethod
  def of_config(cls, network: str, config) -> 'Architecture':
    if network == 'generator':
      return cls(network, len(config.generator.features))
    return cls(network, len(config.discriminator.features),
               config.discriminator.norm)

  @classmethod
  def of_variables(cls, network: str, variables: Mapping[str, Any]
                   ) -> 'Architecture':
    params = variables.get('params', {})
    if network == 'generator':
      depth = sum(1 for k in params if re.fullmatch(r'down\d+', k))
      return cls(network, depth)
    depth = sum(1 for k in params if re.fullmatch(r'conv\d+', k))
    norm = ('spectral' if 'conv1_sn' in variables.get('batch_stats', {}) else
            'batch' if 'conv1_bn' in params else 'none')
    return cls(network, depth, norm)

  @classmethod
  def of_state_dict(cls, network: str, state_dict: Mapping[str, Any]
                    ) -> 'Architecture':
    layout = detect_layout(state_dict)
    keys = list(state_dict)
    if network == 'generator':
      pattern = r'down(\d+)\.model\.' if layout == 'reference' else (
          r'down\.(\d+)\.')
      found = {m.group(1) for k in keys if (m := re.match(pattern, k))}
      return cls(network, len(found))
    if layout == 'reference':
      found = {m.group(1) for k in keys if (m := re.match(r'down(\d+)\.', k))}
      norm = ('spectral' if any('.module.weight_bar' in k for k in keys) else
              'batch' if any(re.match(r'down\d+\.model\.1\.running_mean', k)
                             for k in keys) else 'none')
      return cls(network, len(found), norm)
    # The plain layout's body holds the first conv, the strided convs
    # (with their norms) and the head conv: count the 4-D weights.
    convs = [k for k in keys if k.endswith(('.weight', '.weight_orig'))
             and np.ndim(state_dict[k]) == 4]
    norm = ('spectral' if any(k.endswith('weight_orig') for k in keys) else
            'batch' if any(k.endswith('running_mean') for k in keys) else
            'none')
    return cls(network, len(convs) - 1, norm)


def _layers(arch: Architecture, layout: str) -> List[_Layer]:
  if arch.network == 'generator':
    return _generator_layers(arch.depth, layout)
  return _discriminator_layers(arch.depth, arch.norm, layout)


def _architecture(network: str, config, fallback) -> Architecture:
  if network not in ('generator', 'discriminator'):
    raise TorchWeightsError(f'network {network!r} is unknown; use '
                            '\'generator\' or \'discriminator\'.')
  if config is not None:
    return Architecture.of_config(network, config)
  return fallback()


def detect_layout(state_dict: Mapping[str, Any]) -> str:
  """'reference' or 'benchmark', from the key names."""
  keys = list(state_dict)
  if any(k.startswith(('down1.model.', 'final.model.')) for k in keys):
    return 'reference'
  if any(k.startswith(('down.0.', 'body.0.', 'head.')) for k in keys):
    return 'benchmark'
  sample = ', '.join(keys[:3]) or 'no keys'
  raise TorchWeightsError(
      f'the state dict matches no known layout (first keys: {sample}); '
      'expected the keys of karoly-hars/GAN_image_colorizing networks.py '
      '(down1.model.0.weight, ...) or of benchmarks/torch_reference.py.')


def _l2n(x: np.ndarray) -> np.ndarray:
  return x / (np.linalg.norm(x) + _EPS)


def _one_iteration_sigma(w: np.ndarray, u: np.ndarray
                         ) -> Tuple[float, np.ndarray, np.ndarray]:
  """(sigma, v, u') of one power iteration from u on W (out, n), as both
  flax's SpectralNorm and the reference's module compute it."""
  v = _l2n(w.T @ u)
  u2 = _l2n(w @ v)
  return float(u2 @ w @ v), v, u2


def to_flax(state_dict: Mapping[str, np.ndarray], network: str,
            config=None, expected: Optional[Mapping[str, Any]] = None
            ) -> Dict[str, Dict[str, Any]]:
  """A torch state dict (NumPy values) as {'params', 'batch_stats'}.

  Args:
    state_dict: the network's tensors, as float NumPy arrays.
    network: 'generator' or 'discriminator'.
    config: the colorjax config the weights are for (default: the
      architecture read from the state dict's keys).
    expected: our variables' shapes ({'params', 'batch_stats'} trees of
      objects with `.shape`), to check every tensor against (default: no
      check beyond the keys).

  Raises:
    TorchWeightsError: a key is missing or extra, or a shape differs.
  """
  layout = detect_layout(state_dict)
  layers = _layers(_architecture(
      network, config,
      lambda: Architecture.of_state_dict(network, state_dict)), layout)
  wanted = {l.theirs + k for l in layers for k in _torch_keys(l, layout)}
  optional = {l.theirs + 'num_batches_tracked' for l in layers
              if l.kind == 'bn'}
  missing = sorted(wanted - set(state_dict))
  if missing:
    raise TorchWeightsError(
        f'{network} state dict ({layout} layout) lacks {missing[0]!r}'
        f'{f" and {len(missing) - 1} more" if len(missing) > 1 else ""}; is '
        'it the other network, or a model of other widths than the config\'s?')
  extra = sorted(set(state_dict) - wanted - optional)
  if extra:
    raise TorchWeightsError(
        f'{network} state dict ({layout} layout) has an unexpected key '
        f'{extra[0]!r}{f" and {len(extra) - 1} more" if len(extra) > 1 else ""}'
        f'; the config builds another {network} (check '
        'discriminator.norm and the features).')
  params, stats = {}, {}
  for layer in layers:
    t = {k: np.asarray(state_dict[layer.theirs + k], np.float32)
         for k in _torch_keys(layer, layout)}
    for k, v in t.items():
      if not np.isfinite(v).all():
        raise TorchWeightsError(
            f'{network} tensor {layer.theirs + k!r} holds '
            f'{int(np.size(v) - np.isfinite(v).sum())} NaN or Inf value(s); '
            'these weights are broken: export them from a healthy '
            'checkpoint.')
    if layer.kind == 'bn':
      params[layer.ours] = {'scale': t['weight'], 'bias': t['bias']}
      stats[layer.ours] = {'mean': t['running_mean'],
                           'var': t['running_var']}
    else:
      w = t.get('weight', t.get('weight_bar', t.get('weight_orig')))
      if layer.kind == 'conv_t':
        kernel = w[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)
      else:
        kernel = w.transpose(2, 3, 1, 0)
      params[layer.ours] = {'kernel': np.ascontiguousarray(kernel),
                            'bias': t['bias']}
      if layer.kind == 'sn':
        stats[f'{layer.ours}_sn'] = _sn_to_flax(layer, t, w, layout)
  out = {'params': params, 'batch_stats': stats}
  if expected is not None:
    _check_shapes(out, expected, network, layers)
  return out


def _sn_to_flax(layer: _Layer, t: Mapping[str, np.ndarray], w: np.ndarray,
                layout: str) -> Dict[str, np.ndarray]:
  """Our SpectralNorm state (u, sigma) that reproduces torch's eval output."""
  mat = w.reshape(w.shape[0], -1).astype(np.float64)
  u = t['weight_u'].astype(np.float64)
  if layout == 'reference':  # It iterates from u on every call, as flax.
    sigma = _one_iteration_sigma(mat, u)[0]
  else:
    # torch's eval divides by u.W v with the stored vectors; flax iterates
    # once from its u. Keep u if that already gives the same sigma (our own
    # exports), else take the u whose iteration yields the stored v.
    sigma = float(u @ mat @ t['weight_v'].astype(np.float64))
    if not np.isclose(_one_iteration_sigma(mat, u)[0], sigma, rtol=1e-6):
      u = _l2n(np.linalg.lstsq(mat.T, t['weight_v'].astype(np.float64),
                               rcond=None)[0])
  name = layer.ours
  return {f'{name}/kernel/u': u[None].astype(np.float32),
          f'{name}/kernel/sigma': np.asarray(sigma, np.float32)}


def _check_shapes(tree, expected, network: str, layers: List[_Layer]) -> None:
  theirs = {l.ours: l.theirs for l in layers}
  for collection in ('params', 'batch_stats'):
    want, got = expected.get(collection, {}), tree[collection]
    for module in sorted(set(want) | set(got)):
      for name in sorted(set(want.get(module, {})) | set(got.get(module, {}))):
        w = want.get(module, {}).get(name)
        g = got.get(module, {}).get(name)
        if w is None or g is None or tuple(w.shape) != tuple(g.shape):
          key = theirs.get(module.removesuffix('_sn'), module) + _TORCH_NAME.get(
              name.rsplit('/', 1)[-1], name)
          raise TorchWeightsError(
              f'{network} {key}: shape {None if g is None else g.shape} in '
              f'the state dict, {None if w is None else tuple(w.shape)} in '
              'the config\'s model (kernels as HWIO); pass the --config the '
              'weights were trained with.')


def to_torch(variables: Mapping[str, Any], network: str, config=None,
             layout: str = 'reference') -> Dict[str, np.ndarray]:
  """Our {'params', 'batch_stats'} as a torch state dict (NumPy values).

  Args:
    variables: a generator's or discriminator's variables.
    network: 'generator' or 'discriminator'.
    config: the config the network was built from (default: the
      architecture read from `variables`, for a module built by hand).
    layout: 'reference' (`torch_modules.Generator`, `Discriminator`) or
      'benchmark' (`torch_modules.PlainGenerator`, `PlainDiscriminator`).
  """
  if layout not in LAYOUTS:
    raise TorchWeightsError(f'layout {layout!r} is unknown; use one of '
                            f'{LAYOUTS}.')
  params = variables['params']
  stats = variables.get('batch_stats', {})
  out = {}
  arch = _architecture(network, config,
                       lambda: Architecture.of_variables(network, variables))
  for layer in _layers(arch, layout):
    p = {k: np.asarray(v, np.float32) for k, v in params[layer.ours].items()}
    if layer.kind == 'bn':
      s = stats[layer.ours]
      out.update({layer.theirs + 'weight': p['scale'],
                  layer.theirs + 'bias': p['bias'],
                  layer.theirs + 'running_mean': np.asarray(s['mean']),
                  layer.theirs + 'running_var': np.asarray(s['var']),
                  layer.theirs + 'num_batches_tracked': np.asarray(0,
                                                                   np.int64)})
      continue
    if layer.kind == 'conv_t':
      w = p['kernel'].transpose(2, 3, 0, 1)[:, :, ::-1, ::-1]
    else:
      w = p['kernel'].transpose(3, 2, 0, 1)
    w = np.ascontiguousarray(w)
    out[layer.theirs + 'bias'] = p['bias']
    if layer.kind != 'sn':
      out[layer.theirs + 'weight'] = w
      continue
    u = np.asarray(stats[f'{layer.ours}_sn'][f'{layer.ours}/kernel/u'])[0]
    mat = w.reshape(w.shape[0], -1).astype(np.float64)
    sigma, v, _ = _one_iteration_sigma(mat, u.astype(np.float64))
    if layout == 'benchmark':
      # torch's eval uses u.W v as sigma: a v with that product equal to
      # flax's sigma (its norm is not 1; training recomputes v from u).
      wtu = mat.T @ u
      v = sigma * wtu / (wtu @ wtu)
    out[layer.theirs + ('weight_bar' if layout == 'reference'
                        else 'weight_orig')] = w
    out[layer.theirs + 'weight_u'] = u.astype(np.float32)
    out[layer.theirs + 'weight_v'] = v.astype(np.float32)
  return out
