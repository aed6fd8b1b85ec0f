"""The benchmark scripts the README quotes run and print what it says they do.

Tiny sizes, one timed window: this checks the commands and their output
format, not speed (speeds are only ever read from real benchmark runs).
"""

import os
import re
import subprocess
import sys

import pytest
from tiny import subprocess_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(script, *args):
  # One CPU device, as a user's plain `python benchmarks/...` sees.
  env = subprocess_env()
  return subprocess.run([sys.executable, os.path.join('benchmarks', script),
                         *args], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=600)


def test_train_step_prints_rate_cost_and_epoch_time():
  result = _run('train_step.py', '--models=cnn', '--batch_size=4',
                '--image_size=16', '--steps=1', '--repeats=1')
  assert result.returncode == 0, result.stderr[-3000:]
  assert re.search(r'^# fp32 peak for the fractions below: \d+ GFLOP/s '
                   r'\(2048\^3 matmul, measured\)$', result.stdout, re.M)
  line = re.search(r'^cnn +colorjax +([\d.]+) img/s .* first step +[\d.]+ s \| '
                   r'([\d.]+) GFLOP/img, .* of peak \| XLA buffers \d+ MiB, '
                   r'[\d,]+ page faults/step \| 50,000-image epoch (\d+) s$',
                   result.stdout, re.M)
  assert line, result.stdout
  rate, gflop, epoch_s = map(float, line.groups())
  assert rate > 0 and gflop > 0
  # The rate is printed to 0.1 img/s and the epoch to 1 s, so the epoch lies
  # between the times at the rate's rounding bounds (wide at CI's low rates).
  assert 50_000 / (rate + 0.05) - 0.5 <= epoch_s <= 50_000 / (rate - 0.05) + 0.5


def test_train_step_prints_seed_images_per_second_and_paired_ratio():
  result = _run('train_step.py', '--models=cnn', '--batch_size=4',
                '--image_size=16', '--steps=1', '--repeats=3', '--seeds=1,2',
                '--op_profile=3')
  assert result.returncode == 0, result.stderr[-3000:]
  lines = re.findall(r'^cnn +seeds +(\d+) \| +([\d.]+) seed-img/s \(min .*\) '
                     r'\| per seed-image vs 1 seed\(s\): ([\d.]+)x \(paired, '
                     r'95% CI ([\d.]+)-([\d.]+)\) \| [\d,]+ page faults/step$',
                     result.stdout, re.M)
  assert [n for n, *_ in lines] == ['1', '2'], result.stdout
  (_, _, r1, lo1, hi1), (_, _, r2, lo2, hi2) = lines
  assert float(r1) == float(lo1) == float(hi1) == 1.0
  assert float(lo2) <= float(r2) <= float(hi2)
  # The op profile: the 3 costliest thunk kinds and their sum over all kinds,
  # in ms per seed-step at 1 and 2 seeds, and the ratio of the two.
  rows = re.findall(r'^# (\w[\w ]*?) +([\d.]+) +([\d.]+) +([\d.]+)x$',
                    result.stdout, re.M)
  assert len(rows) == 4 and rows[-1][0] == 'all kinds', result.stdout
  for _, one, two, ratio in rows:
    one, two, ratio = float(one), float(two), float(ratio)
    assert 0 < one <= float(rows[-1][1]), result.stdout
    # Printed to 0.1 ms and 0.01x: the ratio within the rounding's bounds.
    assert ((two - 0.05) / (one + 0.05) - 0.005 <= ratio <=
            (two + 0.05) / max(one - 0.05, 1e-9) + 0.005), result.stdout


def test_input_pipeline_prints_both_rates():
  result = _run('input_pipeline.py', '--batch_size=4', '--steps=1')
  assert result.returncode == 0, result.stderr[-3000:]
  assert re.search(r'^input pipeline +\d+ img/s \| train step +[\d.]+ img/s '
                   r'\| ratio \d+x$', result.stdout, re.M), result.stdout


def test_conv_layers_prints_every_layer_and_the_total():
  result = _run('conv_layers.py', '--batch_size=2', '--repeats=1')
  assert result.returncode == 0, result.stderr[-3000:]
  rows = re.findall(r'^([GD]\.\w+|total) +([\d.]+)$', result.stdout, re.M)
  assert len(rows) == 15 and rows[-1][0] == 'total', result.stdout
  assert float(rows[-1][1]) == pytest.approx(
      sum(float(t) for _, t in rows[:-1]), abs=0.1 * len(rows))


def test_colorize_prints_seconds_per_image_for_each_form():
  result = _run('colorize.py', '--size=64', '--repeats=2',
                '--conv_impl=matmul,fast')
  assert result.returncode == 0, result.stderr[-3000:]
  rows = re.findall(r'^64x64 at work size 32, (\w+): [\d.]+ s/image \(median '
                    r'of 2, min [\d.]+, max [\d.]+; ([\d.]+)x the first '
                    r'form\); first call [\d.]+ s$', result.stdout, re.M)
  assert [f for f, _ in rows] == ['matmul', 'fast'], result.stdout
  assert rows[0][1] == '1.00' and float(rows[1][1]) > 0


def test_pretrained_prints_cold_start_and_per_painting_seconds():
  result = _run('pretrained.py', '--size=128', '--repeats=1', '--runs=1')
  assert result.returncode == 0, result.stderr[-3000:]
  assert re.search(r'^\| bundled model( \| [\d.]+){4} \|$',
                   result.stdout, re.M), result.stdout


def test_reference_length_prints_flops_times_and_the_commands():
  result = _run('reference_length.py', '--recipes=cnn', '--seeds=2',
                '--batch_size=4', '--image_size=16', '--steps=1',
                '--repeats=1', '--epochs=2,5', '--train_images=40')
  assert result.returncode == 0, result.stderr[-2000:]
  out = result.stdout
  assert '2 seeds per recipe, batch 4, 16 px, 10 steps an epoch' in out
  row = re.search(r'^\| cnn \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \|', out,
                  re.M)
  assert row and float(row.group(1)) > 0 and float(row.group(2)) > 0
  assert out.count('colorjax compare --train --seeds=2 ') == 2
  assert '--num_epochs=5' in out


@pytest.mark.parametrize('args', [('train_step.py', '--models=cnn'),
                                  ('input_pipeline.py',)])
def test_a_bad_size_is_one_line(args):
  result = _run(*args, '--image_size=20')
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith(
      'error: config.image_size=20 must be a positive multiple'), result.stderr
