"""colorjax.runtime: the malloc settings that keep XLA:CPU buffers mapped."""

import os
import platform
import subprocess
import sys
import textwrap

import pytest

from colorjax import runtime

# On a worker thread, as XLA:CPU does: mallocs, writes and frees a block of
# argv[1] bytes twice; prints the minor page faults of the second round,
# which an allocator that reuses the block does not take.
_PROBE = textwrap.dedent('''
    import ctypes, resource, sys, threading
    from colorjax import runtime
    print(runtime.keep_freed_memory())
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    size = int(sys.argv[1])
    def touch():
      p = libc.malloc(size)
      ctypes.memset(p, 1, size)
      libc.free(p)
    def work():
      touch()
      before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
      touch()
      print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    t = threading.Thread(target=work)
    t.start()
    t.join()
''')


def _probe(size=2**28, **env):
  out = subprocess.run([sys.executable, '-c', _PROBE, str(size)], check=True,
                       capture_output=True, text=True,
                       env={**os.environ, **env}).stdout.split()
  return out[0] == 'True', int(out[1])


@pytest.mark.skipif(platform.libc_ver()[0] != 'glibc',
                    reason='mallopt settings exist only in glibc')
def test_keep_freed_memory_reuses_large_blocks():
  applied, faults = _probe()
  assert applied
  assert faults < 1000  # Of 65,536 pages.
  # Above 2 GiB free, a finite trim threshold would give it back (an N-seed
  # step's temporaries are that large).
  applied, faults = _probe(size=5 * 2**29)
  assert applied
  assert faults < 1000  # Of 655,360 pages.
  applied, faults = _probe(COLORJAX_SYSTEM_MALLOC='1')
  assert not applied
  assert faults > 10_000  # glibc's default: unmapped on free, faulted again.


def test_reports_name_paths_as_a_person_types_them(tmp_path, monkeypatch):
  from colorjax import files  # pylint: disable=g-import-not-at-top
  work = tmp_path / 'project'
  (work / 'runs').mkdir(parents=True)
  monkeypatch.chdir(work)
  assert files.display_path('samples') == 'samples'
  assert files.display_path('runs') == 'runs'
  assert files.display_path(str(work / 'runs')) == 'runs'
  assert files.display_path(str(tmp_path / 'data')) == os.path.join('..',
                                                                    'data')
  deep = tmp_path / 'd1' / 'd2' / 'd3'
  deep.mkdir(parents=True)
  monkeypatch.chdir(deep)
  monkeypatch.setenv('HOME', str(tmp_path / 'home'))
  assert files.display_path(str(tmp_path / 'home' / 'data')) == os.path.join(
      '~', 'data')
  far = os.path.join(os.sep, 'nonexistent_root', 'a', 'b')
  assert files.display_path(far) == far  # Too far to name relatively.


def test_figures_and_reports_are_written_whole(tmp_path):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  from colorjax import files  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots()
  ax.plot([0, 1], [1, 0])
  files.save_figure(fig, str(tmp_path / 'curve.png'))
  plt.close(fig)
  files.write_json(str(tmp_path / 'r.json'), {'a': 1})
  assert (tmp_path / 'curve.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
  assert (tmp_path / 'r.json').read_text() == '{\n  "a": 1\n}'
  assert sorted(os.listdir(tmp_path)) == ['curve.png', 'r.json']  # No temps.


@pytest.mark.parametrize('value,asked', [
    ('1', True), ('true', True), (' Yes ', True), ('on', True),
    ('0', False), ('false', False), ('no', False), ('OFF', False), ('', False),
])
def test_system_malloc_is_asked_by_a_yes_not_by_any_text(monkeypatch, value,
                                                          asked):
  monkeypatch.setenv('COLORJAX_SYSTEM_MALLOC', value)
  assert runtime.system_malloc_asked() is asked


def test_a_stop_asked_while_training_ends_compare_after_that_run(
    tmp_path, monkeypatch):
  # compare --train trains its recipes one after another: SIGINT during the
  # first saves it and leaves the others for the next call, rather than
  # going on to the next recipe.
  import signal  # pylint: disable=g-import-not-at-top

  from colorjax.benchmark import compare  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(runtime, '_STOP_ASKED', [False])
  trained = []

  def fake_train(config, run_dir):
    del config
    trained.append(os.path.basename(run_dir))
    os.makedirs(run_dir, exist_ok=True)
    with runtime.PreemptionSignals() as signals:
      os.kill(os.getpid(), signal.SIGINT)  # A person's Ctrl-C, mid-run.
      assert signals.requested

  monkeypatch.setattr(compare.train, 'train_and_evaluate', fake_train)
  assert compare.train_all(str(tmp_path), {'bn': None, 'sn': None}) is None
  assert trained == ['bn'] and runtime.stop_asked()
  monkeypatch.setattr(runtime, '_STOP_ASKED', [False])
  trained.clear()
  monkeypatch.setattr(compare.train, 'train_and_evaluate',
                      lambda c, d: (trained.append(os.path.basename(d)),
                                    os.makedirs(d, exist_ok=True)))
  assert compare.train_all(str(tmp_path), {'bn': None, 'sn': None}) == {
      'bn': str(tmp_path / 'bn'), 'sn': str(tmp_path / 'sn')}
  assert trained == ['bn', 'sn']



def test_ctrl_c_during_a_seed_comparison_stops_it_in_one_line(tmp_path):
  # The command itself (the seeds' way): Ctrl-C while the first recipe
  # trains saves it, trains no other, writes no report, and says how to go
  # on; no traceback.
  import signal  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top

  import cv2  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from tiny import subprocess_env  # pylint: disable=g-import-not-at-top

  from colorjax import names  # pylint: disable=g-import-not-at-top
  from colorjax.benchmark import compare  # pylint: disable=g-import-not-at-top
  folder = tmp_path / 'p'  # 48 small paintings, a batch and more; 4 test.
  folder.mkdir()
  rng = np.random.default_rng(0)
  rows = ['file\tsplit']
  for i in range(48):
    cv2.imwrite(str(folder / f'p{i}.png'), cv2.resize(
        rng.integers(0, 256, (4, 4, 3), np.uint8), (40, 36)))
    rows.append(f'p{i}.png\t{"test" if i < 4 else "train"}')
  (folder / 'MANIFEST.tsv').write_text('\n'.join(rows) + '\n')
  log = tmp_path / 'log.txt'
  with open(log, 'w') as out:
    proc = subprocess.Popen(
        [sys.executable, '-m', 'colorjax', 'compare', '--train', '--seeds=1',
         '--size=demo', f'--dataset={folder}',
         '--split=test',
         '--recipes=bn,sn_matched', '--num_epochs=500',
         f'--workdir={tmp_path / "w"}'], stdout=out, stderr=subprocess.STDOUT,
        env=subprocess_env())
    try:
      for _ in range(600):  # Bounded: at most 300 s to start training.
        if 'First step' in log.read_text() or proc.poll() is not None:
          break
        time.sleep(0.5)
      proc.send_signal(signal.SIGINT)
      assert proc.wait(timeout=300) == 0, log.read_text()[-3000:]
    finally:
      proc.kill()
  text = log.read_text()
  assert compare.STOPPED in text and 'Traceback' not in text
  assert os.listdir(tmp_path / 'w' / 'bn' / 'checkpoints')  # Saved.
  assert not (tmp_path / 'w' / 'sn_matched').exists()
  assert not (tmp_path / 'w' / names.REPORT).exists()
