"""colorize writes only where asked, and a rerun finishes a run: never its own
outputs read as paintings, never a file another run wrote replaced, never
two inputs on one output name."""

import os

import cv2
import numpy as np
import pytest

from colorjax import files
from colorjax.datasets import image_io
from colorjax.inference import colorize
from colorjax.inference.colorizer import Colorizer


@pytest.fixture(name='bundled', scope='module')
def bundled_fixture():
  return Colorizer.pretrained()


def _painting(path, seed=0, size=(21, 34)):
  rng = np.random.default_rng(seed)
  grey = rng.integers(60, 190, size).astype(np.uint8)
  path.parent.mkdir(parents=True, exist_ok=True)
  cv2.imwrite(str(path), grey)


def _tree(folder):
  return sorted(os.path.relpath(os.path.join(d, f), folder)
                for d, _, fs in os.walk(folder) for f in fs)


def test_a_rerun_into_a_folder_inside_its_input_reads_no_output(bundled,
                                                               tmp_path,
                                                               capsys):
  folder = tmp_path / 'in'
  _painting(folder / 'a.jpg')
  _painting(folder / 'b.png', seed=1)
  assert colorize.run(bundled, [str(folder)], str(folder / 'out')) == 0
  first = _tree(folder)
  assert first == ['a.jpg', 'b.png', 'out/a.png', 'out/b.png']
  for _ in range(2):
    assert colorize.run(bundled, [str(folder)], str(folder / 'out')) == 0
    assert _tree(folder) == first  # No out/out/, no error.
  assert 'left out 2 PNG(s) colorjax wrote' in capsys.readouterr().err
  # Into the input folder itself: b.png is a painting, its output would
  # replace it (refused); a.png is made once, never a_jpg.png on a rerun.
  assert colorize.run(bundled, [str(folder)], str(folder)) == 1
  made = _tree(folder)
  assert 'a.png' in made and not any('_jpg' in f for f in made)
  assert colorize.run(bundled, [str(folder)], str(folder)) == 1
  assert _tree(folder) == made


def test_a_rerun_makes_the_compare_panels_it_missed(bundled, tmp_path):
  _painting(tmp_path / 'in' / 'a.jpg')
  out = tmp_path / 'out'
  colorize.run(bundled, [str(tmp_path / 'in')], str(out), compare=True)
  main = (out / 'a.png').read_bytes()
  panel = (out / 'a_compare.png').read_bytes()
  (out / 'a_compare.png').unlink()  # As a full disk left it.
  os.utime(out / 'a.png', (1, 1))
  assert colorize.run(bundled, [str(tmp_path / 'in')], str(out),
                      compare=True) == 0
  assert (out / 'a_compare.png').read_bytes() == panel
  assert (out / 'a.png').read_bytes() == main
  assert os.stat(out / 'a.png').st_mtime == 1  # Kept, not rewritten.


def test_an_input_named_like_a_panel_is_no_panel(bundled, tmp_path):
  _painting(tmp_path / 'x_compare.jpg')
  assert colorize.run(bundled, [str(tmp_path / 'x_compare.jpg')],
                      str(tmp_path / 'out')) == 0
  assert _tree(tmp_path / 'out') == ['x_compare.png']


def test_a_numbered_name_never_takes_another_inputs_name(bundled, tmp_path):
  for i, rel in enumerate(['sa/x.jpg', 'sb/x.jpg', 'sc/x_2.jpg']):
    _painting(tmp_path / rel, seed=i)
  inputs = [str(tmp_path / r) for r in ('sa/x.jpg', 'sb/x.jpg', 'sc/x_2.jpg')]
  items, _ = colorize.collect_inputs(inputs)
  assert [name for _, name in items] == ['x', 'x_3', 'x_2']
  assert colorize.run(bundled, inputs, str(tmp_path / 'out')) == 0
  assert _tree(tmp_path / 'out') == ['x.png', 'x_2.png', 'x_3.png']


def test_a_file_another_run_wrote_meanwhile_is_kept(bundled, tmp_path,
                                                     capsys):
  _painting(tmp_path / 'in' / 'a.jpg')
  out = tmp_path / 'out'
  theirs = b'the other run\'s picture'

  class Racing(Colorizer):
    """Colours, then another run writes the same output name first."""

    def colorize(self, image, hints=None):
      out.mkdir(exist_ok=True)
      (out / 'a.png').write_bytes(theirs)
      return bundled.colorize(image, hints)

  racing = Racing.__new__(Racing)
  racing.__dict__.update(bundled.__dict__)
  assert colorize.run(racing, [str(tmp_path / 'in')], str(out)) == 1
  assert (out / 'a.png').read_bytes() == theirs
  assert 'another program wrote it' in capsys.readouterr().err
  assert _tree(out) == ['a.png']  # No temporary left.
  # Asked to replace, it does.
  assert colorize.run(racing, [str(tmp_path / 'in')], str(out),
                      overwrite=True) == 0
  assert image_io.made_by_colorjax(str(out / 'a.png'))


def test_write_without_replace_claims_a_free_name_only(tmp_path):
  path = tmp_path / 'f.bin'
  files.write_atomically(str(path), b'one', replace=False)
  with pytest.raises(FileExistsError):
    files.write_atomically(str(path), b'two', replace=False)
  assert path.read_bytes() == b'one' and _tree(tmp_path) == ['f.bin']


def test_a_name_near_the_file_system_limit_is_written(bundled, tmp_path):
  name = 'p' * 246
  _painting(tmp_path / f'{name}.jpg')
  assert colorize.run(bundled, [str(tmp_path / f'{name}.jpg')],
                      str(tmp_path / 'out')) == 0
  assert _tree(tmp_path / 'out') == [f'{name}.png']
