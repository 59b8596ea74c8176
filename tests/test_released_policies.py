"""bremen_tf/released_policies.py: a checkpoint written the way the authors' TF1 code writes one
('policy/layer_k/w', '/b') loads into our GaussianPolicy and acts as the authors' MLPPolicy would
(a numpy reference of model/policies.py); the HalfCheetah file naming; clear errors."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import envs, released_policies

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_tf1_checkpoint(folder, sizes, seed=0):
  """weights/<Env>/policy.ckpt as the authors' tf.train.Saver wrote it; returns the weights."""
  rng = np.random.default_rng(seed)
  weights = {}
  graph = tf.Graph()
  with graph.as_default():
    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
      weights[f'w{k}'] = rng.normal(0, 1 / np.sqrt(i), (i, o)).astype(np.float32)
      weights[f'b{k}'] = rng.normal(0, 0.1, o).astype(np.float32)
      for kind in ('w', 'b'):
        tf.compat.v1.get_variable(f'policy/layer_{k}/{kind}',
                                  initializer=tf.constant(weights[f'{kind}{k}']))
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session(graph=graph) as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      os.makedirs(folder, exist_ok=True)
      saver.save(sess, os.path.join(folder, 'policy.ckpt'), write_meta_graph=False)
  return weights


def reference_actions(weights, obs, data, low, high):
  """The authors' MLPPolicy mean and log-std (model/policies.py, misc_utils.RunningStats)."""
  mean = data.mean(axis=0)
  std = (np.maximum((data ** 2).mean(axis=0) - mean ** 2, 1e-2) + 1e-6) ** 0.5
  x = (obs - mean) / std
  x = np.maximum(x @ weights['w0'] + weights['b0'], 0)
  x = np.maximum(x @ weights['w1'] + weights['b1'], 0)
  m, l = np.split(x @ weights['w2'] + weights['b2'], 2, axis=-1)
  return np.tanh(m) * (high - low) / 2 + (high + low) / 2, -5 + 2.5 * (np.tanh(l) + 1)


@pytest.mark.parametrize('halfcheetah_naming', [False, True])
def test_a_released_checkpoint_acts_as_the_authors_policy(tmp_path, halfcheetah_naming):
  folder = tmp_path / 'weights' / 'Hopper'
  weights = write_tf1_checkpoint(str(folder), [11, 200, 200, 6])
  if halfcheetah_naming:  # their HalfCheetah data file lacks '.ckpt'
    os.rename(folder / 'policy.ckpt.data-00000-of-00001', folder / 'policy.data-00000-of-00001')
  env = envs.make('bremen/Hopper-v0')
  rng = np.random.default_rng(1)
  data = rng.normal([1.2, 0.0, 0.1, 0.2, 0.3, 1.0, 0, 0, 0, 0, 0], 0.5, (500, 11))
  data[:, 3] = 0.03  # a constant dimension: its variance takes the floor of 1e-2
  policy = released_policies.load_released_policy(str(tmp_path), 'Hopper', env, data)
  obs = rng.normal(0, 1, (7, 11)).astype(np.float32)
  mean, log_std = policy.mean_log_std(tf.constant(obs))
  ref_mean, ref_log_std = reference_actions(weights, obs.astype(np.float64), data,
                                            env.action_space.low, env.action_space.high)
  np.testing.assert_allclose(mean.numpy(), ref_mean, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(log_std.numpy(), ref_log_std, rtol=1e-4, atol=1e-5)


def test_clear_errors_for_a_wrong_folder_env_or_checkpoint(tmp_path):
  env = envs.make('bremen/HalfCheetah-v0')
  with pytest.raises(released_policies.ReleasedPolicyError, match='matsuolab/BREMEN'):
    released_policies.load_released_policy(str(tmp_path), 'Hopper', env, np.zeros((3, 17)))
  with pytest.raises(released_policies.ReleasedPolicyError, match='Swimmer'):
    released_policies.checkpoint_files(str(tmp_path), 'Swimmer')
  write_tf1_checkpoint(str(tmp_path / 'weights' / 'Hopper'), [11, 8, 8, 6])
  with pytest.raises(released_policies.ReleasedPolicyError,
                     match='11-dim observations and gives 3-dim actions; bremen/HalfCheetah-v0 '
                           'has 17 and 6'):
    released_policies.load_released_policy(str(tmp_path), 'Hopper', env, np.zeros((3, 17)))
  hopper = envs.make('bremen/Hopper-v0')
  with pytest.raises(released_policies.ReleasedPolicyError, match=r'must be \[N, 11\]'):
    released_policies.load_released_policy(str(tmp_path), 'Hopper', hopper, np.zeros((3, 17)))
  write_tf1_checkpoint(str(tmp_path / 'weights' / 'Walker2d'), [17, 8, 6])  # one layer short
  with pytest.raises(released_policies.ReleasedPolicyError, match='policy/layer_2/w is missing'):
    released_policies.load_released_policy(str(tmp_path), 'Walker2d',
                                           envs.make('bremen/Walker2d-v0'), np.zeros((3, 17)))
  shutil.copytree(tmp_path / 'weights' / 'Hopper', tmp_path / 'weights' / 'Ant')
  data = tmp_path / 'weights' / 'Ant' / 'policy.ckpt.data-00000-of-00001'
  data.write_bytes(data.read_bytes()[:100])  # a truncated download
  with pytest.raises(released_policies.ReleasedPolicyError, match='not a readable TF checkpoint'):
    released_policies.load_released_policy(str(tmp_path), 'Ant', envs.make('bremen/Ant-v0'),
                                           np.zeros((3, 27)))


def test_the_launcher_refuses_a_checkout_without_weights(tmp_path):
  out = subprocess.run([sys.executable, 'launch/released_policies.py',
                        f'--bremen_repo={tmp_path}'], cwd=REPO, capture_output=True, text=True,
                       timeout=60)
  assert out.returncode != 0
  assert 'has no weights/ folder' in out.stderr and 'git clone' in out.stderr
