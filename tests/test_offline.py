"""launch/offline.py end to end on the smoke settings: artefacts, resume, refusals, export."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import export, runs, stages
from bremen_tf.errors import ConfigError
from bremen_tf.policies import GaussianPolicy
from conftest import run_here, script

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = ['--gin_file=gin/hopper_100k.gin', '--gin_file=gin/smoke/offline.gin']


@pytest.fixture
def data_dir(hopper_3k_data_dir):
  return hopper_3k_data_dir  # the smoke dataset, collected once per test process (conftest)


def command(root, data_dir, *extra):
  return [sys.executable, os.path.join('launch', 'offline.py'), *SMOKE, f'--root_dir={root}',
          f'--gin_bindings=train_offline.data_dir="{data_dir}"', *extra]


def launch(root, data_dir, *extra):
  return subprocess.run(command(root, data_dir, *extra), cwd=REPO, capture_output=True,
                        text=True, timeout=300)


def metrics(root):
  with open(os.path.join(root, 'metrics.csv')) as f:
    return list(csv.DictReader(f))


def test_offline_run_writes_every_artefact_and_refuses_to_clobber(tmp_path, data_dir, capsys):
  root = str(tmp_path / 'run')
  out = launch(root, data_dir)
  assert out.returncode == 0, out.stdout + out.stderr
  for name in ('metrics.csv', 'config.gin', 'operative_config.gin', 'provenance.json', 'DONE',
               'summary.json', 'train_state.json', 'policy/saved_model.pb',
               'policy/bremen_policy.json'):
    assert os.path.exists(os.path.join(root, name)), name
  assert os.listdir(os.path.join(root, 'tensorboard'))
  assert any(f.endswith('.index') for f in os.listdir(os.path.join(root, 'checkpoints')))
  rows = metrics(root)
  assert [int(r['iteration']) for r in rows] == [0, 1, 2]  # BC policy, then 2 iterations
  assert all(np.isfinite(float(r['eval_return_mean'])) for r in rows)
  assert int(rows[-1]['trpo_updates']) == 4
  session = json.load(open(os.path.join(root, 'provenance.json')))['sessions'][0]
  assert session['git_revision'] and session['seed'] == 0 and 'tensorflow' in session['packages']
  assert 'offline.py' in session['command']
  assert 'ImaginedTRPO.target_kl = 0.05' in open(os.path.join(root, 'operative_config.gin')).read()
  for stage in ('[dynamics]', '[bc]', '[eval] iteration 0', '[trpo] iteration 2/2', 'ETA'):
    assert stage in out.stdout

  # The launches below run in this process (conftest.run_here): they check what a run writes and
  # prints, not its process, and skip a TensorFlow import each.
  with pytest.raises(runs.RunDirError, match='finished run'):
    run_here('offline', *command(root, data_dir)[2:])
  assert len(metrics(root)) == 3

  # Runaway imagined paths per ensemble member, from the run's checkpoint (read only). The tools
  # that read a run run in this process (conftest.run_here): no TensorFlow import per call.
  capsys.readouterr()
  run_here('imagination_probe', f'--run_dir={root}')
  probe = capsys.readouterr().out
  rows = [line.split(' | ') for line in probe.splitlines() if line.startswith('| π') or
          line.startswith('| BC')]
  assert [r[1] for r in rows] == ['random', '0', '1', '2', '3', '4'] * 2  # the 5 members
  assert {r[0] for r in rows} == {'| BC policy π̂_β', '| π_θ at iteration 2'}
  assert all(0.0 <= float(r[3].rstrip('%')) <= 100.0 for r in rows)
  assert len(metrics(root)) == 3 and not os.path.exists(os.path.join(root, 'probe'))
  # Real and imagined flips and early ends of the same policies (read only, a file on request).
  out = str(tmp_path / 'flips.md')
  run_here('flip_probe', f'--run_dir={root}', '--episodes=2', '--foresight_steps=5,20',
           f'--out={out}')
  text, foresight = open(out).read().split('Does the model see a real failure coming?')
  text, posture = text.split('Where the torso is')
  rows = [l.split(' | ') for l in text.splitlines() if l.startswith(('| π', '| BC'))]
  # Posture: real and imagined per policy; the torso height of a Hopper run is a positive number.
  held = [l.split(' | ') for l in posture.splitlines() if l.startswith(('| π', '| BC'))]
  assert [r[1] for r in held] == ['real env', 'imagined'] * 2
  assert all(float(r[2]) > 0 and float(r[3]) >= 0 for r in held)
  # Foresight: a row per policy and k; shares are percentages, or '—' where no start qualifies.
  ahead = [l.split(' | ') for l in foresight.splitlines() if l.startswith(('| π', '| BC'))]
  assert [(r[0], r[1]) for r in ahead] == [('| BC policy π̂_β', '5'), ('| BC policy π̂_β', '20'),
                                           ('| π_θ at iteration 2', '5'),
                                           ('| π_θ at iteration 2', '20')]
  for r in ahead:
    assert int(r[2]) >= 0 and int(r[4]) >= 0
    assert all(s == '—' or 0 <= float(s.rstrip('%')) <= 100 for s in (r[3], r[5].rstrip(' |')))
  assert [(r[0], r[1]) for r in rows] == [
      ('| BC policy π̂_β', 'real env'), ('| BC policy π̂_β', 'imagined (what TRPO trains on)'),
      ('| π_θ at iteration 2', 'real env'), ('| π_θ at iteration 2', 'imagined (what TRPO trains on)')]
  assert [r[2] for r in rows[::2]] == ['2', '2'] and all(int(r[2]) > 0 for r in rows[1::2])
  assert all(0.0 <= float(r[5].rstrip('%')) <= 100.0 for r in rows)  # ended early
  assert all(0.0 <= float(r[3].rstrip('%')) <= 100.0 for r in rows[1::2])  # ran away
  assert '- git revision: `' in open(out).read() and len(metrics(root)) == 3
  assert 'the pitch of the data the model was fitted on: ' in open(out).read()
  assert 'its largest |pitch| ' in open(out).read()  # read from the run's dataset file
  bad = subprocess.run([sys.executable, 'launch/imagination_probe.py', f'--run_dir={tmp_path}'],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
  assert bad.returncode == 2 and 'has no config.gin: not a run directory' in bad.stderr

  # Its fit, cached for another run on the same data and seed: that run skips the fit and, with
  # nothing else changed, evaluates exactly as this one did.
  cache = str(tmp_path / 'cache')
  capsys.readouterr()
  run_here('cache_dynamics_fit', f'--run_dir={root}', f'--cache_dir={cache}')
  assert 'cached the fit of' in capsys.readouterr().out
  run_here('offline', *command(str(tmp_path / 'reuse'), data_dir,
                               f'--gin_bindings=train_offline.dynamics_cache_dir="{cache}"')[2:])
  reuse = capsys.readouterr().out
  assert 'reusing the fit cached' in reuse and '[dynamics] fitting' not in reuse
  assert ([r['eval_return_mean'] for r in metrics(str(tmp_path / 'reuse'))] ==
          [r['eval_return_mean'] for r in metrics(root)])
  # The probe with another policy and another model: the run's exported policy, the cached fit.
  (entry,) = os.listdir(cache)
  capsys.readouterr()
  run_here('flip_probe', f'--run_dir={root}', f'--policy_dir={root}/policy',
           f'--dynamics_entry={cache}/{entry}', '--episodes=1', '--foresight_steps=5')
  crossed = capsys.readouterr().out
  assert '| exported policy | real env | 1 |' in crossed
  assert f'the model: the cached fit `{cache}/{entry}`' in crossed
  # TRPO in the run's model from its exported policy: the run's own final policy, evaluated on
  # the run's evaluation seeds of iteration 2 (10,000 x (seed + 1) + 100 x it), returns exactly
  # what the run recorded; then an iteration of the run's 2 updates; the run is not written.
  checkpoints = sorted(os.listdir(os.path.join(root, 'checkpoints')))
  capsys.readouterr()
  run_here('trpo_from_policy', f'--run_dir={root}', f'--policy_dir={root}/policy',
           '--iterations=1', '--seed=10200', f'--out={tmp_path}/from_policy.md')
  assert '[trpo] iteration 1/1: real return ' in capsys.readouterr().out
  with open(tmp_path / 'from_policy.csv') as f:
    continued = list(csv.DictReader(f))
  assert [int(r['iteration']) for r in continued] == [0, 1]
  assert [int(r['trpo_updates']) for r in continued] == [0, 2]
  assert float(continued[0]['eval_return_mean']) == float(metrics(root)[-1]['eval_return_mean'])
  assert continued[0]['imagined_return_mean'] == '' and continued[1]['imagined_return_mean']
  assert 'π_θ replaced by' in open(tmp_path / 'from_policy.md').read()
  assert len(metrics(root)) == 3
  assert sorted(os.listdir(os.path.join(root, 'checkpoints'))) == checkpoints
  with pytest.raises(ConfigError, match='has no bremen_policy.json: not an exported policy'):
    run_here('trpo_from_policy', f'--run_dir={root}', f'--policy_dir={tmp_path}')
  for flag, message in ((f'--policy_dir={tmp_path}', 'has no bremen_policy.json'),
                        (f'--dynamics_entry={root}', 'not a dynamics cache entry')):
    bad = subprocess.run([sys.executable, 'launch/flip_probe.py', f'--run_dir={root}', flag],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and message in bad.stderr, bad.stderr
  bad = subprocess.run([sys.executable, 'launch/cache_dynamics_fit.py', f'--run_dir={tmp_path}',
                        f'--cache_dir={cache}'], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
  assert bad.returncode == 2 and 'has no config.gin' in bad.stderr

  with script('plot_offline', f'--runs={root}', f'--out={tmp_path}/curves') as plot:
    plot.main([])  # in this process: the test checks what it writes
  assert os.path.getsize(tmp_path / 'curves.png') > 1000

  # An opt-in bfloat16 fit is another fit: the float32 one in the cache is not reused, and the
  # run is marked as a deviation.
  capsys.readouterr()
  run_here('offline', *command(str(tmp_path / 'bf16'), data_dir,
                               f'--gin_bindings=train_offline.dynamics_cache_dir="{cache}"',
                               "--gin_bindings=DynamicsEnsemble.fit_matmul_dtype='bfloat16'")[2:])
  bf16 = capsys.readouterr().out
  assert '[dynamics] fitting' in bf16 and 'reusing the fit' not in bf16
  with open(tmp_path / 'bf16' / 'run.json') as f:
    assert json.load(f)['description']['deviations'] == ['dynamics fit in bfloat16']
  assert len(os.listdir(cache)) == 2
  assert '| bremen/Hopper-v0 pure 3k | 2 of 2 | yes |' in open(tmp_path / 'curves.md').read()


# Interrupted runs (SIGKILL at several instants, SIGTERM, refused resumes): test_kill_anywhere.py


def test_me_trpo_skips_bc_and_bad_settings_fail_clearly(tmp_path, data_dir, capsys):
  capsys.readouterr()
  run_here('offline', *command(str(tmp_path / 'me'), data_dir, '--gin_file=gin/algos/me_trpo.gin',
                               '--gin_bindings=train_offline.outer_iterations=1',
                               '--gin_bindings=train_offline.eval_model=True')[2:])
  stdout = capsys.readouterr().out  # the run in this process: the test checks what it writes
  assert '[bc]' not in stdout and 'random init' in stdout
  row = metrics(str(tmp_path / 'me'))[-1]  # §11 diagnostics on the evaluation episodes
  for key in ('model_step_mse', 'model_traj_mse', 'model_energy_distance'):
    assert np.isfinite(float(row[key])) and float(row[key]) > 0  # a fitted model still errs
  bad = launch(str(tmp_path / 'bad'), data_dir, "--gin_bindings=train_offline.policy_init='x'")
  assert bad.returncode == 2 and "policy_init: expected one of 'bc'" in bad.stderr
  assert not os.path.exists(tmp_path / 'bad')  # refused before the run directory was made
  missing = launch(str(tmp_path / 'missing'), data_dir, '--gin_file=gin/nope.gin')
  assert missing.returncode == 2 and 'gin/nope.gin does not exist' in missing.stderr


def test_a_second_process_cannot_open_a_busy_run(tmp_path):
  first = runs.RunDir(str(tmp_path))
  code = f'from bremen_tf import runs; runs.RunDir({str(tmp_path)!r})'
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
  assert out.returncode != 0 and 'in use by another process' in out.stderr
  del first


def trained_looking_policy():
  policy = GaussianPolicy(11, 3)
  rng = np.random.default_rng(0)
  policy.normalizer.update(rng.normal(3.0, 2.0, size=(100, 11)).astype(np.float32))
  for v in policy.trainable_variables:
    v.assign(v + rng.normal(scale=0.1, size=v.shape).astype(np.float32))
  return policy


def test_exported_policy_runs_without_bremen_tf(tmp_path):
  policy = trained_looking_policy()
  path = export.export_policy(policy, str(tmp_path / 'policy'), {'env_id': 'bremen/Hopper-v0'})
  obs = np.random.default_rng(1).normal(3.0, 2.0, size=(7, 11)).astype(np.float32)
  np.save(tmp_path / 'obs.npy', obs)
  script = f'''
import sys
sys.modules['bremen_tf'] = None  # any import of the package now fails
try:
  import bremen_tf
  raise SystemExit('bremen_tf was importable')
except ImportError:
  pass
import numpy as np, tensorflow as tf
m = tf.saved_model.load({path!r})
obs = np.load({str(tmp_path / 'obs.npy')!r})
out = m.signatures['serving_default'](observations=tf.constant(obs))
np.save({str(tmp_path / 'actions.npy')!r}, out['actions'].numpy())
s = m.signatures['sample'](observations=tf.constant(obs))
assert s['actions'].shape == (7, 3) and s['log_std'].shape == (7, 3)
'''
  subprocess.run([sys.executable, '-c', script], check=True, cwd=str(tmp_path),
                 env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})
  expected = policy.mean_log_std(tf.constant(obs))[0].numpy()
  np.testing.assert_allclose(np.load(tmp_path / 'actions.npy'), expected, rtol=1e-5, atol=1e-6)
  act, meta = export.load_policy(path)
  np.testing.assert_allclose(act(obs), expected, rtol=1e-5, atol=1e-6)
  assert meta['env_id'] == 'bremen/Hopper-v0' and meta['obs_dim'] == 11


def test_export_replaces_a_previous_export_and_load_rejects_other_dirs(tmp_path):
  policy = trained_looking_policy()
  path = str(tmp_path / 'policy')
  export.export_policy(GaussianPolicy(11, 3), path)
  export.export_policy(policy, path)
  obs = np.ones((2, 11), np.float32)
  np.testing.assert_allclose(export.load_policy(path)[0](obs),
                             policy.mean_log_std(tf.constant(obs))[0].numpy(), rtol=1e-5)
  assert not os.path.exists(path + '.tmp')
  with pytest.raises(FileNotFoundError, match='not an exported policy'):
    export.load_policy(str(tmp_path))


def test_sequential_split_and_reset_bank():
  from bremen_tf.data.dataset import Dataset
  n = 20
  d = Dataset(*(np.arange(n * k, dtype=np.float32).reshape(n, k) for k in (2, 1)),
              rewards=np.zeros(n, np.float32), next_observations=np.zeros((n, 2), np.float32),
              terminals=np.zeros(n, bool), timeouts=np.zeros(n, bool))
  train, val = stages.split_sequential(d, 0.15)
  assert len(train[0]) == 17 and len(val[0]) == 3
  np.testing.assert_array_equal(val[0], d.observations[17:])  # the last 15%, unshuffled
  bank = stages.reset_observations('bremen/Hopper-v0', 50, seed=0)
  assert bank.shape == (50, 11) and len(np.unique(bank[:, 0])) == 50
  assert np.all(np.abs(bank[:, 0] - 1.25) <= 0.005 + 1e-6)  # z = init 1.25 ± U(0.005)
