"""Dataset format, validating loader, BRAC noise semantics, collection and data on demand."""
import os

import numpy as np
import pytest

from bremen_tf.data import (Dataset, DatasetError, episode_returns, get_dataset, load_dataset,
                            parse_size, save_dataset)
from bremen_tf.data import noise as noise_lib
from conftest import write_untrained_policy

ENV = 'bremen/Hopper-v0'


def tiny_dataset(n=20, obs_dim=11, act_dim=3, env_id=ENV):
  rng = np.random.default_rng(0)
  terminals = np.zeros(n, bool); terminals[6] = True
  timeouts = np.zeros(n, bool); timeouts[-1] = True
  return Dataset(observations=rng.standard_normal((n, obs_dim)).astype(np.float32),
                 actions=rng.uniform(-1, 1, (n, act_dim)).astype(np.float32),
                 rewards=np.arange(n, dtype=np.float32),
                 next_observations=rng.standard_normal((n, obs_dim)).astype(np.float32),
                 terminals=terminals, timeouts=timeouts,
                 metadata={'env_id': env_id, 'noise': 'pure', 'size': n, 'seed': 0})


def test_round_trip(tmp_path):
  path = str(tmp_path / 'd.npz')
  save_dataset(path, tiny_dataset())
  ds = load_dataset(path, ENV)
  assert len(ds) == 20 and ds.observations.dtype == np.float32 and ds.terminals.dtype == bool
  assert ds.metadata['env_id'] == ENV and ds.metadata['format_version'] == 1
  np.testing.assert_array_equal(ds.rewards, np.arange(20))


def rewrite(path, **changes):
  with np.load(path) as f:
    arrays = {k: f[k] for k in f.files}
  arrays.update(changes)
  arrays = {k: v for k, v in arrays.items() if v is not None}
  with open(path, 'wb') as f:
    np.savez(f, **arrays)


@pytest.fixture
def saved(tmp_path):
  path = str(tmp_path / 'd.npz')
  save_dataset(path, tiny_dataset())
  return path


def test_truncated_file(saved):
  data = open(saved, 'rb').read()
  with open(saved, 'wb') as f:
    f.write(data[:len(data) // 2])
  with pytest.raises(DatasetError, match=r'd\.npz.*truncated or corrupt'):
    load_dataset(saved, ENV)


def test_nan_values_named_with_row(saved):
  obs = np.load(saved)['next_observations'].copy()
  obs[7, 2] = np.nan
  rewrite(saved, next_observations=obs)
  with pytest.raises(DatasetError, match=r"key 'next_observations': expected finite values, "
                                         r"found 1 non-finite values \(first at row 7\)"):
    load_dataset(saved, ENV)


def test_wrong_observation_dimension(saved):
  rewrite(saved, observations=np.zeros((20, 17), np.float32))
  with pytest.raises(DatasetError, match=r"key 'observations': expected shape \(20, 11\), "
                                         r"found shape \(20, 17\)"):
    load_dataset(saved, ENV)


def test_wrong_env(tmp_path):
  path = str(tmp_path / 'd.npz')
  save_dataset(path, tiny_dataset(obs_dim=17, act_dim=6, env_id='bremen/Walker2d-v0'))
  with pytest.raises(DatasetError, match=r"expected env_id 'bremen/Hopper-v0', "
                                         r"found env_id 'bremen/Walker2d-v0'"):
    load_dataset(path, ENV)


def test_missing_key_and_bad_dtype(saved):
  rewrite(saved, timeouts=None)
  with pytest.raises(DatasetError, match=r"key 'timeouts'.*missing \['timeouts'\]"):
    load_dataset(saved, ENV)
  rewrite(saved, timeouts=np.full(20, 2, np.int64))
  with pytest.raises(DatasetError, match=r"key 'timeouts': expected a bool array"):
    load_dataset(saved, ENV)


def test_row_count_disagreeing_with_metadata(saved):
  with np.load(saved) as f:
    arrays = {k: (f[k][:10] if k != 'metadata' else f[k]) for k in f.files}
  with open(saved, 'wb') as f:
    np.savez(f, **arrays)
  with pytest.raises(DatasetError, match='expected 20 transitions'):
    load_dataset(saved, ENV)


def test_pickled_content_is_refused(saved):
  rewrite(saved, rewards=np.array([object()] * 20, dtype=object))
  with pytest.raises(DatasetError, match=r'not a readable dataset \.npz .*ValueError: Object '
                                         r'arrays cannot be loaded when allow_pickle=False'):
    load_dataset(saved, ENV)


def test_episode_returns_skip_cut_episodes():
  ds = tiny_dataset()  # episodes: rows 0-6 (terminal), 7-19 (timeout)
  np.testing.assert_allclose(episode_returns(ds), [sum(range(7)), sum(range(7, 20))])
  ds.metadata['cut_indices'] = [19]
  np.testing.assert_allclose(episode_returns(ds), [sum(range(7))])
  head = ds.prefix(10)  # cut inside the second episode
  assert head.timeouts[-1] and head.metadata['cut_indices'] == [9]
  np.testing.assert_allclose(episode_returns(head), [sum(range(7))])


def test_brac_segment_counts():
  assert noise_lib.segment_counts('eps1', 1_000_000) == [200_000, 400_000, 400_000]
  assert noise_lib.segment_counts('gaussian3', 50_001) == [10_000, 20_000, 20_001]
  assert noise_lib.segment_counts('pure', 123) == [123]
  with pytest.raises(ValueError, match='Unknown noise'):
    noise_lib.get_segments('eps2')


def test_noise_action_rules(rng):
  class FixedActor:  # mean 0.5 after tanh, tiny std: policy samples sit at 0.5
    def params(self, obs):
      import tensorflow as tf
      n = tf.shape(obs)[0]
      return tf.fill([n, 2], float(np.arctanh(0.5))), tf.fill([n, 2], 1e-6)
  obs = np.zeros((20000, 3), np.float32)
  low, high = -np.ones(2), np.ones(2)
  seg = {s.name: s for s in noise_lib.get_segments('eps3')}
  a = noise_lib.make_action_fn(seg['policy'], FixedActor(), low, high)(obs, rng)
  np.testing.assert_allclose(a, 0.5, atol=1e-4)
  a = noise_lib.make_action_fn(seg['eps0.3'], FixedActor(), low, high)(obs, rng)
  replaced = np.abs(a[:, 0] - 0.5) > 1e-3
  assert abs(replaced.mean() - 0.3) < 0.02
  seg = {s.name: s for s in noise_lib.get_segments('gaussian3')}
  a = noise_lib.make_action_fn(seg['gaussian0.3'], FixedActor(), low, high)(obs, rng)
  assert abs(np.std(a[:, 0]) - 0.3) < 0.03 and a.max() <= 1 - 1e-3
  a = noise_lib.make_action_fn(seg['random'], None, low, high)(obs, rng)
  assert abs(a.mean()) < 0.03 and a.min() >= -1 and a.max() <= 1


def test_get_dataset_collects_once_then_caches(tmp_path, monkeypatch):
  policy_dir = str(tmp_path / 'policy')
  write_untrained_policy(policy_dir, ENV)
  kw = dict(data_dir=str(tmp_path / 'data'), behavior_policy_dir=policy_dir, log=lambda m: None)
  ds = get_dataset(ENV, 'eps1', '5k', seed=3, **kw)
  assert len(ds) == 5000
  meta = ds.metadata
  assert [s['count'] for s in meta['segments']] == [1000, 2000, 2000]
  assert [s['name'] for s in meta['segments']] == ['random', 'policy', 'eps0.1']
  assert meta['env_id'] == ENV and meta['noise'] == 'eps1' and meta['seed'] == 3
  assert meta['behavior_policy']['algorithm'] == 'untrained (test)'
  assert 'git_revision' in meta['provenance']
  # Transitions chain within episodes; terminals and timeouts delimit episodes.
  ends = ds.terminals | ds.timeouts
  np.testing.assert_array_equal(ds.observations[1:][~ends[:-1]],
                                ds.next_observations[:-1][~ends[:-1]])
  np.testing.assert_array_equal(ds.next_actions[:-1][~ends[:-1]], ds.actions[1:][~ends[:-1]])
  assert not (ds.terminals & ds.timeouts).any()
  # Hopper with an untrained policy falls: real terminals are there.
  assert ds.terminals.sum() > 10
  # The second call loads the cached file instead of collecting.
  monkeypatch.setattr('bremen_tf.data.collection.collect',
                      lambda *a, **k: pytest.fail('collected again'))
  again = get_dataset(ENV, 'eps1', 5000, seed=3, **kw)
  np.testing.assert_array_equal(again.observations, ds.observations)


def test_a_cached_file_of_another_behaviour_policy_is_refused(tmp_path):
  """The file was collected by the seed-0 policy; asked for with the seed-1 policy's directory
  (a re-shipped policy, or behavior_policy_dir bound), it is refused, naming both."""
  kw = dict(data_dir=str(tmp_path / 'data'), log=lambda m: None)
  for seed in (0, 1):
    write_untrained_policy(str(tmp_path / f'policy{seed}'), ENV, seed=seed)
  first = get_dataset(ENV, 'pure', 1000, behavior_policy_dir=str(tmp_path / 'policy0'), **kw)
  again = get_dataset(ENV, 'pure', 1000, behavior_policy_dir=str(tmp_path / 'policy0'), **kw)
  np.testing.assert_array_equal(again.actions, first.actions)
  with pytest.raises(DatasetError, match=r'pure_1000_seed0.npz: collected by another behaviour '
                                         r'policy than .*policy1 \(seed 0 there, 1 here\)\. '
                                         r'Delete the file'):
    get_dataset(ENV, 'pure', 1000, behavior_policy_dir=str(tmp_path / 'policy1'), **kw)


def test_same_seed_same_data(tmp_path):
  policy_dir = str(tmp_path / 'policy')
  write_untrained_policy(policy_dir, ENV)
  a, b = (get_dataset(ENV, 'gaussian1', 2000, seed=1, data_dir=str(tmp_path / d),
                      behavior_policy_dir=policy_dir, log=lambda m: None) for d in 'ab')
  np.testing.assert_array_equal(a.actions, b.actions)
  np.testing.assert_array_equal(a.observations, b.observations)


def test_deployment_collection_overshoots_by_less_than_one_episode():
  # HalfCheetah episodes all last 1000 steps, so 4 parallel envs finish together: 2,500 wanted
  # is 3 whole episodes (not the 4 that end on the same step).
  from bremen_tf.data.collection import collect_episodes
  uniform = lambda obs, rng: rng.uniform(-1, 1, (len(obs), 6))
  batch = collect_episodes('bremen/HalfCheetah-v0', uniform, 2500, n_envs=4, log=lambda m: None)
  assert len(batch) == 3000
  assert batch.timeouts.sum() == 3 and batch.metadata['behavior_returns']['episodes'] == 3


def test_first_n_rule_takes_the_prefix(tmp_path, monkeypatch):
  policy_dir = str(tmp_path / 'policy')
  write_untrained_policy(policy_dir, ENV)
  monkeypatch.setattr('bremen_tf.data.on_demand.FULL_SIZE', 4000)
  kw = dict(data_dir=str(tmp_path), behavior_policy_dir=policy_dir, log=lambda m: None)
  full = get_dataset(ENV, 'eps3', 4000, **kw)
  head = get_dataset(ENV, 'eps3', 500, subset_rule='first_n', **kw)
  np.testing.assert_array_equal(head.actions, full.actions[:500])
  assert head.metadata['subset_rule'] == 'first_n' and head.timeouts[-1]
  assert os.path.basename(head.metadata['source']) == 'eps3_4000_seed0.npz'


def test_bad_requests_fail_clearly(tmp_path):
  with pytest.raises(ValueError, match='Unknown noise'):
    get_dataset(ENV, 'noisy', 1000, data_dir=str(tmp_path))
  with pytest.raises(ValueError, match='Bad dataset size'):
    parse_size('lots')
  assert parse_size('1M') == 1_000_000 and parse_size('50k') == 50_000
  with pytest.raises(FileNotFoundError, match='No behaviour policy .*train_behavior.py'):
    get_dataset(ENV, 'pure', 1000, data_dir=str(tmp_path),
                behavior_policy_dir=str(tmp_path / 'none'))


def test_corrupt_cached_file_says_how_to_recover(tmp_path):
  from bremen_tf.data import dataset_path
  path = dataset_path(ENV, 'pure', 1000, data_dir=str(tmp_path))
  os.makedirs(os.path.dirname(path))
  open(path, 'wb').write(b'not a zip file')
  with pytest.raises(DatasetError, match='pure_1000_seed0.npz.*Delete the cached file'):
    get_dataset(ENV, 'pure', 1000, data_dir=str(tmp_path))
