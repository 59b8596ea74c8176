"""Dense FetchReach / HandReach: the flat observation layout, 50-step episodes without
termination, imagination rewards equal to the env's on real transitions, the mujoco guard."""
import numpy as np
import pytest

from bremen_tf import envs
from bremen_tf.envs import manipulation, reward_check


@pytest.mark.parametrize('env_id,obs_dim,act_dim', [('bremen/FetchReach-v0', 13, 4),
                                                    ('bremen/HandReach-v0', 78, 20)])
def test_layout_is_observation_then_goal_and_episodes_last_50_steps(env_id, obs_dim, act_dim):
  spec = envs.get_spec(env_id)
  env = envs.make(env_id)
  obs, _ = env.reset(seed=0)
  assert obs.shape == (spec.obs_dim,) == (obs_dim,) and env.action_space.shape == (act_dim,)
  inner = env.unwrapped._get_obs()  # the dict gymnasium-robotics builds
  np.testing.assert_allclose(obs, np.concatenate([inner['observation'], inner['desired_goal']]))
  rng = np.random.default_rng(0)
  for t in range(1, 51):
    obs, reward, terminated, truncated, _ = env.step(rng.uniform(-1, 1, act_dim))
    assert not terminated
    assert truncated == (t == 50)
  assert spec.horizon == 50


@pytest.mark.parametrize('env_id', envs.MANIPULATION_ENV_IDS)
def test_imagination_reward_equals_the_env_reward(env_id):
  m = reward_check.compare(env_id, reward_check.random_policy(env_id), episodes=3)
  assert m['steps'] == 150
  assert m['max_abs_error'] < 1e-5 and m['done_agreement'] == 1.0


def test_a_too_new_mujoco_is_refused_with_the_fix():
  manipulation.check_mujoco_version('3.11.0')
  with pytest.raises(RuntimeError, match='mujoco==3.11.0'):
    manipulation.check_mujoco_version('3.12.1')
