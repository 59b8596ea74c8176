"""progress.remaining: the hours an unfinished BREMEN/ME-TRPO run still needs at the speeds it
timed itself, computed here by hand for synthetic run directories, and launch/run_progress.py's
line per directory."""
import pytest

import test_reporting_runs as syn
from test_reporting_runs import script
from bremen_tf.reporting import progress, run_reader

OFFLINE = {'train_offline.env_id': syn.CHEETAH, 'train_offline.dataset_size': '100k',
           'train_offline.outer_iterations': 10, **syn.GIN_ENV['HalfCheetah']}
DEPLOY = {**syn.DEPLOY_BASE, **syn.GIN_ENV['HalfCheetah']}  # 3 deployments x 2 iterations, 5 epochs
BATCH = 0.85 * 50_000  # each deployment's training split


def estimate(path):
  return progress.remaining(path, run_reader.description(path))


def test_an_offline_run_in_trpo_needs_its_remaining_iterations(tmp_path):
  path = str(tmp_path / 'offline')
  # Iterations 1-4 took 60 s each (syn.bremen_metrics); 6 of 10 are left.
  syn.write_run(path, OFFLINE, syn.bremen_metrics(5000.0, 4, 25),
                syn.dataset_state('HalfCheetah', '100k'), False, 0, kind='offline')
  found = estimate(path)
  assert found['seconds'] == 6 * 60.0
  assert found['text'] == 'about 0.1 h left at its measured speeds'  # no fit to come


def test_an_offline_run_in_its_fit_has_no_estimate_before_an_iteration(tmp_path):
  path = str(tmp_path / 'fit')
  state = {'stage': 'dynamics_fit', 'dynamics_progress': {
      'fit': {'epoch': 10, 'settings': {'n_train': 85_000}}, 'seconds': 1000.0}}
  syn.write_run(path, OFFLINE, [], state, False, 0, kind='offline')
  assert estimate(path) is None
  with script('run_progress') as run_progress:
    assert run_progress.line(path) == (
        f'{path}: in progress: dynamics fit, epoch 10 of at most 200; no estimate until it has '
        'timed a fit and an outer iteration')


def run_in_trpo_2(tmp_path, name, fit_2):
  """A 3-deployment run in deployment 2's TRPO, 3 iterations done (30 s each), its deployment-2
  fit's record `fit_2`."""
  path = str(tmp_path / name)
  metrics, _ = syn.deployment_files([100.0, 200.0], 2, 50_000)
  fits = [{'deployment': 1, 'dynamics_fit': {'seconds': 500.0, 'stop_epoch': [5, 4, 5, 5, 3]}},
          {'deployment': 2, 'dynamics_fit': fit_2}]
  syn.write_run(path, DEPLOY, metrics[:3], {'stage': 'trpo', 'deployment': 2, 'deployments': fits},
                False, 0, kind='deployment')
  return path


def test_a_deployment_run_in_trpo_counts_the_fits_to_come_at_their_maximum(tmp_path):
  path = run_in_trpo_2(tmp_path, 'trpo', {'seconds': 1200.0, 'stop_epoch': [5, 5, 5, 5, 5]})
  rate = 1200.0 / 5 / (2 * BATCH)  # the newest fit: seconds per epoch and training transition
  expected = (3 * 2 - 3) * 30.0 + 5 * rate * 3 * BATCH  # 3 iterations, deployment 3's fit
  found = estimate(path)
  assert found['seconds'] == pytest.approx(expected, rel=1e-12)
  # and as deployment 2's warm-started fit did: 1200 s on its 2 batches, so 1800 s on 3
  like_refit = (3 * 2 - 3) * 30.0 + 1200.0 / (2 * BATCH) * 3 * BATCH
  assert found['seconds_like_refit'] == pytest.approx(like_refit, rel=1e-12)
  assert found['text'].endswith(
      f'(every fit to come at its 5-epoch maximum; {like_refit / 3600:.1f} h if each takes as long '
      "per transition as deployment 2's, the slowest refit so far)")


def test_the_likely_case_takes_the_slowest_refit_not_the_newest(tmp_path):
  """Deployment 3's refit stopped early (600 s on 3 batches: 200 s a batch); deployment 2's took
  600 s a batch: deployment 4's fit (4 batches) is counted at deployment 2's pace."""
  path = str(tmp_path / 'trpo3')
  metrics, _ = syn.deployment_files([100.0, 200.0, 300.0], 2, 50_000)  # 30 s per iteration
  fits = [{'deployment': 1, 'dynamics_fit': {'seconds': 500.0, 'stop_epoch': [5, 4, 5, 5, 3]}},
          {'deployment': 2, 'dynamics_fit': {'seconds': 1200.0, 'stop_epoch': [5, 5, 5, 5, 5]}},
          {'deployment': 3, 'dynamics_fit': {'seconds': 600.0, 'stop_epoch': [2, 5, 2, 2, 2]}}]
  syn.write_run(path, {**DEPLOY, 'train_deployment.deployments': 4}, metrics[:5],
                {'stage': 'trpo', 'deployment': 3, 'deployments': fits}, False, 0,
                kind='deployment')
  found = estimate(path)
  assert found['seconds_like_refit'] == pytest.approx((4 * 2 - 5) * 30.0 + 1200.0 / 2 * 4,
                                                      rel=1e-12)
  assert found['text'].endswith("as long per transition as deployment 2's, the slowest refit so "
                                'far)')


def test_a_fit_whose_members_stopped_early_counts_their_share_of_each_epoch(tmp_path):
  """Deployment 2's fit: members stopped at 2, 5, 2, 2, 2 = 2.6 epochs of all five in 600 s;
  deployment 3's fit to come, at its 5-epoch maximum, is 5 such epochs on 3 batches."""
  full_epochs = progress._full_epochs  # pylint: disable=protected-access
  assert full_epochs([2, 5, 2, 2, 2]) == 2.6
  assert full_epochs([200, 200, 10, 200, 200], epoch=20) == 18.0
  path = run_in_trpo_2(tmp_path, 'early', {'seconds': 600.0, 'stop_epoch': [2, 5, 2, 2, 2]})
  rate = 600.0 / 2.6 / (2 * BATCH)
  assert estimate(path)['seconds'] == pytest.approx((3 * 2 - 3) * 30.0 + 5 * rate * 3 * BATCH,
                                                    rel=1e-12)


def test_the_fit_under_way_counts_only_its_members_still_training(tmp_path):
  """Deployment 3's fit at epoch 3 of 5: members stopped at 2, 2, 3 (2 of 5 still training), 13
  member-epochs = 2.6 epochs of all five in 780 s; its 2 epochs left are 2 x 2/5 such epochs."""
  path = str(tmp_path / 'partial')
  metrics, _ = syn.deployment_files([100.0, 200.0], 2, 50_000)  # 30 s per iteration
  fits = [{'deployment': 1, 'dynamics_fit': {'seconds': 500.0, 'stop_epoch': [5, 4, 5, 5, 3]}},
          {'deployment': 2, 'dynamics_fit': {'seconds': 1200.0, 'stop_epoch': [5, 5, 5, 5, 5]}}]
  fit = {'epoch': 3, 'settings': {'n_train': 3 * BATCH}, 'stop_epoch': [2, 5, 2, 3, 5],
         'active': [False, True, False, False, True]}
  state = {'stage': 'dynamics_fit', 'deployment': 3, 'deployments': fits,
           'dynamics_progress': {'fit': fit, 'seconds': 780.0}}
  syn.write_run(path, DEPLOY, metrics[:4], state, False, 0, kind='deployment')
  per_full_epoch = 780.0 / 2.6
  assert estimate(path)['seconds'] == pytest.approx((6 - 4) * 30.0 + 2 * 2 / 5 * per_full_epoch,
                                                    rel=1e-12)


def test_the_likely_case_counts_the_fit_under_way_as_long_as_the_last_refit(tmp_path):
  """In deployment 3's fit, 400 s into it: that fit is counted at deployment 2's 1200 s scaled to
  three batches (1800 s), less the 400 s it has run; a run whose only finished fit is its first
  (from scratch) has no such figure."""
  path = str(tmp_path / 'fit3')
  metrics, _ = syn.deployment_files([100.0, 200.0], 2, 50_000)  # 30 s per iteration
  fits = [{'deployment': 1, 'dynamics_fit': {'seconds': 500.0, 'stop_epoch': [5, 4, 5, 5, 3]}},
          {'deployment': 2, 'dynamics_fit': {'seconds': 1200.0, 'stop_epoch': [2, 3, 3, 2, 3]}}]
  state = {'stage': 'dynamics_fit', 'deployment': 3, 'deployments': fits, 'dynamics_progress': {
      'fit': {'epoch': 1, 'settings': {'n_train': 3 * BATCH}}, 'seconds': 400.0}}
  syn.write_run(path, DEPLOY, metrics[:4], state, False, 0, kind='deployment')
  found = estimate(path)
  assert found['seconds_like_refit'] == pytest.approx((6 - 4) * 30.0 + 1800.0 - 400.0, rel=1e-12)
  assert found['seconds'] == pytest.approx((6 - 4) * 30.0 + 4 * 400.0, rel=1e-12)  # 4 epochs left
  state['deployment'], state['deployments'] = 2, fits[:1]
  state['dynamics_progress']['fit']['settings']['n_train'] = 2 * BATCH
  syn.write_run(path, DEPLOY, metrics[:2], state, False, 0, kind='deployment')
  found = estimate(path)
  assert found['seconds_like_refit'] is None and 'per transition' not in found['text']


def test_the_short_end_counts_the_fits_to_come_at_50_epochs(tmp_path):
  """With a 200-epoch maximum the estimate also says what is left if every fit to come stops at
  epoch 50 (as warm-started refits have): the fit under way only to epoch 50, and none below it."""
  path = str(tmp_path / 'fit')
  metrics, _ = syn.deployment_files([100.0], 2, 50_000)  # 30 s per iteration
  state = {'stage': 'dynamics_fit', 'deployment': 2, 'dynamics_progress': {
      'fit': {'epoch': 20, 'settings': {'n_train': 85_000}}, 'seconds': 4000.0}}
  syn.write_run(path, {**DEPLOY, 'DynamicsEnsemble.max_epochs': 200}, metrics, state, False, 0,
                kind='deployment')
  rate = 4000.0 / 20 / 85_000
  found = estimate(path)
  trpo = (6 - 2) * 30.0
  assert found['seconds'] == pytest.approx(
      trpo + 180 * rate * 85_000 + 200 * rate * 127_500, rel=1e-12)
  assert found['seconds_short'] == pytest.approx(
      trpo + 30 * rate * 85_000 + 50 * rate * 127_500, rel=1e-12)
  assert found['text'] == (
      f'about {found["seconds"] / 3600:.1f} h left at its measured speeds (every fit to come at '
      f'its 200-epoch maximum; {found["seconds_short"] / 3600:.1f} h if each stops at epoch 50)')
  state['dynamics_progress']['fit']['epoch'] = 60  # past 50: no more epochs of this fit
  state['dynamics_progress']['seconds'] = 12000.0
  syn.write_run(path, {**DEPLOY, 'DynamicsEnsemble.max_epochs': 200}, metrics, state, False, 0,
                kind='deployment')
  assert estimate(path)['seconds_short'] == pytest.approx(trpo + 50 * rate * 127_500, rel=1e-12)


def test_a_deployment_run_in_its_fit_times_the_fit_in_progress(tmp_path):
  path = str(tmp_path / 'fit')
  metrics, _ = syn.deployment_files([100.0], 2, 50_000)
  state = {'stage': 'dynamics_fit', 'deployment': 2, 'dynamics_progress': {
      'fit': {'epoch': 2, 'settings': {'n_train': 85_000}}, 'seconds': 400.0}}
  syn.write_run(path, DEPLOY, metrics, state, False, 0, kind='deployment')
  rate = 400.0 / 2 / 85_000
  expected = ((5 - 2) * rate * 85_000 + (6 - 2) * 30.0  # this fit's 3 epochs left, 4 iterations
              + 5 * rate * 127_500)  # deployment 3's fit on three batches
  assert estimate(path)['seconds'] == pytest.approx(expected, rel=1e-12)


def test_finished_and_model_free_runs_have_no_estimate(tmp_path):
  done = str(tmp_path / 'done')
  syn.write_run(done, OFFLINE, syn.bremen_metrics(5000.0, 10, 25),
                syn.dataset_state('HalfCheetah', '100k'), True, 0, kind='offline')
  bc = str(tmp_path / 'bc')
  syn.write_run(bc, {**OFFLINE, 'train_offline.algorithm': 'bc'},
                syn.model_free_metrics(4000.0, 30_000), syn.dataset_state('HalfCheetah', '100k'),
                False, 0, kind='offline')
  assert estimate(done) is None and estimate(bc) is None
  with script('run_progress') as run_progress:
    assert run_progress.line(done) == f'{done}: finished'
    assert run_progress.line(str(tmp_path / 'absent')) == f'{tmp_path}/absent: not started'


def test_an_online_sac_run_reads_its_env_steps(tmp_path):
  path = str(tmp_path / 'sac')
  metrics = [{'step': s - 10_000, 'env_steps': s, 'eval_return_mean': r, 'eval_return_std': 1.0}
             for s, r in syn.SAC_RETURNS[:2]]
  syn.write_run(path, {'train_behavior_policy.env_id': syn.CHEETAH,
                       'train_behavior_policy.stop_at_target': False,
                       'train_behavior_policy.total_steps': 190_000}, metrics, {'stage': 'sac'},
                False, 0, kind='behavior')
  with script('run_progress') as run_progress:
    assert run_progress.line(path) == f'{path}: in progress: 100,000 of 200,000 env steps'
  assert estimate(path) is None


def test_a_run_without_an_iteration_borrows_the_iteration_time_of_a_run_of_its_shape(tmp_path):
  timed = str(tmp_path / 'bremen')
  metrics, _ = syn.deployment_files([100.0], 2, 50_000)  # 30 s per iteration
  fits = [{'deployment': 1, 'dynamics_fit': {'seconds': 500.0, 'stop_epoch': [5, 4, 5, 5, 3]}}]
  syn.write_run(timed, DEPLOY, metrics, {'stage': 'trpo', 'deployment': 1, 'deployments': fits},
                False, 0, kind='deployment')
  fresh = str(tmp_path / 'me_trpo')  # deployment 1's fit at epoch 2, no iteration timed yet
  state = {'stage': 'dynamics_fit', 'deployment': 1, 'dynamics_progress': {
      'fit': {'epoch': 2, 'settings': {'n_train': 42_500}}, 'seconds': 100.0}}
  syn.write_run(fresh, {**DEPLOY, 'train_deployment.policy_init': 'random'}, [], state, False, 0,
                kind='deployment')
  other = str(tmp_path / 'hopper')  # another env: never borrowed from
  syn.write_run(other, {**DEPLOY, 'train_deployment.env_id': syn.HOPPER}, metrics,
                {'stage': 'trpo', 'deployment': 1, 'deployments': fits}, False, 0,
                kind='deployment')
  assert estimate(fresh) is None
  rate = 100.0 / 2 / 42_500
  expected = ((5 - 2) * rate * 42_500 + 6 * 30.0  # this fit's 3 epochs left, all 6 iterations
              + 5 * rate * 42_500 * (2 + 3))  # deployments 2 and 3's fits
  found = progress.remaining(fresh, run_reader.description(fresh), like=timed)
  assert found['seconds'] == pytest.approx(expected, rel=1e-12)
  with script('run_progress') as run_progress:
    assert run_progress.line(fresh, [other, fresh]).endswith(
        'no estimate until it has timed a fit and an outer iteration')
    assert run_progress.line(fresh, [other, timed, fresh]).endswith(
        f'(every fit to come at its 5-epoch maximum); the iteration time of {timed} until it '
        'times its own')
