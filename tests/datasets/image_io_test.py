"""Reading every kind of image file, and refusing the bad ones with a reason."""


import cv2
import numpy as np
from PIL import Image
from PIL import ImageOps
import pytest
from skimage import data as skdata

from colorjax.datasets import image_io
from colorjax.datasets import sources

RGB = skdata.chelsea()[:40, :60]


@pytest.mark.parametrize('ext', ['png', 'jpg', 'tif', 'bmp', 'webp'])
def test_formats(tmp_path, ext):
  path = str(tmp_path / f'x.{ext}')
  assert cv2.imwrite(path, RGB[..., ::-1])
  img = image_io.read_image(path)
  assert img.shape == (40, 60, 3) and img.dtype == np.float32
  assert np.abs(img * 255 - RGB).mean() < 3


def test_16_bit_grey_and_colour_keep_precision(tmp_path):
  cv2.imwrite(str(tmp_path / 'c.png'), RGB[..., ::-1].astype(np.uint16) * 257
              + 3)
  expected = (RGB.astype(np.float32) * 257 + 3) / 65535
  np.testing.assert_allclose(image_io.read_image(str(tmp_path / 'c.png')),
                             expected, atol=1e-6)
  grey = np.arange(40 * 60, dtype=np.uint16).reshape(40, 60) * 20
  cv2.imwrite(str(tmp_path / 'g.png'), grey)
  img = image_io.read_image(str(tmp_path / 'g.png'))
  np.testing.assert_allclose(img[..., 1], grey / 65535, atol=1e-6)
  np.testing.assert_array_equal(img[..., 0], img[..., 2])


def test_transparency_is_composited_on_white_and_palettes_expand(tmp_path):
  rgba = np.zeros((10, 10, 4), np.uint8)
  rgba[..., 0] = 255  # Red...
  rgba[:, :5, 3] = 255  # ...opaque on the left, transparent on the right.
  Image.fromarray(rgba).save(tmp_path / 'a.png')
  img = image_io.read_image(str(tmp_path / 'a.png'))
  np.testing.assert_allclose(img[0, 0], [1, 0, 0])
  np.testing.assert_allclose(img[0, 9], [1, 1, 1])
  Image.fromarray(RGB).quantize(16).save(tmp_path / 'p.png')  # Mode 'P'.
  img = image_io.read_image(str(tmp_path / 'p.png'))
  assert img.shape == (40, 60, 3) and np.abs(img * 255 - RGB).mean() < 12


@pytest.mark.parametrize('orientation', range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path, orientation):
  exif = Image.Exif()
  exif[0x0112] = orientation
  path = tmp_path / 'o.png'
  Image.fromarray(RGB).save(path, exif=exif)
  with Image.open(path) as im:
    expected = np.asarray(ImageOps.exif_transpose(im).convert('RGB'))
  np.testing.assert_allclose(image_io.read_image(str(path)) * 255, expected,
                             atol=1e-3)


def _bad_files(tmp_path):
  cv2.imwrite(str(tmp_path / 'good.jpg'), RGB[..., ::-1])
  whole = (tmp_path / 'good.jpg').read_bytes()
  (tmp_path / 'truncated.jpg').write_bytes(whole[:len(whole) // 2])
  (tmp_path / 'empty.png').write_bytes(b'')
  (tmp_path / 'text.png').write_text('not an image at all')
  cv2.imwrite(str(tmp_path / 'huge.png'), np.zeros((300, 400, 3), np.uint8))
  return {'truncated.jpg': 'truncated or corrupt', 'empty.png': 'empty file',
          'text.png': 'not an image', 'huge.png': 'too large'}


def test_bad_files_raise_with_reason(tmp_path):
  for name, reason in _bad_files(tmp_path).items():
    with pytest.raises(image_io.ImageError) as info:
      image_io.read_image(str(tmp_path / name), max_pixels=100_000)
    assert info.value.reason == reason and name in str(info.value)
    assert '\n' not in str(info.value)
  with pytest.raises(image_io.ImageError, match='no such file'):
    image_io.read_image(str(tmp_path / 'missing.png'))


def test_pipeline_skips_and_counts_each_kind(tmp_path):
  _bad_files(tmp_path)
  cv2.imwrite(str(tmp_path / 'tiny.png'), RGB[:10, :10, ::-1])
  grey = cv2.cvtColor(RGB, cv2.COLOR_RGB2GRAY)
  cv2.imwrite(str(tmp_path / 'grey.png'), grey)
  ds = sources.decode_images(
      sources.list_images(str(tmp_path)), 32, 'test', True,
      max_pixels=100_000)
  assert len(ds) == 1  # good.jpg
  assert ds.skipped == {'truncated or corrupt': 1, 'empty file': 1,
                        'not an image': 1, 'too large': 1,
                        'smaller than the 32px crop': 1,
                        'greyscale (nothing to learn)': 1}
