"""Colour hints: simulation, propagation, hint files, and hints end to end."""

import json
import os
import subprocess
import sys

import cv2
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tiny import ROOT

from colorjax.colour import spaces as color
from colorjax.errors import ConfigError
from colorjax.evaluation import evaluate
from colorjax.evaluation import hint_eval
from colorjax.evaluation import tables
from colorjax.hints import hint_files
from colorjax.hints import propagation as hints
from colorjax.hints import simulation as hint_simulation
from colorjax.inference import colorize
from colorjax.nets import models


def _paintings(n=4, size=32):
  """Smooth colour images with regions of distinct hues (made here)."""
  rng = np.random.RandomState(0)
  out = []
  for _ in range(n):
    small = rng.randint(0, 256, (4, 4, 3)).astype(np.uint8)
    out.append(cv2.resize(small, (size, size),
                          interpolation=cv2.INTER_NEAREST))
  return np.stack(out)


def test_simulated_hints_reveal_patch_means_and_counts():
  rgb = _paintings(8)
  _, ab = color.rgb_uint8_to_model(rgb, 110.0)
  counts = jnp.asarray([0, 1, 2, 3, 5, 8, 8, 8])
  hint_ab, mask = hint_simulation.simulate(jax.random.PRNGKey(0), ab, counts,
                                           8, (1,))
  assert hint_ab.shape == ab.shape and mask.shape == ab.shape[:-1] + (1,)
  # 1-px patches: each hint is that pixel's own a, b; counts are respected
  # (two points may land on one pixel).
  given = np.asarray(mask[..., 0]) > 0
  assert given[0].sum() == 0 and given[1].sum() == 1
  assert all(1 <= given[i].sum() <= int(counts[i]) for i in range(1, 8))
  # (Box sums from a summed-area table: float32 rounding of 1e-5.)
  np.testing.assert_allclose(np.asarray(hint_ab)[given], np.asarray(ab)[given],
                             atol=1e-4)
  # Larger patches reveal their mean: a uniform image gives its own colour.
  flat = jnp.broadcast_to(jnp.asarray([0.2, -0.3]), (2, 16, 16, 2))
  h, m = hint_simulation.simulate(jax.random.PRNGKey(1), flat, jnp.asarray([4,
                                                                            4]), 4,
                        (3,))
  np.testing.assert_allclose(np.asarray(h)[np.asarray(m[..., 0]) > 0],
                             [[0.2, -0.3]] * int(np.sum(m)), atol=1e-4)


def test_worst_hints_go_where_the_answer_is_wrong_and_colours_can_be_off():
  # A mid-tone painting whose answer is right everywhere but in one 6x6
  # square: every point of a `worst` image lands on that square, the other
  # images' points spread over the whole painting.
  ab = jnp.broadcast_to(jnp.asarray([0.21, -0.13]), (4, 32, 32, 2))
  answer = np.asarray(ab).copy()
  answer[:, 20:26, 5:11] += [0.3, 0.2]
  worst = jnp.asarray([True, True, False, False])
  counts = jnp.asarray([12, 12, 12, 12])
  _, mask = hint_simulation.simulate(
      jax.random.PRNGKey(4), ab, counts, 12, (1, 2, 3), worst=worst,
      answer_ab=jnp.asarray(answer))
  given = np.asarray(mask[..., 0]) > 0
  inside = np.zeros((32, 32), bool)
  inside[18:28, 3:13] = True  # The square, with a patch's reach around it.
  for i in (0, 1):
    assert given[i].sum() >= 6 and not (given[i] & ~inside).any()
  assert sum((given[i] & ~inside).sum() for i in (2, 3)) >= 10
  # A person's colour error: per-channel noise of the asked deviation, the
  # same positions; none for an image whose sigma is 0.
  sigma = jnp.asarray([0.05, 0.05, 0.05, 0.0])
  exact, m0 = hint_simulation.simulate(jax.random.PRNGKey(5), ab, counts, 12,
                                       (1,))
  noisy, m1 = hint_simulation.simulate(jax.random.PRNGKey(5), ab, counts, 12,
                                       (1,), colour_sigma=sigma)
  np.testing.assert_array_equal(np.asarray(m0), np.asarray(m1))
  keep = np.asarray(m0[..., 0]) > 0
  off = (np.asarray(noisy) - np.asarray(exact))[:3][keep[:3]]
  assert 0.03 < off.std() < 0.07 and abs(off.mean()) < 0.02
  np.testing.assert_allclose(np.asarray(noisy[3])[keep[3]],
                             np.asarray(exact[3])[keep[3]], atol=1e-6)


def test_the_session_recipe_draws_worst_hints_from_its_answer():
  sim = hint_simulation.Simulation(p_none=0.01, max_points=8,
                                   patch_sizes=(1, 2, 3), p_salient=0.0,
                                   p_worst=1.0, colour_sigma=0.0)
  ab = jnp.broadcast_to(jnp.asarray([0.21, -0.13]), (2, 32, 32, 2))
  with pytest.raises(ValueError, match='pass answer_ab'):
    sim.draw(jax.random.PRNGKey(0), ab)
  answer = np.asarray(ab).copy()
  answer[:, :8, -8:] = 0.0  # Wrong (grey) only in the top-right corner.
  _, mask, salient = sim.draw(jax.random.PRNGKey(0), ab, jnp.asarray(answer))
  given = np.asarray(mask[..., 0]) > 0
  assert given.any() and not given[:, 12:, :].any()
  assert not given[:, :, :20].any() and not np.asarray(salient).any()


def test_training_counts_are_geometric():
  n = np.asarray(hint_simulation.training_counts(jax.random.PRNGKey(0), 20_000,
                                                 0.125,
                                       32))
  assert abs((n == 0).mean() - 0.125) < 0.01  # About 1/8 get no hint.
  assert abs(n.mean() - 7) < 0.3 and n.max() <= 32


def test_propagation_converges_to_levins_solve():
  rgb = _paintings(3)
  l, ab = color.rgb_uint8_to_model(rgb, 110.0)
  hint_ab, mask = hint_simulation.simulate(jax.random.PRNGKey(2), ab,
                                 jnp.asarray([3, 10, 20]), 20, (1, 2, 3))
  prior = np.asarray([0.05, 0.1], np.float32)
  exact = np.stack([hints.levin(np.asarray(l[i]), np.asarray(hint_ab[i]),
                                np.asarray(mask[i]), prior)
                    for i in range(3)])
  approx = np.asarray(hints.propagate(l, hint_ab, mask, prior, 400))
  # Hints are kept exactly; elsewhere the iteration nears the solve.
  given = np.asarray(mask[..., 0]) > 0
  np.testing.assert_allclose(approx[given], np.asarray(hint_ab)[given])
  np.testing.assert_allclose(exact[given], np.asarray(hint_ab)[given],
                             atol=1e-6)
  # Hard-edged regions converge slowest; within 1.5 CIELAB units on
  # average, and nearer with more sweeps.
  err = np.abs(approx - exact).mean() * 110
  fewer = np.abs(np.asarray(hints.propagate(l, hint_ab, mask, prior, 20)) -
                 exact).mean() * 110
  assert err < 1.5 and err < fewer / 2, (err, fewer)
  # Levin's solution is a weighted mean of hints: within their range.
  for i in range(3):
    h = np.asarray(hint_ab[i])[given[i]]
    assert exact[i].min() >= h.min() - 1e-4
    assert exact[i].max() <= h.max() + 1e-4
  # No hint: the prior everywhere.
  none = hints.propagate(l, jnp.zeros_like(ab), jnp.zeros_like(l), prior)
  np.testing.assert_allclose(none, np.broadcast_to(prior, ab.shape),
                             atol=1e-6)
  np.testing.assert_allclose(
      hints.levin(np.asarray(l[0]), np.zeros((32, 32, 2)),
                  np.zeros((32, 32, 1)), prior),
      np.broadcast_to(prior, (32, 32, 2)))


@pytest.mark.parametrize('model', [models.UNetGenerator,
                                   models.CNNColorizer])
def test_hint_generator_starts_from_the_propagation(model):
  g = model(features=(8, 16, 16), hints=True, prior_ab=(0.1, -0.1),
            propagation_iterations=50)
  l = jnp.zeros((1, 16, 16, 1))
  variables = g.init(jax.random.PRNGKey(0), l, train=False)
  out = g.apply(variables, l, train=False)  # No hint: the prior.
  np.testing.assert_allclose(out, np.broadcast_to([0.1, -0.1], out.shape),
                             atol=1e-6)
  h = jnp.zeros((1, 16, 16, 2)).at[0, 3, 4].set(jnp.asarray([0.5, 0.2]))
  m = jnp.zeros((1, 16, 16, 1)).at[0, 3, 4].set(1.0)
  out = g.apply(variables, l, train=False, hint_ab=h, hint_mask=m)
  np.testing.assert_allclose(out[0, 3, 4], [0.5, 0.2], atol=1e-5)
  plain = model(features=(8, 16, 16))
  with pytest.raises(ValueError, match='no hint input'):
    plain.apply(plain.init(jax.random.PRNGKey(0), l, train=False), l,
                train=False, hint_ab=h, hint_mask=m)


def test_points_parse_all_colour_forms():
  points = hint_files.parse_points(
      [{'x': 1, 'y': 2, 'color': '#1f4e9c'},
       {'x': 3.5, 'y': 0, 'rgb': [31, 78, 156], 'radius': 4},
       {'x': 0, 'y': 9, 'ab': [12.5, -30.1]}, {'x': 0, 'y': 0,
                                               'color': '#fff'}],
      (10, 20))
  assert points[0].ab == pytest.approx(points[1].ab)
  assert points[0].ab[1] < -30  # A blue: negative b.
  assert points[1].radius == 4 and points[0].radius is None
  assert points[2].ab == (12.5, -30.1)
  assert points[3].ab == pytest.approx((0, 0), abs=0.01)  # White has no hue.
  assert hint_files.parse_points([], (10, 20)) == []


@pytest.mark.parametrize('points,message', [
    ({'x': 1}, 'expected a JSON list'),
    ([{'x': 30, 'y': 2, 'color': '#000000'}], 'outside the painting'),
    ([{'x': 1, 'y': -1, 'color': '#000000'}], 'outside the painting'),
    ([{'x': 1, 'y': 2, 'color': 'blue'}], 'not an sRGB hex colour'),
    ([{'x': 1, 'y': 2}], 'give exactly one colour'),
    ([{'x': 1, 'y': 2, 'color': '#000', 'ab': [1, 2]}], 'exactly one colour'),
    ([{'x': 1, 'y': 2, 'rgb': [0, 300, 0]}], 'in 0-255'),
    ([{'x': 1, 'y': 2, 'ab': [1]}], 'list of 2 numbers'),
    ([{'x': 'a', 'y': 2, 'ab': [1, 2]}], '"x" must be a finite number'),
    ([{'x': 1, 'y': 2, 'ab': [1, 2], 'radius': 0}], '"radius"'),
    ([{'x': 1, 'y': 2, 'ab': [1, 2], 'size': 3}], 'unknown field'),
    ([3], 'not an object'),
])
def test_bad_points_get_one_line(points, message):
  with pytest.raises(hint_files.HintError) as info:
    hint_files.parse_points(points, (10, 20), 'h.json')
  assert message in str(info.value) and '\n' not in str(info.value)
  assert str(info.value).startswith('h.json')


def test_hint_files_are_read_and_checked(tmp_path):
  good = tmp_path / 'p.json'
  good.write_text(json.dumps([{'x': 5, 'y': 5, 'color': '#ff0000'}]))
  assert len(hint_files.read_hints(str(good), (10, 10))) == 1
  torn = tmp_path / 'torn.json'
  torn.write_text('[{"x": 5, "y": ')
  with pytest.raises(hint_files.HintError, match='not valid JSON'):
    hint_files.read_hints(str(torn), (10, 10))
  with pytest.raises(hint_files.HintError, match='.json list of points'):
    hint_files.read_hints(str(tmp_path / 'p.txt'), (10, 10))
  fifo = tmp_path / 'f.json'
  os.mkfifo(fifo)
  with pytest.raises(hint_files.HintError, match='not a regular file'):
    hint_files.read_hints(str(fifo), (10, 10))
  # Scribbles: alpha needed, the painting's size, opaque pixels only.
  rgba = np.zeros((10, 12, 4), np.uint8)
  rgba[2:4, 3:5] = [255, 0, 0, 255]  # An opaque red stroke (RGBA).
  rgba[7, 7] = [0, 0, 255, 60]  # Mostly transparent: not a hint.
  cv2.imwrite(str(tmp_path / 's.png'), rgba[..., [2, 1, 0, 3]])
  scribble = hint_files.read_hints(str(tmp_path / 's.png'), (10, 12))
  assert scribble.opaque.sum() == 4 and scribble.ab[2, 3, 0] > 50  # Red.
  with pytest.raises(hint_files.HintError, match='must have the painting'):
    hint_files.read_hints(str(tmp_path / 's.png'), (20, 12))
  cv2.imwrite(str(tmp_path / 'rgb.png'), rgba[..., :3])
  with pytest.raises(hint_files.HintError, match='needs an alpha channel'):
    hint_files.read_hints(str(tmp_path / 'rgb.png'), (10, 12))


def test_rasterize_maps_points_to_working_cells():
  # A 64 x 128 painting at work size 32: scale 1/4, valid 16 x 32 cells.
  points = [hint_files.Point(8, 4, (40.0, -20.0)),
            hint_files.Point(9, 5, (20.0, 0.0)),  # Same cell: averaged.
            hint_files.Point(127, 63, (0.0, 10.0), radius=8)]
  ab, mask = hint_files.rasterize(points, (64, 128), 32, 100.0)
  assert mask.shape == (32, 32, 1)
  np.testing.assert_allclose(ab[1, 2], [0.3, -0.1])
  assert mask[15, 31, 0] == 1 and mask[14, 30, 0] == 1  # Radius 2 cells.
  assert mask[16:].sum() == 0  # Nothing in the padding.
  assert mask.sum() < 10
  none_ab, none_mask = hint_files.rasterize(None, (64, 128), 32, 100.0)
  assert none_mask.sum() == 0 and not none_ab.any()


def test_colorize_follows_hints_and_keeps_lightness(hint_run, tmp_path):
  colorizer = colorize.Colorizer.from_workdir(hint_run)
  assert colorizer.takes_hints
  grey = np.full((48, 64), 128, np.uint8)  # Uniform grey: no cue but hints.
  auto = colorizer.colorize(grey)
  blue = colorizer.colorize(grey, [{'x': 32, 'y': 24, 'color': '#1f4e9c',
                                    'radius': 30}])
  lab_auto = np.asarray(color.rgb_to_lab(auto / 255.0))
  lab_blue = np.asarray(color.rgb_to_lab(blue / 255.0))
  assert lab_blue[24, 32, 2] < lab_auto[24, 32, 2] - 10  # Bluer (lower b).
  l_in = np.asarray(color.rgb_to_lab(np.full((1, 3), 128 / 255.0)))[0, 0]
  assert np.abs(lab_blue[..., 0] - l_in).mean() < 0.5
  # The command: a folder of hints by input name; an input without one is
  # automatic; the same hints reproduce the same image.
  inputs = tmp_path / 'in'
  inputs.mkdir()
  cv2.imwrite(str(inputs / 'a.png'), grey)
  cv2.imwrite(str(inputs / 'b.png'), grey)
  hint_dir = tmp_path / 'hints'
  hint_dir.mkdir()
  (hint_dir / 'a.json').write_text(json.dumps(
      [{'x': 32, 'y': 24, 'color': '#1f4e9c', 'radius': 30}]))
  out = tmp_path / 'out'
  assert colorize.run(colorizer, [str(inputs)], str(out),
                      hints=str(hint_dir)) == 0
  np.testing.assert_array_equal(cv2.imread(str(out / 'a.png'))[..., ::-1],
                                blue)
  np.testing.assert_array_equal(cv2.imread(str(out / 'b.png'))[..., ::-1],
                                auto)


def test_bad_hints_on_the_command_line_lose_nothing(hint_run, tiny_run,
                                                    tmp_path):
  inputs = tmp_path / 'in'
  inputs.mkdir()
  for name in ('a', 'b'):
    cv2.imwrite(str(inputs / f'{name}.png'), np.full((20, 30), 90, np.uint8))
  hint_dir = tmp_path / 'hints'
  hint_dir.mkdir()
  (hint_dir / 'a.json').write_text('[{"x": 500, "y": 1, "color": "#000"}]')
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  base = [sys.executable, '-m', 'colorjax', 'colorize',
          f'--output={tmp_path}/o']
  run = lambda *args: subprocess.run(base + list(args), cwd=ROOT, env=env,
                                     capture_output=True, text=True,
                                     timeout=600, check=False)
  result = run(f'--workdir={hint_run}', f'--hints={hint_dir}', str(inputs))
  assert result.returncode == 1
  errors = [l for l in result.stderr.splitlines() if l.startswith('error:')]
  assert len(errors) == 1 and 'outside the painting' in errors[0]
  assert 'Traceback' not in result.stderr
  assert (tmp_path / 'o' / 'b.png').exists()  # The other input is done.
  assert not (tmp_path / 'o' / 'a.png').exists()
  # One hints file for two inputs; hints for a model without hint channels.
  result = run(f'--workdir={hint_run}', f'--hints={hint_dir}/a.json',
               str(inputs))
  assert result.returncode == 1 and 'is one file but 2 inputs' in (
      result.stderr)
  result = run(f'--workdir={tiny_run}', f'--hints={hint_dir}', str(inputs))
  assert result.returncode == 1
  assert 'trained without hint channels' in result.stderr
  assert 'configs/hints.py' in result.stderr and 'Traceback' not in (
      result.stderr)


def test_evaluate_with_hints_scores_every_method(hint_run, tmp_path):
  folder = tmp_path / 'paintings'
  folder.mkdir()
  rows = ['file\tsplit']
  for i, img in enumerate(_paintings(5, 48)):
    cv2.imwrite(str(folder / f'p{i}.png'), img[..., ::-1])
    rows.append(f'p{i}.png\ttest')
  (folder / 'MANIFEST.tsv').write_text('\n'.join(rows) + '\n')
  report = evaluate.evaluate(
      hint_run,
      evaluate.Settings(
          dataset=str(folder),
          split='test',
          full_res=True,
          hint_counts=[0, 2, 10],
          auto_workdir=hint_run))
  for key in ('at_size', 'full_res'):
    results = report['hints'][key]
    assert sorted(results) == [0, 2, 10]
    assert set(results[2]) == set(hint_eval.METHODS)
    # Levin's propagation improves with hints; no hint is the prior.
    levin = [results[n][hint_eval.LEVIN]['delta_e'] for n in (0, 2, 10)]
    assert levin[2] < levin[0]
    assert results[0][hint_eval.LEVIN]['delta_e'] == pytest.approx(
        results[0]['prior']['delta_e'], abs=0.05)
    # The automatic answer does not depend on the hints.
    assert results[0][hint_eval.AUTO]['delta_e'] == pytest.approx(
        results[10][hint_eval.AUTO]['delta_e'])
  text = tables.format_report(report)
  assert 'Levin et al. 2004' in text and '10 hints' in text
  path = str(tmp_path / 'curve.png')
  hint_eval.plot({'32 px': report['hints']['at_size']}, 'delta_e', path, 't')
  assert os.path.getsize(path) > 1000


def test_hints_need_a_regression_head(tiny_config):
  from colorjax.training.config_validation import validate_config  # pylint: disable=g-import-not-at-top
  validate_config(tiny_config(model='cnn', **{'hints.enabled': True}), 1)
  with pytest.raises(ConfigError, match='needs config.head=.regression'):
    validate_config(tiny_config(model='cnn', head='classes',
                                **{'hints.enabled': True}), 1)
  with pytest.raises(ConfigError, match='p_none'):
    validate_config(tiny_config(model='unet', **{'hints.enabled': True,
                                                 'hints.p_none': 0}), 1)


def _scribble_files(folder, rgb, shape=(9, 13), at=(slice(2, 5), slice(3, 8))):
  """A stroke of one mid-tone colour `rgb` on a transparent layer, saved in
  every form a paint program writes: {name: path}."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  h, w = shape
  rgba = np.zeros((h, w, 4), np.uint8)
  rgba[at] = (*rgb, 255)
  out = {}
  out['rgba8.png'] = folder / 'rgba8.png'
  Image.fromarray(rgba, 'RGBA').save(out['rgba8.png'])
  out['rgba16.png'] = folder / 'rgba16.png'
  deep = (rgba.astype(np.uint16) * 257)[..., [2, 1, 0, 3]]  # OpenCV: BGRA.
  cv2.imwrite(str(out['rgba16.png']), deep)
  out['palette_trns.png'] = folder / 'palette_trns.png'
  Image.fromarray(rgba, 'RGBA').quantize(colors=4, method=2).save(
      out['palette_trns.png'])
  out['lossless.webp'] = folder / 'lossless.webp'
  Image.fromarray(rgba, 'RGBA').save(out['lossless.webp'], lossless=True)
  return out


def test_scribbles_keep_their_colours_in_every_format(tmp_path):
  blue = (31, 78, 156)  # #1f4e9c: JSON points give a, b = 12.7, -47.5.
  want = hint_files.rgb_to_ab(blue)
  assert want[1] < -40
  for name, path in _scribble_files(tmp_path, blue).items():
    s = hint_files.read_hints(str(path), (9, 13))
    assert s.opaque.sum() == 15 and s.opaque[2:5, 3:8].all(), name
    np.testing.assert_allclose(s.ab[s.opaque], np.broadcast_to(want, (15, 2)),
                               atol=0.6, err_msg=name)
  # 16 bits at full precision: a value between two 8-bit levels.
  deep = np.zeros((9, 13, 4), np.uint16)
  deep[4, 6] = (10000, 20000, 40000, 65535)  # BGRA: R 40000, G 20000, B 10000.
  cv2.imwrite(str(tmp_path / 'fine16.png'), deep)
  s = hint_files.read_hints(str(tmp_path / 'fine16.png'), (9, 13))
  lab = np.asarray(color.rgb_to_lab(np.asarray([40000, 20000, 10000],
                                               np.float32) / 65535))
  np.testing.assert_allclose(s.ab[4, 6], lab[1:], atol=1e-3)
  # Grey + alpha: a grey stroke is a hint of no colour, where painted.
  from PIL import Image  # pylint: disable=g-import-not-at-top
  la = np.zeros((9, 13, 2), np.uint8)
  la[1:3, 1:4] = (118, 255)
  Image.fromarray(la, 'LA').save(tmp_path / 'grey.png')
  s = hint_files.read_hints(str(tmp_path / 'grey.png'), (9, 13))
  assert s.opaque.sum() == 6
  np.testing.assert_allclose(s.ab[s.opaque], 0.0, atol=0.05)


def test_an_animated_scribble_is_refused(tmp_path):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  frames = [Image.fromarray(np.full((9, 13, 4), (31, 78, 156, a), np.uint8),
                            'RGBA') for a in (255, 0)]
  for name in ('anim.png', 'anim.webp'):
    frames[0].save(tmp_path / name, save_all=True, append_images=frames[1:],
                   duration=100, loop=0)
    with pytest.raises(hint_files.HintError, match='is animated .2 frames.'):
      hint_files.read_hints(str(tmp_path / name), (9, 13))


def test_rasterize_gives_each_point_its_disc_of_cells():
  rng = np.random.RandomState(5)
  shape, s = (150, 97), 32
  points = [hint_files.Point(float(rng.uniform(0, 97)),
                             float(rng.uniform(0, 150)),
                             (float(rng.uniform(-40, 40)),
                              float(rng.uniform(-40, 40))),
                             None if i % 3 == 0 else float(rng.uniform(1, 40)))
            for i in range(60)]
  ab, mask = hint_files.rasterize(points, shape, s, 110.0)
  # Brute force over every cell.
  scale, nh, nw = hint_files.work_geometry(shape, s)
  total, count = np.zeros((s, s, 2)), np.zeros((s, s))
  rows, cols = np.mgrid[0:nh, 0:nw]
  for p in points:
    cy, cx = p.y * scale, p.x * scale
    r = 0.5 if p.radius is None else max(0.5, p.radius * scale)
    inside = (rows + 0.5 - cy) ** 2 + (cols + 0.5 - cx) ** 2 <= r * r
    inside[min(int(cy), nh - 1), min(int(cx), nw - 1)] = True
    total[:nh, :nw][inside] += p.ab
    count[:nh, :nw][inside] += 1
  np.testing.assert_array_equal(mask[..., 0] > 0, count > 0)
  np.testing.assert_allclose(
      ab[count > 0], (total / np.maximum(count, 1)[..., None])[count > 0]
      / 110.0, atol=1e-6)


def test_one_bad_or_ambiguous_hints_file_is_counted_and_the_rest_coloured(
    hint_run, tmp_path, capsys):
  inputs, hints = tmp_path / 'in', tmp_path / 'hints'
  for d in (inputs, inputs / 'x', inputs / 'y', hints, hints / 'p3.json'):
    d.mkdir(parents=True)
  paintings = _paintings(8, 24)
  names_ = ['p1.png', 'p2.png', 'p3.png', 'a.png', 'a.jpg', 'x/b.png',
            'y/b.png', 'c.png']
  for img, name in zip(paintings, names_, strict=True):
    cv2.imwrite(str(inputs / name), img[..., ::-1])
  good = json.dumps([{'x': 3, 'y': 3, 'color': '#1f4e9c'}])
  (hints / 'p1.json').write_text('[' * 200_000 + ']' * 200_000)
  os.symlink(hints / 'gone.json', hints / 'p2.json')  # Dangling.
  for stem in ('a', 'b', 'c'):
    (hints / f'{stem}.json').write_text(good)
  colorizer = colorize.Colorizer.from_workdir(hint_run)
  failures = colorize.run(colorizer, [str(inputs)], str(tmp_path / 'out'),
                          hints=str(hints))
  err = capsys.readouterr().err
  assert failures == 7, err
  assert 'nested too deeply' in err and 'dangling link' in err
  assert err.count('could be the hints of 2 inputs') == 4
  assert 'Traceback' not in err
  assert sorted(os.listdir(tmp_path / 'out')) == ['c.png']


def test_api_misuse_is_one_error_naming_the_real_problem(hint_run, tiny_run,
                                                         tmp_path):
  from colorjax.errors import CheckpointError  # pylint: disable=g-import-not-at-top
  from colorjax.errors import DataError  # pylint: disable=g-import-not-at-top
  from colorjax.training import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  colorizer = colorize.Colorizer.from_workdir(hint_run)
  grey = np.full((20, 30), 0.4, np.float32)
  for image, message in [(np.zeros((0, 0), np.uint8), 'at least one pixel'),
                         (np.where(np.eye(20, 30) > 0, np.nan, grey),
                          'NaN or infinite pixels'),
                         (np.array([['a']]), 'dtype <U1')]:
    with pytest.raises(DataError, match=message):
      colorizer.colorize(image)
  point = {'x': 3, 'y': 4, 'color': '#1f4e9c'}
  for given, message in [(point, 'hints given as dict'),
                         (np.zeros((20, 30, 2)), 'hints given as ndarray'),
                         ((grey, grey, grey), 'not a tuple of 3'),
                         ((np.zeros((5, 5, 2)), np.zeros((5, 5, 1))),
                          'must be .32, 32, 2.')]:
    with pytest.raises(hint_files.HintError, match=message):
      colorizer.colorize(grey, given)
  # A config.json of another model: the config is blamed, not the weights.
  other = tmp_path / 'other'
  import shutil  # pylint: disable=g-import-not-at-top
  shutil.copytree(tiny_run, other)
  config = json.loads((other / 'config.json').read_text())
  config['generator']['features'] = [4, 8, 8, 8, 8]
  (other / 'config.json').write_text(json.dumps(config))
  with pytest.raises(CheckpointError, match='does not fit the model its '
                     'config.json describes') as e:
    workdir_lib.load_run(str(other))
  assert 'delete that step' not in str(e.value)
