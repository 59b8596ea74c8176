"""Which data each stage of the deployment loop trains on (reference/bremen.md §7, gotcha 8),
in process on a tiny run: BC clones the newest batch only (`bc_data='newest'`, the original; all
batches with 'all', its --all_bc), while the dynamics ensemble fits every batch so far, each split
85/15 sequentially; batch 1 is uniform-random and batch d > 1 is collected with the policy of
deployment d − 1 (μ + 0.1·ε)."""
import os

import gin
import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import experiments, runs, stages
from bremen_tf.data.dataset import load_dataset

ENV = 'bremen/Hopper-v0'
TINY = ['train_deployment.env_id = "bremen/Hopper-v0"',
        'train_deployment.deployments = 2',
        'train_deployment.transitions_per_deployment = 300',
        'train_deployment.iterations_per_deployment = 1',
        'train_deployment.updates_per_iteration = 1',
        'train_deployment.eval_min_steps = 1',
        'train_deployment.reset_bank_size = 16',
        'train_deployment.horizon = 10',
        'train_deployment.collect_envs = 2',
        'DynamicsEnsemble.hidden = (8, 8)',
        'DynamicsEnsemble.batch_size = 100',
        'DynamicsEnsemble.max_epochs = 1',
        'DynamicsEnsemble.eval_every = 1',
        'behavior_clone.steps = 5',
        'behavior_clone.log_every = 5',
        'GaussianPolicy.hidden = (8, 8)',
        'ImaginedTRPO.batch_size = 100']


def run_tiny(path, monkeypatch, bc_data):
  """Runs the tiny deployment loop in `path`; returns (what each BC call cloned, what each
  dynamics fit trained and validated on, what each collection's policy was asked)."""
  cloned, fitted = [], []
  behavior_clone, fit_dynamics = stages.behavior_clone, stages.fit_dynamics

  def recording_clone(policy, observations, actions, **kwargs):
    cloned.append((np.array(observations), np.array(actions)))
    return behavior_clone(policy, observations, actions, **kwargs)

  def recording_fit(run_state, dynamics, train, validation, log):
    fitted.append(([np.array(a) for a in train], [np.array(a) for a in validation]))
    return fit_dynamics(run_state, dynamics, train, validation, log)

  monkeypatch.setattr(stages, 'behavior_clone', recording_clone)
  monkeypatch.setattr(stages, 'fit_dynamics', recording_fit)
  gin.clear_config()
  gin.parse_config_files_and_bindings([], TINY + [f'train_deployment.bc_data = "{bc_data}"'])
  run = runs.RunDir(path)
  try:
    experiments.train_deployment(run, seed=0, log=lambda m: None)
  finally:
    run._lock.close()  # pylint: disable=protected-access (as the end of the process would)
    gin.clear_config()
  batches = [load_dataset(os.path.join(path, 'data', f'deployment_{d}.npz'), ENV)
             for d in (1, 2)]
  return cloned, fitted, batches


def split(batch, part):
  """The sequential 85/15 split of one batch (reference §2): the first round(0.85·n) rows train."""
  n_train = int(round(len(batch) * 0.85))
  rows = slice(0, n_train) if part == 'train' else slice(n_train, None)
  return batch.observations[rows]


@pytest.mark.parametrize('bc_data', ['newest', 'all'])
def test_bc_clones_the_newest_batch_and_the_dynamics_every_batch(tmp_path, monkeypatch, bc_data):
  cloned, fitted, (b1, b2) = run_tiny(str(tmp_path / 'run'), monkeypatch, bc_data)
  assert len(b1) >= 300 and len(b2) >= 300 and len(cloned) == 2 and len(fitted) == 2
  # Deployment 1: the only batch, for both.
  np.testing.assert_array_equal(cloned[0][0], b1.observations)
  np.testing.assert_array_equal(cloned[0][1], b1.actions)
  # Deployment 2: BC on the newest batch only (or on both with --all_bc), ...
  if bc_data == 'newest':
    np.testing.assert_array_equal(cloned[1][0], b2.observations)
    np.testing.assert_array_equal(cloned[1][1], b2.actions)
  else:
    np.testing.assert_array_equal(cloned[1][0], np.concatenate([b1.observations, b2.observations]))
  # ... the dynamics on every batch so far, each batch split 85/15 on its own.
  train_obs, validation_obs = fitted[1][0][0], fitted[1][1][0]
  np.testing.assert_array_equal(train_obs, np.concatenate([split(b1, 'train'),
                                                           split(b2, 'train')]))
  np.testing.assert_array_equal(validation_obs, np.concatenate([split(b1, 'validation'),
                                                                split(b2, 'validation')]))
  np.testing.assert_array_equal(fitted[0][0][0], split(b1, 'train'))
  # Batch 1 is uniform-random in [-1, 1] (std 1/sqrt(3)); batch 2 comes from the exported
  # deployment-1 policy with 0.1·ε exploration: (a − μ(s))/0.1 is standard normal (>= 900
  # draws: mean within 0.15, std within 0.1, about 4 standard errors).
  assert np.abs(b1.actions).max() <= 1.0 and abs(b1.actions.std() - np.sqrt(1 / 3)) < 0.05
  model = tf.saved_model.load(str(tmp_path / 'run' / 'policies' / 'deployment_1'))
  mean = model.signatures['serving_default'](
      observations=tf.constant(b2.observations))['actions'].numpy()
  eps = (b2.actions - mean) / 0.1
  assert abs(eps.mean()) < 0.15 and abs(eps.std() - 1.0) < 0.1, (eps.mean(), eps.std())
