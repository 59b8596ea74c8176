"""bremen_tf/fit_errors.py: the dynamics fit's validation error taken apart by batch, episode and
dimension equals the fit's own validation MSE, and a far-off validation episode is named.
(launch/fit_errors.py on a real smoke run: tests/test_deployment.py.)"""
import numpy as np
import pytest

from bremen_tf import fit_errors, stages
from bremen_tf.data.dataset import Dataset
from bremen_tf.dynamics import DynamicsEnsemble


def batch(rng, n=100, episode=10, far=None):
  obs = rng.uniform(-1, 1, (n, 3)).astype(np.float32)
  obs[:2] = [[-2.0] * 3, [2.0] * 3]  # the training range is [-2, 2] in every dimension
  if far is not None:  # the batch's last `far` states leave the others' range in dimension 0
    obs[-far:, 0] = 50.0
  next_obs = obs + 0.1 * rng.standard_normal((n, 3)).astype(np.float32)
  timeouts = np.zeros(n, bool)
  timeouts[episode - 1::episode] = True
  return Dataset(obs, rng.uniform(-1, 1, (n, 2)).astype(np.float32), np.zeros(n, np.float32),
                 next_obs, np.zeros(n, bool), timeouts)


def test_errors_add_up_to_the_fits_validation_mse_and_name_the_far_episode(rng):
  batches = [batch(rng), batch(rng, far=4)]
  dynamics = DynamicsEnsemble(3, 2, seed=0, n_models=2, hidden=(8, 8))
  train, validation = stages.split_batches(batches, 0.15)
  dynamics.set_normalization(*train)  # as DynamicsEnsemble.fit does before it trains
  # pylint: disable=protected-access (the fit's own normalisation and validation MSE)
  vx = dynamics._inputs(validation[0], validation[1])
  vy = dynamics._targets(validation[0], validation[2])
  fits_own = dynamics._validation_mse(vx, vy).numpy()

  result = fit_errors.analyse(dynamics, batches, 0.15)
  np.testing.assert_allclose(result['validation_mse'], fits_own, rtol=1e-5)
  assert [(b['n_train'], b['n_val']) for b in result['batches']] == [(85, 15), (85, 15)]
  # Validation episodes: each batch's episode 8 from its step 5 (the split cuts it), and 9.
  assert [(e['batch'], e['episode'], e['first_step'], e['steps']) for e in result['episodes']] \
      == [(1, 8, 5, 5), (1, 9, 0, 10), (2, 8, 5, 5), (2, 9, 0, 10)]
  assert sum(e['share'] for e in result['episodes']) == pytest.approx(1.0)
  far = result['episodes'][-1]
  assert far['outside'] == 4 and far['furthest'][:2] == (0, 50.0)
  assert far['furthest'][2:] == (-2.0, 2.0)
  assert [e['outside'] for e in result['episodes'][:3]] == [0, 0, 0]
  # The far states' share and the MSE without them, recomputed directly.
  err = np.square(dynamics.net(vx).numpy() - vy.numpy())  # [K, N, dim]
  outside = np.any((validation[0] < train[0].min(0)) | (validation[0] > train[0].max(0)), axis=1)
  assert result['outside']['transitions'] == outside.sum() == 4
  per_step = err.mean(axis=0).sum(axis=1)
  assert result['outside']['share'] == pytest.approx(per_step[outside].sum() / per_step.sum(),
                                                     rel=1e-5)
  np.testing.assert_allclose(result['outside']['mse_without'], err[:, ~outside].mean(axis=(1, 2)),
                             rtol=1e-5)
  dim0 = result['dims'][0]
  assert dim0['validation_max'] == 50.0 and dim0['outside'] == 4
  assert dim0['validation_mse'] == pytest.approx(err[:, :, 0].mean(), rel=1e-5)
  tx, ty = dynamics._inputs(train[0], train[1]), dynamics._targets(train[0], train[2])
  train_err = np.square(dynamics.net(tx).numpy() - ty.numpy())
  assert dim0['train_mse'] == pytest.approx(train_err[:, :, 0].mean(), rel=1e-5)
  np.testing.assert_allclose(result['batches'][1]['train_mse'],
                             train_err[:, 85:].mean(axis=(1, 2)), rtol=1e-5)


def test_errors_are_the_same_in_chunks(rng, monkeypatch):
  data = batch(rng, n=50)
  dynamics = DynamicsEnsemble(3, 2, seed=0, n_models=2, hidden=(8, 8))
  dynamics.set_normalization(data.observations, data.actions, data.next_observations)
  whole = fit_errors.squared_errors(dynamics, data.observations, data.actions,
                                    data.next_observations)
  monkeypatch.setattr(fit_errors, 'CHUNK', 7)
  chunked = fit_errors.squared_errors(dynamics, data.observations, data.actions,
                                      data.next_observations)
  assert whole.shape == (2, 50, 3)
  np.testing.assert_allclose(chunked, whole, rtol=1e-6, atol=1e-7)


def test_a_fit_is_recorded_in_progress_or_finished_and_never_by_a_model_free_run():
  finished = {'stage': 'trpo', 'deployment': 2,
              'deployments': [{'deployment': 1, 'dynamics_fit': {'stop_epoch': [5]}},
                              {'deployment': 2, 'dynamics_fit': {'stop_epoch': [3]}}]}
  assert fit_errors.has_fit(finished, 2) and fit_errors.has_fit(finished, 1)
  in_fit = {'stage': 'dynamics_fit', 'deployment': 3, 'dynamics_progress': {'fit': {'epoch': 4}}}
  assert fit_errors.has_fit(in_fit, 3)
  brac = {'stage': 'trained', 'deployment': 2,
          'deployments': [{'deployment': 1}, {'deployment': 2}]}
  assert not fit_errors.has_fit(brac, 2)
