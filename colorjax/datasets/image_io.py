"""Reading image files robustly: one home for every source and tool.

`read_image` returns RGB float32 in [0, 1] for any PNG/JPEG/TIFF/BMP/WebP:
greyscale expanded, palettes expanded, 16 bits kept, transparency composited
on white, EXIF orientation applied. Every unusable file raises `ImageError`
with a `reason` (a short category, for counting) and a one-line message
naming the file. Pillow checks the file (size from the header, so a
decompression bomb is refused before it is decoded; a full decode, so a
truncated file is caught); OpenCV reads the pixels (it keeps 16-bit colour).
"""

import io
import os
import stat

import cv2
from etils import epath
import numpy as np
from PIL import Image

from colorjax.errors import DataError

__all__ = ['decode_image', 'DEFAULT_MAX_PIXELS', 'ImageError', 'read_image',
           'read_raw', 'to_float_rgb', 'to_uint8']

# 100 megapixels: far above any painting scan worth training on, far below
# what would exhaust memory.
DEFAULT_MAX_PIXELS = 100_000_000


class ImageError(DataError):
  """An unusable image file; `reason` is a short category for counting."""

  def __init__(self, path: str, reason: str, detail: str = ''):
    self.path, self.reason = path, reason
    super().__init__(f'{path}: {reason}{": " + detail if detail else ""}.')


# EXIF orientation tag -> the array transform that undoes it.
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


def _check_with_pillow(data: bytes, name: str, max_pixels: int) -> int:
  """Validates the encoded image fully; returns its EXIF orientation."""
  try:
    with Image.open(io.BytesIO(data)) as im:
      w, h = im.size
      if w * h > max_pixels:
        raise ImageError(name, 'too large', f'{w}x{h} pixels exceeds the limit '
                         f'of {max_pixels:,} (a decompression bomb?)')
      orientation = im.getexif().get(0x0112, 1)
      im.load()  # Decodes everything: truncation and corruption show here.
      return orientation
  except Image.DecompressionBombError as e:
    raise ImageError(name, 'too large', str(e).split('.')[0]) from e
  except ImageError:
    raise
  except Exception as e:  # Pillow raises many types for bad files.
    unidentified = isinstance(e, Image.UnidentifiedImageError)
    raise ImageError(name, 'not an image' if unidentified else
                     'truncated or corrupt', type(e).__name__) from e


def to_float_rgb(img: np.ndarray, bgr: bool = False) -> np.ndarray:
  """uint8/uint16/float grey (H, W[, 1]), grey+alpha, RGB or RGBA -> RGB float.

  Alpha is composited on white. `bgr` says the channels are OpenCV-ordered.
  """
  if img.dtype == np.uint8:
    img = img.astype(np.float32) / 255.0
  elif img.dtype == np.uint16:
    img = img.astype(np.float32) / 65535.0
  else:
    img = np.clip(img.astype(np.float32), 0.0, 1.0)
  if img.ndim == 2:
    img = img[..., None]
  if img.ndim != 3 or img.shape[-1] not in (1, 2, 3, 4):
    raise DataError(f'expected an HxW or HxWxC image, got shape {img.shape}.')
  alpha = None
  if img.shape[-1] in (2, 4):
    img, alpha = img[..., :-1], img[..., -1:]
  if img.shape[-1] == 1:
    img = np.repeat(img, 3, axis=-1)
  elif bgr:
    img = img[..., ::-1]
  if alpha is not None:
    img = img * alpha + (1.0 - alpha)
  return np.ascontiguousarray(img, np.float32)


def decode_image(data: bytes, name: str = '<bytes>',
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
  """Decodes an encoded image to RGB float32 in [0, 1] (H, W, 3).

  Args:
    data: the file's bytes.
    name: what error messages call it (usually its path).
    max_pixels: larger images are refused before they are decoded.

  Raises:
    ImageError: empty, not an image, truncated/corrupt, too large.
  """
  if not data:
    raise ImageError(name, 'empty file', '0 bytes')
  orientation = _check_with_pillow(data, name, max_pixels)
  img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
  if img is None:  # A format Pillow reads and OpenCV does not.
    with Image.open(io.BytesIO(data)) as im:
      rgb = to_float_rgb(np.asarray(im.convert('RGBA')))
  else:  # OpenCV keeps 16-bit depth and alpha.
    rgb = to_float_rgb(img, bgr=True)
  return np.ascontiguousarray(_ORIENT.get(orientation, lambda a: a)(rgb))


def read_image(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
  """Reads an image file as RGB float32 in [0, 1] (H, W, 3).

  Raises:
    ImageError: missing, empty, not an image, truncated/corrupt, too large.
  """
  return decode_image(_read_bytes(path, max_pixels), path, max_pixels)


def _read_bytes(path: str, max_pixels: int) -> bytes:
  """The bytes of an image file; every OS error is an ImageError naming it."""
  if '://' not in str(path):  # Local: look before reading.
    _check_regular_file(path, max_pixels)
  try:
    return epath.Path(path).read_bytes()
  except (FileNotFoundError, IsADirectoryError) as e:
    raise ImageError(path, 'missing', 'no such file') from e
  except OSError as e:  # Permission denied, I/O errors, ...
    raise ImageError(path, 'unreadable',
                     e.strerror or type(e).__name__) from e


def read_raw(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
  """An image file's pixels as stored, RGB(A)-ordered, EXIF-oriented:
  uint8 or uint16 (H, W), (H, W, 3) or (H, W, 4), alpha kept.

  Raises:
    ImageError: as `read_image`.
  """
  data = _read_bytes(path, max_pixels)
  if not data:
    raise ImageError(path, 'empty file', '0 bytes')
  orientation = _check_with_pillow(data, path, max_pixels)
  img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
  if img is None:
    with Image.open(io.BytesIO(data)) as im:
      img = np.asarray(im.convert('RGBA'))
  elif img.ndim == 3:  # OpenCV's BGR(A) -> RGB(A).
    img = img[..., [2, 1, 0, 3][:img.shape[-1]]]
  return np.ascontiguousarray(_ORIENT.get(orientation, lambda a: a)(img))


# Bytes per pixel of the largest uncompressed file (16-bit RGBA): files larger
# than max_pixels of that cannot hold an image the decoder would accept.
_MAX_BYTES_PER_PIXEL = 8


def _check_regular_file(path: str, max_pixels: int) -> None:
  """Refuses, before reading a byte, what is not a regular file of a
  plausible size: a link loop, a FIFO (reading would hang), a device such as
  /dev/zero (reading would exhaust memory)."""
  try:
    info = os.stat(path)  # Follows links.
  except FileNotFoundError as e:
    raise ImageError(path, 'missing', 'no such file') from e
  except OSError as e:  # ELOOP and other unreadable links.
    raise ImageError(path, 'not a regular file',
                     e.strerror or type(e).__name__) from e
  if not stat.S_ISREG(info.st_mode):
    raise ImageError(path, 'not a regular file',
                     'a folder, FIFO, socket or device')
  if info.st_size > _MAX_BYTES_PER_PIXEL * max_pixels + 2**20:
    raise ImageError(path, 'too large', f'{info.st_size / 2**20:.0f} MiB on '
                     f'disk, more than an image of {max_pixels:,} pixels')


def to_uint8(rgb: np.ndarray) -> np.ndarray:
  """RGB float in [0, 1] -> uint8."""
  return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
