"""Stage bookkeeping shared by the offline loops (BREMEN and the model-free baselines).

`train_state.json` in the run directory names the stage reached and the last complete checkpoint;
it is written after the checkpoint, so a crash between the two leaves the previous, valid pair.
On construction a resumed run is restored and its metrics are cut back to the checkpoint.
"""
import os

import tensorflow as tf

from bremen_tf import fileio
from bremen_tf.data import get_dataset

STATE_FILE = 'train_state.json'


class RunState:

  def __init__(self, run, ckpt, counter, log=print):
    """`ckpt`: the tf.train.Checkpoint of everything trained; `counter`: the int tf.Variable
    (iteration or step) that numbers checkpoints and metrics rows."""
    self.counter = counter
    self.manager = tf.train.CheckpointManager(ckpt, run.file('checkpoints'), max_to_keep=1)
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
    path = self.manager.save(checkpoint_number=int(self.counter.numpy()))
    self.state.update(stage=stage, checkpoint=path)
    fileio.write_json(self.path, self.state)  # written last: names a complete checkpoint


def load_run_dataset(run_state, env_id, noise, dataset_size, data_dir, log=print):
  """The run's dataset (collected on first use), logged and recorded in the run state."""
  dataset = get_dataset(env_id, noise, dataset_size, data_dir=data_dir, log=log)
  behavior = dataset.metadata.get('behavior_returns') or {}
  log(f'Dataset: {len(dataset):,} transitions of {env_id} {noise}, behaviour return '
      f'{behavior.get("mean", float("nan")):.1f}')
  run_state.state.setdefault('dataset', {'size': len(dataset), 'noise': noise,
                                         'behavior_returns': behavior or None})
  return dataset
