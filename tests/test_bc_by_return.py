"""BC of a dataset's better episodes (bremen_tf/bc_by_return.py, launch/bc_by_return.py): which
transitions each threshold keeps, and the launcher end to end on a tiny Minari dataset."""
import csv

import numpy as np
import pytest

from bremen_tf.bc_by_return import episode_subset
from bremen_tf.data.dataset import Dataset, episode_bounds, episode_returns
from bremen_tf.data.external import normalized_score
from bremen_tf.errors import ConfigError
import conftest
from test_external_datasets import REFS, episodes, write_minari


def three_episodes_and_a_cut():
  """Episodes of returns -5 (terminal), 10 (timeout), 3 (terminal), then a cut run of 2."""
  rewards = np.array([-2, -3, 4, 4, 2, 1, 2, 7, 7], np.float32)
  terminals = np.array([0, 1, 0, 0, 0, 0, 1, 0, 0], bool)
  timeouts = np.array([0, 0, 0, 0, 1, 0, 0, 0, 1], bool)
  n = len(rewards)
  return Dataset(np.arange(n, dtype=np.float32)[:, None], np.zeros((n, 1), np.float32), rewards,
                 np.arange(1, n + 1, dtype=np.float32)[:, None], terminals, timeouts,
                 metadata={'cut_indices': [8]})


def test_each_threshold_keeps_the_whole_episodes_above_it():
  data = three_episodes_and_a_cut()
  assert episode_bounds(data) == [(0, 1, True), (2, 4, True), (5, 6, True), (7, 8, False)]
  np.testing.assert_array_equal(episode_returns(data), [-5, 10, 3])
  idx, returns = episode_subset(data, None)  # BREMEN's π̂_β: every transition, the cut run too
  np.testing.assert_array_equal(idx, np.arange(9))
  np.testing.assert_array_equal(returns, [-5, 10, 3])
  idx, returns = episode_subset(data, 0)
  np.testing.assert_array_equal(idx, [2, 3, 4, 5, 6])
  np.testing.assert_array_equal(returns, [10, 3])
  idx, returns = episode_subset(data, 3)  # strictly above
  np.testing.assert_array_equal(idx, [2, 3, 4])
  idx, returns = episode_subset(data, 100)
  assert idx.size == 0 and returns.size == 0 and idx.dtype == np.int64


@pytest.fixture
def minari_root(tmp_path, monkeypatch):
  monkeypatch.setenv('MINARI_DATASETS_PATH', str(tmp_path / 'minari'))


def test_the_launcher_writes_a_row_per_threshold(tmp_path, minari_root, capsys):
  eps = episodes('Hopper-v5', 400)
  write_minari('test/hopper/tiny-v0', eps)
  returns = [float(e['rewards'].sum()) for e in eps[:-1]]  # the last episode is cut
  cut = float(np.median(returns))
  out = str(tmp_path / 'bc')
  conftest.run_here('bc_by_return', '--dataset=minari:test/hopper/tiny-v0', '--bc_steps=20',
                    f'--min_returns=all,{cut},1e9', f'--out={out}')
  assert 'Wrote' in capsys.readouterr().out
  with open(out + '.csv') as f:
    rows = list(csv.DictReader(f))
  assert [r['episodes_kept'] for r in rows] == ['every transition', f'return > {cut:g}',
                                                'return > 1e+09']
  assert int(rows[0]['transitions']) == 400 and int(rows[0]['episodes']) == len(returns)
  above = [r for r in returns if r > cut]
  assert int(rows[1]['episodes']) == len(above)
  assert int(rows[1]['transitions']) == sum(len(e['rewards']) for e in eps[:-1]
                                            if e['rewards'].sum() > cut)
  assert float(rows[1]['episode_return_mean']) == pytest.approx(np.mean(above), rel=1e-5)
  assert rows[2]['transitions'] == '0' and rows[2]['eval_return_mean'] == ''
  for r in rows[:2]:  # evaluated, with D4RL's normalised score of that return
    assert int(r['eval_episodes']) >= 1
    assert float(r['eval_normalized_score']) == pytest.approx(
        normalized_score(float(r['eval_return_mean']), REFS))
  text = open(out + '.md').read()
  assert 'git revision' in text and '| every transition |' in text


def test_bad_flags_fail_before_any_work(tmp_path):
  with pytest.raises(ConfigError, match='min_returns'):
    conftest.run_here('bc_by_return', '--dataset=minari:x', '--min_returns=all,best',
                      f'--out={tmp_path}/x')
  with pytest.raises(ConfigError, match="'minari:' or 'd4rl:'"):
    conftest.run_here('bc_by_return', '--dataset=hopper', f'--out={tmp_path}/x')
  # --gin_bindings are parsed and validated before the dataset is read (they were ignored)
  with pytest.raises(ConfigError, match=r'check_matches_env\.max_reward_error: expected a finite '
                                        r'number > 0'):
    conftest.run_here('bc_by_return', '--dataset=minari:x', f'--out={tmp_path}/x',
                      '--gin_bindings=check_matches_env.max_reward_error = -1.0')
