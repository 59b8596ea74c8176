"""Stage bookkeeping shared by the offline loops (BREMEN and the model-free baselines).

`train_state.json` in the run directory names the stage reached and the last complete checkpoint;
it is replaced only once the new checkpoint is on disk, and older checkpoints are deleted only
after that (bremen_tf/checkpoints.py), so a kill at any instant leaves a run that resumes.
On construction a resumed run is restored and its metrics are cut back to the checkpoint.
"""
import os

from bremen_tf import checkpoints, fileio

STATE_FILE = 'train_state.json'


class RunState:

  def __init__(self, run, ckpt, counter, log=print):
    """`ckpt`: the tf.train.Checkpoint of everything trained; `counter`: the int tf.Variable
    (iteration or step) that numbers metrics rows."""
    self.ckpt, self.counter = ckpt, counter
    self.directory = run.file('checkpoints')
    self.path = run.file(STATE_FILE)
    self.state = (fileio.read_json(self.path) if os.path.exists(self.path)
                  else {'stage': 'start'})
    if self.stage != 'start':
      ckpt.restore(self.state['checkpoint']).assert_existing_objects_matched()
      run.truncate_metrics(int(counter.numpy()))
      log(f'Resuming from {self.state["checkpoint"]} (stage {self.stage}, '
          f'{counter.name.split(":")[0]} {int(counter.numpy())})')

  @property
  def stage(self):
    return self.state['stage']

  def save(self, stage):
    """Checkpoints everything as `stage`, in an order that a kill at any point cannot break."""
    checkpoints.remove_all_but(self.directory, self.state.get('checkpoint'))  # a killed save's
    saves = self.state.get('saves', 0) + 1  # a new name: the named checkpoint is never rewritten
    path = checkpoints.write(self.ckpt, os.path.join(self.directory, f'save-{saves}'))
    self.state.update(stage=stage, checkpoint=path, saves=saves)
    fileio.write_json(self.path, self.state)  # atomic: names the old checkpoint or the new one
    checkpoints.mark_latest(path)
    checkpoints.remove_all_but(self.directory, path)


def record_dataset(run_state, record):
  """Keeps the run's dataset record (sources.run_record) in the run state (the first one stays)."""
  run_state.state.setdefault('dataset', record)
