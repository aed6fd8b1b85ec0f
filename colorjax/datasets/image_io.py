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
import struct
from typing import Optional, Tuple
import zlib

import cv2
from etils import epath
import numpy as np
from PIL import Image
from PIL import ImageCms

from colorjax.errors import DataError

__all__ = ['decode_image', 'DEFAULT_MAX_PIXELS', 'encode_png', 'ImageError',
           'made_by_colorjax', 'read_encoded', 'read_image', 'read_raw',
           'to_float_rgb',
           'to_uint8']

_SRGB = ImageCms.createProfile('sRGB')
MAKER = 'colorjax'  # The Software text of the PNGs it writes.

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


def _check_with_pillow(data: bytes, name: str, max_pixels: int
                       ) -> Tuple[int, Optional[bytes]]:
  """Validates the encoded image fully; returns its EXIF orientation and its
  embedded ICC profile (None if it has none)."""
  try:
    with Image.open(io.BytesIO(data)) as im:
      w, h = im.size
      if w * h > max_pixels:
        raise ImageError(name, 'too large', f'{w}x{h} pixels exceeds the limit '
                         f'of {max_pixels:,} (a decompression bomb?)')
      orientation = im.getexif().get(0x0112, 1)
      im.load()  # Decodes everything: truncation and corruption show here.
      return orientation, im.info.get('icc_profile') or None
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
  orientation, icc = _check_with_pillow(data, name, max_pixels)
  img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
  if icc is not None and not _is_srgb(icc, name):
    rgb = _to_srgb(data, icc, name)
  elif img is None:  # A format Pillow reads and OpenCV does not.
    with Image.open(io.BytesIO(data)) as im:
      rgb = to_float_rgb(np.asarray(im.convert('RGBA')))
  else:  # OpenCV keeps 16-bit depth and alpha.
    rgb = to_float_rgb(img, bgr=True)
  return np.ascontiguousarray(_ORIENT.get(orientation, lambda a: a)(rgb))


def _profile(icc: bytes, name: str) -> 'ImageCms.ImageCmsProfile':
  try:
    return ImageCms.ImageCmsProfile(io.BytesIO(icc))
  except Exception as e:  # pylint: disable=broad-except
    raise ImageError(name, 'unreadable colour profile',
                     f'{type(e).__name__}; save it again as sRGB') from None


def _is_srgb(icc: bytes, name: str) -> bool:
  """Whether an embedded profile is sRGB (its pixels need no conversion)."""
  description = ImageCms.getProfileDescription(_profile(icc, name))
  return 'srgb' in description.lower().replace(' ', '')


def _to_srgb(data: bytes, icc: bytes, name: str) -> np.ndarray:
  """The pixels of an image with a non-sRGB profile (Adobe RGB, ProPhoto, a
  grey gamma), converted to sRGB as a colour-managed viewer shows them
  (LittleCMS, relative colorimetric), at 8 bits; RGB float32 (H, W, 3)."""
  source = _profile(icc, name)
  with Image.open(io.BytesIO(data)) as im:
    im.load()
    alpha = im.getchannel('A') if im.mode in ('RGBA', 'LA') else None
    base = {'RGBA': 'RGB', 'LA': 'L'}.get(im.mode, im.mode)
    if base not in ('RGB', 'L', 'CMYK'):
      raise ImageError(name, 'colour profile not converted', (
          f'its {ImageCms.getProfileDescription(source).strip()!r} profile '
          f'on {im.mode} pixels (colorjax converts 8-bit RGB, grey and CMYK); '
          'convert it to sRGB first'))
    try:
      srgb = ImageCms.profileToProfile(
          im.convert(base) if alpha is not None else im, source, _SRGB,
          renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
          outputMode='RGB')
    except (ImageCms.PyCMSError, ValueError, OSError) as e:
      raise ImageError(name, 'colour profile not converted',
                       f'{str(e)[:120]}; convert it to sRGB first') from None
    pixels = np.asarray(srgb)
    if alpha is not None:
      pixels = np.concatenate([pixels, np.asarray(alpha)[..., None]], -1)
  return to_float_rgb(pixels)


def read_image(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
  """Reads an image file as RGB float32 in [0, 1] (H, W, 3).

  Raises:
    ImageError: missing, empty, not an image, truncated/corrupt, too large.
  """
  return decode_image(_read_bytes(path, max_pixels), path, max_pixels)


def read_encoded(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
  """An image file's bytes as stored, not decoded (what `decode_image`
  takes); the file is looked at first as `read_image` looks at it.

  Raises:
    ImageError: missing, not a regular file, too large, unreadable.
  """
  return _read_bytes(path, max_pixels)


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
  orientation, _ = _check_with_pillow(data, path, max_pixels)
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


def _chunk(kind: bytes, body: bytes) -> bytes:
  return (struct.pack('>I', len(body)) + kind + body +
          struct.pack('>I', zlib.crc32(kind + body)))


# What every PNG colorjax writes says after its header: its pixels are sRGB
# (a colour-managed viewer shows them as computed) and who made it (a folder
# of inputs that holds earlier outputs does not read them as paintings).
_MARK = b'Software\0' + MAKER.encode('ascii')
_AFTER_HEADER = _chunk(b'sRGB', b'\0') + _chunk(b'tEXt', _MARK)
_PNG_HEADER = 8 + 25  # The signature, then IHDR (13 bytes + 12).


def encode_png(rgb: np.ndarray) -> bytes:
  """uint8 RGB (H, W, 3) as PNG bytes, tagged sRGB and as colorjax's.

  Raises:
    ImageError: the encoder refused the array.
  """
  ok, encoded = cv2.imencode('.png', np.ascontiguousarray(rgb[..., ::-1]))
  if not ok:
    raise ImageError('<png>', 'not encoded', 'the PNG encoder refused it')
  data = encoded.tobytes()
  return data[:_PNG_HEADER] + _AFTER_HEADER + data[_PNG_HEADER:]


def made_by_colorjax(path: str) -> bool:
  """Whether `path` is a PNG that colorjax wrote (`encode_png`); False for
  anything unreadable."""
  try:
    if not stat.S_ISREG(os.stat(path).st_mode):
      return False  # A FIFO would block the read; a device never ends.
    # Non-blocking too: a file swapped for a FIFO after the look.
    fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0))
    try:
      head = os.read(fd, _PNG_HEADER + len(_AFTER_HEADER))
    finally:
      os.close(fd)
  except OSError:
    return False
  return head[_PNG_HEADER:] == _AFTER_HEADER


def to_uint8(rgb: np.ndarray) -> np.ndarray:
  """RGB float in [0, 1] -> uint8."""
  return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
