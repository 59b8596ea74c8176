"""The shipped behaviour policies (package data, bremen_tf/behavior_policies/<env>/; the datasets
are collected with them) are present for every paper-faithful env, are package data of the
distribution, and do what their policy.json says: a real evaluation with the recorded protocol
reproduces the recorded return, so the JSON is not taken on trust. Absence is a failure, never a
skip.

The recorded evaluation (bremen_tf/behavior.py, train_behavior_policy): at SAC step `sac_steps`,
`eval_episodes` = 20 deterministic episodes (the actor's mode), episode k reset with seed
10_000 + sac_steps + k (evaluation.run_episodes). We rerun those 20 episodes (about 20,000 env
steps for the never-terminating Ant and HalfCheetah, a few seconds) and require
  * on the recorded platform (the mujoco, tensorflow and numpy versions of the policy's
    provenance), where the rerun is the recorded run itself: the same mean, min and max to
    1e-6 relative (float summation order is all that may differ);
  * elsewhere (another MuJoCo build changes the trajectories, so the episodes are a fresh
    sample): the mean within 4 standard errors (recorded std / sqrt(20)) of the recorded one,
    false alarm probability < 1e-4.
A few episodes are not enough: the paper Ant pays +1 per step alive and never terminates, so 3
episodes of an untrained Ant actor pass both a 4-standard-error bound and the recorded
[min, max] (checked by skipping the checkpoint read in load_behavior_policy).
"""
import fnmatch
import os
import re
from importlib import metadata

import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import envs, evaluation
from bremen_tf.data import shipped_policies

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ('policy.json', 'policy.index', 'policy.data-00000-of-00001')


def test_every_paper_env_ships_a_policy_as_package_data():
  assert envs.PAPER_ENV_IDS == ('bremen/Hopper-v0', 'bremen/Walker2d-v0',
                                'bremen/HalfCheetah-v0', 'bremen/Ant-v0')
  with open(os.path.join(REPO_ROOT, 'pyproject.toml')) as f:  # (tomllib needs Python 3.11)
    section = f.read().split('[tool.setuptools.package-data]')[1].split('\n[')[0]
  patterns = re.findall(r'"([^"]+)"', re.search(r'^bremen_tf\s*=\s*\[(.*)\]', section, re.M)[1])
  assert patterns
  package = os.path.dirname(shipped_policies.SHIPPED_DIR)
  for env_id in envs.PAPER_ENV_IDS:
    for name in FILES:
      path = os.path.join(shipped_policies.SHIPPED_DIR, envs.slug(env_id), name)
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
  actor, meta = shipped_policies.load_behavior_policy(env_id)  # raises if missing: a failure
  last = meta['eval_history'][-1]
  assert last['step'] == meta['sac_steps'] and last['return_mean'] == meta['eval_return_mean']
  assert meta['eval_return_mean'] >= meta['threshold'] and meta['eval_episodes'] == 20
  mode = tf.function(actor.mode)
  returns, _ = evaluation.run_episodes(env_id, lambda o: mode(o).numpy(), 20,
                                       seed=10_000 + meta['sac_steps'])
  got = {'return_mean': returns.mean(), 'return_min': returns.min(), 'return_max': returns.max()}
  if recorded_platform(meta):
    np.testing.assert_allclose([got[k] for k in got], [last[k] for k in got], rtol=1e-6)
  standard_error = meta['eval_return_std'] / np.sqrt(20)
  assert abs(got['return_mean'] - meta['eval_return_mean']) <= 4 * standard_error, (
      got, meta['eval_return_mean'], meta['eval_return_std'])
