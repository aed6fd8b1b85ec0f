"""The simulated correcting session, on paintings whose answers are known."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from tiny import subprocess_env

from colorjax.colour import spaces
from colorjax.evaluation import session

SCALE = 110.0
TOP, BOTTOM = (62.0, 24.0, 17.0), (48.0, -21.0, 26.0)  # Mid-tone L, a, b.


def _halves(h=18, w=23):
  lab = np.zeros((h, w, 3), np.float32)
  lab[:h // 2], lab[h // 2:] = TOP, BOTTOM
  rgb = np.asarray(spaces.lab_to_rgb(lab))
  return np.round(rgb * 255).astype(np.uint8)


def _by_region(l, hint_ab, mask):
  """A propagation that is right by construction: each hint colours every
  pixel of its own lightness (the halves differ in L); grey elsewhere."""
  ab = np.zeros(hint_ab.shape, np.float32)
  for y, x in zip(*np.nonzero(mask[..., 0]), strict=True):
    ab[np.isclose(l[..., 0], l[y, x, 0])] = hint_ab[y, x]
  return ab


def test_the_click_goes_where_the_error_is_largest_and_not_twice():
  error = np.zeros((30, 30), np.float32)
  error[5, 5], error[5, 7], error[20, 20] = 10, 9, 8
  assert session.next_click(error, [], 3, blur_sigma=0) == (5, 5)
  assert session.next_click(error, [(5, 5)], 3, blur_sigma=0) == (20, 20)
  assert session.next_click(error, [(5, 5)], 1, blur_sigma=0) == (5, 7)
  tiny = np.ones((2, 2), np.float32)
  assert session.next_click(tiny, [(0, 0)], 3) is None


def test_a_click_reveals_its_patchs_mean_cut_at_the_edge():
  ab = np.arange(5 * 6 * 2, dtype=np.float32).reshape(5, 6, 2)
  np.testing.assert_allclose(session.patch_mean(ab, 0, 0, 1),
                             ab[:2, :2].reshape(-1, 2).mean(0))
  np.testing.assert_allclose(session.patch_mean(ab, 2, 3, 1),
                             ab[1:4, 2:5].reshape(-1, 2).mean(0))


def test_two_clicks_colour_two_flat_halves():
  rgb = _halves()
  s = session.run(rgb, _by_region, session.Person(clicks=3), SCALE)
  grey = s.delta_e[0]
  assert grey > 15  # Both halves are far from grey...
  assert grey / 3 < s.delta_e[1] < grey * 2 / 3  # ...one click fixes one,
  assert s.delta_e[2] < 1.0 and s.delta_e[3] < 1.0  # two fix both.
  tops = [y < rgb.shape[0] // 2 for y, _ in s.clicks[:2]]
  assert sorted(tops) == [False, True]  # One click in each half.
  assert session.clicks_to_reach(s, 1.0) == 2
  assert session.clicks_to_reach(s, 0.0) == float('inf')  # Censored.
  assert not s.worse.any()


def test_a_persons_colour_error_costs_what_it_should():
  rgb = _halves()
  exact = session.run(rgb, _by_region, session.Person(clicks=2), SCALE)
  off = session.run(rgb, _by_region,
                    session.Person(clicks=2, colour_sigma=5.0), SCALE)
  assert off.delta_e[0] == exact.delta_e[0]
  assert 0.8 < off.delta_e[2] - exact.delta_e[2] < 8  # About 5 a, b units.
  seen = []

  def recording(l, hint_ab, mask):
    seen.append(hint_ab[mask[..., 0] > 0] * SCALE)
    return _by_region(l, hint_ab, mask)

  s = session.run(rgb, recording, session.Person(clicks=1, radius=2), SCALE)
  (given,) = [g for g in seen if len(g)]
  (y, x), (h, w) = s.clicks[0], rgb.shape[:2]
  rows = min(h, y + 3) - max(0, y - 2)
  cols = min(w, x + 3) - max(0, x - 2)
  assert given.shape == (rows * cols, 2)  # Radius 2: 5 x 5, cut at edges.
  painted = TOP if y < h // 2 else BOTTOM
  np.testing.assert_allclose(given, np.broadcast_to(painted[1:], given.shape),
                             atol=1.5)  # The painted colour (8-bit).


def test_worse_clicks_are_counted_and_never_reaching_is_not_averaged():
  rgb = _halves()

  def contrary(l, hint_ab, mask):  # Paints the opposite of every hint.
    return -_by_region(l, hint_ab, mask)

  bad = session.run(rgb, contrary, session.Person(clicks=2), SCALE)
  good = session.run(rgb, _by_region, session.Person(clicks=2), SCALE)
  # The first click makes it worse; the second, in the same worst half,
  # changes nothing (not worse).
  assert bad.worse.tolist() == [True, False]
  summary = session.summarize([good, bad], counts=[0, 1, 2],
                              targets=[1.0])
  assert summary['worse_click_share'] == 0.25
  assert summary['clicks_to_reach']['1'] == {
      'median_clicks': float('inf'), 'never': 1, 'paintings': 2}
  assert summary['delta_e'][2] == pytest.approx(
      (good.delta_e[2] + bad.delta_e[2]) / 2)


def test_the_gap_between_two_methods_is_one_estimand_with_its_interval():
  # Paired paintings: the model 1.0 below the other after 1 click on every
  # painting but one: the mean of the differences, inside its interval.
  first = [session.Session(np.asarray([9.0, 5.0 + d]), []) for d in
           (0.0, 0.1, -0.1, 0.05, 2.0)]
  other = [session.Session(np.asarray([9.0, 6.0]), []) for _ in range(5)]
  g = session.gap(first, other, (0, 1, 5))
  assert set(g) == {0, 1}  # No 5th click in these sessions.
  mean, low, high = g[1]
  assert mean == pytest.approx(np.mean([-1, -0.9, -1.1, -0.95, 1.0]))
  assert low < mean < high
  assert g[0][0] == 0.0


def test_a_person_can_click_where_the_model_is_unsure_or_at_random():
  rgb = _halves()
  unsure_at = (3, 20)  # The model's own doubt, not the error, guides it.
  asked = []

  def unsure(l, hint_ab, mask):
    asked.append(int(mask.sum()))
    out = np.zeros(l.shape[:2], np.float32)
    out[unsure_at] = 1.0
    return out

  s = session.run(rgb, _by_region, session.Person(clicks=2, guide='unsure'),
                  SCALE, unsure=unsure)
  assert s.clicks[0] == unsure_at and asked[0] == 0
  assert np.hypot(*np.subtract(s.clicks[1], unsure_at)) > 3  # Not twice.
  with pytest.raises(ValueError, match='unsure map'):
    session.run(rgb, _by_region, session.Person(guide='unsure'), SCALE)
  # At random: different paintings (index) click in different places, the
  # same painting in the same ones.
  person = session.Person(clicks=3, guide='random')
  a, b, c = (session.run(rgb, _by_region, person, SCALE, i).clicks
             for i in (0, 1, 0))
  assert a == c and a != b


@pytest.mark.parametrize('field,value', [('clicks', -1), ('clicks', 2.5),
                                         ('radius', -1), ('colour_sigma', -5),
                                         ('min_gap', float('nan')),
                                         ('guide', 'mouse')])
def test_a_bad_person_is_one_line(field, value):
  with pytest.raises(ValueError, match=field):
    session.Person(**{field: value})


def test_evaluate_runs_the_session_for_each_method(tmp_path):
  folder = tmp_path / 'paintings'
  folder.mkdir()
  cv2.imwrite(str(folder / 'halves.png'), _halves(40, 52)[..., ::-1])
  report = tmp_path / 'r.json'
  result = subprocess.run(
      [sys.executable, '-m', 'colorjax', 'evaluate', '--workdir=colorjax:hints',
       f'--dataset={folder}', '--split=all', '--session=2',
       '--session_sigma=0,5', f'--output={report}',
       '--session_guide=error,unsure,random',
       f'--session_plot={tmp_path / "s.png"}'],
      capture_output=True, text=True, timeout=600, env=subprocess_env())
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'Session, colour error sigma 5' in result.stdout
  results = json.loads(report.read_text())['session']['results']
  assert set(results) == {'sigma 0', 'sigma 5'}
  assert set(results['sigma 0']) == {
      'hint model', 'Levin et al. 2004', 'hint model, ungated',
      'hint model, clicks where unsure', 'hint model, clicks at random'}
  for by_method in results.values():
    for name, s in by_method.items():
      assert set(s['delta_e']) == {'0', '1', '2'}
      assert s['delta_e']['2'] < s['delta_e']['0']  # Two clicks help here.
      # One painting: no interval; the model's gap to itself is 0.
      assert s['delta_e_ci']['2'] == [None, None] or all(
          v != v for v in s['delta_e_ci']['2'])
      if name != 'hint model':
        assert len(s['first_minus_this']['2']) == 3
  assert cv2.imread(str(tmp_path / 's.png')) is not None  # The curves.
  strip = cv2.imread(str(tmp_path / 's_strip.png'))
  # At the model's 32 px (centre crops): after 0, 1 and 2 clicks, and the
  # original, 4 panels at 6x with 4 px gutters.
  assert strip.shape == (32 * 6, 4 * 32 * 6 + 3 * 4, 3)


def test_a_strip_draws_each_frame_with_its_clicks():
  rgb = _halves()
  s = session.run(rgb, _by_region, session.Person(clicks=2), SCALE,
                  keep=[0, 2])
  assert sorted(s.frames) == [0, 2]
  np.testing.assert_array_equal(s.frames[0], 0)  # Grey before any click.
  out = session.strip(rgb, s, SCALE, zoom=4)
  h, w = rgb.shape[:2]
  assert out.shape == (h * 4, 3 * w * 4 + 2 * 4, 3)
  last = out[:, w * 4 + 4:2 * w * 4 + 4]  # After 2 clicks.
  l = np.asarray(spaces.rgb_uint8_to_model(rgb[None], SCALE)[0])[0]
  plain = np.round(np.asarray(spaces.model_to_rgb(l, s.frames[2], SCALE))
                   * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1)
  drawn = np.argwhere((last != plain).any(-1))
  drawn = drawn[(drawn[:, 0] > 20) | (drawn[:, 1] > 24)]  # Not the label.
  centres = np.asarray([(y * 4 + 2, x * 4 + 2) for y, x in s.clicks])
  near = np.sqrt(((drawn[:, None] - centres[None]) ** 2).sum(-1)).min(1)
  # Rings of radius zoom + 2, 2 px wide and anti-aliased, at the clicks.
  assert len(drawn) > 20 and near.max() <= 4 + 2 + 4
