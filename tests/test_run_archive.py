"""bremen_tf/run_archive.py and launch/run_archive.py: finished runs' light files into the repo and
back, exactly; unfinished runs, checkpoints and data left behind; never an overwrite of a finished
run; a copy cut short is not taken for a finished run."""
import os
import shutil
import subprocess
import sys

import pytest

from bremen_tf import fileio, run_archive, runs
from bremen_tf.errors import RunDirError
from bremen_tf.reporting import run_reader

LAUNCHER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'launch',
                        'run_archive.py')
LIGHT = {'DONE': '{"final": 1}\n', 'run.json': '{"description": null}\n',
         'config.gin': 'train_offline.seed = 0\n', 'train_state.json': '{"stage": "done"}\n',
         'metrics.csv': 'iteration,eval_return\n1,10.5\n2,20.25\n', 'summary.json': '{}\n',
         'provenance.json': '{"sessions": [{"seed": 0}]}\n'}


def make_run(root, rel, done=True):
  path = root / rel
  (path / 'checkpoints').mkdir(parents=True)
  (path / 'checkpoints' / 'save-1.index').write_bytes(b'\0' * 64)
  (path / 'data').mkdir()
  (path / 'data' / 'deployment_1.npz').write_bytes(b'\1' * 64)
  (path / '.lock').write_text('')
  (path / '.tmp-xmetrics.csv').write_text('half')
  for name, text in LIGHT.items():
    if name != 'DONE' or done:
      (path / name).write_text(text)
  return path


def tree(root):
  """{relative file path: bytes} of every file under root."""
  return {os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), 'rb').read()
          for d, _, files in os.walk(root) for f in files}


def test_done_file_is_the_runs_one():
  assert run_archive.DONE_FILE == runs.DONE_FILE


def test_finished_runs_are_found_without_going_into_them_or_hidden_directories(tmp_path):
  for rel in ('offline/b/seed0', 'offline/a/seed1', 'deployment/x/seed0', '.hidden/seed0'):
    make_run(tmp_path, rel)
  make_run(tmp_path, 'offline/a/seed2', done=False)
  make_run(tmp_path, 'offline/b/seed0/inner/seed0')  # inside a finished run: not a run of its own
  (tmp_path / 'deployment' / 'x' / 'seed0' / 'nested').mkdir()
  assert run_archive.finished_runs(tmp_path) == [
      'deployment/x/seed0', 'offline/a/seed1', 'offline/b/seed0']
  found = fileio.directories_holding(tmp_path, 'DONE', skip=lambda d: d.endswith('1'))
  assert found == ['.hidden/seed0', 'deployment/x/seed0', 'offline/b/seed0']


def test_save_keeps_light_files_of_finished_runs_and_restore_gives_them_back(tmp_path):
  root, archive, fresh = tmp_path / 'runs', tmp_path / 'archive', tmp_path / 'new_machine'
  make_run(root, 'full/offline/halfcheetah_100k/seed0')
  make_run(root, 'coverage/offline/walker2d_100k_bc/seed2')
  make_run(root, 'full/deployment/halfcheetah_200k/seed0', done=False)
  assert run_archive.finished_runs(root) == [
      'coverage/offline/walker2d_100k_bc/seed2', 'full/offline/halfcheetah_100k/seed0']

  saved, present = run_archive.save(root, archive)
  assert saved == run_archive.finished_runs(root) and present == []
  light = sorted(LIGHT)
  assert tree(archive) == {os.path.join(run, name): LIGHT[name].encode()
                           for run in saved for name in light}
  assert run_archive.save(root, archive) == ([], saved)  # again: nothing to do, all identical

  restored, present = run_archive.restore(archive, fresh)
  assert restored == saved and present == []
  for run in saved:  # what the tables read is the same on the new machine
    assert run_reader.finished(str(fresh / run))
    assert run_reader.read_state(str(fresh / run)) == run_reader.read_state(str(root / run))
    assert runs.read_metrics(str(fresh / run)) == runs.read_metrics(str(root / run))
  assert run_archive.restore(archive, fresh) == ([], saved)
  assert run_archive.restore(tmp_path / 'no_archive_yet', fresh) == ([], [])


def test_a_finished_run_is_never_overwritten(tmp_path):
  root, archive = tmp_path / 'runs', tmp_path / 'archive'
  run = make_run(root, 'full/offline/hopper_100k/seed0')
  run_archive.save(root, archive)
  (run / 'metrics.csv').write_text('iteration,eval_return\n1,99\n')  # another run, same path
  before = tree(archive)
  with pytest.raises(RunDirError, match=r'differs from .* \(metrics.csv\): two different runs at one path'):
    run_archive.save(root, archive)
  with pytest.raises(RunDirError, match='differs from'):
    run_archive.restore(archive, root)
  assert tree(archive) == before


def test_a_file_written_after_done_is_added_by_the_next_save(tmp_path):
  """launch_common.finish_run writes summary.json after DONE: a save in between archives the run
  without it, and the next save adds it instead of calling the runs different."""
  root, archive = tmp_path / 'runs', tmp_path / 'archive'
  run = make_run(root, 'coverage/d4rl/d4rl-hopper_medium+budget-table/seed0')
  (run / 'summary.json').unlink()
  run_archive.save(root, archive)
  (run / 'summary.json').write_text('{"final": 1}\n')
  assert run_archive.save(root, archive) == ([], ['coverage/d4rl/d4rl-hopper_medium+budget-table/seed0'])
  assert tree(archive) == {os.path.join('coverage/d4rl/d4rl-hopper_medium+budget-table/seed0', n):
                           (LIGHT[n] if n != 'summary.json' else '{"final": 1}\n').encode()
                           for n in LIGHT}


def test_restore_leaves_an_unfinished_run_of_this_machine_alone(tmp_path):
  root, archive, here = tmp_path / 'runs', tmp_path / 'archive', tmp_path / 'here'
  make_run(root, 'full/offline/hopper_100k/seed0')
  run_archive.save(root, archive)
  make_run(here, 'full/offline/hopper_100k/seed0', done=False)
  before = tree(here)
  with pytest.raises(RunDirError, match='holds an unfinished run .* Move .* away'):
    run_archive.restore(archive, here)
  assert tree(here) == before


def test_a_copy_cut_short_is_not_finished_and_the_next_save_completes_it(tmp_path, monkeypatch):
  root, archive = tmp_path / 'runs', tmp_path / 'archive'
  make_run(root, 'full/offline/hopper_100k/seed0')
  copy, calls = shutil.copyfile, []

  def failing_copy(source, dest):
    calls.append(source)
    if len(calls) == 3:
      raise OSError('disk full')
    return copy(source, dest)

  monkeypatch.setattr(shutil, 'copyfile', failing_copy)
  with pytest.raises(OSError, match='disk full'):
    run_archive.save(root, archive)
  assert run_archive.finished_runs(archive) == []  # DONE comes last: no finished run there
  assert not any(name.startswith('.tmp-') for name in tree(archive))
  monkeypatch.setattr(shutil, 'copyfile', copy)
  assert run_archive.save(root, archive) == (['full/offline/hopper_100k/seed0'], [])
  assert run_archive.restore(archive, tmp_path / 'new')[0] == ['full/offline/hopper_100k/seed0']


def launcher(*args):
  return subprocess.run([sys.executable, LAUNCHER, *args], capture_output=True, text=True,
                        timeout=60)


def test_launcher_lists_saves_restores_and_reports_a_conflict(tmp_path):
  root, archive, fresh = tmp_path / 'runs', tmp_path / 'archive', tmp_path / 'new'
  run = make_run(root, 'full/offline/halfcheetah_100k/seed0')
  where = [f'--runs_root={root}', f'--archive={archive}']
  listed = launcher('list', *where)
  assert listed.returncode == 0, listed.stderr
  assert listed.stdout.splitlines()[0] == 'full/offline/halfcheetah_100k/seed0'
  assert '1 finished run(s) in' in listed.stdout
  saved = launcher('save', *where)
  assert saved.stdout.splitlines() == [
      'saved full/offline/halfcheetah_100k/seed0',
      f'save: 1 run(s) copied, 0 there already ({root} -> {archive})']
  assert '0 finished run(s)' in launcher('list', *where).stdout
  restored = launcher('restore', f'--runs_root={fresh}', f'--archive={archive}')
  assert restored.returncode == 0 and 'restored full/offline/halfcheetah_100k/seed0' in restored.stdout
  (run / 'DONE').write_text('{"final": 2}\n')
  conflict = launcher('save', *where)
  assert conflict.returncode == 2 and 'two different runs at one path' in conflict.stderr
  assert 'Traceback' not in conflict.stderr
  assert launcher('bogus', *where).returncode != 0
