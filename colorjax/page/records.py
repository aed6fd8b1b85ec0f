"""The colouring page's paintings: one record per upload, shared by every
event (`Paintings`), the greyscale preview a record keeps, and the pruning
of what is an hour old."""

import os
import shutil
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from colorjax.datasets import image_io
from colorjax.errors import ColorjaxError
from colorjax.inference.colorizer import Colorizer

__all__ = ['API_FOLDER', 'grey_preview', 'Paintings', 'PREVIEW_SIDE',
           'prune_files']

PREVIEW_SIDE = 1024  # The page shows paintings at most this large.
API_FOLDER = 'api'  # Where the endpoint's results wait an hour.


def grey_preview(rgb: np.ndarray, side: int = PREVIEW_SIDE
                 ) -> Tuple[np.ndarray, float]:
  """The painting's greyscale (its own lightness) at most `side` large, and
  its scale; made once per upload (shrunk first: the page shows no more)."""
  h, w = rgb.shape[:2]
  scale = min(1.0, side / max(h, w))
  if scale < 1:
    rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                     interpolation=cv2.INTER_AREA)
  return Colorizer.constant(rgb, np.zeros(2)), scale


class Paintings:
  """The page's paintings, one record per upload, shared by every event.

  Edits (a click, Undo, Clear, the vibrance) are applied here, under one
  lock, in the order they arrive, and each makes a new version; a render
  draws the latest version and shows it only if no newer one has been
  shown, so no render replaces another's hints and every click counts.
  Records older than `max_age_s` (and their files) are dropped.
  """

  def __init__(self, folder: str, max_age_s: float = 3600):
    self.folder = folder
    self.max_age_s = max_age_s
    self._lock = threading.Lock()
    self._records: Dict[str, Dict[str, Any]] = {}

  def new(self, data: bytes, name: str, vibrance: float, marks: bool = False
          ) -> Tuple[str, np.ndarray]:
    """A record for an uploaded painting (its file's bytes): (its id, its
    greyscale). The record keeps the file as sent, not its pixels (a
    9-megapixel painting is 108 MB of float32 for the hour a record lives);
    each render decodes it again.

    Raises:
      ImageError: the file is not a usable image.
    """
    rgb = image_io.decode_image(data, name)
    grey, scale = grey_preview(rgb)
    pid = os.urandom(8).hex()
    record = {'data': data, 'shape': rgb.shape[:2], 'grey': grey,
              'scale': scale, 'name': name,
              'stem': os.path.splitext(name)[0] or 'painting',
              'points': [], 'clicks': [], 'vibrance': vibrance,
              'marks': marks,
              'version': 0, 'claimed': -1, 'shown': -1,
              'time': time.monotonic(), 'next': None}
    with self._lock:
      self._prune()
      self._records[pid] = record
    return pid, grey

  def edit(self, pid: str, fn) -> Dict[str, Any]:
    """Applies `fn(record) -> changes` to the latest version of `pid`; a
    copy of the new version."""
    with self._lock:
      record = self._get(pid)
      record.update(fn(record))
      record['version'] += 1
      record['time'] = time.monotonic()
      return dict(record)

  def edit_log(self, pid: str, edits: List[Tuple[int, Any]]
               ) -> Dict[str, Any]:
    """Applies the numbered `edits` [(seq, fn)] of `pid` not applied yet,
    in their order. The browser sends its whole log of edits with every
    request (requests may overtake one another, or carry a log a click
    older), so each edit is applied exactly once, in the order made."""
    with self._lock:
      record = self._get(pid)
      if record['next'] is None and edits:
        record['next'] = min(seq for seq, _ in edits)
      for seq, fn in sorted(edits, key=lambda e: e[0]):
        if seq >= record['next']:
          record.update(fn(record))
          record['next'] = seq + 1
          record['version'] += 1
      record['time'] = time.monotonic()
      return dict(record)

  def claim(self, pid: str) -> Optional[Dict[str, Any]]:
    """The latest version to render, or None if it is already rendered or
    being rendered."""
    with self._lock:
      record = self._get(pid)
      if record['version'] <= record['claimed']:
        return None
      record['claimed'] = record['version']
      return dict(record)

  def show(self, pid: str, version: int) -> bool:
    """Whether a render of `version` may be shown (nothing newer has)."""
    with self._lock:
      record = self._records.get(pid)
      if record is None or version < record['shown']:
        return False
      record['shown'] = version
      return True

  def _get(self, pid: str) -> Dict[str, Any]:
    if pid not in self._records:
      raise ColorjaxError('this painting is no longer here (the page was '
                          'idle for an hour); upload it again.')
    return self._records[pid]

  def _prune(self) -> None:
    old = [k for k, r in self._records.items()
           if time.monotonic() - r['time'] > self.max_age_s]
    for k in old:
      del self._records[k]
      shutil.rmtree(os.path.join(self.folder, k), ignore_errors=True)
    prune_files(os.path.join(self.folder, API_FOLDER), self.max_age_s)


def prune_files(folder: str, max_age_s: float) -> int:
  """Deletes the files of `folder` not changed for `max_age_s` seconds (the
  endpoint's results, kept an hour); returns how many."""
  now, count = time.time(), 0
  try:
    entries = list(os.scandir(folder))
  except OSError:
    return 0
  for entry in entries:
    try:
      if entry.is_file() and now - entry.stat().st_mtime > max_age_s:
        os.unlink(entry.path)
        count += 1
    except OSError:  # Gone already, or served right now: the next prune.
      pass
  return count


