"""Stage bookkeeping shared by the offline loops (BREMEN and the model-free baselines).

`train_state.json` in the run directory names the stage reached and the last complete checkpoint;
it is replaced only once the new checkpoint is on disk, and older checkpoints are deleted only
after that (bremen_tf/checkpoints.py), so a kill at any instant leaves a run that resumes.
On construction a resumed run is restored and its metrics are cut back to the rows that existed
when that checkpoint was saved. Paths in it are relative to the run directory, so a run directory
can be moved or copied (a copy resumes from its own checkpoints).
"""
import json
import os

import tensorflow as tf

from bremen_tf import checkpoints, fileio
from bremen_tf.errors import CheckpointError

STATE_FILE = 'train_state.json'


class RunState:

  def __init__(self, run, ckpt, counter, log=print):
    """`ckpt`: the tf.train.Checkpoint of everything trained; `counter`: the int tf.Variable
    (iteration or step) that numbers metrics rows."""
    self.ckpt, self.counter, self.run = ckpt, counter, run
    self.directory = run.file('checkpoints')
    self.path = run.file(STATE_FILE)
    self.state = self._read_state() if os.path.exists(self.path) else {'stage': 'start'}
    if self.stage != 'start':
      path = self.checkpoint_path()
      try:
        ckpt.restore(path).assert_existing_objects_matched()
      except (tf.errors.OpError, AssertionError, ValueError, IndexError, KeyError, EOFError) as e:
        # TF's reader raises several types for a missing or cut-short file
        raise CheckpointError(
            f'{path}: cannot restore the checkpoint that {self.path} names ({type(e).__name__}: '
            f'{str(e).splitlines()[0]}). The run cannot resume from it; start it afresh in '
            'another --root_dir (or delete this one).') from e
      if 'metrics_rows' in self.state:
        run.keep_metrics_rows(self.state['metrics_rows'])
      else:  # a state saved before rows were counted
        run.truncate_metrics(int(counter.numpy()))
      log(f'Resuming from {os.path.relpath(path, run.path)} (stage {self.stage}, '
          f'{counter.name.split(":")[0]} {int(counter.numpy())})')

  def _read_state(self):
    try:
      state = fileio.read_json(self.path)
      if not isinstance(state, dict) or 'stage' not in state:
        raise ValueError('no "stage" in it')
      return state
    except (ValueError, json.JSONDecodeError, UnicodeDecodeError) as e:
      raise CheckpointError(
          f'{self.path}: not a readable run state ({e}). It is written atomically, so this is '
          'damage from outside the run (a bad copy or an edit); restore it from a copy, or start '
          'the run afresh in another --root_dir.') from e

  def checkpoint_path(self):
    """The checkpoint the state names, in this run directory (checkpoints.named_in)."""
    return checkpoints.named_in(self.run.path, self.state)

  @property
  def stage(self):
    return self.state['stage']

  def save(self, stage):
    """Checkpoints everything as `stage`, in an order that a kill at any point cannot break."""
    named = self.checkpoint_path()
    checkpoints.remove_all_but(self.directory, named)  # what a killed save left
    saves = self.state.get('saves', 0) + 1  # a new name: the named checkpoint is never rewritten
    path = checkpoints.write(self.ckpt, os.path.join(self.directory, f'save-{saves}'))
    self.state.update(stage=stage, checkpoint=os.path.relpath(path, self.run.path), saves=saves,
                      metrics_rows=len(self.run.read_metrics()))
    fileio.write_json(self.path, self.state)  # atomic: names the old checkpoint or the new one
    checkpoints.mark_latest(path)
    checkpoints.remove_all_but(self.directory, path)


def record_dataset(run_state, record):
  """Keeps the run's dataset record (sources.run_record) in the run state (the first one stays)."""
  run_state.state.setdefault('dataset', record)
