"""Waypoints (bremen_tf/waypoints.py, launch/waypoint.py): an unfinished deployment run saved into
the repo, its directory deleted as a new machine would lose it, restored and resumed."""
import csv
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import waypoints
from bremen_tf.run_models import ensemble_fit
from bremen_tf.errors import RunDirError
from conftest import run_here as run_launcher_here, script

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join('full', 'deployment', 'hopper_smoke', 'seed0')
ARGS = ['--gin_file=gin/deployment/hopper_100k.gin', '--gin_file=gin/smoke/deployment.gin',
        '--gin_bindings=DynamicsEnsemble.checkpoint_seconds=0']  # the fit checkpoints every epoch
TIMING = ('seconds', '_per_s')
# One worker runs this module: its fixture (two deployment runs) is made once (pyproject.toml).
pytestmark = pytest.mark.xdist_group('waypoints')


def metrics(run_dir):
  with open(os.path.join(run_dir, 'metrics.csv')) as f:
    return [{k: v for k, v in r.items() if not any(t in k for t in TIMING)}
            for r in csv.DictReader(f)]


def deployment_run(capsys, run_dir):
  capsys.readouterr()
  run_launcher_here('deployment', *ARGS, f'--root_dir={run_dir}')
  return capsys.readouterr().out


def waypoint_cmd(capsys, action, runs_root, archive, *extra):
  capsys.readouterr()
  with script('waypoint', f'--runs_root={runs_root}', f'--archive={archive}', *extra) as module:
    module.main(['waypoint', action])
  return capsys.readouterr().out


def test_restore_and_list_say_when_there_are_no_waypoints(capsys, tmp_path):
  (tmp_path / 'empty').mkdir()
  for archive in (tmp_path / 'missing', tmp_path / 'empty'):  # a mistyped --archive, or none yet
    for action in ('restore', 'list'):
      out = waypoint_cmd(capsys, action, tmp_path / 'runs', archive)
      assert out == f'no waypoints in {archive}: nothing to {action}\n'
  assert sorted(os.listdir(tmp_path)) == ['empty']


def kill_at(run_dir, args, at):
  """Runs launch/deployment.py on `run_dir` and kills it at the first output line for which
  at(line, lines before) holds."""
  proc = subprocess.Popen([sys.executable, os.path.join('launch', 'deployment.py'), *args,
                           f'--root_dir={run_dir}'], cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
  seen = []
  for line in proc.stdout:
    if at(line, seen):
      proc.kill()
      break
    seen.append(line)
  assert proc.wait(timeout=300) == -9, ''.join(seen)


@pytest.fixture(scope='module')
def killed_in_fit_2(tmp_path_factory):
  """A run killed in deployment 2's dynamics fit (after its epoch-1 checkpoint), and the same run
  uninterrupted."""
  base = tmp_path_factory.mktemp('waypoints')
  kill_at(base / 'runs' / RUN, ARGS, lambda line, seen: (
      line.startswith('[dynamics] checkpointed the fit at epoch 1')
      and any(l.startswith('[deployment 2/2]') for l in seen)))
  reference = base / 'reference'
  out = subprocess.run([sys.executable, os.path.join('launch', 'deployment.py'), *ARGS,
                        f'--root_dir={reference}'], cwd=REPO, capture_output=True, text=True,
                       timeout=300)
  assert out.returncode == 0, out.stdout + out.stderr
  return base, str(reference)


def checkpoint_tensors(run_dir):
  with open(os.path.join(run_dir, 'train_state.json')) as f:
    name = os.path.basename(json.load(f)['checkpoint'])
  reader = tf.train.load_checkpoint(os.path.join(run_dir, 'checkpoints', name))
  return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
          if k != waypoints.GRAPH_KEY}


def test_a_run_restored_from_its_waypoint_with_adam_kept_finishes_as_the_uninterrupted_run(
    killed_in_fit_2, capsys):
  base, reference = killed_in_fit_2
  runs = base / 'runs'
  archive = base / 'exact_archive'
  assert (f'{RUN}: no waypoint yet: 0.0 h of fits and TRPO behind (< --min_hours=1): none saved'
          in waypoint_cmd(capsys, 'save', runs, archive))  # the default: seconds of work so far
  assert not os.path.exists(archive)
  saved = waypoint_cmd(capsys, 'save', runs, archive, '--keep_adam', '--min_hours=0')
  assert f'saved {RUN}: stage dynamics_fit, deployment 2, iteration 2' in saved
  # a new machine: the runs root is gone; the waypoint restores the run, batches collected again
  before = checkpoint_tensors(runs / RUN)
  batches = {d: open(runs / RUN / 'data' / f'deployment_{d}.npz', 'rb').read() for d in (1, 2)}
  new_root = base / 'new_machine_exact'
  restored = waypoint_cmd(capsys, 'restore', new_root, archive)
  assert 'restored' in restored and '2 of 2 batches collected again bit-identical' in restored
  after = checkpoint_tensors(new_root / RUN)
  assert sorted(after) == sorted(before)
  for k, v in before.items():
    np.testing.assert_array_equal(after[k], v, err_msg=k)
  for d in (1, 2):  # the same transitions (the file's metadata holds the collection's timing)
    with np.load(new_root / RUN / 'data' / f'deployment_{d}.npz') as a, \
        np.load(io.BytesIO(batches[d])) as b:
      for key in ('observations', 'actions', 'rewards', 'next_observations', 'terminals'):
        np.testing.assert_array_equal(a[key], b[key])
  record = json.loads((new_root / RUN / waypoints.RESTORES).read_text())[-1]
  assert record['dynamics_adam'] == 'kept' and all(b['identical'] for b in record['batches'])
  out = deployment_run(capsys, new_root / RUN)
  assert 'resuming the dynamics fit at epoch 1' in out and 'collecting' not in out
  assert os.path.exists(new_root / RUN / 'DONE')
  assert metrics(new_root / RUN) == metrics(reference)
  # the restored run is there now: a second restore leaves it alone
  assert 'this machine has the run already' in waypoint_cmd(capsys, 'restore', new_root, archive)
  # it finished: its waypoint goes (the run archive keeps finished runs)
  assert 'has finished' in waypoint_cmd(capsys, 'save', new_root, archive, '--min_hours=0')
  assert not os.path.exists(archive / RUN)


def test_a_default_waypoint_leaves_out_the_dynamics_adam_moments_and_the_fit_restarts_adam(
    killed_in_fit_2, capsys):
  base, reference = killed_in_fit_2
  runs, archive = base / 'runs', base / 'archive'
  waypoint_cmd(capsys, 'save', runs, archive, '--min_hours=0')
  manifest = waypoints.read_manifest(archive / RUN)
  assert sorted(manifest['dropped']) == sorted(
      k for k in checkpoint_tensors(runs / RUN) if k.startswith(waypoints.ADAM_PREFIXES))
  assert len(manifest['dropped']) == 2 * 6 + 1  # m and v of 3 layers' kernels and biases; steps
  # a second save right away: the run has not moved, so the waypoint is kept
  assert 'its waypoint is 0.0 h of fits and TRPO behind (< --min_hours=0.01): none saved' in \
      waypoint_cmd(capsys, 'save', runs, archive, '--min_hours=0.01')
  new_root = base / 'new_machine'
  waypoint_cmd(capsys, 'restore', new_root, archive)
  before, after = checkpoint_tensors(runs / RUN), checkpoint_tensors(new_root / RUN)
  for k, v in before.items():
    if k in manifest['dropped']:
      assert not after[k].any() and v.any(), k  # zero now, not zero before
    else:
      np.testing.assert_array_equal(after[k], v, err_msg=k)
  record = json.loads((new_root / RUN / waypoints.RESTORES).read_text())[-1]
  assert record['dynamics_adam'].startswith('reset to zero')
  assert record['stage'] == 'dynamics_fit' and record['deployment'] == 2
  deployment_run(capsys, new_root / RUN)
  assert os.path.exists(new_root / RUN / 'DONE')
  ours, theirs = metrics(new_root / RUN), metrics(reference)
  assert ours[:2] == theirs[:2]  # deployment 1: before the waypoint
  assert ours[2:] != theirs[2:]  # deployment 2's fit went on with a fresh Adam


def test_a_waypoint_after_no_new_fit_stores_the_same_ensemble_bytes_and_is_due_sooner(
    killed_in_fit_2, tmp_path, capsys):
  """Two stops after deployment 2's fit (before BC, in TRPO): the second waypoint's dynamics.npz
  is the first's, byte for byte (git keeps one copy), so it is due after
  --min_hours_same_ensemble, not --min_hours; it restores the run's tensors exactly, and so does
  the same waypoint in format 1."""
  base, _ = killed_in_fit_2
  runs, archive = tmp_path / 'runs', tmp_path / 'archive'
  shutil.copytree(base / 'runs' / RUN, runs / RUN)
  kill_at(runs / RUN, ARGS, lambda line, _: line.startswith('[bc]'))  # the fit done, BC begun
  assert 'saved' in waypoint_cmd(capsys, 'save', runs, archive, '--min_hours=0')
  assert waypoints.read_manifest(archive / RUN)['stage'] == 'dynamics'
  first = {n: (archive / RUN / n).read_bytes() for n in (waypoints.ENSEMBLE, waypoints.TENSORS)}
  kill_at(runs / RUN, ARGS, lambda line, _: line.startswith('[trpo] deployment 2/2, iteration 3/'))
  assert waypoints.same_ensemble(str(runs / RUN), str(archive / RUN))
  assert 'with the same ensemble (a new waypoint adds ~1 MB)' in waypoint_cmd(
      capsys, 'list', runs, archive)
  out = waypoint_cmd(capsys, 'save', runs, archive)  # the defaults: 1 h, 0.25 h without a fit
  assert 'TRPO behind (< --min_hours_same_ensemble=0.25): none saved' in out
  out = waypoint_cmd(capsys, 'save', runs, archive, '--min_hours_same_ensemble=0')
  assert f'saved {RUN}: stage trpo, deployment 2, iteration 3' in out
  assert (archive / RUN / waypoints.ENSEMBLE).read_bytes() == first[waypoints.ENSEMBLE]
  assert (archive / RUN / waypoints.TENSORS).read_bytes() != first[waypoints.TENSORS]
  changed = float(out.split(' MB of it changed')[0].rsplit(', ', 1)[1])
  size = sum(f.stat().st_size for f in (archive / RUN).rglob('*') if f.is_file()) / 2**20
  assert changed == pytest.approx(
      size - len(first[waypoints.ENSEMBLE]) / 2**20 - sum(  # the exported policy is the same too
          f.stat().st_size for f in (archive / RUN / 'policies').rglob('*') if f.is_file()) / 2**20,
      abs=0.051)
  manifest = waypoints.read_manifest(archive / RUN)
  before = checkpoint_tensors(runs / RUN)
  waypoint_cmd(capsys, 'restore', tmp_path / 'new', archive)
  for k, v in checkpoint_tensors(tmp_path / 'new' / RUN).items():
    if k not in manifest['dropped']:
      np.testing.assert_array_equal(v, before[k], err_msg=k)
  # the same waypoint in format 1 (every tensor in state.npz), as earlier sessions committed them
  old = tmp_path / 'format1' / RUN
  shutil.copytree(archive / RUN, old)
  keys, arrays = [], {}
  for name, names in waypoints.tensor_files(manifest).items():
    with np.load(old / name) as a:
      arrays.update({f't{len(keys) + i}': a[f't{i}'] for i in range(len(names))})
    keys += names
    os.remove(old / name)
  np.savez_compressed(old / waypoints.TENSORS, **arrays)
  old_manifest = {k: v for k, v in manifest.items() if k != 'tensor_files'}
  (old / waypoints.MANIFEST).write_text(json.dumps({**old_manifest, 'format': 1, 'tensors': keys}))
  assert not waypoints.same_ensemble(str(runs / RUN), str(old))  # its bytes differ: 22 MB again
  assert 'with another ensemble' in waypoint_cmd(capsys, 'list', runs, tmp_path / 'format1')
  waypoint_cmd(capsys, 'restore', tmp_path / 'new_from_format1', tmp_path / 'format1')
  for k, v in checkpoint_tensors(tmp_path / 'new_from_format1' / RUN).items():
    if k not in manifest['dropped']:
      np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_which_fit_a_runs_ensemble_holds_at_each_stage():
  fit = lambda stage, d: ensemble_fit({'stage': stage, 'deployment': d})
  assert [fit(stage, 3) for stage in ('collected', 'dynamics', 'bc', 'trpo', 'trpo_done')] == [
      (2, True), (3, True), (3, True), (3, True), (3, True)]
  assert fit('dynamics_fit', 3) == (3, False)  # mid-fit: its weights move at every checkpoint
  assert fit('start', 0) == (0, True)


def test_fit_errors_reads_a_fit_in_progress(killed_in_fit_2, capsys):
  """launch/fit_errors.py on a run killed mid-fit (here, as on a machine that lost it): the
  checkpoint's weights so far, named as the fit in progress."""
  base, _ = killed_in_fit_2
  run_dir = base / 'runs' / RUN
  fit = json.loads((run_dir / 'train_state.json').read_text())['dynamics_progress']['fit']
  capsys.readouterr()
  run_launcher_here('fit_errors', f'--run_dir={run_dir}')
  assert (f"deployment 2's fit in progress, at epoch {fit['epoch']} (best validation so far at "
          f"epochs {fit['best_epoch']}; {sum(fit['active'])} of {len(fit['active'])} members "
          'training)') in capsys.readouterr().out


def test_restore_refuses_a_damaged_waypoint_before_making_anything(killed_in_fit_2, tmp_path):
  base, _ = killed_in_fit_2
  archive = tmp_path / 'archive'
  waypoints.save(str(base / 'runs' / RUN), str(archive / RUN))
  os.remove(archive / RUN / waypoints.TENSORS)
  with pytest.raises(RunDirError, match='lacks state.npz: a damaged waypoint; nothing was restored'):
    waypoints.restore(str(archive / RUN), str(tmp_path / 'new' / RUN))
  assert not os.path.exists(tmp_path / 'new' / RUN)
  (archive / RUN / waypoints.MANIFEST).write_text('{"format": 99}')
  with pytest.raises(RunDirError, match='not a waypoint of format 1 or 2'):
    waypoints.restore(str(archive / RUN), str(tmp_path / 'new' / RUN))
  with pytest.raises(RunDirError, match='exists: a waypoint restores a run only where'):
    waypoints.save(str(base / 'runs' / RUN), str(archive / RUN))  # a fresh waypoint, then
    waypoints.restore(str(archive / RUN), str(base / 'runs' / RUN))


def test_a_fit_saved_mid_way_starts_again_when_a_batch_comes_back_with_another_length(
    killed_in_fit_2, tmp_path, capsys, monkeypatch):
  """Where TF rounds differently, a policy's batch collected again is a new draw, and in an env
  with terminations it may hold another number of transitions: the fit saved mid-way cannot go on
  over it, so it starts again from the weights it had reached (simulated: twice the transitions)."""
  from bremen_tf import deployment_batches  # pylint: disable=g-import-not-at-top
  base, _ = killed_in_fit_2
  archive = tmp_path / 'archive'
  waypoints.save(str(base / 'runs' / RUN), str(archive / RUN))
  collect = deployment_batches.collect_batch
  monkeypatch.setattr(deployment_batches, 'collect_batch',
                      lambda env_id, d, fn, size, *a, **k: collect(env_id, d, fn, size * d, *a, **k))
  record = waypoints.restore(str(archive / RUN), str(tmp_path / 'new' / RUN), log=print)
  assert record['fit_restarted'] and [b['identical'] for b in record['batches']] == [True, False]
  assert record['batches'][1]['transitions_collected'] >= 3000 > record['batches'][1][
      'transitions_saved']
  state = json.loads((tmp_path / 'new' / RUN / 'train_state.json').read_text())
  assert state['stage'] == 'collected' and 'dynamics_progress' not in state
  monkeypatch.undo()
  out = deployment_run(capsys, tmp_path / 'new' / RUN)
  assert '[dynamics] fitting on' in out and 'resuming the dynamics fit' not in out
  assert os.path.exists(tmp_path / 'new' / RUN / 'DONE')


def test_a_running_run_gets_no_waypoint(killed_in_fit_2, tmp_path):
  """A process holding the run's lock (a run going on) replaces its checkpoint as it goes."""
  import fcntl  # pylint: disable=g-import-not-at-top
  base, _ = killed_in_fit_2
  run_dir = str(base / 'runs' / RUN)
  with open(os.path.join(run_dir, '.lock'), 'w') as held:
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with pytest.raises(RunDirError, match='is running: stop it first'):
      waypoints.save(run_dir, str(tmp_path / 'archive' / RUN))
  assert not os.path.exists(tmp_path / 'archive')


def test_only_unfinished_bremen_and_me_trpo_deployment_runs_are_carried(killed_in_fit_2, tmp_path):
  """The killed run is one; a finished run, an offline run and a model-free deployment run
  (described by run.json) are not."""
  base, _ = killed_in_fit_2
  root = tmp_path / 'runs'
  shutil.copytree(base / 'runs', root)
  for name, kind, algorithm, done in (('finished', 'deployment', 'bremen', True),
                                      ('offline', 'offline', 'bremen', False),
                                      ('bcq', 'deployment', 'bcq', False)):
    run_dir = root / 'other' / name
    run_dir.mkdir(parents=True)
    (run_dir / 'train_state.json').write_text(json.dumps(
        {'stage': 'trpo', 'deployment': 1, 'checkpoint': 'checkpoints/save-1'}))
    (run_dir / 'run.json').write_text(json.dumps(
        {'description': {'kind': kind, 'algorithm': algorithm}}))
    if done:
      (run_dir / 'DONE').write_text('')
  assert waypoints.unfinished_deployment_runs(str(root)) == [RUN]


def test_a_run_that_cannot_be_saved_or_restored_does_not_stop_the_others(
    killed_in_fit_2, tmp_path, capsys):
  import fcntl  # pylint: disable=g-import-not-at-top
  base, _ = killed_in_fit_2
  root, archive = tmp_path / 'runs', tmp_path / 'archive'
  for name in ('a', 'b'):
    shutil.copytree(base / 'runs' / RUN, root / name)
  with open(root / 'a' / '.lock', 'w') as held:  # run a is running
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with pytest.raises(SystemExit) as exited:
      waypoint_cmd(capsys, 'save', root, archive, '--min_hours=0')
  assert exited.value.code == 2
  assert 'saved b: stage dynamics_fit' in capsys.readouterr().out
  assert os.path.isdir(archive / 'b') and not os.path.exists(archive / 'a')
  shutil.copytree(archive / 'b', archive / 'a')
  os.remove(archive / 'a' / waypoints.OBJECT_GRAPH)  # a damaged waypoint
  with pytest.raises(SystemExit):
    waypoint_cmd(capsys, 'restore', tmp_path / 'new', archive)
  out, err = capsys.readouterr()
  assert 'restored b at stage dynamics_fit' in out and 'lacks object_graph.pb' in err
  assert 'not restored: a (above)' in err
  assert os.path.isdir(tmp_path / 'new' / 'b') and not os.path.exists(tmp_path / 'new' / 'a')
