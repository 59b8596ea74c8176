"""Model-free baselines through launch/offline.py, the sweep and the tables: artefacts, export,
resume, skipping finished runs, generated tables."""
import csv
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import dynamics_cache
from bremen_tf.dynamics import DynamicsEnsemble
from bremen_tf.errors import RunDirError
from conftest import run_here, script

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = ['--gin_file=gin/hopper_100k.gin', '--gin_file=gin/smoke/model_free.gin']


def launch(root, data_dir, algo, *extra, popen=False):
  cmd = [sys.executable, os.path.join('launch', 'offline.py'), SMOKE[0],
         f'--gin_file=gin/algos/{algo}.gin', SMOKE[1], f'--root_dir={root}',
         f'--gin_bindings=train_offline.data_dir="{data_dir}"', *extra]
  if popen:
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
  return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


def metrics(root):
  with open(os.path.join(root, 'metrics.csv')) as f:
    return list(csv.DictReader(f))


def test_brac_run_writes_metrics_for_both_test_policies_and_exports_them(tmp_path,
                                                                       hopper_3k_data_dir):
  root = str(tmp_path / 'brac')
  out = launch(root, hopper_3k_data_dir, 'brac')
  assert out.returncode == 0, out.stdout + out.stderr
  assert '[behavior] cloning' in out.stdout and 'max_q:' in out.stdout
  rows = metrics(root)
  assert [int(r['step']) for r in rows] == [0, 100, 200]
  for key in ('eval_return_mean', 'eval_max_q_return_mean', 'q_loss', 'divergence'):
    assert np.isfinite(float(rows[-1][key]))
  summary = json.load(open(os.path.join(root, 'summary.json')))
  assert summary['final_eval_max_q_return_mean'] == float(rows[-1]['eval_max_q_return_mean'])
  for name in ('DONE', 'config.gin', 'operative_config.gin', 'provenance.json'):
    assert os.path.exists(os.path.join(root, name))
  assert "train_offline.algorithm = 'brac'" in open(os.path.join(root, 'config.gin')).read()
  model = tf.saved_model.load(os.path.join(root, 'policy'))
  obs = tf.random.normal([7, 11])
  for name in ('serving_default', 'main', 'max_q'):
    actions = model.signatures[name](observations=obs)['actions'].numpy()
    assert actions.shape == (7, 3) and np.all(np.abs(actions) <= 1.0)
  meta = json.load(open(os.path.join(root, 'policy', 'bremen_policy.json')))
  assert meta['algorithm'] == 'brac' and meta['obs_dim'] == 11
  with pytest.raises(RunDirError, match='finished run'):  # in this process: no TF import
    run_here('offline', SMOKE[0], '--gin_file=gin/algos/brac.gin', SMOKE[1], f'--root_dir={root}',
             f'--gin_bindings=train_offline.data_dir="{hopper_3k_data_dir}"')

  out = str(tmp_path / 'plot')
  with script('plot_model_free', f'--runs={root}', f'--out={out}') as plot:
    plot.main([])  # in this process: the test checks what it writes
  md = open(out + '.md').read()
  assert '| step | eval_return_mean | eval_max_q_return_mean | q_mean | divergence | q_loss |' in md
  assert f'| 200 | {float(rows[-1]["eval_return_mean"]):.4g} |' in md
  assert os.path.getsize(out + '.png') > 1000


def test_interrupted_bcq_run_resumes_from_its_last_evaluation(tmp_path, hopper_3k_data_dir):
  root, data = str(tmp_path / 'bcq'), hopper_3k_data_dir
  proc = launch(root, data, 'bcq', popen=True)
  for line in proc.stdout:  # kill right after the step-100 evaluation (checkpointed with it)
    if line.startswith('[bcq]   losses'):
      proc.kill()
      break
  proc.wait(timeout=60)
  assert [int(r['step']) for r in metrics(root)] == [0, 100]
  out = launch(root, data, 'bcq')
  assert out.returncode == 0, out.stdout + out.stderr
  assert 'Resuming' in out.stdout and 'step 100/200' not in out.stdout
  assert [int(r['step']) for r in metrics(root)] == [0, 100, 200]
  model = tf.saved_model.load(os.path.join(root, 'policy'))
  assert model.signatures['serving_default'](observations=tf.zeros([2, 11]))['actions'].shape \
      == (2, 3)


def test_sweep_runs_skips_finished_runs_and_tables_summarise_them(tmp_path, hopper_3k_data_dir):
  runs_dir, data = str(tmp_path / 'runs' / 'offline'), hopper_3k_data_dir
  sweep = [sys.executable, 'launch/sweep.py', '--gin_files=gin/hopper_100k.gin',
           '--algos=bc,brac', '--seeds=0,1', '--extra_gin=gin/smoke/model_free.gin',
           f'--runs_dir={runs_dir}', f'--gin_bindings=train_offline.data_dir="{data}"',
           '--max_concurrent=2', '--status_every=5']
  out = subprocess.run(sweep, cwd=REPO, capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stdout + out.stderr
  names = ['hopper_100k+algos-bc+smoke-model_free', 'hopper_100k+algos-brac+smoke-model_free']
  for name in names:
    for seed in (0, 1):
      assert os.path.exists(os.path.join(runs_dir, name, f'seed{seed}', 'DONE'))
      assert f'] done {name}/seed{seed} in ' in out.stdout
  assert os.path.exists(tmp_path / 'runs' / 'sweep_logs' / f'{names[0]}_seed0.log')
  again = subprocess.run(sweep, cwd=REPO, capture_output=True, text=True, timeout=120)
  assert again.returncode == 0 and '4 runs in' in again.stdout
  assert '4 finished already, 0 to run' in again.stdout and 'Ray:' not in again.stdout

  with script('tables', f'--runs={runs_dir}/*/seed*', f'--out_dir={tmp_path / "results"}') \
      as tables:
    tables.main([])  # in this process: the test checks what it writes
  md = open(tmp_path / 'results' / 'offline_3k.md').read()
  for method in ('| BC |', '| BRAC |', '| BRAC (max Q) |'):
    assert method in md
  # The budget (200 steps) in k units; a measured speed may read '200 gradient steps/s'.
  assert '(n=2)' in md and '0k gradient steps' in md
  assert not re.search(r'\b200 gradient steps(?!/s)', md)
  with open(tmp_path / 'results' / 'offline_3k.csv') as f:
    rows = {r['method']: r for r in csv.DictReader(f)}
  finals = [float(metrics(os.path.join(runs_dir, names[0], f'seed{s}'))[-1]['eval_return_mean'])
            for s in (0, 1)]
  assert float(rows['bc']['mean']) == np.mean(finals) and rows['bc']['seeds'] == '2'
  assert os.path.getsize(tmp_path / 'results' / 'offline_3k_curves.png') > 1000
  with open(tmp_path / 'results' / 'offline_3k_curves.csv') as f:
    curves = list(csv.DictReader(f))
  for method, name in (('bc', names[0]), ('brac', names[1])):  # each method its own runs' mean
    ours = [float(r['return_mean']) for r in curves if r['method'] == method]
    runs_rows = [metrics(os.path.join(runs_dir, name, f'seed{s}')) for s in (0, 1)]
    expected = [np.mean([float(rows[i]['eval_return_mean']) for rows in runs_rows])
                for i in range(len(runs_rows[0]))]
    np.testing.assert_allclose(ours, expected)


def test_dynamics_cache_round_trip_and_key(tmp_path):
  rng = np.random.default_rng(0)
  obs, act = rng.standard_normal((300, 3)).astype(np.float32), rng.standard_normal((300, 1))
  data = (obs, act.astype(np.float32), obs + 0.1 * act.astype(np.float32))
  model = DynamicsEnsemble(3, 1, seed=0, n_models=2, hidden=(8,), batch_size=50, max_epochs=2)
  fit = model.fit(data, data)
  name, key = dynamics_cache.dynamics_cache_key('e/X-v0', 'pure', '3k', 300, 0.15, 0, model)
  cache = str(tmp_path / 'cache')
  dynamics_cache.save_cached_dynamics(cache, name, key, model, fit)
  fresh = DynamicsEnsemble(3, 1, seed=1, n_models=2, hidden=(8,), batch_size=50, max_epochs=2)
  assert dynamics_cache.load_cached_dynamics(cache, 'missing', fresh) is None
  info = dynamics_cache.load_cached_dynamics(cache, name, fresh)
  assert info['stop_epoch'] == fit['stop_epoch']
  np.testing.assert_allclose(fresh.predict_all(obs[:5], data[1][:5]),
                             model.predict_all(obs[:5], data[1][:5]))
  longer = DynamicsEnsemble(3, 1, seed=0, n_models=2, hidden=(8,), batch_size=50, max_epochs=3)
  assert dynamics_cache.dynamics_cache_key('e/X-v0', 'pure', '3k', 300, 0.15, 0, longer)[0] != name
  assert dynamics_cache.dynamics_cache_key('e/X-v0', 'pure', '3k', 300, 0.15, 1, model)[0] != name
  # A bfloat16 fit is another fit; float32 keys have no such field (older entries still match).
  assert 'fit_matmul_dtype' not in key
  bf16 = DynamicsEnsemble(3, 1, seed=0, n_models=2, hidden=(8,), batch_size=50, max_epochs=2,
                          fit_matmul_dtype='bfloat16')
  bf16_name, bf16_key = dynamics_cache.dynamics_cache_key('e/X-v0', 'pure', '3k', 300, 0.15, 0,
                                                          bf16)
  assert bf16_name != name and bf16_key == {**key, 'fit_matmul_dtype': 'bfloat16'}


def test_the_cache_key_names_the_data_by_its_content():
  """Two datasets under the same bindings (e.g. another subset rule or behaviour policy, or a
  regenerated file) never share a fit; the same transitions always do."""
  from bremen_tf import experiments  # pylint: disable=g-import-not-at-top
  from bremen_tf.data.dataset import Dataset  # pylint: disable=g-import-not-at-top

  def dataset(seed):
    rng = np.random.default_rng(seed)
    obs = rng.standard_normal((50, 3)).astype(np.float32)
    return Dataset(observations=obs, actions=np.zeros((50, 1), np.float32),
                   rewards=np.zeros(50, np.float32), next_observations=obs + 1,
                   terminals=np.zeros(50, bool), timeouts=np.arange(50) % 10 == 9)
  for binding in (None, 'minari:x/y-v0'):
    a, a_again, b = (experiments.offline_data_name(binding, 'eps1', '100k', dataset(s))
                     for s in (0, 0, 1))
    assert a == a_again and a != b
    assert a[0].startswith(('eps1-', 'minari:x/y-v0-')) and a[1] == ('100k' if binding is None
                                                                      else 50)
    assert a[0][-16:] == dynamics_cache.data_digest([dataset(0)])
