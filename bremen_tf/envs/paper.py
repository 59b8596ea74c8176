"""Paper-faithful environments: gymnasium v5 physics, the original BREMEN code's obs/reward/done.

The authors ran custom ME-TRPO envs (gym 0.7, MuJoCo 1.31). Each wrapper here keeps the v5 model
and reset noise but replaces observation, reward and termination with the original ones
(reference/bremen.md §8). Reward and termination are computed from the *simulator state*
(qpos/qvel), not from the observation, so the observation-based imagination functions in
`imagination_fns.py` are an independent implementation that the tests compare against.
"""
import gymnasium
import numpy as np
from gymnasium.envs.mujoco.ant_v5 import AntEnv
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.envs.mujoco.hopper_v5 import HopperEnv
from gymnasium.envs.mujoco.walker2d_v5 import Walker2dEnv


class PaperFaithfulEnv(gymnasium.Wrapper):
  """Observation = concat(qpos[n_excluded:], qvel), unclipped; reward/done from the sim state.

  `reward_fn(qpos0, qvel0, action, qpos1, qvel1)` and `healthy_fn(qpos1, qvel1, obs1)` are
  written in terms of the simulator; the action they see is clipped to [-1, 1] like the
  original code's.
  """

  def __init__(self, env, n_excluded, reward_fn, healthy_fn=None):
    super().__init__(env)
    self._n_excluded = n_excluded
    self._reward_fn = reward_fn
    self._healthy_fn = healthy_fn
    data = env.unwrapped.data
    dim = data.qpos.size - n_excluded + data.qvel.size
    self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (dim,), np.float64)

  def _obs(self):
    data = self.env.unwrapped.data
    return np.concatenate([data.qpos[self._n_excluded:], data.qvel]).astype(np.float64)

  def reset(self, **kwargs):
    _, info = self.env.reset(**kwargs)
    return self._obs(), info

  def set_state_from_obs(self, obs):
    """Puts the simulator in the state an observation describes (the excluded coordinates, the
    position along the floor, at 0: the dynamics do not depend on them). Returns the observation."""
    data = self.env.unwrapped.data
    nq = data.qpos.size - self._n_excluded
    obs = np.asarray(obs, np.float64)
    self.env.unwrapped.set_state(np.concatenate([np.zeros(self._n_excluded), obs[:nq]]), obs[nq:])
    return self._obs()

  def step(self, action):
    action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    data = self.env.unwrapped.data
    qpos0, qvel0 = data.qpos.copy(), data.qvel.copy()
    _, _, _, truncated, info = self.env.step(action)
    obs = self._obs()
    reward = float(self._reward_fn(qpos0, qvel0, action, data.qpos, data.qvel))
    terminated = False
    if self._healthy_fn is not None:
      terminated = not self._healthy_fn(data.qpos, data.qvel, obs)
    return obs, reward, terminated, truncated, info


# --- the original code's reward and health tests, in simulator coordinates ----------------------
def _hopper_reward(qpos0, qvel0, a, qpos1, qvel1):
  return qvel1[0] + 1.0 - 1e-3 * np.sum(a * a)


def _hopper_healthy(qpos1, qvel1, obs):
  return bool(np.all(np.isfinite(obs)) and np.all(np.abs(obs[1:]) < 100)
              and qpos1[1] > 0.7 and abs(qpos1[2]) < 0.2)


def _walker_reward(qpos0, qvel0, a, qpos1, qvel1):
  return qvel1[0] + 1.0 - 1e-3 * np.sum(a * a)


def _walker_healthy(qpos1, qvel1, obs):
  return bool(0.8 < qpos1[1] < 2.0 and -1.0 < qpos1[2] < 1.0)


def _halfcheetah_reward(qpos0, qvel0, a, qpos1, qvel1):
  return qvel0[0] - 0.1 * np.sum(a * a)  # pre-step velocity, as in the original


def _ant_reward(qpos0, qvel0, a, qpos1, qvel1):
  # Pre-step torso x-velocity and height (qpos[2] is z; the observation drops x, y).
  return qvel0[0] - 0.1 * np.sum(a * a) - 3.0 * (qpos0[2] - 0.57) ** 2 + 1.0


def make_paper_hopper(**kwargs):
  env = HopperEnv(terminate_when_unhealthy=False, **kwargs)
  return PaperFaithfulEnv(env, 1, _hopper_reward, _hopper_healthy)


def make_paper_walker2d(**kwargs):
  env = Walker2dEnv(terminate_when_unhealthy=False, **kwargs)
  return PaperFaithfulEnv(env, 1, _walker_reward, _walker_healthy)


def make_paper_halfcheetah(**kwargs):
  return PaperFaithfulEnv(HalfCheetahEnv(**kwargs), 1, _halfcheetah_reward)


def make_paper_ant(**kwargs):
  env = AntEnv(terminate_when_unhealthy=False, include_cfrc_ext_in_observation=False, **kwargs)
  return PaperFaithfulEnv(env, 2, _ant_reward)
