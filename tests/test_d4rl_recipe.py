"""launch/make_d4rl_datasets.py's recipe at a tiny budget: every D4RL dataset written as a Minari
dataset with D4RL's reference scores and provenance; idempotent, resumable, deterministic."""
import os

import minari
import numpy as np
import pytest

from bremen_tf import d4rl_recipe
from bremen_tf.data.minari_source import load_minari, write_minari

TINY_SAC = dict(initial_random_steps=100, eval_every=50, eval_episodes=1, batch_size=32,
                checkpoint_every=50, target_consecutive=1)


def recipe(tmp_path, logs):
  return d4rl_recipe.Recipe('hopper', str(tmp_path / 'work'), str(tmp_path / 'minari'), size=300,
                            expert_steps=100, n_envs=4, sac_kwargs=TINY_SAC,
                            medium_return=-1e9, log=logs.append)


def read(tmp_path, name):
  return load_minari(str(tmp_path / 'minari' / d4rl_recipe.dataset_id('hopper', name)))


def test_tiny_recipe_writes_every_dataset_and_skips_them_after(tmp_path, monkeypatch):
  logs = []
  recipe(tmp_path, logs).make(['medium-replay', 'random', 'medium-expert'])
  data = {n: read(tmp_path, n) for n in d4rl_recipe.DATASETS}  # medium-expert made the rest
  for name, d in data.items():
    assert d.metadata['env_id'] == 'Hopper-v5'
    assert d.metadata['reference_scores']['min'] == -20.272305
    assert d.metadata['reference_scores']['max'] == 3234.3
    info = d.metadata['generator']
    assert info['recipe'].startswith(f'D4RL {name} regenerated on Hopper-v5')
    assert info['provenance']['git_revision'] and info['transitions'] == len(d)
    assert d.metadata['cut_indices'][-1] == len(d) - 1  # the collection's final cut episode
  for name in ('random', 'medium', 'expert'):
    assert len(data[name]) == 300
  # medium-replay: the SAC run's replay buffer at the medium stop, 100 random + 50 SAC steps,
  # episodes in order: each transition starts where the last ended, except after an episode end.
  replay = data['medium-replay']
  assert len(replay) == 150 and data['medium-replay'].metadata['generator']['behavior_policy'][
      'sac_steps'] == 50
  ends = replay.terminals | replay.timeouts
  np.testing.assert_array_equal(replay.next_observations[:-1][~ends[:-1]],
                                replay.observations[1:][~ends[:-1]])
  assert (replay.next_observations[:-1][ends[:-1]] != replay.observations[1:][ends[:-1]]).any(
      axis=1).all()
  assert replay.terminals.sum() >= 1  # random Hopper falls
  # medium-expert: medium then expert
  for key in ('observations', 'actions', 'rewards', 'terminals'):
    np.testing.assert_array_equal(getattr(data['medium-expert'], key), np.concatenate(
        [getattr(data['medium'], key), getattr(data['expert'], key)]))
  assert not [f for f in os.listdir(tmp_path / 'minari') if f.startswith('.tmp')]
  # the data really is a Minari dataset: Minari's own API reads it and normalises with it
  monkeypatch.setenv('MINARI_DATASETS_PATH', str(tmp_path / 'minari'))
  ds = minari.load_dataset('bremen-d4rl/hopper/medium-v0')
  assert ds.total_steps == 300 and ds.env_spec.id == 'Hopper-v5'
  assert minari.get_normalized_score(ds, np.array([3234.3])) == pytest.approx(1.0)

  again = []
  recipe(tmp_path, again).make(list(d4rl_recipe.DATASETS))
  assert again == [f'{d4rl_recipe.dataset_id("hopper", n)} exists; skipped.'
                   for n in d4rl_recipe.DATASETS]

  # Resumable: a lost dataset is made again from the saved policy, identically; medium-replay
  # cannot be, once the run has trained on towards the expert.
  medium_dir = tmp_path / 'minari' / d4rl_recipe.dataset_id('hopper', 'medium')
  os.rename(medium_dir, tmp_path / 'old_medium')
  logs = []
  recipe(tmp_path, logs).make(['medium'])
  assert any('partial policy already found at step 50' in m for m in logs)
  np.testing.assert_array_equal(read(tmp_path, 'medium').actions, data['medium'].actions)
  replay_dir = tmp_path / 'minari' / d4rl_recipe.dataset_id('hopper', 'medium-replay')
  os.rename(replay_dir, tmp_path / 'old_replay')
  with pytest.raises(RuntimeError, match='trained past the medium stop'):
    recipe(tmp_path, []).make(['medium-replay'])
  with pytest.raises(FileExistsError, match='already exists'):
    write_minari('bremen-d4rl/hopper/medium-v0', data['medium'], {'min': 0, 'max': 1}, '', {},
                 root=str(tmp_path / 'minari'))


def test_bad_requests_fail_before_any_work():
  with pytest.raises(ValueError, match="Unknown robot 'ant'.*D4RL's ant is not served"):
    d4rl_recipe.check_request(['ant'], ['random'])
  with pytest.raises(ValueError, match="Unknown dataset 'medium-random'"):
    d4rl_recipe.check_request(['hopper'], ['medium-random'])
  assert d4rl_recipe.medium_threshold('hopper') == pytest.approx(-20.272305 + 3254.572305 / 3)
