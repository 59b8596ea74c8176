"""Runs killed during the dynamics fit resume the fit from its last checkpoint (not from epoch 0,
and in the deployment loop not from the previous deployment's weights) and end exactly as
uninterrupted runs do."""
import csv
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from bremen_tf import fileio
from bremen_tf.dynamics import DynamicsEnsemble
from bremen_tf.resumable_fit import fit_dynamics
from bremen_tf.run_state import RunState
from conftest import RunStub

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMING = ('iteration_seconds', 'imagined_steps_per_s')  # wall-clock columns differ run to run


def offline_command(root, data_dir):
  return [sys.executable, os.path.join('launch', 'offline.py'), '--gin_file=gin/hopper_100k.gin',
          '--gin_file=gin/smoke/offline.gin', f'--root_dir={root}',
          f'--gin_bindings=train_offline.data_dir="{data_dir}"',
          # One TRPO update; the model diagnostics make the metrics depend on the fit.
          '--gin_bindings=train_offline.outer_iterations=1',
          '--gin_bindings=train_offline.updates_per_iteration=1',
          '--gin_bindings=train_offline.eval_model=True',
          '--gin_bindings=DynamicsEnsemble.max_epochs=16',  # a fit long enough to be killed in
          '--gin_bindings=DynamicsEnsemble.checkpoint_seconds=0']  # checkpointed every epoch


def metrics(root):
  with open(os.path.join(root, 'metrics.csv')) as f:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def checkpoint_tensors(root, prefixes=('dynamics/',)):
  """The tensors under `prefixes` in the run's last checkpoint (for dynamics/: every weight, Adam
  state and normalisation)."""
  reader = tf.train.load_checkpoint(os.path.join(
      root, fileio.read_json(os.path.join(root, 'train_state.json'))['checkpoint']))
  return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
          if k.startswith(prefixes)}


def assert_same_run(root, reference, fits):
  """Same metrics, fit summaries and bit-identical dynamics as the uninterrupted `reference`."""
  assert metrics(root) == metrics(reference)
  assert fits(root) == fits(reference)
  got, expected = checkpoint_tensors(root), checkpoint_tensors(reference)
  assert sorted(got) == sorted(expected) and len(got) > 20
  for key in expected:
    np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_offline_run_killed_during_the_dynamics_fit_resumes_the_fit(tmp_path, hopper_3k_data_dir):
  root, reference = (str(tmp_path / name) for name in ('run', 'reference'))
  data = hopper_3k_data_dir  # collected already (conftest)
  proc = subprocess.Popen(offline_command(root, data), cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
  for line in proc.stdout:
    if line.startswith('[dynamics] checkpointed the fit at epoch 2'):
      proc.kill()  # SIGKILL, mid-fit
      break
  proc.wait(timeout=60)
  state = fileio.read_json(os.path.join(root, 'train_state.json'))
  assert state['stage'] == 'dynamics_fit'
  epoch = state['dynamics_progress']['fit']['epoch']
  assert 2 <= epoch < 16

  # The resumed run and an uninterrupted one side by side.
  procs = [subprocess.Popen(offline_command(r, data), cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True) for r in (root, reference)]
  (out, _), (ref_out, _) = (p.communicate(timeout=300) for p in procs)
  assert procs[0].returncode == 0 and procs[1].returncode == 0, out + ref_out
  assert f'[dynamics] resuming the dynamics fit at epoch {epoch}\n' in out
  assert 'dynamics epoch 0/16' not in out and f'dynamics epoch {epoch}/16' in out
  assert 'dynamics epoch 0/16' in ref_out
  assert float(metrics(root)[-1]['model_step_mse']) > 0  # the metrics use the fitted model
  fits = lambda r: {k: v for k, v in fileio.read_json(os.path.join(r, 'train_state.json'))
                    ['dynamics_fit'].items() if k != 'seconds'}
  assert_same_run(root, reference, fits)


class Kill(Exception):
  pass


def test_a_warm_started_fit_resumes_from_its_own_checkpoint_not_the_previous_fit(tmp_path):
  """The deployment loop's case: deployment d's fit starts from d-1's; killed mid-fit, the run
  restores the mid-fit state and ends as if uninterrupted."""
  rng = np.random.default_rng(0)
  s, a = rng.standard_normal((1200, 3)).astype(np.float32), rng.uniform(-1, 1, (1200, 2))
  s2 = (0.9 * s + 0.3 * np.tanh(a).sum(1, keepdims=True)).astype(np.float32)
  a = a.astype(np.float32)
  batch1 = (s[:400], a[:400], s2[:400]), (s[400:500], a[400:500], s2[400:500])
  batch2 = (s[:1000], a[:1000], s2[:1000]), (s[1000:], a[1000:], s2[1000:])
  new_model = lambda: DynamicsEnsemble(3, 2, n_models=2, hidden=(16,), batch_size=100,
                                       max_epochs=10, eval_every=1, checkpoint_seconds=0)
  reference = new_model()
  reference.fit(*batch1)
  expected = reference.fit(*batch2)

  def open_run(log):
    dynamics, counter = new_model(), tf.Variable(0, dtype=tf.int64)
    ckpt = tf.train.Checkpoint(dynamics=dynamics, counter=counter)
    return RunState(RunStub(tmp_path), ckpt, counter, log=log), dynamics

  def kill_at_epoch_4(message):
    if message == '[dynamics] checkpointed the fit at epoch 4':
      raise Kill
  run_state, dynamics = open_run(print)
  fit_dynamics(run_state, dynamics, *batch1, log=lambda m: None)
  run_state.save('dynamics')  # deployment 1 done
  previous = [v.numpy() for v in dynamics.net.variables]
  try:
    fit_dynamics(run_state, dynamics, *batch2, log=kill_at_epoch_4)
  except Kill:
    pass

  logs = []
  run_state, dynamics = open_run(logs.append)
  assert run_state.stage == 'dynamics_fit' and logs[0].startswith('Resuming from')
  assert any(np.any(v.numpy() != w) for v, w in zip(dynamics.net.variables, previous))
  fit = fit_dynamics(run_state, dynamics, *batch2, log=logs.append)
  assert '[dynamics] resuming the dynamics fit at epoch 4' in logs
  assert fit.pop('seconds') > 0 and fit == expected
  for v, w in zip(dynamics.variables, reference.variables):
    np.testing.assert_array_equal(v.numpy(), w.numpy(), err_msg=v.name)
