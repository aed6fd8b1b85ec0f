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


def _icc_profile(gamma: float, description: str) -> bytes:
  """A matrix/TRC RGB profile (ICC v2) with sRGB's primaries and one pure
  gamma: gamma 1 is linear light, whose 0.5 is sRGB's 0.735."""
  import struct  # pylint: disable=g-import-not-at-top

  def s15(v):
    return struct.pack('>i', round(v * 65536))

  def xyz(x, y, z):
    return b'XYZ ' + bytes(4) + s15(x) + s15(y) + s15(z)

  text = description.encode('ascii') + b'\0'
  desc = (b'desc' + bytes(4) + struct.pack('>I', len(text)) + text +
          bytes(4 + 4 + 2 + 1 + 67))
  curve = b'curv' + bytes(4) + struct.pack('>IH', 1, round(gamma * 256))
  tags = [(b'desc', desc), (b'wtpt', xyz(0.9642, 1.0, 0.8249)),
          (b'rXYZ', xyz(0.4361, 0.2225, 0.0139)),
          (b'gXYZ', xyz(0.3851, 0.7169, 0.0971)),
          (b'bXYZ', xyz(0.1431, 0.0606, 0.7141)),
          (b'rTRC', curve), (b'gTRC', curve), (b'bTRC', curve)]
  offset = 128 + 4 + 12 * len(tags)
  table, body = struct.pack('>I', len(tags)), b''
  for sig, data in tags:
    data += bytes(-len(data) % 4)
    table += sig + struct.pack('>II', offset + len(body), len(data))
    body += data
  size = offset + len(body)
  header = (struct.pack('>I', size) + b'none' + struct.pack('>I', 0x02100000)
            + b'mntrRGB XYZ ' + bytes(12) + b'acsp' + bytes(4 + 4 + 4 + 4 + 8)
            + struct.pack('>I', 0) + s15(0.9642) + s15(1.0) + s15(0.8249)
            + bytes(4) + bytes(16) + bytes(28))
  assert len(header) == 128
  return header + table + body


@pytest.mark.parametrize('ext', ['.jpg', '.png'])
def test_a_colour_profile_is_converted_to_srgb(tmp_path, ext):
  # Mid-tones in linear light, tagged so: a viewer shows 0.5 as sRGB 0.735.
  values = np.array([[64, 128, 191]], np.uint8)
  rgb = np.repeat(np.stack([values] * 3, -1), 8, axis=0).repeat(8, axis=1)
  path = tmp_path / f'linear{ext}'
  Image.fromarray(rgb).save(path, icc_profile=_icc_profile(1.0, 'Linear'),
                            quality=100)
  got = image_io.read_image(str(path))
  linear = values[0] / 255.0
  srgb = np.where(linear <= 0.0031308, 12.92 * linear,
                  1.055 * linear ** (1 / 2.4) - 0.055)
  for i, want in enumerate(srgb):  # 8-bit conversion, JPEG's rounding.
    assert abs(got[4, 8 * i + 4, 0] - want) < 3 / 255, (i, got[4, 8 * i + 4])
  # Without the profile the pixels are taken as they are.
  Image.fromarray(rgb).save(tmp_path / f'plain{ext}', quality=100)
  plain = image_io.read_image(str(tmp_path / f'plain{ext}'))
  assert abs(plain[4, 12, 0] - 128 / 255) < 2 / 255
  # An sRGB profile changes nothing, and keeps OpenCV's reading.
  from PIL import ImageCms  # pylint: disable=g-import-not-at-top
  srgb_icc = ImageCms.ImageCmsProfile(ImageCms.createProfile('sRGB')).tobytes()
  Image.fromarray(rgb).save(tmp_path / f'srgb{ext}', icc_profile=srgb_icc,
                            quality=100)
  np.testing.assert_array_equal(
      image_io.read_image(str(tmp_path / f'srgb{ext}')), plain)


def test_a_broken_colour_profile_is_one_line(tmp_path):
  path = tmp_path / 'broken.png'
  Image.fromarray(np.full((4, 4, 3), 100, np.uint8)).save(
      path, icc_profile=b'not a profile at all' * 8)
  with pytest.raises(image_io.ImageError, match='colour profile') as e:
    image_io.read_image(str(path))
  assert '\n' not in str(e.value) and 'broken.png' in str(e.value)


def test_written_pngs_say_srgb_and_who_made_them(tmp_path):
  rgb = np.random.default_rng(1).integers(0, 256, (9, 14, 3)).astype(np.uint8)
  path = tmp_path / 'out.png'
  path.write_bytes(image_io.encode_png(rgb))
  with Image.open(path) as im:
    assert im.info['srgb'] == 0 and im.info['Software'] == 'colorjax'
    np.testing.assert_array_equal(np.asarray(im), rgb)
  assert image_io.made_by_colorjax(str(path))
  cv2.imwrite(str(tmp_path / 'other.png'), rgb)
  assert not image_io.made_by_colorjax(str(tmp_path / 'other.png'))
