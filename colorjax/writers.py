"""Metric writers: `metrics.jsonl` (one JSON object a line) and TensorBoard."""

import json
import os
import time
from typing import Any, Dict, Mapping

import numpy as np


class MetricWriter:
  """Appends scalars to `workdir/metrics.jsonl` and TensorBoard event files.

  Each record carries `kind` ('train' or 'eval'), `epoch`, `step` and `time`
  (Unix seconds).
  """

  def __init__(self, workdir: str, enabled: bool = True):
    """`enabled=False` (processes other than 0) writes nothing."""
    self.enabled = enabled
    if not enabled:
      return
    # Imported here: TensorBoard pulls in TensorFlow, which only the writer
    # (and the TFDS data path) needs.
    from flax.metrics import tensorboard  # pylint: disable=g-import-not-at-top
    os.makedirs(workdir, exist_ok=True)
    self._jsonl = open(os.path.join(workdir, 'metrics.jsonl'), 'a')
    self._tb = tensorboard.SummaryWriter(workdir)

  def write(self, kind: str, epoch: int, step: int,
            scalars: Mapping[str, Any]) -> None:
    if not self.enabled:
      return
    record: Dict[str, Any] = {'kind': kind, 'epoch': epoch, 'step': step,
                              'time': round(time.time(), 3)}
    record.update({k: float(np.asarray(v)) for k, v in scalars.items()})
    self._jsonl.write(json.dumps(record) + '\n')
    self._jsonl.flush()
    for k, v in scalars.items():
      self._tb.scalar(f'{kind}/{k}', float(np.asarray(v)), step)
    self._tb.flush()

  def close(self) -> None:
    if not self.enabled:
      return
    self._jsonl.close()
    self._tb.close()
