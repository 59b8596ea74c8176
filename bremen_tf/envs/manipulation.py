"""Dense FetchReach and HandReach (gymnasium-robotics) in the original's flat layout (§9).

The dict observation becomes concat(observation, desired_goal): FetchReach 10 + 3 = 13 dims,
HandReach 63 + 15 = 78 (FlattenObservation would sort the keys into another order). The dense
reward is minus the goal distance; episodes last 50 steps and never terminate.

gymnasium-robotics 1.4.2 crashes when it creates Fetch/Hand envs under mujoco >= 3.12 (an enum
comparison in its MuJoCo utilities). We pin mujoco 3.11 (requirements.txt) and check the version
here, so a newer mujoco fails with this explanation instead of a crash deep inside the env.
"""
import gymnasium
import mujoco
import numpy as np

MAX_MUJOCO = (3, 12)


def check_mujoco_version(version=None):
  version = version or mujoco.__version__
  major_minor = tuple(int(x) for x in version.split('.')[:2])
  if major_minor >= MAX_MUJOCO:
    raise RuntimeError(
        f'mujoco {version} is installed, but gymnasium-robotics 1.4.2 crashes when it creates '
        f'Fetch/Hand envs under mujoco >= {MAX_MUJOCO[0]}.{MAX_MUJOCO[1]}. Install the pinned '
        'version: python -m pip install "mujoco==3.11.0" (see requirements.txt).')


class GoalConcatObservation(gymnasium.ObservationWrapper):
  """dict(observation, achieved_goal, desired_goal) -> concat(observation, desired_goal)."""

  def __init__(self, env):
    super().__init__(env)
    spaces = env.observation_space
    dim = spaces['observation'].shape[0] + spaces['desired_goal'].shape[0]
    self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (dim,), np.float64)

  def observation(self, observation):
    return np.concatenate([observation['observation'], observation['desired_goal']])


def _make(gym_id, **kwargs):
  check_mujoco_version()
  import gymnasium_robotics  # pylint: disable=g-import-not-at-top (slow; only when needed)
  gymnasium.register_envs(gymnasium_robotics)
  return GoalConcatObservation(gymnasium.make(gym_id, **kwargs))


def make_fetch_reach(**kwargs):
  return _make('FetchReachDense-v4', **kwargs)


def make_hand_reach(**kwargs):
  return _make('HandReachDense-v3', **kwargs)
