"""conv_impl='auto' by measuring: the choice, its cache and its records, with
fake timings; and the forms' real step times and losses on a tiny model."""

import json
import os

import numpy as np
import pytest

from colorjax import names
from colorjax.errors import ConfigError
from colorjax.nets import layers
from colorjax.training import conv_choice
from colorjax.training import train


def _timer(seconds, calls, limits=None):
  def timer(config, form, give_up_after):
    calls.append((config.image_size, form))
    if limits is not None:
      limits[form] = give_up_after
    return seconds[form]
  return timer


@pytest.fixture(name='measuring')
def measuring_fixture(monkeypatch, tmp_path):
  """No forced form (the tests' own is 'rule'), a cache of this test's."""
  monkeypatch.delenv(conv_choice.ENV, raising=False)
  cache = tmp_path / 'cache' / 'conv_impl.json'
  monkeypatch.setattr(conv_choice, 'CACHE_FILE', str(cache))
  return cache


def test_the_fastest_form_is_chosen_cached_and_reused(tiny_config, measuring):
  calls = []
  timer = _timer({'xla': 0.9, 'fast': 0.31, 'matmul': 0.33}, calls)
  form, how = conv_choice.choose(tiny_config(), timer)
  assert form == 'fast' and how['by'] == 'measured'
  assert [f for _, f in calls] == list(conv_choice.FORMS)
  assert calls[-1][1] == 'xla'  # Timed last: it is the slow one.
  cached = json.loads(measuring.read_text())
  assert [v['form'] for v in cached.values()] == ['fast']
  # The same machine and shapes: from the cache, nothing timed.
  form, how = conv_choice.choose(tiny_config(), _timer({}, calls))
  assert form == 'fast' and how['by'] == 'cache' and len(calls) == 3
  # Other shapes are another key: measured, and both kept.
  other = {'xla': 0.2, 'fast': 0.5, 'matmul': 0.4}
  form, _ = conv_choice.choose(tiny_config(batch_size=16),
                               _timer(other, calls))
  assert form == 'xla' and len(calls) == 6
  assert len(json.loads(measuring.read_text())) == 2
  assert 'fast 310 ms' in conv_choice.describe('fast', how)


def test_a_form_that_cannot_win_stops_at_its_first_slow_step(tiny_config,
                                                              measuring):
  limits = {}
  conv_choice.choose(tiny_config(), _timer(
      {'xla': 0.9, 'fast': 0.31, 'matmul': 0.28}, [], limits))
  # The rule's own form is timed first: the bar for the others.
  assert conv_choice.FORMS[0] == layers.resolve_conv_impl('auto', 'cpu')
  assert limits == {'matmul': None, 'fast': conv_choice.GIVE_UP * 0.28,
                    'xla': conv_choice.GIVE_UP * 0.28}


def test_a_torn_cache_is_measured_again(tiny_config, measuring):
  measuring.parent.mkdir(parents=True)
  measuring.write_text('{"abc": {"form": "fa')
  calls = []
  form, _ = conv_choice.choose(
      tiny_config(), _timer({'xla': 3, 'fast': 2, 'matmul': 1}, calls))
  assert form == 'matmul' and len(calls) == 3
  # A cached entry naming no form is not trusted either.
  key = conv_choice.cache_key(tiny_config())
  measuring.write_text(json.dumps({key: {'form': 'cudnn'}}))
  assert conv_choice.choose(tiny_config(), _timer(
      {'xla': 3, 'fast': 1, 'matmul': 2}, calls))[0] == 'fast'


def test_a_forced_form_is_taken_and_a_bad_one_is_one_line(
    tiny_config, measuring, monkeypatch):
  del measuring
  never = _timer({}, [])  # Raises KeyError if called.
  assert conv_choice.choose(tiny_config(conv_impl='xla'), never) == (
      'xla', {'by': 'config'})
  monkeypatch.setenv(conv_choice.ENV, 'matmul')
  assert conv_choice.choose(tiny_config(), never)[0] == 'matmul'
  monkeypatch.setenv(conv_choice.ENV, 'rule')
  assert conv_choice.choose(tiny_config(), never)[0] == (
      layers.resolve_conv_impl('auto'))
  monkeypatch.setenv(conv_choice.ENV, 'cudnn')
  with pytest.raises(ConfigError, match="COLORJAX_CONV_IMPL='cudnn' is not "
                     'a form; use one of matmul, fast, xla'):
    conv_choice.choose(tiny_config(), never)


def test_a_run_records_the_form_it_trained_with(tiny_config, measuring,
                                                tmp_path):
  key = conv_choice.cache_key(tiny_config(conv_impl='auto'))
  measuring.parent.mkdir(parents=True)
  measuring.write_text(json.dumps({key: {
      'form': 'fast', 'seconds': {'xla': 1.0, 'fast': 0.1, 'matmul': 0.2}}}))
  workdir = tmp_path / 'run'
  train.train_and_evaluate(tiny_config(conv_impl='auto'), str(workdir))
  record = json.loads((workdir / names.CONV_IMPL).read_text())
  assert record['form'] == 'fast' and record['by'] == 'cache'
  assert json.loads((workdir / 'config.json').read_text())[
      'conv_impl'] == 'fast'


def test_each_form_times_a_real_train_step(tiny_config):
  # The real timer on a tiny GAN: positive seconds for every exact form.
  config = tiny_config()
  for form in conv_choice.FORMS:
    seconds = conv_choice.time_train_step(config, form, steps=1)
    assert 0 < seconds < 60 and np.isfinite(seconds), form
  assert os.environ[conv_choice.ENV] == 'rule'  # The suite's own setting.
