"""launch/full_budget.py on synthetic full-budget runs (in this process, no training): progress of
runs still going, absent planned runs, wall time, commits, the reduced-budget rows and the
cell-by-cell statement."""
import csv
import datetime
import json
import math
import os
import re
import shutil

import pytest

import test_reporting_runs as syn
from test_reporting_runs import script

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLANNED = ['--planned=deployment/halfcheetah_200k/seed0:gin/deployment/halfcheetah_200k.gin,'
           'offline/halfcheetah_100k/seed0:gin/halfcheetah_100k.gin,'
           'offline/hopper_100k/seed0:gin/hopper_100k.gin']


@pytest.fixture
def full(tmp_path):
  """The full-budget layout plus a reduced-budget CSV written by deployment_tables.py."""
  root = str(tmp_path / 'runs')
  syn.build_deployment(root)
  reduced = tmp_path / 'reduced' / 'deployment'
  with script('deployment_tables', f'--runs={root}/deployment/*/seed*',
              f'--sac_runs={root}/none', f'--out={reduced}') as tables:
    tables.main([])
  return syn.build_full(root), f'{reduced}.csv', tmp_path / 'out' / 'full_budget'


def run_script(full_dir, reduced, out, earlier='', variants=''):
  with script('full_budget', f'--runs={full_dir}/*/*/seed*', f'--reduced={reduced}',
              '--variants=',
              f'--out={out}', f'--policies={out}_policies', f'--earlier={earlier}',
              f'--variants={variants}', *PLANNED) as full_budget:
    full_budget.main([])
  return open(f'{out}.md').read()


def line(md, start):
  (found,) = [l for l in md.splitlines() if l.startswith(start)]
  return found


def test_runs_in_progress_and_not_started(full):
  full_dir, reduced, out = full
  md = run_script(full_dir, reduced, out)
  assert md.startswith('# Full-budget runs') and '- git revision: `' in md
  bremen = line(md, '| `deployment/halfcheetah_200k/seed0` |')
  assert ('| in progress: deployment 3 of 3, iteration 1 of 3 (outer iteration 7 of 9) | 2 | '
          '`ffffffff` (sessions 1, 2) | 36.0 h | 0.1 h |') in bremen  # 7 x 30 s of iterations
  me_trpo = line(md, '| `deployment/halfcheetah_200k+me_trpo/seed0` |')
  assert '| in progress: deployment 1 of 3, dynamics fit, epoch 3 of at most 5 | 1 |' in me_trpo
  # Time left: BREMEN, in its last deployment, has 2 outer iterations of 30 s left; ME-TRPO has
  # timed no iteration yet and borrows BREMEN's 30 s (the same env, batch and updates): its 9
  # iterations, 2 epochs of its fit at 2,400 s each, and deployments 2 and 3's fits at 5 epochs
  # on 2 and 3 times the batch (progress.remaining's numbers: tests/test_run_progress.py).
  assert bremen.endswith('| 36.0 h | 0.1 h | 0.0 h |')
  hours = (9 * 30 + 2 * 2400 + 5 * 2400 * (2 + 3)) / 3600
  assert me_trpo.endswith(f'| 36.0 h | 2.0 h | {hours:.1f} h (borrows the iteration time of '
                          '`deployment/halfcheetah_200k/seed0`) |')  # the fit's 7200 s
  assert ('| `offline/hopper_100k/seed0` | BREMEN, Hopper | 6250 TRPO updates (250 x 25, batches '
          'of 50,000 imagined steps), dynamics <= 200 epochs, BC 300k steps | not started | 0 |'
          ) in md  # described from its gin file
  # Return after each deployment: ours, then the reduced-budget rows of the CSV.
  assert line(md, '| **BREMEN** (full budget, seed 0) |').endswith('| 500 | 1500 | in progress |')
  assert line(md, '| **ME-TRPO** (full budget, seed 0) |').endswith('| in progress | — | — |')
  assert line(md, '| BREMEN (reduced budget, n=2) | 50,000 |').endswith(
      '| 200 ± 100 | 900 ± 100 | 1600 ± 100 |')
  assert line(md, '| ME-TRPO (reduced budget, n=2) |').endswith(
      '| 300 ± 100 | 1000 ± 100 | 2000 ± 0 |')
  assert 'gives this result as a figure with no numbers' in md
  # Within each deployment: deployment 2's iterations return 1300, 1400, 1500 (the fixture).
  # No fit recorded for deployment 2 in the fixture's state; deployment 3's: members at epoch 40.
  assert line(md, '| BREMEN | 2 | 3 |') == (
      '| BREMEN | 2 | 3 | 1300 | 1500 | 1500 | 1400 ± 82 | — | 0.006 | — | — | — | — | 0.0 h | — |')
  assert line(md, '| BREMEN | 3 | 1 |').endswith('| 40, 40, 40, 40, 40 | — | 0.0 h | — |')
  assert line(md, '| HalfCheetah 100K, BREMEN |') == (
      '| HalfCheetah 100K, BREMEN | in progress at iteration 3 of 6 | 4000 | 900 | 3450 | 3450 | '
      '6095 ± 370 | 4066 | — | — | — | — |')  # no imagination or length columns in these rows
  assert line(md, '| Hopper 100K, BREMEN |').startswith('| Hopper 100K, BREMEN | not started |')
  assert '- HalfCheetah, deployments 1-3: not measured yet' in md
  assert ('- Offline HalfCheetah 100K (BREMEN): in progress at iteration 3 of 6; last evaluation '
          '3450: no verdict until it finishes (paper 6095 ± 370).') in md
  with open(f'{out}.csv') as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 7 + 4 and os.path.getsize(f'{out}.png') > 0
  assert [float(r['eval_return_mean']) for r in rows if r['kind'] == 'offline'] == [
      900.0 + 5100.0 * it / 6 for it in range(4)]  # iterations 0-3 of the line to 6000


def finish_two_me_trpo_deployments(full_dir):
  """ME-TRPO's run in the fixture with deployments 1 (return 700) and 2 (1200) of 3 finished."""
  me_trpo = os.path.join(full_dir, 'deployment', 'halfcheetah_200k+me_trpo', 'seed0')
  metrics, deployments = syn.deployment_files([700.0, 1200.0], 3, 200_000)
  for row in metrics:  # imagined returns: half the real one, and one run-away iteration
    row['imagined_return_mean'] = row['eval_return_mean'] / 2
  metrics[-1]['imagined_return_mean'] = -5000.0
  for row, clipped in zip(metrics[3:], (0.0, 0.02, 0.01)):  # deployment 2 ran at a commit with
    row['imagined_clipped_path_fraction'] = clipped          # the column, deployment 1 did not
  syn.write_csv(os.path.join(me_trpo, 'metrics.csv'), metrics)
  syn.write_csv(os.path.join(me_trpo, 'deployments.csv'), deployments)
  with open(os.path.join(me_trpo, 'train_state.json'), 'w') as f:
    json.dump({'stage': 'trpo_done', 'deployment': 2, 'deployments': [
        {'deployment': 1, 'dynamics_fit': {'seconds': 9000.0,
                                           'stop_epoch': [200, 150, 200, 200, 180]}},
        {'deployment': 2, 'dynamics_fit': {'seconds': 7000.0, 'stop_epoch': [90] * 5,
                                           'cached_from': '/cache/entry'}}]}, f)
  return me_trpo


def test_finished_cells_get_a_verdict(full):
  full_dir, reduced, out = full
  me_trpo = finish_two_me_trpo_deployments(full_dir)
  change = syn.write_policies(me_trpo, 2)[2]
  offline = os.path.join(full_dir, 'offline', 'halfcheetah_100k', 'seed0')
  metrics = syn.bremen_metrics(6000.0, 6, 25)
  for row in metrics:
    row['eval_steps'] = 3000 + 10 * row['iteration']  # 3 episodes each
  for row in metrics[1:]:  # the typical imagined path, and runaway paths in some iterations
    row.update(imagined_return_median=1000.0 * row['iteration'],
               imagined_clipped_path_fraction=0.01 * (row['iteration'] % 4),
               imagined_path_length=250.0 - row['iteration'])
  syn.write_csv(os.path.join(offline, 'metrics.csv'), metrics)
  open(os.path.join(offline, 'DONE'), 'w').close()
  os.makedirs(os.path.join(offline, 'policy'))
  with open(os.path.join(offline, 'policy', 'saved_model.pb'), 'w') as f:
    f.write('the final policy')
  md = run_script(full_dir, reduced, out)
  assert ('- HalfCheetah, deployment 1: BREMEN 500 vs ME-TRPO 700: BREMEN is not higher (one seed '
          'each; the paper: BREMEN far higher at every deployment).') in md
  assert '- HalfCheetah, deployment 2: BREMEN 1500 vs ME-TRPO 1200: BREMEN is higher' in md
  # The same over each deployment's last 10 iterations (3 here: value - 200, - 100, value).
  assert ("at every deployment). Over the deployment's last 10 iterations (mean ± std of their "
          'evaluations): BREMEN 400 ± 82 vs ME-TRPO 600 ± 82: not higher.') in md
  assert 'BREMEN 1400 ± 82 vs ME-TRPO 1100 ± 82: higher.' in md
  assert '- HalfCheetah, deployment 3: not measured yet' in md
  assert line(md, '| ME-TRPO | 1 | 3 |').endswith(
      '| 300 (250) | — | — | — | 200, 150, 200, 200, 180 | 2.5 h | 0.0 h | — |')
  # Deployment 2's policy against deployment 1's, from the exported policies (none for BREMEN).
  # Deployment 2's fit came from the cache (another run's): its time is not this run's.
  assert line(md, '| ME-TRPO | 2 | 3 |').endswith(
      f'| 500 (-5000) | 0.006 | {change:.3f} | — | 90, 90, 90, 90, 90 | reused from the cache | 0.0 h | 1.0% (2.0%) |')
  assert line(md, '| BREMEN | 2 | 3 |').split(' | ')[9] == '—'
  assert line(md, '| ME-TRPO | 2 | 3 |').split(' | ')[10] == '—'  # no π̂_β: no TRPO move
  assert ('- Offline HalfCheetah 100K (BREMEN): final 6000 = 1.50 x our dataset (1.50 in the '
          'paper); above its BC policy (900); paper 6095 ± 370; imagined paths at the model clip '
          '1.0% (iteration 1) -> 2.0% (iteration 6), median imagined path return 1000 -> 6000.'
          ) in md
  assert line(md, '| `offline/halfcheetah_100k/seed0` |').split(' | ')[3] == 'finished'
  # Real episodes: 3000 / 3 steps for the BC policy, 3060 / 3 at iteration 6; imagined: 244.
  assert line(md, '| HalfCheetah 100K, BREMEN |').endswith(
      '| 6000 | 2.0% (3.0%) | 1000 -> 1020 | 244 |')
  # The finished offline run's final policy is copied under its run name and each finished
  # deployment's policy under <run name>/deployment_<d> (ME-TRPO's 1 and 2 of 3, before the run
  # ends), once: never overwritten.
  policies = f'{out}_policies'
  copied = os.path.join(policies, 'offline', 'halfcheetah_100k', 'seed0', 'saved_model.pb')
  assert open(copied).read() == 'the final policy'
  assert sorted(os.listdir(policies)) == ['deployment', 'offline']
  me_trpo_copies = os.path.join(policies, 'deployment', 'halfcheetah_200k+me_trpo', 'seed0')
  assert sorted(os.listdir(me_trpo_copies)) == ['deployment_1', 'deployment_2']
  assert sorted(os.listdir(os.path.join(me_trpo_copies, 'deployment_2'))) == sorted(
      os.listdir(os.path.join(me_trpo, 'policies', 'deployment_2')))
  with open(os.path.join(offline, 'policy', 'saved_model.pb'), 'w') as f:
    f.write('changed')
  run_script(full_dir, reduced, out)
  assert open(copied).read() == 'the final policy'


def test_trpo_s_move_from_the_bc_start_comes_from_the_logged_kl(full):
  """BREMEN's iteration i logged KL 0.04·i to π̂_β (log σ −5), so deployment 2's last (iteration
  6) says its TRPO moved the 6-dimensional action by e⁻⁵·sqrt(2·0.24/6) RMS."""
  full_dir, reduced, out = full
  bremen = os.path.join(full_dir, 'deployment', 'halfcheetah_200k', 'seed0')
  with open(os.path.join(bremen, 'metrics.csv'), newline='') as f:
    metrics = list(csv.DictReader(f))
  for row in metrics:
    row.update(kl_to_behavior=0.04 * int(row['iteration']), policy_log_std_mean=-5.0)
  syn.write_csv(os.path.join(bremen, 'metrics.csv'), metrics)
  md = run_script(full_dir, reduced, out)
  expected = math.exp(-5.0) * math.sqrt(2 * 0.04 * 6 / 6)  # deployment 2 ends at iteration 6
  assert line(md, '| BREMEN | 2 | 3 |').split(' | ')[10] == f'{expected:.4f}'
  assert line(md, '| BREMEN | 1 | 3 |').split(' | ')[10] == (
      f'{math.exp(-5.0) * math.sqrt(2 * 0.04 * 3 / 6):.4f}')


def test_a_second_seed_is_compared_with_its_own_seed_only(full):
  """A BREMEN seed-1 run beside the seed-0 pair: the statements compare seed 0 with seed 0; the
  seed-1 run, with no ME-TRPO of its seed, gets none (it never stands in for seed 0's)."""
  full_dir, reduced, out = full
  finish_two_me_trpo_deployments(full_dir)
  bremen = os.path.join(full_dir, 'deployment', 'halfcheetah_200k', 'seed0')
  second = os.path.join(full_dir, 'deployment', 'halfcheetah_200k', 'seed1')
  shutil.copytree(bremen, second)
  metrics, deployments = syn.deployment_files([900.0, 2500.0, 2600.0], 3, 200_000)
  syn.write_csv(os.path.join(second, 'metrics.csv'), metrics)
  syn.write_csv(os.path.join(second, 'deployments.csv'), deployments)
  with open(os.path.join(second, 'provenance.json')) as f:  # the seed of a run without run.json
    provenance = json.load(f)
  for session in provenance['sessions']:
    session['seed'] = 1
  with open(os.path.join(second, 'provenance.json'), 'w') as f:
    json.dump(provenance, f)
  md = run_script(full_dir, reduced, out)
  assert '- HalfCheetah, deployment 1: BREMEN 500 vs ME-TRPO 700: BREMEN is not higher' in md
  assert '- HalfCheetah, deployment 2: BREMEN 1500 vs ME-TRPO 1200: BREMEN is higher' in md
  assert 'BREMEN 900' not in md and 'BREMEN 2500' not in md
  assert line(md, '| **BREMEN** (full budget, seed 1) |').endswith('| 900 | 2500 | 2600 |')


def test_an_earlier_attempt_keeps_its_finished_deployments(full, tmp_path):
  """A run directory lost mid-run: the report written before the loss (its CSV, as this script
  wrote it) keeps the finished deployments as rows, curves and statements of their own."""
  full_dir, reduced, out = full
  finish_two_me_trpo_deployments(full_dir)
  attempt = tmp_path / 'full_budget_attempt1' / 'full_budget'
  run_script(full_dir, reduced, attempt)
  # Both runs start over (same gin files): back in deployment 1's fit.
  for name in ('halfcheetah_200k', 'halfcheetah_200k+me_trpo'):
    run = os.path.join(full_dir, 'deployment', name, 'seed0')
    for lost in ('metrics.csv', 'deployments.csv', 'policies'):
      shutil.rmtree(os.path.join(run, lost), ignore_errors=True)
      if os.path.isfile(os.path.join(run, lost)):
        os.remove(os.path.join(run, lost))
    with open(os.path.join(run, 'train_state.json'), 'w') as f:
      json.dump({'stage': 'dynamics_fit', 'deployment': 1, 'deployments': []}, f)
  md = run_script(full_dir, reduced, out,
                  earlier=f'{tmp_path}/full_budget_attempt*/full_budget.csv,{tmp_path}/absent.csv')
  # BREMEN's third deployment had 1 of its 3 iterations: not finished, not shown.
  assert line(md, '| BREMEN (full budget, seed 0, attempt 1: run directory lost) |').endswith(
      '| 500 | 1500 | — |')
  assert line(md, '| ME-TRPO (full budget, seed 0, attempt 1: run directory lost) |').endswith(
      '| 700 | 1200 | — |')
  assert line(md, '| **BREMEN** (full budget, seed 0) |').endswith('| in progress | — | — |')
  assert line(md, '| **ME-TRPO** (full budget, seed 0) |').endswith('| in progress | — | — |')
  assert f'read from `{os.path.relpath(f"{attempt}.csv", REPO)}`' in md
  assert ('- HalfCheetah, deployment 1 (attempt 1, run lost): BREMEN 500 vs ME-TRPO 700: BREMEN is '
          'not higher') in md
  assert ('- HalfCheetah, deployment 2 (attempt 1, run lost): BREMEN 1500 vs ME-TRPO 1200: BREMEN '
          'is higher') in md
  assert '- HalfCheetah, deployments 1-3: not measured yet' in md
  # Without --earlier the rows are gone, and the new CSV holds only this attempt's rows.
  md = run_script(full_dir, reduced, out)
  assert 'attempt 1' not in md


def test_an_earlier_attempt_keeps_its_finished_offline_cell(full, tmp_path):
  """An offline run that finished before its machine went: the report it wrote keeps its row,
  curve and verdict beside the new attempt of the same run; one cut short gets no row, only a
  sentence comparing the new attempt with it."""
  full_dir, reduced, out = full
  offline = os.path.join(full_dir, 'offline', 'halfcheetah_100k', 'seed0')
  earlier = f'{tmp_path}/full_budget_attempt*/full_budget.csv'
  run_script(full_dir, reduced, tmp_path / 'full_budget_attempt1' / 'full_budget')  # at 4 of 6
  syn.write_csv(os.path.join(offline, 'metrics.csv'), syn.bremen_metrics(6000.0, 6, 25))
  open(os.path.join(offline, 'DONE'), 'w').close()
  run_script(full_dir, reduced, tmp_path / 'full_budget_attempt2' / 'full_budget')  # finished
  for lost in ('DONE', 'metrics.csv'):  # lost with its machine and started again: no iteration yet
    os.remove(os.path.join(offline, lost))
  md = run_script(full_dir, reduced, out, earlier=earlier)
  assert line(md, '| HalfCheetah 100K, BREMEN, attempt 2, run lost |') == (
      '| HalfCheetah 100K, BREMEN, attempt 2, run lost | finished (attempt 2; run lost) | — | 900 '
      '| 6000 | 6000 | 6095 ± 370 | 4066 | — | — | — | — |')
  assert line(md, '| HalfCheetah 100K, BREMEN |').startswith('| HalfCheetah 100K, BREMEN | in progress')
  assert 'attempt 1, run lost' not in md  # its run had 3 of 6 iterations: no row, no result,
  # but the sentence that lets the run be compared with it as it goes
  cell = line(md, '- Offline HalfCheetah 100K (BREMEN): ')
  assert cell.endswith(' Attempt 1 of this cell (run lost at iteration 3 of 6): BC policy 900, '
                       'best iteration ≥ 1 3450, last 3450; this run at iteration 3: not reached '
                       'yet.')
  assert ('read from `' + os.path.relpath(f'{tmp_path}/full_budget_attempt2/full_budget.csv', REPO)
          + '`') in md
  assert ('- Offline HalfCheetah 100K (BREMEN, attempt 2, run lost): final 6000; above its BC '
          'policy (900); paper 6095 ± 370.') in md
  with open(f'{out}.csv') as f:  # the new CSV holds this attempt's rows only
    assert not [r for r in csv.DictReader(f) if r['run'].startswith('offline/')]
  # once the new attempt has got as far, the sentence gives its return there
  syn.write_csv(os.path.join(offline, 'metrics.csv'), syn.bremen_metrics(None, 6, 25))
  md = run_script(full_dir, reduced, out, earlier=earlier)
  assert line(md, '- Offline HalfCheetah 100K (BREMEN): ').endswith(
      'last 3450; this run at iteration 3: 777.')


def test_online_sac_at_the_same_sample_count(full):
  """The deployment table's online SAC row: its return at 200,000 x d env steps, the last
  evaluation at or before that count, once the run got there; planned but absent, a row of its
  own in the run table."""
  full_dir, reduced, out = full
  planned_sac = PLANNED[0] + ',sac/halfcheetah/seed0:gin/deployment/sac_halfcheetah.gin'
  with script('full_budget', f'--runs={full_dir}/*/*/seed*', f'--reduced={reduced}',
              '--variants=',
              f'--out={out}', f'--policies={out}_policies', planned_sac) as full_budget:
    full_budget.main([])
  md = open(f'{out}.md').read()
  assert ('| `sac/halfcheetah/seed0` | online SAC, HalfCheetah | 1,000,000 env steps online (a new '
          'policy after every gradient step) | not started | 0 |') in md
  assert line(md, '| **online SAC** at 200,000 x d env steps (seed 0) |').endswith('| — | — | — |')

  sac = os.path.join(full_dir, 'sac', 'halfcheetah', 'seed0')
  steps_returns = [(10_000, -300.0), (150_000, 2000.0), (200_000, 2500.0), (390_000, 4000.0),
                   (410_000, 4100.0)]
  syn.write_run(sac, {'train_behavior_policy.env_id': syn.CHEETAH,
                      'train_behavior_policy.stop_at_target': False,
                      'train_behavior_policy.total_steps': 990_000},
                [{'step': s - 10_000, 'env_steps': s, 'eval_return_mean': r,
                  'eval_return_std': 1.0} for s, r in steps_returns], {'stage': 'sac'}, False, 0)
  md = run_script(full_dir, reduced, out)
  assert line(md, '| `sac/halfcheetah/seed0` |').split(' | ')[3] == (
      'in progress: 410,000 of 1,000,000 env steps')
  # d = 1: the evaluation at 200,000; d = 2: at 390,000 (the run is past 400,000); d = 3: not yet.
  assert line(md, '| **online SAC** at 200,000 x d env steps (seed 0) |') == (
      '| **online SAC** at 200,000 x d env steps (seed 0) | — (no deployment limit) | 1,000,000 '
      'env steps online (a new policy after every gradient step) | 2500 | 4000 | in progress |')
  assert 'Online SAC: the deterministic policy\'s return at its last evaluation' in md
  with open(f'{out}.csv') as f:
    rows = [r for r in csv.DictReader(f) if r['kind'] == 'behavior']
  assert [(int(r['iteration']), int(r['real_transitions']), float(r['eval_return_mean']))
          for r in rows] == [(s - 10_000, s, r) for s, r in steps_returns]


def test_action_change_reads_the_two_exported_policies(tmp_path):
  from bremen_tf.reporting.action_change import action_change  # pylint: disable=g-import-not-at-top
  expected = syn.write_policies(str(tmp_path), 3)
  assert expected[3] > 0.01
  assert action_change(str(tmp_path), 3) == pytest.approx(expected[3], rel=1e-5)
  assert action_change(str(tmp_path), 2) == pytest.approx(expected[2], rel=1e-5)
  os.remove(tmp_path / 'data' / 'deployment_2.npz')
  assert action_change(str(tmp_path), 2) is None  # deployment 2's batch is not there
  assert action_change(str(tmp_path), 4) is None and action_change(str(tmp_path), 1) is None


def test_a_variant_is_shown_beside_its_cell_with_its_deviation(full, tmp_path):
  """A run of the offline HalfCheetah cell with ImaginedTRPO.data_box_margin bound: its own rows,
  curve and statement, labelled with the deviation; the plain cell stays as it was."""
  full_dir, reduced, out = full
  variants = tmp_path / 'guard'
  offline = {'train_offline.env_id': syn.CHEETAH, 'train_offline.noise': 'pure',
             'train_offline.dataset_size': '100k', 'train_offline.outer_iterations': 6,
             'ImaginedTRPO.data_box_margin': 0.1, **syn.GIN_ENV['HalfCheetah']}
  syn.write_run(str(variants / 'halfcheetah_100k_data_box' / 'seed0'), offline,
                syn.bremen_metrics(5500.0, 6, 25)[:3], syn.dataset_state('HalfCheetah', '100k'),
                False, 0, sessions=syn.FULL_SESSIONS[:1])
  md = run_script(full_dir, reduced, out, variants=f'{variants}/*/seed*')
  assert line(md, '| `variants/halfcheetah_100k_data_box/seed0` |').startswith(
      '| `variants/halfcheetah_100k_data_box/seed0` | BREMEN + data box 0.1 (deviation), '
      'HalfCheetah |')
  assert line(md, '| HalfCheetah 100K, BREMEN + data box 0.1 (deviation) |')
  assert line(md, '| HalfCheetah 100K, BREMEN |')  # the cell itself, unlabelled
  assert '- Offline HalfCheetah 100K (BREMEN + data box 0.1 (deviation)): in progress' in md
  assert 'the model\'s data, widened by m times its range' in md
  without = run_script(full_dir, reduced, out)
  assert 'variants/' not in without and 'deviation)' not in without


def test_a_second_seed_of_a_cell_is_named_in_its_rows(full):
  """The planned runs are seed 0; a second seed (the lanes' idle-core work) gets its own rows,
  each saying which seed it is."""
  full_dir, reduced, out = full
  offline = {'train_offline.env_id': syn.CHEETAH, 'train_offline.noise': 'pure',
             'train_offline.dataset_size': '100k', 'train_offline.outer_iterations': 6,
             **syn.GIN_ENV['HalfCheetah']}
  syn.write_run(os.path.join(full_dir, 'offline', 'halfcheetah_100k', 'seed1'), offline,
                syn.bremen_metrics(5000.0, 6, 25)[:2], syn.dataset_state('HalfCheetah', '100k'),
                False, 1, sessions=syn.FULL_SESSIONS[:1])
  md = run_script(full_dir, reduced, out)
  assert line(md, '| `offline/halfcheetah_100k/seed1` |').startswith(
      '| `offline/halfcheetah_100k/seed1` | BREMEN, seed 1, HalfCheetah |')
  assert line(md, '| HalfCheetah 100K, BREMEN, seed 1 |')
  assert line(md, '| HalfCheetah 100K, BREMEN |')  # seed 0's row, as before
  assert '- Offline HalfCheetah 100K (BREMEN, seed 1): in progress at iteration 1 of 6' in md


def test_exported_policies_over_many_episodes_join_the_verdict(full, tmp_path):
  """The `_episodes` companion (launch/episode_report.py) adds each deployment's exported
  policies over many episodes to its statement, when it ran both from these run directories
  after they were exported; a report older than a policy (an earlier attempt's run of the same
  name) is not about it."""
  full_dir, reduced, _ = full
  out = str(tmp_path / 'fb')
  me_trpo = finish_two_me_trpo_deployments(full_dir)
  bremen = os.path.join(full_dir, 'deployment', 'halfcheetah_200k', 'seed0')
  for run in (bremen, me_trpo):
    for d in (1, 2):
      os.makedirs(os.path.join(run, 'policies', f'deployment_{d}'))
      with open(os.path.join(run, 'policies', f'deployment_{d}', 'bremen_policy.json'), 'w') as f:
        f.write('{}')
  policy = lambda run, d: os.path.join(run, 'policies', f'deployment_{d}')
  episodes = ([(policy(bremen, 1), r) for r in (900, 1100)]
              + [(policy(me_trpo, 1), r) for r in (0, 1400, 100)]
              + [(policy(bremen, 2), 2000), ('/gone/policies/deployment_2', 5)])
  with open(out + '_episodes.csv', 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['policy', 'env', 'episode', 'return'])
    writer.writerows([p, 'bremen/HalfCheetah-v0', k, r] for k, (p, r) in enumerate(episodes))

  def report(date):
    with open(out + '_episodes.md', 'w') as f:
      f.write(f'# Episodes\n\n- command: `launch/episode_report.py`\n- date: {date}\n')
  report('2999-01-01T00:00:00+00:00')
  md = run_script(full_dir, reduced, out)
  assert line(md, '- HalfCheetah, deployment 1:').endswith(
      'Its exported policies over 2 and 3 episodes (mean ± std; `fb_episodes.md`): BREMEN '
      '1000 ± 100 vs ME-TRPO 500 ± 638: higher.')
  assert 'exported policies' not in line(md, '- HalfCheetah, deployment 2:')  # ME-TRPO's absent
  report('2020-01-01T00:00:00+00:00')
  assert 'exported policies' not in line(run_script(full_dir, reduced, out),
                                         '- HalfCheetah, deployment 1:')
  # Restored on a new machine from waypoints (written then, after the report), the policies
  # count from when their waypoints were taken, before it; one written after a restore does not.
  at = lambda text: datetime.datetime.fromisoformat(text).timestamp()
  report('2029-01-01T00:00:00+00:00')
  written = lambda run, date: os.utime(os.path.join(policy(run, 1), 'bremen_policy.json'),
                                       (at(date), at(date)))
  for run in (bremen, me_trpo):
    written(run, '2030-01-01T00:00:00+00:00')
  assert 'exported policies' not in line(run_script(full_dir, reduced, out),
                                         '- HalfCheetah, deployment 1:')
  for run in (bremen, me_trpo):
    with open(os.path.join(run, 'waypoint_restores.json'), 'w') as f:
      json.dump([{'date': '2030-01-01T00:00:00+00:00', 'waypoint_date': '2028-06-01T00:00:00+00:00',
                  'stage': 'trpo', 'deployment': 2, 'iteration': 1, 'fit_restarted': False,
                  'dynamics_adam': 'reset to zero (a fresh Adam)', 'batches': []}], f)
  assert line(run_script(full_dir, reduced, out), '- HalfCheetah, deployment 1:').endswith(
      'BREMEN 1000 ± 100 vs ME-TRPO 500 ± 638: higher.')
  written(me_trpo, '2030-02-01T00:00:00+00:00')
  assert 'exported policies' not in line(run_script(full_dir, reduced, out),
                                         '- HalfCheetah, deployment 1:')


def test_companion_reports_beside_it_are_linked_with_their_commands(full, tmp_path):
  full_dir, reduced, _ = full
  out = str(tmp_path / 'fb')
  assert '## Looking into the policies' not in run_script(full_dir, reduced, out)
  with open(out + '_flips.md', 'w') as f:
    f.write('# x\n\n- command: `launch/flip_probe.py --run_dir=a --out=fb_flips.md`\n')
  with open(out + '_flips_d1_policy_model1.md', 'w') as f:  # its date: which attempt's runs
    f.write('# x\n\n- command: `launch/flip_probe.py --run_dir=b`\n'
            '- date: 2026-12-04T10:00:00+00:00\n')
  md = run_script(full_dir, reduced, out)
  section = md.split('## Looking into the policies\n\n')[1].split('\n\n')
  assert section[0] == ('Reports by other scripts, each on the runs of its date (the run '
                        'directories they name may be an earlier attempt\'s, now lost).')
  assert section[1].splitlines() == [
      '- [`fb_flips.md`](fb_flips.md): the offline cells\' policies in the real env and in their '
      'own imagination: flips, falls and runaway paths, and how far ahead the model sees a real '
      'failure (`launch/flip_probe.py --run_dir=a --out=fb_flips.md`)',
      '- [`fb_flips_d1_policy_model1.md`](fb_flips_d1_policy_model1.md): BREMEN\'s deployment-1 '
      'policy before the model it was trained in (fitted on the uniform-random batch) '
      '(2026-12-04: `launch/flip_probe.py --run_dir=b`)']
  assert md.index('## Offline cells') < md.index('## Looking into') < md.index('## What reproduces')


@pytest.mark.parametrize('ratio, text', [(1.5, '1.50'), (0.0, '0.00'), (-0.0012, '-0.001'),
                                         (0.004, '0.004'), (0.005, '0.01'), (-2.0, '-2.00')])
def test_a_return_near_zero_is_not_printed_as_zero_times_the_dataset(ratio, text):
  with script('full_budget') as full_budget:
    assert full_budget.ratio_text(ratio) == text


def test_the_readme_block_quotes_the_statement_and_only_when_asked(full, tmp_path):
  full_dir, reduced, out = full
  repo_readme = open(os.path.join(REPO, 'README.md')).read()
  run_script(full_dir, reduced, out)  # --out elsewhere: the repository's README is left alone
  assert open(os.path.join(REPO, 'README.md')).read() == repo_readme
  readme = tmp_path / 'README.md'
  readme.write_text('# R\n\n<!-- full-budget-verdicts:start -->\nold\n'
                    '<!-- full-budget-verdicts:end -->\nafter\n')
  with script('full_budget', f'--runs={full_dir}/*/*/seed*', f'--reduced={reduced}',
              '--variants=', f'--out={out}', f'--policies={out}_policies', '--earlier=',
              f'--readme={readme}', *PLANNED) as full_budget:
    full_budget.main([])
  md = open(f'{out}.md').read()
  statement = md.split('## What reproduces, cell by cell\n\n', 1)[1]
  assert statement.startswith('- HalfCheetah, deployments 1-3: not measured yet (BREMEN ')
  assert readme.read_text() == ('# R\n\n<!-- full-budget-verdicts:start -->\n' + statement
                                + '<!-- full-budget-verdicts:end -->\nafter\n')


def test_bad_flags_are_refused_before_anything_is_written(full, tmp_path):
  from bremen_tf.errors import ConfigError  # pylint: disable=g-import-not-at-top
  full_dir, reduced, out = full
  no_block = tmp_path / 'README.md'
  no_block.write_text('# R\n')
  common = [f'--runs={full_dir}/*/*/seed*', f'--reduced={reduced}', '--variants=', f'--out={out}',
            f'--policies={out}_policies', '--earlier=']
  for flags, message in (
      ([f'--readme={no_block}'] + PLANNED, 'has no <!-- full-budget-verdicts:start/end --> block'),
      ([f'--readme={tmp_path}/nope.md'] + PLANNED, 'nope.md: no such file'),
      (['--planned=deployment/halfcheetah_200k/seed0'], "--planned entry 'deployment/halfcheetah"
                                                        "_200k/seed0': expected <run dir"),
      (['--planned=a/seed0:gin/nope.gin'], "'a/seed0:gin/nope.gin': gin/nope.gin does not exist"),
      ([f'--reduced={tmp_path}/absent.csv'] + PLANNED, 'absent.csv does not exist')):
    with script('full_budget', *common, *flags) as full_budget:
      with pytest.raises(ConfigError, match=re.escape(message)):
        full_budget.main([])
    assert not os.path.exists(f'{out}.md') and not os.path.exists(f'{out}.png')
  assert no_block.read_text() == '# R\n'


def test_a_deployment_variant_is_labelled_and_never_stands_in_for_its_method(full, tmp_path):
  """A BREMEN deployment run with a deviation (BC on all batches) under --variants: its rows say
  so, and the verdict compares the paper's BREMEN with ME-TRPO, not the variant."""
  full_dir, reduced, out = full
  finish_two_me_trpo_deployments(full_dir)
  variants = tmp_path / 'guard'
  bindings = {**syn.DEPLOY_BASE, **syn.GIN_ENV['HalfCheetah'],
              'train_deployment.transitions_per_deployment': 200_000,
              'train_deployment.iterations_per_deployment': 3, 'train_deployment.bc_data': 'all'}
  metrics, deployments = syn.deployment_files([9000.0, 9500.0], 3, 200_000)
  syn.write_run(str(variants / 'halfcheetah_200k_all_bc' / 'seed0'), bindings, metrics,
                {'stage': 'trpo_done', 'deployment': 2}, False, 0,
                sessions=syn.FULL_SESSIONS[:1], deployments=deployments)
  md = run_script(full_dir, reduced, out, variants=f'{variants}/*/seed*')
  assert line(md, "| **BREMEN + BC on 'all' batches (deviation)** (full budget, seed 0) |")
  assert line(md, "| BREMEN + BC on 'all' batches (deviation) | 1 | 3 |")
  assert '- HalfCheetah, deployment 1: BREMEN 500 vs ME-TRPO 700: BREMEN is not higher' in md
  assert '9000 vs' not in md


def test_a_run_restored_from_its_waypoint_says_so_and_what_changed(full):
  """A run a new machine resumed from its waypoint (bremen_tf/waypoints.py) carries that in its
  progress cell: when, from where, what the restore could not keep exact."""
  full_dir, reduced, out = full
  bremen = os.path.join(full_dir, 'deployment', 'halfcheetah_200k', 'seed0')
  with open(os.path.join(bremen, 'waypoint_restores.json'), 'w') as f:
    json.dump([{'date': '2026-12-08T10:00:00+00:00', 'waypoint_date': '2026-12-07T23:50:00+00:00',
                'stage': 'trpo', 'deployment': 3, 'iteration': 170, 'fit_restarted': False,
                'dynamics_adam': 'reset to zero (a fresh Adam)',
                'batches': [{'identical': True}, {'identical': False}, {'identical': False}]}], f)
  md = run_script(full_dir, reduced, out)
  assert ('iteration 1 of 3 (outer iteration 7 of 9); restored on 2026-12-08 from its waypoint of '
          '2026-12-07 (stage trpo, deployment 3): dynamics Adam reset to zero (a fresh Adam), 1 of '
          '3 batches collected again bit-identical |') in line(
              md, '| `deployment/halfcheetah_200k/seed0` |')
  assert 'restored' not in line(md, '| `deployment/halfcheetah_200k+me_trpo/seed0` |')
