"""A hint colours its region: the fading propagation, hints placed as a person
would, and the near/far scores of `evaluate --person_hints`."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tiny

from colorjax.colour import spaces
from colorjax.evaluation import evaluate
from colorjax.evaluation import tables
from colorjax.hints import locality
from colorjax.hints import propagation as hints
from colorjax.hints import simulation
from colorjax.nets import models

PRIOR = np.asarray([0.05, 0.1], np.float32)


def _two_regions(size=32):
  """L (1, S, S, 1): a dark left half and a light right half."""
  l = np.full((1, size, size, 1), -0.6, np.float32)
  l[:, :, size // 2:] = 0.5
  return jnp.asarray(l)


def _dab(size, y, x, ab, side=3):
  h = np.zeros((1, size, size, 2), np.float32)
  m = np.zeros((1, size, size, 1), np.float32)
  h[0, y:y + side, x:x + side] = ab
  m[0, y:y + side, x:x + side] = 1
  return jnp.asarray(h), jnp.asarray(m)


def test_a_hint_fades_with_distance_and_stops_at_an_edge():
  l = _two_regions()
  h, m = _dab(32, 14, 2, [0.31, -0.42])
  colour, conf, blend = (np.asarray(x) for x in hints.propagate_local(
      l, h, m, PRIOR, 0.2, 300))
  # On the hint: its colour, full confidence.
  np.testing.assert_allclose(blend[0, 15, 3], [0.31, -0.42], atol=1e-6)
  assert conf[0, 15, 3, 0] == pytest.approx(1.0)
  # Its colour where it reaches; fading with distance in its own region.
  np.testing.assert_allclose(colour[0, 15, 12], [0.31, -0.42], atol=1e-5)
  row = conf[0, 15, 4:16, 0]
  assert np.all(np.diff(row) < 0) and row[-1] < 0.35
  # Across the lightness edge it falls far more than over the same distance
  # inside the region: the right half keeps the prior.
  inside, across = conf[0, 15, 15, 0], conf[0, 15, 17, 0]
  assert across < inside / 5, (inside, across)
  np.testing.assert_allclose(blend[0, :, 20:], np.broadcast_to(
      PRIOR, blend[0, :, 20:].shape), atol=0.01)
  # No hint: no confidence, the prior everywhere.
  none = hints.propagate_local(l, jnp.zeros_like(h), jnp.zeros_like(m), PRIOR,
                               0.2, 50)
  assert float(jnp.max(none[1])) == 0.0
  np.testing.assert_allclose(none[2], np.broadcast_to(PRIOR, h.shape))


def test_local_propagation_solves_its_system_and_reach_widens_it():
  rgb = np.random.RandomState(3).randint(0, 256, (2, 8, 8, 3)).astype(np.uint8)
  rgb = np.repeat(np.repeat(rgb, 4, 1), 4, 2)
  l, ab = spaces.rgb_uint8_to_model(rgb, 110.0)
  h, m = simulation.simulate(jax.random.PRNGKey(0), ab, jnp.asarray([2, 6]), 6,
                        (1, 2))
  for reach in (0.1, 0.3):
    blend = np.asarray(hints.propagate_local(l, h, m, PRIOR, reach, 400)[2])
    exact = np.stack([hints.levin(np.asarray(l[i]), np.asarray(h[i]),
                                  np.asarray(m[i]), PRIOR, reach)
                      for i in range(2)])
    assert np.abs(blend - exact).mean() * 110 < 0.2, reach
  # A very long reach is Levin et al.'s propagation.
  for i in range(2):
    args = (np.asarray(l[i]), np.asarray(h[i]), np.asarray(m[i]), PRIOR)
    np.testing.assert_allclose(hints.levin(*args, reach=1e4),
                               hints.levin(*args), atol=1e-3)


@pytest.mark.parametrize('model', [models.UNetGenerator,
                                   models.CNNColorizer])
def test_a_local_hint_generator_starts_from_the_blend(model):
  g = model(features=(8, 16, 16), hints=True, prior_ab=tuple(PRIOR),
            propagation_iterations=100, reach=0.2)
  l = _two_regions(16)
  variables = g.init(jax.random.PRNGKey(0), l, train=False)
  assert variables['params']['down0']['kernel'].shape[2] == 9
  np.testing.assert_allclose(g.apply(variables, l, train=False),
                             np.broadcast_to(PRIOR, (1, 16, 16, 2)),
                             atol=1e-6)
  h, m = _dab(16, 6, 1, [0.4, 0.25], side=2)
  out = np.asarray(g.apply(variables, l, train=False, hint_ab=h, hint_mask=m))
  np.testing.assert_allclose(out[0, 6, 1], [0.4, 0.25], atol=1e-5)
  np.testing.assert_allclose(out[0, 6, 14], PRIOR, atol=0.02)


def _canvas():
  """A grey-brown 32x32 painting with three muted patches: a blue (most
  colourful), a second blue of the same hue (less) and an ochre (least)."""
  lab = np.zeros((32, 32, 3), np.float32)
  lab[..., 0], lab[..., 1], lab[..., 2] = 55.0, 3.0, 6.0
  lab[3:8, 3:8] = (50.0, 4.0, -38.0)      # blue, chroma ~38
  lab[3:8, 24:29] = (50.0, 3.0, -30.0)    # the same hue, chroma ~30
  lab[24:29, 12:17] = (60.0, 8.0, 24.0)   # ochre, chroma ~25
  rgb = np.asarray(spaces.lab_to_rgb(jnp.asarray(lab)))
  return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def test_person_hints_take_the_most_colourful_patches_of_other_hues():
  rgb = _canvas()
  _, ab = spaces.rgb_uint8_to_model(rgb[None], 110.0)
  ab = np.asarray(ab[0])
  h, m, centres = locality.person_hints(ab, 1)
  assert m.sum() == 9 and len(centres) == 1
  cy, cx = centres[0]
  assert 3 <= cy <= 7 and 3 <= cx <= 7
  np.testing.assert_allclose(h[m[..., 0] > 0],
                             np.broadcast_to(ab[5, 5], (9, 2)), atol=0.01)
  # A second hint goes to the other hue, not to the second blue.
  _, _, centres = locality.person_hints(ab, 2)
  assert 24 <= centres[1][0] <= 28 and 12 <= centres[1][1] <= 16
  near, far = locality.zones((32, 32), centres[:1])
  y, x = int(centres[0][0]), int(centres[0][1])
  assert near[y, x] and near[y, x + 4] and not near[y, x + 5]
  assert far[y, x + 13] and not far[y, x + 12]


def test_near_and_far_scores_tell_a_local_hint_from_a_global_one():
  images = np.stack([_canvas(), np.rot90(_canvas()).copy()])
  auto = np.zeros((2, 32, 32, 2), np.float32) + PRIOR

  def local(l, h, m):  # The hints where given, the automatic answer else.
    return np.where(m > 0, h, auto[:len(l)])

  def spread(l, h, m):  # The first hint's colour everywhere (Levin, 1 hint).
    if not m.any():
      return auto[:len(l)]
    return np.stack([np.broadcast_to(h[i][m[i, ..., 0] > 0][0], h[i].shape)
                     for i in range(len(l))])

  good = locality.score(images, [1], local, 110.0, PRIOR)[1]
  bad = locality.score(images, [1], spread, 110.0, PRIOR)[1]
  assert good['num_far'] == 2 and good['far_change'] == pytest.approx(0.0)
  assert good['far_worse_share'] == 0.0
  assert good['near'][locality.HINTED] < good['near'][
      locality.AUTO]
  assert bad['far_change'] > 3 and bad['far_worse_share'] == 1.0
  # Grey and the prior are scored beside; the table says what it found.
  assert set(good['far']) == set(locality.METHODS)
  text = locality.table({1: bad})
  assert '100% of 2 paintings worse there by more than 0.5' in text


def test_evaluate_person_hints(hint_run):
  report = evaluate.evaluate(hint_run, evaluate.Settings(person_counts=[1, 2]))
  for n in (1, 2):
    r = report['person_hints'][n]
    assert r['num_images'] == 8 and r['num_near'] == 8
    assert 0.0 <= r['far_worse_share'] <= 1.0
  assert 'far field' in tables.format_report(report)


def test_evaluate_refuses_bad_person_hints_before_any_work(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'colorjax', 'evaluate',
       f'--workdir={tmp_path}/none', '--person_hints=0,2'],
      capture_output=True, text=True, env=tiny.subprocess_env(), timeout=120,
      check=False)
  assert result.returncode != 0
  assert '--person_hints=0,2 must be whole numbers in [1, 100]' in (
      result.stderr)
  assert 'Traceback' not in result.stderr


def test_the_gate_keeps_the_automatic_answer_far_from_a_hint():
  g = models.UNetGenerator(features=(8, 16, 16, 16, 16), hints=True,
                           prior_ab=tuple(PRIOR), propagation_iterations=100,
                           gate=(0.5, 0.15, 0.35))
  l = _two_regions()
  variables = g.init(jax.random.PRNGKey(0), l, train=False)
  # A trained-looking head, so that hints change more than the prior.
  variables = jax.tree.map(
      lambda x: x + 0.05 * jax.random.normal(jax.random.PRNGKey(1), x.shape),
      variables)
  plain = models.UNetGenerator(features=(8, 16, 16, 16, 16), hints=True,
                               prior_ab=tuple(PRIOR),
                               propagation_iterations=100)
  h, m = _dab(32, 14, 2, [0.31, -0.42])
  auto = np.asarray(g.apply(variables, l, train=False))
  np.testing.assert_allclose(auto, plain.apply(variables, l, train=False),
                             atol=1e-6)  # No hint: the automatic answer.
  gated = np.asarray(g.apply(variables, l, train=False, hint_ab=h,
                             hint_mask=m))
  hinted = np.asarray(plain.apply(variables, l, train=False, hint_ab=h,
                                  hint_mask=m))
  # On the hint, its answer; across the edge (the light half), automatic.
  np.testing.assert_allclose(gated[0, 15, 3], hinted[0, 15, 3], atol=1e-6)
  np.testing.assert_allclose(gated[:, :, 20:], auto[:, :, 20:], atol=1e-6)
  assert np.abs(hinted[:, :, 20:] - auto[:, :, 20:]).max() > 1e-3
  # Training is ungated: the same program as without the gate.
  rngs = {'dropout': jax.random.PRNGKey(2)}
  np.testing.assert_allclose(
      g.apply(variables, l, train=True, hint_ab=h, hint_mask=m, rngs=rngs,
              mutable=['batch_stats'])[0],
      plain.apply(variables, l, train=True, hint_ab=h, hint_mask=m,
                  rngs=rngs, mutable=['batch_stats'])[0], atol=1e-6)


def test_dull_hints_travel_beyond_the_gate_and_colourful_ones_do_not():
  """`cast`: a hint of chroma under lo opens the gate everywhere, one above
  hi leaves it as it was, one between opens it partway, and the most
  colourful hint of an image decides for all of them."""
  l = _two_regions()
  cast = (0.12, 0.2)

  def gate(*dabs, cast=cast):
    h = sum(d[0] for d in dabs)
    m = sum(d[1] for d in dabs)
    return np.asarray(hints.gate(l, h, m, 0.5, 0.15, 0.35, 100, cast))

  dull = _dab(32, 14, 2, [0.07, -0.05])  # Chroma 0.086.
  between = _dab(32, 14, 2, [0.12, -0.09])  # Chroma 0.15: 5/8 travels.
  vivid = _dab(32, 14, 2, [0.31, -0.42])
  local = gate(dull, cast=(0.0, 0.0))
  assert local[0, :, 20:].max() < 1e-6  # Across the edge: closed.
  np.testing.assert_allclose(gate(dull), 1.0)
  np.testing.assert_allclose(gate(vivid), gate(vivid, cast=(0.0, 0.0)))
  np.testing.assert_allclose(gate(between), local + (1 - local) * 0.625,
                             atol=1e-5)
  far_vivid = _dab(32, 14, 25, [0.31, -0.42])
  np.testing.assert_allclose(gate(dull, far_vivid),
                             gate(dull, far_vivid, cast=(0.0, 0.0)))
  no_hint = _dab(32, 0, 0, [0.0, 0.0], side=0)
  assert np.asarray(gate(no_hint)).max() == 0.0


def test_a_generator_with_cast_chroma_spreads_a_dull_hint():
  kwargs = dict(features=(8, 16, 16, 16, 16), hints=True,
                prior_ab=tuple(PRIOR), propagation_iterations=100)
  cast = models.UNetGenerator(gate=(0.5, 0.15, 0.35), cast_chroma=(0.1, 0.2),
                              **kwargs)
  plain = models.UNetGenerator(**kwargs)
  l = _two_regions()
  variables = plain.init(jax.random.PRNGKey(0), l, train=False)
  variables = jax.tree.map(
      lambda x: x + 0.05 * jax.random.normal(jax.random.PRNGKey(1), x.shape),
      variables)
  h, m = _dab(32, 14, 2, [0.06, 0.04])
  np.testing.assert_allclose(
      cast.apply(variables, l, train=False, hint_ab=h, hint_mask=m),
      plain.apply(variables, l, train=False, hint_ab=h, hint_mask=m),
      atol=1e-6)


@pytest.mark.parametrize('value', ['20,15', '15', 'a,b', '-1,5'])
def test_a_bad_cast_chroma_is_one_line(value):
  from colorjax.training import config_validation
  with pytest.raises(config_validation.ConfigError,
                     match=f'--cast_chroma={value} must be lo,hi with 0 <= '
                           'lo < hi <= 150'):
    config_validation.parse_cast(value.split(','))
  from colorjax.configs import hints as hints_config
  config = hints_config.get_config('bundled')
  config.hints.cast_chroma = (20.0, 15.0)
  with pytest.raises(config_validation.ConfigError,
                     match=r'config.hints.cast_chroma=\(20.0, 15.0\) must be'):
    config_validation.validate_config(config, 1)


def test_a_learned_gate_blends_the_hinted_and_automatic_answers_and_trains():
  """With `learned_gate` the network answers with and without the hints (in
  training too) and blends them by its own sigmoid head: zero-initialised,
  half and half; pushed up, the hinted answer; down, the automatic one; no
  hint, the automatic one; and the loss reaches the gate's head."""
  features = (8, 16, 16, 16, 16)
  g = models.UNetGenerator(features=features, hints=True, learned_gate=True,
                           prior_ab=tuple(PRIOR), propagation_iterations=100,
                           reach=0.2)
  plain = models.UNetGenerator(features=features, hints=True,
                               prior_ab=tuple(PRIOR),
                               propagation_iterations=100, reach=0.2)
  l = _two_regions()
  h, m = _dab(32, 14, 2, [0.31, -0.42])
  variables = g.init(jax.random.PRNGKey(0), l, train=False, hint_ab=h,
                     hint_mask=m)
  variables = jax.tree.map(
      lambda x: x + 0.05 * jax.random.normal(jax.random.PRNGKey(1), x.shape),
      variables)
  params = dict(variables['params'])
  gate_head = params.pop('gate_head')
  others = {**variables, 'params': params}
  hinted = np.asarray(plain.apply(others, l, train=False, hint_ab=h,
                                  hint_mask=m))
  auto = np.asarray(plain.apply(others, l, train=False))
  assert np.abs(hinted - auto).max() > 1e-3

  def with_bias(bias):
    head = {'kernel': jnp.zeros_like(gate_head['kernel']),
            'bias': jnp.full_like(gate_head['bias'], bias)}
    v = {**variables, 'params': {**params, 'gate_head': head}}
    return np.asarray(g.apply(v, l, train=False, hint_ab=h, hint_mask=m))

  np.testing.assert_allclose(with_bias(0.0), 0.5 * (hinted + auto),
                             atol=1e-5)
  np.testing.assert_allclose(with_bias(30.0), hinted, atol=1e-5)
  np.testing.assert_allclose(with_bias(-30.0), auto, atol=1e-5)
  np.testing.assert_allclose(g.apply(variables, l, train=False), auto,
                             atol=1e-5)

  def loss(gate_params):
    v = {**variables, 'params': {**params, 'gate_head': gate_params}}
    ab, _ = g.apply(v, l, train=True, hint_ab=h, hint_mask=m,
                    rngs={'dropout': jax.random.PRNGKey(2)},
                    mutable=['batch_stats'])
    return jnp.mean(jnp.abs(ab - 0.2))

  grads = jax.grad(loss)(gate_head)
  assert float(jnp.abs(grads['kernel']).max()) > 0


def test_a_learned_gate_and_a_fixed_one_are_refused_together():
  from colorjax.configs import hints as hints_config
  from colorjax.training import config_validation
  config = hints_config.get_config('bundled')
  config.hints.learned_gate = True
  with pytest.raises(config_validation.ConfigError,
                     match='are two gates: turn the fixed one off'):
    config_validation.validate_config(config, 1)
  config.hints.gate = (0.0, 0.0, 1.0)
  config_validation.validate_config(config, 1)


def test_salient_points_gives_colourful_patch_images_one_to_n_hints():
  """`salient_points`: the images whose hints go on colourful patches get
  1 to N of them (a person's first clicks), the others the geometric count."""
  rng = np.random.default_rng(0)
  ab = jnp.asarray(rng.uniform(-0.5, 0.5, (64, 16, 16, 2)), jnp.float32)

  def points(p_salient):
    sim = simulation.Simulation(p_none=0.05, max_points=32, patch_sizes=(1,),
                           p_salient=p_salient, salient_points=2)
    _, mask, _ = sim.draw(jax.random.PRNGKey(3), ab)
    return np.asarray(mask).sum((1, 2, 3))

  salient = points(1.0)
  assert salient.min() >= 1 and salient.max() <= 2
  assert set(salient.tolist()) == {1.0, 2.0}
  assert points(0.0).max() > 2  # Not salient: the geometric count.


def test_salient_points_beyond_max_points_is_one_config_error():
  from colorjax.configs import hints as hints_config
  from colorjax.training import config_validation
  config = hints_config.get_config('bundled')
  config.hints.salient_points = 40
  with pytest.raises(config_validation.ConfigError,
                     match=r'salient_points=40 must be an integer in \[0, '
                           r'max_points=32\]'):
    config_validation.validate_config(config, 1)


def _train_a_few(config, n):
  """(state, [metrics as floats]) after `n` train steps of `config` on
  batches of 8."""
  from colorjax.datasets import sources
  from colorjax.training import steps as steps_lib
  steps = steps_lib.Steps(config, steps_lib.default_mesh())
  state = steps.init()
  train_ds, _ = sources.create_datasets(config)
  metrics = []
  for batch in list(train_ds.train_batches(8, config.seed, 0))[:n]:
    state, m = steps.train_step(state, batch)
    metrics.append({k: float(v) for k, v in m.items()})
  return state, metrics


@pytest.mark.parametrize('p_salient', [1.0, 0.0])
def test_the_far_field_guard_joins_the_hint_generators_loss(tiny_config,
                                                            p_salient):
  """`hints.far_guard`: the loss is L1 plus the weighted guard, which only
  the colourful-patch images pay; validation refuses it without them."""
  from colorjax import names
  from colorjax.training import config_validation
  config = tiny_config(model='unet', **{
      'hints.enabled': True, 'hints.p_salient': 1.0,
      'hints.salient_points': 1, 'hints.far_guard': 7.0,
      'hints.propagation_iterations': 10})
  config_validation.validate_config(config, 1)
  config.hints.p_salient = p_salient
  guards = []
  for m in _train_a_few(config, 3)[1]:
    np.testing.assert_allclose(
        m[names.G_LOSS], m[names.G_L1] + 7.0 * m[names.G_GUARD], rtol=1e-5)
    guards.append(m[names.G_GUARD])
  assert (max(guards) > 0) == (p_salient > 0)
  if p_salient == 0:
    with pytest.raises(config_validation.ConfigError,
                       match=r'far_guard=7.0 guards the images whose hints '
                             r'sit on colourful patches'):
      config_validation.validate_config(config, 1)


def test_the_session_recipe_trains_and_its_settings_are_checked(tiny_config):
  """`hints.p_worst` / `hints.colour_sigma` (configs/hints.py:session): the
  train step places hints where its own answer is wrong, and learns; bad
  values are one line each."""
  from colorjax import names
  from colorjax.configs import hints as hints_config
  from colorjax.training import config_validation
  session = hints_config.get_config('session')
  config_validation.validate_config(session, 1)
  assert session.hints.p_worst == 0.5 and session.hints.colour_sigma == 5.0
  for field, value, rule in (('p_worst', 0.9, r'\[0, 1 - p_salient=0.75\]'),
                             ('colour_sigma', -1.0, r'in \[0, 50\]')):
    bad = hints_config.get_config('session')
    bad.hints[field] = value
    with pytest.raises(config_validation.ConfigError,
                       match=f'config.hints.{field}={value} must be .*{rule}'):
      config_validation.validate_config(bad, 1)
  config = tiny_config(model='unet', **{
      'hints.enabled': True, 'hints.p_worst': 1.0,
      'hints.colour_sigma': 5.0, 'hints.propagation_iterations': 10})
  config_validation.validate_config(config, 1)
  state, metrics = _train_a_few(config, 4)
  losses = [m[names.G_LOSS] for m in metrics]
  assert all(np.isfinite(losses)) and int(state.step) == 4
