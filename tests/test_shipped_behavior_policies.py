"""The shipped behaviour policies (package data, bremen_tf/behavior_policies/<env>/; the datasets
are collected with them) are present for every paper-faithful env, are package data of the
distribution, and do what their policy.json says: a real evaluation with the recorded protocol
reproduces the recorded return, so the JSON is not taken on trust. Absence is a failure, never a
skip.

The recorded evaluation (bremen_tf/behavior.py, train_behavior_policy): at SAC step `sac_steps`,
`eval_episodes` deterministic episodes (the actor's mode), episode k reset with seed
10_000 + sac_steps + k (evaluation.run_episodes). We rerun its first EPISODES episodes (cheap:
at most 3,000 env steps per env) and require
  * always: their mean within 4 standard errors (recorded std / sqrt(EPISODES)) of the recorded
    mean. Were the episodes a fresh sample (another MuJoCo build changes the trajectories), this
    fails with probability < 1e-4; a policy that is not the recorded one (another checkpoint,
    an untrained actor, another env's) misses by far more;
  * on the recorded platform (the mujoco, tensorflow and numpy versions of the policy's
    provenance), where the rerun is the recorded run itself: each return within the recorded
    [min, max] of those 20 episodes, which holds by construction for a faithful reproduction.
"""
import fnmatch
import os
import re
from importlib import metadata

import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import behavior, envs, evaluation

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ('policy.json', 'policy.index', 'policy.data-00000-of-00001')
EPISODES = 3


def test_every_paper_env_ships_a_policy_as_package_data():
  assert envs.PAPER_ENV_IDS == ('bremen/Hopper-v0', 'bremen/Walker2d-v0',
                                'bremen/HalfCheetah-v0', 'bremen/Ant-v0')
  with open(os.path.join(REPO_ROOT, 'pyproject.toml')) as f:  # (tomllib needs Python 3.11)
    section = f.read().split('[tool.setuptools.package-data]')[1].split('\n[')[0]
  patterns = re.findall(r'"([^"]+)"', re.search(r'^bremen_tf\s*=\s*\[(.*)\]', section, re.M)[1])
  assert patterns
  package = os.path.dirname(behavior.SHIPPED_DIR)
  for env_id in envs.PAPER_ENV_IDS:
    for name in FILES:
      path = os.path.join(behavior.SHIPPED_DIR, envs.slug(env_id), name)
      assert os.path.isfile(path), f'{path} is missing: the shipped policy of {env_id}'
      relative = os.path.relpath(path, package)
      assert any(fnmatch.fnmatch(relative, p) for p in patterns), \
          f'{relative} is not package data (pyproject.toml: {patterns})'


def recorded_platform(meta):
  packages = meta['provenance']['packages']
  return all(metadata.version(name) == packages[name]
             for name in ('mujoco', 'tensorflow', 'numpy'))


@pytest.mark.parametrize('env_id', envs.PAPER_ENV_IDS)
def test_shipped_policy_reproduces_its_recorded_evaluation(env_id):
  actor, meta = behavior.load_behavior_policy(env_id)  # raises if missing: a failure
  last = meta['eval_history'][-1]
  assert last['step'] == meta['sac_steps'] and last['return_mean'] == meta['eval_return_mean']
  assert meta['eval_return_mean'] >= meta['threshold'] and meta['eval_episodes'] == 20
  mode = tf.function(actor.mode)
  returns, lengths = evaluation.run_episodes(env_id, lambda o: mode(o).numpy(), EPISODES,
                                             seed=10_000 + meta['sac_steps'])
  standard_error = meta['eval_return_std'] / np.sqrt(EPISODES)
  assert abs(returns.mean() - meta['eval_return_mean']) <= 4 * standard_error, (
      returns, meta['eval_return_mean'], meta['eval_return_std'])
  if recorded_platform(meta):
    assert np.all((last['return_min'] <= returns) & (returns <= last['return_max'])), (
        returns, last['return_min'], last['return_max'])
