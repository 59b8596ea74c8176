import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import envs, fileio
from bremen_tf.agents.sac import TanhGaussianActor


def write_untrained_policy(directory, env_id, seed=0):
  """A behaviour-policy directory holding an untrained actor (fast stand-in for tests)."""
  spec = envs.get_spec(env_id)
  os.makedirs(directory, exist_ok=True)
  actor = TanhGaussianActor(spec.obs_dim, spec.act_dim, seed=seed)
  tf.train.Checkpoint(actor=actor).write(os.path.join(directory, 'policy'))
  fileio.write_json(os.path.join(directory, 'policy.json'), {
      'env_id': env_id, 'algorithm': 'untrained (test)', 'seed': seed, 'sac_steps': 0,
      'env_steps': 0, 'eval_return_mean': 0.0, 'eval_return_std': 0.0, 'threshold': 0.0,
      'actor': {'hidden': [200, 200], 'obs_dim': spec.obs_dim, 'act_dim': spec.act_dim}})
  return actor


@pytest.fixture
def rng():
  return np.random.default_rng(0)
