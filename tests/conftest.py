import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np
import pytest

from bremen_tf import envs
from bremen_tf.data import shipped_policies
from bremen_tf.agents.networks import TanhGaussianActor


def write_untrained_policy(directory, env_id, seed=0):
  """A behaviour-policy directory holding an untrained actor (fast stand-in for tests)."""
  spec = envs.get_spec(env_id)
  actor = TanhGaussianActor(spec.obs_dim, spec.act_dim, seed=seed)
  shipped_policies.write_policy(directory, actor, {
      'env_id': env_id, 'algorithm': 'untrained (test)', 'seed': seed, 'sac_steps': 0,
      'env_steps': 0, 'eval_return_mean': 0.0, 'eval_return_std': 0.0, 'threshold': 0.0})
  return actor


class RunStub:
  """The part of runs.RunDir that RunState uses, without the lock (so a test can reopen it)."""

  def __init__(self, path):
    self.path = str(path)

  def file(self, *parts):
    return os.path.join(self.path, *parts)

  def truncate_metrics(self, step):
    pass

  def read_metrics(self):
    return []

  def keep_metrics_rows(self, n):
    pass


@pytest.fixture
def rng():
  return np.random.default_rng(0)
