"""The deployment-efficient loop: deployment counting, data accumulation, BC on the newest batch
with accumulating statistics, warm-started dynamics, resume in the middle of a deployment."""
import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import deployment, stages
from bremen_tf.errors import ConfigError, RunDirError
from bremen_tf.data.dataset import Dataset, load_dataset
from bremen_tf.dynamics import DynamicsEnsemble
from bremen_tf.policies import GaussianPolicy
from conftest import run_here as run_launcher_here, script

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = ['--gin_file=gin/deployment/hopper_100k.gin', '--gin_file=gin/smoke/deployment.gin']


def command(root, *extra):
  return [sys.executable, os.path.join('launch', 'deployment.py'), *SMOKE,
          f'--root_dir={root}', *extra]


def read_csv(path):
  with open(path) as f:
    return list(csv.DictReader(f))


def test_deployment_run_counts_accumulates_and_resumes_mid_deployment(tmp_path, capsys):
  root = str(tmp_path / 'run')
  proc = subprocess.Popen(command(root), cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
  first = []
  for line in proc.stdout:  # kill once deployment 2's batch is saved, before its dynamics fit ends
    first.append(line)
    if line.startswith('[dynamics] fitting') and any('[deployment 2/2]' in l for l in first):
      proc.kill()
      break
  proc.wait(timeout=60)
  assert not os.path.exists(os.path.join(root, 'DONE'))
  batch2 = open(os.path.join(root, 'data', 'deployment_2.npz'), 'rb').read()

  out = subprocess.run(command(root), cwd=REPO, capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stdout + out.stderr
  assert 'Resuming' in out.stdout and 'collecting' not in out.stdout  # no batch collected twice
  # Each progress line's ETA says it covers its deployment's TRPO only (not the later fits).
  trpo_lines = [l for l in first + out.stdout.splitlines() if l.startswith('[trpo]')]
  assert [l.split(':')[0] for l in trpo_lines] == [
      f'[trpo] deployment {d}/2, iteration {it}/4' for d, it in ((1, 1), (1, 2), (2, 3), (2, 4))]
  for line, d in zip(trpo_lines, (1, 1, 2, 2)):
    assert '| ETA ' in line and line.rstrip().endswith(f"to the end of deployment {d}'s TRPO")
  assert open(os.path.join(root, 'data', 'deployment_2.npz'), 'rb').read() == batch2
  # launch/flip_probe.py on the finished run (in this process): deployment 1's exported policy
  # before the last model, with each data batch's pitch.
  capsys.readouterr()
  run_launcher_here('flip_probe', f'--run_dir={root}', f'--policy_dir={root}/policies/deployment_1',
                    '--episodes=1', '--foresight_steps=3')
  probe = capsys.readouterr().out
  assert ("; deployment 1's data batch: largest |pitch| " in probe
          and "; deployment 2's data batch: largest |pitch| " in probe)
  assert '| exported deployment_1 | real env | 1 |' in probe
  # launch/fit_errors.py: its validation MSE is the one deployment 2's fit ended with.
  run_launcher_here('fit_errors', f'--run_dir={root}', f'--out={tmp_path}/fit_errors.md')
  errors_out = capsys.readouterr().out
  fit = json.load(open(os.path.join(root, 'train_state.json')))['deployments'][-1]['dynamics_fit']
  assert (f"deployment 2's finished fit, its members stopped at epochs {fit['stop_epoch']}"
          in errors_out)
  logged = fit['final_validation_mse']
  printed = errors_out.split('validation transitions): [')[1].split(']')[0].split()
  assert [float(v) for v in printed] == pytest.approx(logged, rel=1e-3)
  report = open(tmp_path / 'fit_errors.md').read()
  size2 = len(load_dataset(os.path.join(root, 'data', 'deployment_2.npz')))
  n_train2 = stages.train_size(size2, 0.15)
  n_val2 = size2 - n_train2
  assert f'| 2 | {n_train2:,} | {n_val2:,} | [' in report  # batch 2's row of the per-batch table
  assert (tmp_path / 'fit_errors.csv').exists()

  b1, b2 = (load_dataset(os.path.join(root, 'data', f'deployment_{d}.npz'), 'bremen/Hopper-v0')
            for d in (1, 2))
  # whole episodes, at least the batch size, overshooting by less than one episode
  assert 1500 <= len(b1) < 2500 and 1500 <= len(b2) < 2500
  assert b1.terminals.any() and not (b1.timeouts & ~b1.terminals).any()  # no cut episode
  rows = read_csv(os.path.join(root, 'metrics.csv'))
  assert [int(r['iteration']) for r in rows] == [1, 2, 3, 4]
  assert [int(r['deployment']) for r in rows] == [1, 1, 2, 2]
  assert [int(r['real_transitions']) for r in rows] == [len(b1)] * 2 + [len(b1) + len(b2)] * 2
  assert rows[0]['kl_to_previous_deployment'] == 'nan'
  assert float(rows[2]['kl_to_previous_deployment']) > 0
  deployments = read_csv(os.path.join(root, 'deployments.csv'))
  assert [int(r['deployment']) for r in deployments] == [1, 2]
  assert int(deployments[1]['real_transitions']) == len(b1) + len(b2)
  assert f'[bc] cloning the newest batch ({len(b2):,} transitions)' in out.stdout
  assert f'[dynamics] fitting on {int(round(len(b1) * 0.85)) + int(round(len(b2) * 0.85)):,}' \
      in out.stdout
  for d in (1, 2):
    model = tf.saved_model.load(os.path.join(root, 'policies', f'deployment_{d}'))
    assert model.signatures['serving_default'](observations=tf.zeros([1, 11]))['actions'] \
        .shape == (1, 3)
  # BC trains on the newest batch only, but its observation statistics accumulate every batch.
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(os.path.join(root, 'checkpoints')))
  assert reader.get_tensor('bc_policy/normalizer/count/.ATTRIBUTES/VARIABLE_VALUE') \
      == len(b1) + len(b2)
  with pytest.raises(RunDirError, match='finished run'):  # in this process: no TF import
    run_launcher_here('deployment', *command(root)[2:])

  # An online SAC reference run (as launch/train_behavior.py writes it): its row holds the last
  # evaluation with at most d x 1,500 env steps.
  sac = tmp_path / 'sac' / 'hopper' / 'seed0'
  sac.mkdir(parents=True)
  (sac / 'config.gin').write_text("train_behavior_policy.env_id = 'bremen/Hopper-v0'\n")
  (sac / 'metrics.csv').write_text('step,env_steps,eval_return_mean\n0,1000,11.0\n'
                                   '500,1500,22.0\n1000,2000,33.0\n2000,3000,44.0\n')
  # The same run at another imagined batch size is a row of its own, not a second seed.
  other = tmp_path / 'run_other_budget'
  shutil.copytree(root, other)
  config = (other / 'config.gin').read_text()
  (other / 'config.gin').write_text(config.replace('ImaginedTRPO.batch_size = 1000',
                                                   'ImaginedTRPO.batch_size = 500'))
  out = str(tmp_path / 'results' / 'deployment')
  with script('deployment_tables', f'--runs={root}*', f'--sac_runs={tmp_path}/sac/*/seed*',
              f'--out={out}') as tables:
    tables.main([])  # in this process: the test checks what it writes
  returns = [float(r['eval_return_mean']) for r in deployments]
  md = open(out + '.md').read()
  assert '## Hopper, 1,500 transitions per deployment' in md
  d = 0 if max(abs(r) for r in returns) >= 100 else 1  # small returns keep a decimal
  for batch in ('1,000', '500'):
    assert (f'| BREMEN | 1 | 0 | 4 TRPO updates (2 x 2) on {batch}-step imagined batches, '
            f'dynamics <= 3 epochs, BC 200 steps | '
            f'{returns[0]:.{d}f} ± {0:.{d}f} | {returns[1]:.{d}f} ± {0:.{d}f} |') in md
  assert '| online SAC at 1,500 x d env steps | 1 | 1 | ' in md  # unfinished, past 2 x 1,500
  assert f'| {22:.{d}f} ± {0:.{d}f} | {44:.{d}f} ± {0:.{d}f} |' in md
  table_rows = read_csv(out + '.csv')
  assert {r['budget'].split(' on ')[1].split('-')[0] for r in table_rows} == {'1,000', '500'}
  assert all(r['seeds'] == '1' for r in table_rows)
  assert os.path.getsize(out + '.png') > 1000 and os.path.exists(out + '_kl.png')
  assert os.path.getsize(out + '_iterations.png') > 1000
  assert '(deployment_iterations.png)' in md
  # The batches' returns: deployment d's batch, collected by deployment d - 1's policy.
  data = [float(r['data_return_mean']) for r in deployments]
  assert (f'| BREMEN | 4 TRPO updates | {data[0]:.{d}f} ± {0:.{d}f} | '
          f'{data[1]:.{d}f} ± {0:.{d}f} |') in md
  assert [float(r['data_return_mean']) for r in table_rows[:2]] == pytest.approx(data)


def test_split_batches_splits_each_batch_then_concatenates():
  def batch(start, n):
    obs = np.arange(start, start + n, dtype=np.float32)[:, None]
    return Dataset(obs, np.zeros((n, 1), np.float32), np.zeros(n, np.float32), obs + 0.5,
                   np.zeros(n, bool), np.zeros(n, bool))
  train, validation = stages.split_batches([batch(0, 20), batch(100, 40)], 0.15)
  np.testing.assert_array_equal(train[0][:, 0], np.r_[0:17, 100:134])
  np.testing.assert_array_equal(validation[0][:, 0], np.r_[17:20, 134:140])
  np.testing.assert_array_equal(train[2][:, 0], np.r_[0:17, 100:134] + 0.5)


def test_reinitialize_restores_the_initial_weights_but_keeps_the_statistics():
  policy = GaussianPolicy(4, 2)
  initial = [v.numpy() for v in policy.trainable_variables]
  policy.normalizer.update(np.ones((10, 4), np.float32))
  for v in policy.trainable_variables:
    v.assign_add(tf.ones_like(v))
  deployment.reinitialize(policy)
  for v, w in zip(policy.trainable_variables, initial):
    np.testing.assert_array_equal(v.numpy(), w)
  assert float(policy.normalizer.count) == 10


def test_a_second_fit_warm_starts_from_the_first():
  rng = np.random.default_rng(0)
  obs, act = rng.standard_normal((400, 3)).astype(np.float32), rng.standard_normal((400, 1))
  data = (obs, act.astype(np.float32), obs + 0.1 * np.tanh(act).astype(np.float32))
  model = DynamicsEnsemble(3, 1, seed=0, n_models=2, hidden=(16,), batch_size=50, max_epochs=40)
  first = model.fit(data, data)
  second = model.fit(data, data, max_epochs=1)
  # The second fit's epoch-0 validation error is where the first ended, not a fresh model's.
  np.testing.assert_allclose(second['best_validation_mse'], first['final_validation_mse'],
                             rtol=1e-5)
  fresh = DynamicsEnsemble(3, 1, seed=0, n_models=2, hidden=(16,), batch_size=50)
  assert np.all(np.array(fresh.fit(data, data, max_epochs=1)['best_validation_mse'])
                > 1.5 * np.array(first['final_validation_mse']))


def run_here(capsys, root, *extra):
  """launch/deployment.py in this process (the test checks what the run writes and prints);
  returns its stdout."""
  capsys.readouterr()
  run_launcher_here('deployment', *command(root, *extra)[2:])
  return capsys.readouterr().out


def test_recursive_bcq_trains_on_the_growing_data_across_deployments(tmp_path, capsys):
  root = str(tmp_path / 'bcq')
  stdout = run_here(capsys, root, '--gin_file=gin/deployment/bcq.gin')
  assert 'collecting 1,500 transitions with uniform-random actions' in stdout
  assert 'with the deployment-1 policy + N(0, 0.1²)' in stdout
  b1, b2 = (load_dataset(os.path.join(root, 'data', f'deployment_{d}.npz')) for d in (1, 2))
  rows = read_csv(os.path.join(root, 'metrics.csv'))
  # Training continues across deployments: 100 steps each, an evaluation every 50.
  assert [int(r['step']) for r in rows] == [50, 100, 150, 200]
  assert [int(r['deployment']) for r in rows] == [1, 1, 2, 2]
  assert [int(r['real_transitions']) for r in rows] == [len(b1)] * 2 + [len(b1) + len(b2)] * 2
  assert [int(r['deployment']) for r in read_csv(os.path.join(root, 'deployments.csv'))] \
      == [1, 2]
  for d in (1, 2):
    assert os.path.exists(os.path.join(root, 'policies', f'deployment_{d}', 'saved_model.pb'))


def test_alpha_ablation_clones_behavior_but_starts_random(tmp_path, capsys, monkeypatch):
  """π̂_β is cloned at every deployment (the explicit penalty's reference), but π_θ is never
  copied from it: it starts random and goes on from the previous deployment's policy."""
  copies, copy_from = [], GaussianPolicy.copy_from
  monkeypatch.setattr(GaussianPolicy, 'copy_from', lambda self, other: (
      copies.append((self.name, other.name)), copy_from(self, other))[1])
  root = str(tmp_path / 'alpha')
  stdout = run_here(capsys, root, '--gin_file=gin/deployment/ablation/alpha_0.1.gin')
  assert stdout.count('[bc] cloning the newest batch') == 2  # π̂_β for the penalty
  assert stdout.count('| KL to BC ') == stdout.count('[trpo] deployment') > 0
  assert ('policy', 'bc_policy') not in copies and copies, copies
  rows = read_csv(os.path.join(root, 'metrics.csv'))
  assert [int(r['deployment']) for r in rows][-1] == 2
  assert float(rows[-1]['kl_to_previous_deployment']) > 0  # π_θ moved on from deployment 1's


def test_launcher_errors_are_clear(tmp_path):
  none = subprocess.run([sys.executable, 'launch/deployment.py'], cwd=REPO, capture_output=True,
                        text=True, timeout=120)
  assert none.returncode == 2 and 'give at least one --gin_file' in none.stderr
  bad = subprocess.run(command(str(tmp_path / 'bad'),
                               "--gin_bindings=train_deployment.bc_data='some'"),
                       cwd=REPO, capture_output=True, text=True, timeout=120)
  assert bad.returncode == 2 and "bc_data: expected one of 'newest', 'all'" in bad.stderr
  assert not os.path.exists(tmp_path / 'bad')


def test_runs_that_collected_the_same_batches_share_the_fit_exactly(tmp_path, capsys, monkeypatch):
  """BREMEN and ME-TRPO collect the same deployment-1 batch (uniform-random actions, same seed),
  so their deployment-1 fits are one computation: with a cache (a binding, or the environment
  variable) the second run reuses the first's and is exactly the run it is without one.
  Deployment 2's batches differ, so each run fits its own."""
  cache = str(tmp_path / 'cache')
  run_here(capsys, str(tmp_path / 'bremen'),
           f"--gin_bindings=train_deployment.dynamics_cache_dir='{cache}'")
  assert len(os.listdir(cache)) == 2  # deployments 1 and 2
  # launch/flip_probe.py on a run in the middle of a fit (as a copy made to look like one): it
  # refuses without a model and takes a cached fit with one, the policy from the run's export.
  mid_fit = tmp_path / 'bremen_mid_fit'
  shutil.copytree(tmp_path / 'bremen', mid_fit)
  state = json.loads((mid_fit / 'train_state.json').read_text())
  (mid_fit / 'train_state.json').write_text(json.dumps(dict(state, stage='dynamics_fit')))
  entry = next(os.path.join(cache, e) for e in os.listdir(cache) if '_deployment1-' in e)
  probe = [f'--run_dir={mid_fit}', f'--policy_dir={mid_fit}/policies/deployment_1',
           '--episodes=1', '--batches=1', '--foresight_steps=3']
  with pytest.raises(RunDirError, match=r"has no fitted model yet \(stage 'dynamics_fit'\)"):
    run_launcher_here('flip_probe', *probe)
  capsys.readouterr()
  run_launcher_here('flip_probe', *probe, f'--dynamics_entry={entry}')
  probed = capsys.readouterr().out
  assert f"the model: the cached fit `{entry}`, not the run's" in probed
  assert '| exported deployment_1 | real env | 1 |' in probed
  # ME-TRPO began its own deployment-1 fit before the cache had it (as the full-budget run did),
  # then resumes with the cache: it takes the cached fit instead of finishing its own.
  me_trpo_args = ['--gin_file=gin/deployment/me_trpo.gin',
                  '--gin_bindings=DynamicsEnsemble.checkpoint_seconds=0']  # every epoch
  proc = subprocess.Popen(command(str(tmp_path / 'me_trpo_cached'), *me_trpo_args), cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  for out_line in proc.stdout:
    if out_line.startswith('[dynamics] checkpointed the fit at epoch 1'):
      proc.kill()
      break
  assert proc.wait(timeout=300) == -9
  with pytest.raises(ConfigError, match='has trained no policy yet'):  # killed in deployment 1's
    run_launcher_here('flip_probe', f'--run_dir={tmp_path}/me_trpo_cached',  # fit: none to probe
                      f'--dynamics_entry={entry}')
  monkeypatch.setenv('BREMEN_TF_DYNAMICS_CACHE_DIR', cache)
  cached = run_here(capsys, str(tmp_path / 'me_trpo_cached'), *me_trpo_args)
  assert cached.count('[dynamics] reusing the fit cached in') == 1 and 'resuming the dyn' not in cached
  assert cached.count('[dynamics] fitting') == 1  # deployment 2
  assert len(os.listdir(cache)) == 3
  monkeypatch.delenv('BREMEN_TF_DYNAMICS_CACHE_DIR')
  alone = run_here(capsys, str(tmp_path / 'me_trpo'), *me_trpo_args)
  assert 'reusing' not in alone and len(os.listdir(cache)) == 3
  assert '[trpo] deployment' in alone and 'KL to BC' not in alone  # no BC policy, no NaN shown
  timing = lambda key: 'seconds' in key or key.endswith('_per_s')
  rows = {name: [{k: v for k, v in r.items() if not timing(k)}
                 for r in read_csv(os.path.join(tmp_path, name, 'metrics.csv'))]
          for name in ('me_trpo_cached', 'me_trpo')}
  assert len(rows['me_trpo']) == 4 and rows['me_trpo_cached'] == rows['me_trpo']
  with open(os.path.join(tmp_path, 'me_trpo_cached', 'train_state.json')) as f:
    fit_1 = json.load(f)['deployments'][0]['dynamics_fit']
  assert fit_1['cached_from'].startswith(cache)  # the run records where its fit came from
