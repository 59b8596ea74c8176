"""Imagination reward/done functions against the real envs, on real transitions."""
import os

import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import envs
from bremen_tf.data import shipped_policies
from bremen_tf.envs import reward_check


def shipped(env_id):
  path = os.path.join(shipped_policies.SHIPPED_DIR, envs.slug(reward_check.paper_env_id(env_id)))
  return os.path.exists(os.path.join(path, 'policy.json'))


def policy_for(env_id, name):
  if name == 'sac':  # package data: its absence is a failure (test_shipped_behavior_policies.py)
    assert shipped(env_id), f'no shipped behaviour policy for {env_id}'
  return (reward_check.random_policy(env_id) if name == 'random'
          else reward_check.behavior_policy(env_id))


@pytest.mark.parametrize('env_id', envs.LOCOMOTION_ENV_IDS)
def test_observation_and_action_dims(env_id):
  spec = envs.get_spec(env_id)
  env = envs.make(env_id)
  obs, _ = env.reset(seed=0)
  assert obs.shape == (spec.obs_dim,) and env.action_space.shape == (spec.act_dim,)
  assert env.spec.max_episode_steps == envs.MAX_EPISODE_STEPS


def test_paper_env_layout_is_unclipped_qpos_qvel():
  env = envs.make('bremen/Hopper-v0')
  env.reset(seed=0)
  data = env.unwrapped.data
  for _ in range(30):
    obs, *_ = env.step(np.ones(3))
  np.testing.assert_allclose(obs, np.concatenate([data.qpos[1:], data.qvel]))
  ant = envs.make('bremen/Ant-v0')
  obs, _ = ant.reset(seed=0)
  np.testing.assert_allclose(obs, np.concatenate([ant.unwrapped.data.qpos[2:],
                                                  ant.unwrapped.data.qvel]))


@pytest.mark.parametrize('env_id', envs.PAPER_ENV_IDS)
def test_a_state_set_from_an_observation_steps_on_as_the_original(env_id):
  """set_state_from_obs (the flip probe's real-env foresight): a second env put in the state of
  the first's observation gives the same observations and rewards under the same actions (the
  floor position it leaves out does not enter the dynamics), up to the contact solver's warm
  start, which an observation does not hold (~1e-8 over 40 steps)."""
  first, second = envs.make(env_id), envs.make(env_id)
  first.reset(seed=0)
  second.reset(seed=1)
  actions = np.random.default_rng(0).uniform(-1, 1, (60, first.action_space.shape[0]))
  for a in actions[:20]:
    obs, *_ = first.step(a)
  np.testing.assert_array_equal(second.get_wrapper_attr('set_state_from_obs')(obs), obs)
  for a in actions[20:]:
    want, reward, *_ = first.step(a)
    got, got_reward, *_ = second.step(a)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert got_reward == pytest.approx(reward, abs=1e-6)


@pytest.mark.parametrize('env_id', envs.PAPER_ENV_IDS)
@pytest.mark.parametrize('policy_name', ['random', 'sac'])
def test_paper_reward_and_done_match_env_exactly(env_id, policy_name):
  m = reward_check.compare(env_id, policy_for(env_id, policy_name), episodes=2)
  assert m['max_abs_error'] < 1e-3  # float32 round-off on rewards of size ~1-10
  assert m['done_agreement'] == 1.0


def test_paper_ant_and_halfcheetah_never_terminate():
  for env_id in ('bremen/Ant-v0', 'bremen/HalfCheetah-v0'):
    env = envs.make(env_id)
    env.reset(seed=0)
    for _ in range(300):
      _, _, term, _, _ = env.step(np.ones(envs.get_spec(env_id).act_dim))
      assert not term


def test_paper_done_catches_unhealthy_states():
  spec = envs.get_spec('bremen/Hopper-v0')
  healthy = np.array([1.25] + [0.0] * 10, np.float32)
  fallen = healthy.copy(); fallen[0] = 0.5
  tilted = healthy.copy(); tilted[1] = 0.3
  nan = healthy.copy(); nan[4] = np.nan
  done = spec.done_fn(tf.constant(np.stack([healthy, fallen, tilted, nan]))).numpy()
  np.testing.assert_array_equal(done, [False, True, True, True])


@pytest.mark.parametrize('env_id', [e for e in envs.ENV_IDS if not e.startswith('bremen/')])
@pytest.mark.parametrize('policy_name', ['random', 'sac'])
def test_v5_reward_matches_closely(env_id, policy_name):
  """v5 pays Δx/dt; the observation-based estimate must track it (docs/environments.md has the
  figures)."""
  # 10 episodes, as in results/reward_match.md: fewer make the return-bias ratio noisy when
  # episodes are short (the paper-trained policies fall early in v5's Walker2d and Ant).
  m = reward_check.compare(env_id, policy_for(env_id, policy_name), episodes=10)
  assert m['done_agreement'] == 1.0
  # HalfCheetah-v5 misses 0.99 narrowly (results/reward_match.md: 0.9873 random, 0.9896 SAC):
  # its Δx/dt is the mean of 5 substep velocities, and s, s' hold only the first and last. No
  # single weight reaches 0.99 on both policies (scan: 0.5-0.75). Every other case is >= 0.99.
  min_corr = 0.985 if env_id == 'HalfCheetah-v5' else 0.99
  assert m['correlation'] >= min_corr, m
  # Random-policy returns are near zero, so their bias is taken relative to Σ|r|.
  bias = m['return_bias'] if policy_name == 'sac' else m['return_bias_of_abs']
  assert abs(bias) <= 0.01, m


def test_unknown_env_id_is_a_clear_error():
  with pytest.raises(ValueError, match='Unknown env_id .*bremen/Hopper-v0'):
    envs.get_spec('Hopper-v2')
