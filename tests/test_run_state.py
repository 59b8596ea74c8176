"""RunState.save under a kill at every step of the save: a restarted run always finds
train_state.json naming a complete checkpoint, and the next save cleans up what the kill left."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import checkpoints, fileio
from bremen_tf.run_state import RunState
from conftest import RunStub


class Crash(Exception):
  pass


def open_state(path):
  """A fresh process's view: new variables, restored by RunState if the run has a state."""
  value, counter = tf.Variable(np.zeros(1000, np.float32)), tf.Variable(0, dtype=tf.int64)
  ckpt = tf.train.Checkpoint(value=value, counter=counter)
  return RunState(RunStub(path), ckpt, counter, log=lambda m: None), value


def crash_on_call(monkeypatch, owner, name, call, after=False):
  """Makes owner.name raise Crash on its `call`-th call, before (or just after) doing its work."""
  real, calls = getattr(owner, name), []

  def wrapper(*args, **kwargs):
    calls.append(1)
    if len(calls) == call and not after:
      raise Crash(name)
    out = real(*args, **kwargs)
    if len(calls) == call:
      raise Crash(name)
    return out
  monkeypatch.setattr(owner, name, wrapper)


def torn_write(monkeypatch):
  """Checkpoint.write killed part way: its files exist, the data file is cut short."""
  real = tf.train.Checkpoint.write

  def write(self, prefix, *args, **kwargs):
    path = real(self, prefix, *args, **kwargs)
    with open(path + '.data-00000-of-00001', 'r+b') as f:
      f.truncate(100)
    raise Crash('write')
  monkeypatch.setattr(tf.train.Checkpoint, 'write', write)


# (how the save is killed, whether train_state.json already names the new checkpoint)
KILLS = {
    'mid checkpoint write': (torn_write, False),
    'checkpoint written, not fsynced': (
        lambda m: crash_on_call(m, fileio, 'fsync', 1), False),
    'checkpoint fsynced, state file not replaced': (
        lambda m: crash_on_call(m, os, 'replace', 1), False),
    'state file replaced, its directory not fsynced': (
        lambda m: crash_on_call(m, os, 'replace', 1, after=True), True),
    'state file replaced, index not updated': (
        lambda m: crash_on_call(m, checkpoints, 'mark_latest', 1), True),
    'old checkpoint not deleted': (lambda m: crash_on_call(m, os, 'remove', 1), True),
    'old checkpoint half deleted': (lambda m: crash_on_call(m, os, 'remove', 2), True),
}


@pytest.mark.parametrize('kill', list(KILLS))
def test_a_kill_at_any_step_of_a_save_leaves_a_run_that_resumes(tmp_path, monkeypatch, kill):
  path = str(tmp_path)
  run_state, value = open_state(path)
  value.assign(tf.fill([1000], 1.0))
  run_state.save('dynamics')
  value.assign(tf.fill([1000], 2.0))  # the same counter (0): the stages before TRPO share it
  patch, named = KILLS[kill]
  with monkeypatch.context() as m:
    patch(m)
    with pytest.raises(Crash):
      run_state.save('bc')

  resumed, value = open_state(path)  # restores the named checkpoint, asserting it matches
  assert resumed.stage == ('bc' if named else 'dynamics')
  np.testing.assert_array_equal(value.numpy(), 2.0 if named else 1.0)
  state = fileio.read_json(os.path.join(path, 'train_state.json'))
  assert os.path.basename(state['checkpoint']) == ('save-2' if named else 'save-1')

  resumed.save('trpo')  # the next save leaves only its own checkpoint and the index
  n = 3 if named else 2
  assert sorted(os.listdir(os.path.join(path, 'checkpoints'))) == [
      'checkpoint', f'save-{n}.data-00000-of-00001', f'save-{n}.index']
  assert tf.train.latest_checkpoint(os.path.join(path, 'checkpoints')) == os.path.join(
      path, fileio.read_json(os.path.join(path, 'train_state.json'))['checkpoint'])
  np.testing.assert_array_equal(open_state(path)[1].numpy(), 2.0 if named else 1.0)


def without_random_name(path):
  """fileio's temporary '.tmp-<random><name>' as '<name> (tmp)'."""
  head, name = os.path.split(path)
  for target in ('train_state.json', 'checkpoint'):
    if name.startswith('.tmp-') and name.endswith(target):
      return os.path.join(head, target) + ' (tmp)'
  return path


def test_a_save_is_on_disk_before_it_is_named_and_deleted_only_after(tmp_path, monkeypatch):
  path = str(tmp_path)
  run_state, _ = open_state(path)
  run_state.save('dynamics')
  events = []

  def spy(name, real):
    def call(p, *args):
      events.append((name, os.path.relpath(p, path)))
      return real(p, *args)
    return call
  for owner, name in ((fileio, 'fsync'), (os, 'replace'), (os, 'remove')):
    monkeypatch.setattr(owner, name, spy(name, getattr(owner, name)))
  run_state.save('bc')
  monkeypatch.undo()
  assert sorted(events[:2]) == [('fsync', 'checkpoints/save-2.data-00000-of-00001'),
                                ('fsync', 'checkpoints/save-2.index')]
  events = [(name, without_random_name(p)) for name, p in events[2:]]
  assert events[:-2] == [
      ('fsync', 'checkpoints'),  # the checkpoint is on disk
      ('fsync', 'train_state.json (tmp)'), ('replace', 'train_state.json (tmp)'),
      ('fsync', '.'),  # named by the state file
      ('fsync', 'checkpoints/checkpoint (tmp)'), ('replace', 'checkpoints/checkpoint (tmp)'),
      ('fsync', 'checkpoints')]  # and by the index
  assert sorted(events[-2:]) == [('remove', 'checkpoints/save-1.data-00000-of-00001'),
                                 ('remove', 'checkpoints/save-1.index')]  # then deleted


def test_a_run_saved_by_the_old_checkpoint_manager_resumes(tmp_path):
  path = str(tmp_path)
  value, counter = tf.Variable(np.full(1000, 7.0, np.float32)), tf.Variable(0, dtype=tf.int64)
  ckpt = tf.train.Checkpoint(value=value, counter=counter)
  old = tf.train.CheckpointManager(ckpt, os.path.join(path, 'checkpoints'), max_to_keep=1)
  with open(os.path.join(path, 'train_state.json'), 'w') as f:
    json.dump({'stage': 'dynamics', 'checkpoint': old.save(checkpoint_number=0)}, f)

  resumed, value = open_state(path)
  assert resumed.stage == 'dynamics' and value.numpy()[0] == 7.0
  resumed.save('bc')
  assert sorted(os.listdir(os.path.join(path, 'checkpoints'))) == [
      'checkpoint', 'save-1.data-00000-of-00001', 'save-1.index']
  assert open_state(path)[1].numpy()[0] == 7.0
