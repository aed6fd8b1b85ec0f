"""Metric writers: `metrics.jsonl` (one JSON object a line) and TensorBoard
event files (tensorboardX: no TensorFlow)."""

import json
import os
import time
from typing import Any, Dict, Mapping

import numpy as np

from colorjax import names

__all__ = ['MetricWriter']


class MetricWriter:
  """Appends scalars to `workdir/metrics.jsonl` and TensorBoard event files.

  Each record carries `kind` ('train' or 'eval'), `epoch`, `step` and `time`
  (Unix seconds).
  """

  def __init__(self, workdir: str):
    # tensorboardX writes event files without TensorFlow.
    import tensorboardX  # pylint: disable=g-import-not-at-top
    os.makedirs(workdir, exist_ok=True)
    # O_APPEND and one write() per record: a kill leaves whole lines, at
    # worst a torn last one (which `plots.read_records` skips).
    self._jsonl = os.open(os.path.join(workdir, names.METRICS),
                          os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    self._tb = tensorboardX.SummaryWriter(workdir, flush_secs=10)

  def write(self, kind: str, epoch: int, step: int,
            scalars: Mapping[str, Any]) -> None:
    record: Dict[str, Any] = {'kind': kind, 'epoch': epoch, 'step': step,
                              'time': round(time.time(), 3)}
    record.update({k: float(np.asarray(v)) for k, v in scalars.items()})
    line = json.dumps(record) + '\n'
    # A torn line from a killed earlier run would swallow this one's start.
    if os.lseek(self._jsonl, 0, os.SEEK_END) and not self._ends_with_newline():
      line = '\n' + line
    os.write(self._jsonl, line.encode())
    for k, v in scalars.items():
      self._tb.add_scalar(f'{kind}/{k}', float(np.asarray(v)), step)
    self._tb.flush()

  def _ends_with_newline(self) -> bool:
    return os.pread(self._jsonl, 1, os.lseek(self._jsonl, 0, os.SEEK_END) - 1
                    ) == b'\n'

  def close(self) -> None:
    os.close(self._jsonl)
    self._tb.close()
