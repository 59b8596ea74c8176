"""An environment of your own, end to end: a point mass on a line that should come to rest at 0.

Import this module from a gin file (`import point_mass`, see point_mass_deployment.gin) with this
directory on PYTHONPATH, and every launcher takes `env_id = 'example/PointMass-v0'`:

  PYTHONPATH=examples python launch/deployment.py --gin_file=examples/point_mass_deployment.gin

Three things make an env usable here: a gymnasium env with flat Box spaces and actions in
[-1, 1]; batched TF reward(s, a, s') and done(s') equal to what its step returns (imagination has
nothing else); and `envs.register_env`, which checks both before any work starts.
"""
import gymnasium
import numpy as np
import tensorflow as tf

from bremen_tf import envs

DT = 0.1


class PointMass(gymnasium.Env):
  """Position x and velocity v; the action u in [-1, 1] accelerates: v' = v + DT·u,
  x' = x + DT·v'. Reward −x'² − 0.1·u²; it never terminates (100-step episodes)."""

  observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float64)
  action_space = gymnasium.spaces.Box(-1.0, 1.0, (1,), np.float32)

  def reset(self, *, seed=None, options=None):
    super().reset(seed=seed)
    self._s = np.array([self.np_random.uniform(-1.0, 1.0), 0.0])
    return self._s.copy(), {}

  def step(self, action):
    u = float(np.clip(action, -1.0, 1.0)[0])
    v = self._s[1] + DT * u
    self._s = np.array([self._s[0] + DT * v, v])
    return self._s.copy(), -self._s[0] ** 2 - 0.1 * u ** 2, False, False, {}


def reward(s, a, s_next):
  """The env's reward from batched tensors: the same −x'² − 0.1·u² (u clipped as step clips it)."""
  u = tf.clip_by_value(a[:, 0], -1.0, 1.0)
  return -tf.square(s_next[:, 0]) - 0.1 * tf.square(u)


def done(s_next):
  return tf.zeros(tf.shape(s_next)[:1], tf.bool)


if 'example/PointMass-v0' not in gymnasium.registry:
  # A 'module:class' entry point (not the class itself) lets Minari record the env in a dataset.
  gymnasium.register('example/PointMass-v0', entry_point=f'{__name__}:PointMass',
                     max_episode_steps=100)
envs.register_env('example/PointMass-v0', reward, done, horizon=100)
