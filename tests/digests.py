"""A pytree's digest, for the bit-exact tests; imports only jax and numpy, so
`pre_redesign_digests.py` can use it inside an old tree too."""

import hashlib

import jax
import numpy as np


def digest(tree) -> str:
  """sha256 (16 hex digits) of a pytree's paths and leaf bytes."""
  h = hashlib.sha256()
  for path, leaf in sorted(jax.tree_util.tree_leaves_with_path(tree),
                           key=lambda item: jax.tree_util.keystr(item[0])):
    h.update(jax.tree_util.keystr(path).encode())
    h.update(np.asarray(leaf).tobytes())
  return h.hexdigest()[:16]
