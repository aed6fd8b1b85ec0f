"""The ways a new user broke colorjax: each must fail clearly or not at all.

One test per case of misuse (resume after the data changed is in
checkpoint_test.py); each failed on the code before its fix.
"""

import fcntl
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data as skdata
from tiny import subprocess_env

from colorjax import names
from colorjax.datasets import sources
from colorjax.errors import CheckpointError
from colorjax.errors import ConfigError
from colorjax.inference import colorize
from colorjax.training import plots
from colorjax.training import train
from colorjax.training import writers
from colorjax.training.config_validation import validate_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(name='run_dir', scope='session')
def run_dir_fixture(tiny_run):
  return tiny_run


def _picture(path, seed=0):
  img = skdata.astronaut()[seed * 40:seed * 40 + 48, :64]
  assert cv2.imwrite(str(path), img[..., ::-1])


def test_colorize_gives_every_input_its_own_output(run_dir, tmp_path):
  inputs = tmp_path / 'in'
  for sub in ('x', 'y'):
    (inputs / sub).mkdir(parents=True)
  _picture(inputs / 'c.jpg', 0)
  _picture(inputs / 'c.png', 1)
  _picture(inputs / 'x' / 'p.jpg', 2)
  _picture(inputs / 'y' / 'p.jpg', 3)
  colorizer = colorize.Colorizer.from_workdir(run_dir)
  out = tmp_path / 'out'
  # The folder, and its two subfolders named again: 4 + 2 outputs, none lost.
  failures = colorize.run(colorizer, [str(inputs), str(inputs / 'x'),
                                      str(inputs / 'y')], str(out))
  assert failures == 0
  written = sorted(os.path.relpath(os.path.join(r, f), out)
                   for r, _, fs in os.walk(out) for f in fs)
  assert written == ['c_jpg.png', 'c_png.png', 'p.png', 'p_2.png',
                     'x/p.png', 'y/p.png']


def test_colorize_never_writes_an_input(run_dir, tmp_path):
  _picture(tmp_path / 'a.jpg')
  _picture(tmp_path / 'a_compare.png', 1)  # Would be a.jpg's compare panel.
  before = (tmp_path / 'a_compare.png').read_bytes()
  colorizer = colorize.Colorizer.from_workdir(run_dir)
  failures = colorize.run(colorizer, [str(tmp_path / 'a.jpg'),
                                      str(tmp_path / 'a_compare.png')],
                          str(tmp_path), compare=True, overwrite=True)
  # a.jpg's panel would replace an input, and a_compare.png's output is
  # itself: both refused, named and counted; nothing written.
  assert failures == 2
  assert (tmp_path / 'a_compare.png').read_bytes() == before
  assert sorted(os.listdir(tmp_path)) == ['a.jpg', 'a_compare.png']


def test_colorize_replaces_no_compare_panel_or_hints_file_unasked(
    run_dir, tmp_path, capsys):
  colorizer = colorize.Colorizer.from_workdir(run_dir)
  _picture(tmp_path / 'a.jpg')
  out = tmp_path / 'o'
  out.mkdir()
  _picture(out / 'a_compare.png', 1)  # A panel made earlier, or the user's.
  panel = (out / 'a_compare.png').read_bytes()
  # No --overwrite: the existing panel is kept; only the missing output is
  # made (a rerun completes what a stopped run left).
  assert colorize.run(colorizer, [str(tmp_path / 'a.jpg')], str(out),
                      compare=True) == 0
  assert (out / 'a_compare.png').read_bytes() == panel
  assert (out / 'a.png').exists()
  assert f'skipped: {out / "a_compare.png"} exists' in capsys.readouterr().err
  # A hints file where the output would go is an input, even with
  # --overwrite: refused and counted, the scribble kept.
  _picture(tmp_path / 'b.jpg', 2)
  h, w = cv2.imread(str(tmp_path / 'b.jpg')).shape[:2]
  rgba = np.zeros((h, w, 4), np.uint8)  # The user's scribble for b.jpg:
  rgba[4:7, 4:7] = (160, 80, 40, 255)  # one opaque dab of a mid blue.
  cv2.imwrite(str(tmp_path / 'b.png'), rgba)
  scribble = (tmp_path / 'b.png').read_bytes()
  capsys.readouterr()
  hinted = colorize.Colorizer.pretrained()  # A model that takes hints.
  assert colorize.run(hinted, [str(tmp_path / 'b.jpg')], str(tmp_path),
                      overwrite=True, hints=str(tmp_path / 'b.png')) == 1
  assert 'is an input or a hints file' in capsys.readouterr().err
  assert (tmp_path / 'b.png').read_bytes() == scribble


def test_colorize_counts_failed_writes(run_dir, tmp_path, capsys):
  for i in range(4):
    _picture(tmp_path / f'{i}.png', i % 2)
  (tmp_path / 'blocker').write_text('a file where a folder should be')
  colorizer = colorize.Colorizer.from_workdir(run_dir)
  inputs = [str(tmp_path / f'{i}.png') for i in range(4)]
  assert colorize.run(colorizer, inputs, str(tmp_path / 'blocker' / 'o')) == 4
  assert capsys.readouterr().err.count('error: cannot write') == 4
  # A name too long for the file system (its compare panel's): refused by the
  # writer, counted.
  long_name = tmp_path / ('n' * 247 + '.png')
  _picture(long_name)
  assert colorize.run(colorizer, [str(long_name)], str(tmp_path / 'o2'),
                      compare=True) == 1
  result = subprocess.run(
      [sys.executable, '-m', 'colorjax', 'colorize', f'--workdir={run_dir}',
       f'--output={tmp_path / "blocker" / "o"}', *inputs], cwd=ROOT,
      capture_output=True, text=True, timeout=300,
      env=subprocess_env())
  assert result.returncode == 1
  assert '4 input(s) failed.' in result.stderr


def test_a_second_run_in_one_workdir_is_refused(tiny_config, tmp_path):
  workdir = tmp_path / 'w'
  workdir.mkdir()
  with open(workdir / names.LOCK, 'w') as holder:  # Another live run.
    fcntl.flock(holder, fcntl.LOCK_EX)
    holder.write('pid 4242 on elsewhere since 2026-01-01 00:00:00\n')
    holder.flush()
    with pytest.raises(CheckpointError, match='in use by another run '
                       r'\(pid 4242 on elsewhere') as info:
      train.train_and_evaluate(tiny_config(), str(workdir))
  assert '\n' not in str(info.value)
  assert not (workdir / names.CHECKPOINTS).exists()
  # Released (the holder exited): the lock file left behind is no obstacle.
  state = train.train_and_evaluate(tiny_config(), str(workdir))
  assert int(state.epoch) == 1


def test_resuming_with_another_model_names_the_difference(run_dir,
                                                          tiny_config):
  other = tiny_config(**{'discriminator.norm': 'spectral', 'num_epochs': 2})
  with pytest.raises(CheckpointError, match=r"another model \(discriminator: "
                     r".*'norm': 'batch'.* there, .*'norm': 'spectral'.* now\)"
                     ) as info:
    train.train_and_evaluate(other, run_dir)
  assert 'delete' not in str(info.value) and '\n' not in str(info.value)


def test_special_files_are_skipped_counted_and_never_read(run_dir, tmp_path):
  folder = tmp_path / 'images'
  folder.mkdir()
  for i in range(3):
    _picture(folder / f'good{i}.png', i)
  os.symlink('loop.jpg', folder / 'loop.jpg')  # Points at itself.
  os.mkfifo(folder / 'fifo.png')  # Reading it would hang.
  os.symlink('/dev/zero', folder / 'zero.jpg')  # Reading it never ends.
  ds = sources.decode_images(sources.list_images(str(folder)), 16, 'images',
                             skip_greyscale=False)
  assert len(ds) == 3
  assert ds.skipped == {'not a regular file': 3}
  colorizer = colorize.Colorizer.from_workdir(run_dir)
  assert colorize.run(colorizer, [str(folder)], str(tmp_path / 'out')) == 3
  assert len(os.listdir(tmp_path / 'out')) == 3


def test_a_torn_metrics_line_is_read_past_and_not_continued(tmp_path):
  with open(tmp_path / names.METRICS, 'w') as f:
    f.write(json.dumps({'kind': names.TRAIN, 'epoch': 1, 'step': 2,
                        names.G_L1: 0.5}) + '\n{"kind": "tra')  # Killed here.
  assert [r['step'] for r in plots.read_records(str(tmp_path))] == [2]
  writer = writers.MetricWriter(str(tmp_path))  # The resumed run appends.
  writer.write(names.TRAIN, 1, 4, {names.G_L1: 0.25})
  writer.close()
  assert [r['step'] for r in plots.read_records(str(tmp_path))] == [2, 4]


def test_no_validation_images_stops_before_compiling(tiny_config):
  with pytest.raises(ConfigError, match='num_validation=0 must be >= 1'):
    validate_config(tiny_config(**{'samples.num_validation': 0}), 1)


def test_evaluate_on_an_unwritable_workdir_keeps_the_scores(run_dir,
                                                            tmp_path):
  blocked = tmp_path / 'run'
  subprocess.run(['cp', '-r', run_dir, str(blocked)], check=True)
  (blocked / names.EVAL).write_text('a file where the eval folder goes')
  result = subprocess.run(
      [sys.executable, '-m', 'colorjax', 'evaluate', f'--workdir={blocked}'],
      cwd=tmp_path, capture_output=True, text=True, timeout=300,
      env=subprocess_env())
  assert result.returncode == 0, result.stderr[-2000:]
  assert '| model |' in result.stdout  # Printed whatever happens.
  fallback = tmp_path / 'epoch_1_run.json'
  assert f'wrote {fallback.name}' in result.stdout
  assert json.loads(fallback.read_text())['results']['model']


@pytest.mark.parametrize('size,hint', [(8, 16), (20, 16), (25, 32)])
def test_image_size_hint_is_a_valid_size(tiny_config, size, hint):
  with pytest.raises(ConfigError, match=f'try {hint}'):
    validate_config(tiny_config(image_size=size), 1)


def test_unknown_config_key_is_one_line(tmp_path):
  result = subprocess.run(
      [sys.executable, 'launch.py', '--config=configs/cnn.py:demo',
       f'--workdir={tmp_path}', '--config.num_epoch=3'], cwd=ROOT,
      capture_output=True, text=True, timeout=120,
      env=subprocess_env())
  assert result.returncode == 1
  assert 'Traceback' not in result.stderr
  (line,) = [l for l in result.stderr.splitlines() if l.startswith('error:')]
  assert 'num_epoch' in line and 'Did you mean "num_epochs"' in line


def test_a_damaged_checkpoint_is_one_line(run_dir, tmp_path):
  """Truncated array files: one `error:` line naming the step and the fix,
  no tracebacks. A step folder without orbax's metadata file is not listed
  as an epoch (its number is a step)."""
  damaged = tmp_path / 'damaged'
  subprocess.run(['cp', '-r', run_dir, str(damaged)], check=True)
  ckpts = damaged / names.CHECKPOINTS
  (step,) = os.listdir(ckpts)
  for folder, _, files in os.walk(ckpts / step):
    for f in files:
      if os.sep + 'd' in folder[len(str(ckpts)):]:
        os.truncate(os.path.join(folder, f), 10)
  _picture(tmp_path / 'a.png')
  result = subprocess.run(
      [sys.executable, '-m', 'colorjax', 'colorize', f'--workdir={damaged}',
       f'--output={tmp_path / "out"}', str(tmp_path / 'a.png')], cwd=ROOT,
      capture_output=True, text=True, timeout=300,
      env=dict(os.environ, JAX_PLATFORMS='cpu'))
  assert result.returncode == 1, result.stderr[-2000:]
  assert 'Traceback' not in result.stderr
  assert 'Event loop is closed' not in result.stderr
  (line,) = [l for l in result.stderr.splitlines() if l.startswith('error:')]
  assert f'checkpoint of step {step}' in line and 'delete that step' in line
  # The page says the same in one line, and nothing else.
  page = subprocess.run(
      [sys.executable, '-m', 'colorjax', 'page', f'--workdir={damaged}',
       '--port=0'], cwd=ROOT, capture_output=True, text=True, timeout=300,
      env=dict(os.environ, JAX_PLATFORMS='cpu'))
  assert page.returncode == 1
  assert [l for l in page.stderr.splitlines() if l.strip()] == [line]
  os.unlink(ckpts / step / '_CHECKPOINT_METADATA')
  from colorjax.training import checkpoint  # pylint: disable=g-import-not-at-top
  assert not checkpoint.epochs(checkpoint.create_manager(str(damaged)))


def test_a_full_disk_at_an_epoch_end_is_one_line_and_resumes(
    tiny_config, tmp_path, monkeypatch):
  """The checkpoint that does not fit is refused before it starts (orbax's
  background threads would fail it in tracebacks); the earlier ones stay,
  and the resumed run's metrics hold each step once."""
  from colorjax.training import checkpoint  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(tiny_config(), workdir)  # Epoch 1 fits.
  real = checkpoint.shutil.disk_usage
  monkeypatch.setattr(checkpoint.shutil, 'disk_usage',
                      lambda p: real(p)._replace(free=1000))
  with pytest.raises(CheckpointError) as info:
    train.train_and_evaluate(tiny_config(num_epochs=2), workdir)
  line = str(info.value)
  assert 'MB free' in line and 'epochs [1]) are intact' in line
  assert '\n' not in line
  monkeypatch.setattr(checkpoint.shutil, 'disk_usage', real)
  state = train.train_and_evaluate(tiny_config(num_epochs=2), workdir)
  assert int(state.epoch) == 2
  steps = [(r['kind'], r['step']) for r in plots.read_records(workdir)]
  assert len(steps) == len(set(steps))
  assert steps[-1] == (names.VALIDATION, int(state.step))


def test_a_resumed_run_replaces_the_records_after_its_checkpoint(tmp_path):
  rows = [(names.TRAIN, 2, 0.5), (names.VALIDATION, 4, 9.0),
          (names.TRAIN, 6, 0.4), (names.TRAIN, 8, 0.3),  # Not checkpointed.
          (names.TRAIN, 6, 0.45), (names.TRAIN, 8, 0.35),  # The resumed run.
          (names.VALIDATION, 8, 8.0)]
  with open(tmp_path / names.METRICS, 'w') as f:
    for kind, step, value in rows:
      f.write(json.dumps({'kind': kind, 'step': step, 'v': value}) + '\n')
  got = [(r['kind'], r['step'], r['v'])
         for r in plots.read_records(str(tmp_path))]
  assert got == [rows[0], rows[1], rows[4], rows[5], rows[6]]


def test_a_full_disk_in_any_tool_is_one_line(tmp_path):
  script = tmp_path / 'tool.py'
  script.write_text(
      'import errno\nfrom colorjax import runtime\n'
      'def main(argv):\n'
      '  raise OSError(errno.ENOSPC, "No space left on device", "/x/out.png")\n'
      'runtime.run_tool(main)\n')
  result = subprocess.run([sys.executable, str(script)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 1 and 'Traceback' not in result.stderr
  assert result.stderr.strip() == (
      'error: the disk is full (No space left on device: /x/out.png); what '
      'was finished is kept: free space and run the same command again.')


def test_a_painting_out_of_memory_is_reported_and_the_rest_done(
    run_dir, tmp_path, capsys, monkeypatch):
  """NumPy's MemoryError and XLA's RESOURCE_EXHAUSTED on one painting: that
  painting is named with its size, counted, and the others are written."""
  colorizer = colorize.Colorizer.from_workdir(run_dir)
  real = colorizer.colorize
  failing = {40: MemoryError(),
             80: RuntimeError('RESOURCE_EXHAUSTED: Out of memory while '
                              'trying to allocate 9.1GiB.')}

  def colourise(rgb, hints=None):
    if rgb.shape[0] in failing:
      raise failing[rgb.shape[0]]
    return real(rgb, hints)

  monkeypatch.setattr(colorizer, 'colorize', colourise)
  inputs = []
  for i, height in enumerate((48, 40, 56, 80)):
    path = tmp_path / f'{i}.png'
    assert cv2.imwrite(str(path), skdata.astronaut()[:height, :64])
    inputs.append(str(path))
  out = tmp_path / 'out'
  assert colorize.run(colorizer, inputs, str(out)) == 2
  assert sorted(os.listdir(out)) == ['0.png', '2.png']
  err = capsys.readouterr().err
  assert f'error: {inputs[1]} (64 x 40, 0.0 megapixels): out of memory' in err
  assert f'error: {inputs[3]} (64 x 80, 0.0 megapixels): out of memory' in err
  monkeypatch.setattr(colorizer, 'colorize', lambda *a: 1 / 0)
  with pytest.raises(ZeroDivisionError):  # Other bugs are not hidden.
    colorize.run(colorizer, inputs[:1], str(tmp_path / 'o2'))


def test_every_file_read_is_looked_at_first(run_dir, tmp_path):
  """A FIFO (a read would hang), a folder or an unreadable file, wherever
  colorjax reads a path: one line naming it, never a hang or a silence."""
  from colorjax import files
  from colorjax.interop import pth_files
  from colorjax.interop import torch_weights
  from colorjax.training import workdir as workdir_lib
  fifo = tmp_path / 'fifo'
  os.mkfifo(fifo)
  with pytest.raises(torch_weights.TorchWeightsError,
                     match='fifo is not a regular file'):
    pth_files.load(str(fifo))  # torch.load would wait for a writer.
  with pytest.raises(ValueError, match='not valid JSON'):
    (tmp_path / 'torn.json').write_text('{"a": ')
    files.read_json(str(tmp_path / 'torn.json'), ValueError)
  run = tmp_path / 'run'
  subprocess.run(['cp', '-r', run_dir, str(run)], check=True)
  for name in (names.CONFIG, names.DATA_STATS, names.METRICS):
    os.replace(run / name, tmp_path / 'kept')
    os.mkfifo(run / name)
    with pytest.raises(CheckpointError, match=f'{name} is not a regular'):
      {names.CONFIG: workdir_lib.read_config,
       names.DATA_STATS: workdir_lib.read_data_stats,
       names.METRICS: plots.read_records}[name](str(run))
    os.unlink(run / name)
    os.replace(tmp_path / 'kept', run / name)
  # A manifest that is there but cannot be read is an error, never "no
  # manifest": its test split must not be trained on.
  folder = tmp_path / 'paintings'
  folder.mkdir()
  _picture(folder / 'a.png')
  (folder / sources.MANIFEST).mkdir()
  with pytest.raises(sources.DataError, match='MANIFEST.tsv is not a regular'):
    sources.manifest_split(str(folder), 'test')


@pytest.mark.parametrize('config', ['fifo', 'folder', 'configs/gan_bn.py:nope'])
def test_a_bad_config_file_is_one_line(tmp_path, config):
  if config == 'fifo':
    os.mkfifo(tmp_path / 'fifo.py')
    config = str(tmp_path / 'fifo.py')  # Importing it would hang.
  elif config == 'folder':
    config = str(tmp_path)
  result = subprocess.run(
      [sys.executable, 'launch.py', f'--config={config}',
       f'--workdir={tmp_path / "w"}'], cwd=ROOT, capture_output=True,
      text=True, timeout=120,
      env=subprocess_env())
  assert result.returncode == 1 and 'Traceback' not in result.stderr
  (line,) = [l for l in result.stderr.splitlines() if l.startswith('error:')]
  assert ('not a regular file' in line if 'nope' not in config else
          "unknown config variant 'nope'" in line), line


def test_every_name_works_or_is_one_line(run_dir, tmp_path, capsys):
  """Names with spaces, a leading dash, non-ASCII letters or bytes that are
  not UTF-8 are colourised; a newline in a broken file's name stays on its
  error's one line."""
  folder = tmp_path / 'in'
  folder.mkdir()
  odd = ['with space.png', '-dash.png', 'ünïcode.png']
  for name in odd:
    _picture(folder / name)
  # (OpenCV's own imwrite crashes on such a name; colorjax never hands it
  # one.)
  _picture(tmp_path / 'tmp.png')
  os.replace(tmp_path / 'tmp.png',
             os.path.join(os.fsencode(folder), b'raw\xff.png'))
  (folder / 'broken\nname.png').write_bytes(b'not an image')
  colorizer = colorize.Colorizer.from_workdir(run_dir)
  assert colorize.run(colorizer, [str(folder)], str(tmp_path / 'out')) == 1
  written = sorted(os.listdir(os.fsencode(tmp_path / 'out')))
  assert written == sorted([n.encode() for n in odd] + [b'raw\xff.png'])
  errors = [l for l in capsys.readouterr().err.splitlines()
            if l.startswith('error:')]
  assert len(errors) == 1 and 'broken\\nname.png' in errors[0], errors


def test_an_empty_output_writes_nothing_into_the_working_folder(tmp_path):
  # `--output=$UNSET --overwrite` once replaced a photo.png of the working
  # folder; now it is one line before any work.
  _picture(tmp_path / 'photo.jpg')
  (tmp_path / 'photo.png').write_bytes(b'the user\'s own file')
  for output in ('--output=', '--output=  '):
    result = subprocess.run(
        [sys.executable, '-m', 'colorjax', 'colorize', str(tmp_path /
                                                          'photo.jpg'),
         output, '--overwrite'], cwd=tmp_path, capture_output=True,
        text=True, timeout=120, env=subprocess_env())
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [
        'error: --output= is empty; name the folder for the colourised PNGs '
        '(--output=. for this one).']
  assert (tmp_path / 'photo.png').read_bytes() == b'the user\'s own file'
  assert sorted(os.listdir(tmp_path)) == ['photo.jpg', 'photo.png']


def test_a_folder_with_no_image_is_a_failure_not_0_of_0(run_dir, tmp_path,
                                                        capsys):
  colorizer = colorize.Colorizer.from_workdir(run_dir)
  empty = tmp_path / 'empty'
  empty.mkdir()
  notes = tmp_path / 'notes'
  notes.mkdir()
  (notes / 'readme.txt').write_text('not a painting')
  for folder in (empty, notes):
    assert colorize.run(colorizer, [str(folder)], str(tmp_path / 'o')) == 1
    err = capsys.readouterr().err
    assert f'error: no image found in {folder}' in err
    assert 'colourised 0 of 0' not in err
  assert not (tmp_path / 'o').exists()


def test_a_users_flag_mistake_is_one_line_before_any_work(tmp_path):
  """Each tool checks its flags and outputs first: one `error:` line, no
  traceback, nothing written (a 100,000-pixel row once tried 45 GB)."""
  data = tmp_path / 'data'
  data.mkdir()
  report = tmp_path / 'report.md'
  report.write_text('a file, not a folder')
  gallery = ['gallery', f'--dataset={data}', f'--output={tmp_path / "g.jpg"}',
             '--run=a=nowhere']
  cases = [
      (gallery + ['--num=0'], '--num=0 must be in [1, 200]'),
      (gallery + ['--num=-2'], '--num=-2 must be in'),
      (gallery + ['--height=0'], '--height=0 must be in [16, 2048]'),
      (gallery + ['--height=100000'], '--height=100000 must be in'),
      (gallery + ['--hints=-5'], '--hints=-5 must be whole numbers'),
      (gallery + [f'--output={tmp_path / "g.txt"}'], 'it is written as .jpg'),
      (gallery + [f'--output={data}'], 'is a folder; name a file in it'),
      (['compare', f'--output={report}', str(tmp_path)],
       'is a file, not a folder'),
      (['compare', str(tmp_path / 'nosuchdir')], 'does not exist'),
      (['evaluate', '--workdir=colorjax:hints', '--session=0'],
       '--session=0 must be a number of clicks'),
      (['evaluate', '--workdir=colorjax:hints', '--session=5',
        '--session_sigma=-1'], '--session_sigma=-1 must be numbers'),
      (['page', '--port=-5'], '--port=-5 must be in [0, 65535]'),
      (['page', '--port=99999'], '--port=99999 must be in'),
  ]
  for args, says in cases:
    result = subprocess.run([sys.executable, '-m', 'colorjax', *args],
                            cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, env=subprocess_env())
    assert result.returncode != 0 and 'Traceback' not in result.stderr, (
        args, result.stderr[-2000:])
    (line,) = [l for l in result.stderr.splitlines()
               if l.startswith('error:')]
    assert says in line, (args, line)
  assert report.read_text() == 'a file, not a folder'
  assert sorted(os.listdir(tmp_path)) == ['data', 'report.md']
