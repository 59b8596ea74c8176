"""Exact resume of the model-free agents: BC, BCQ and BRAC (train_offline with the smoke gin
config, in-process) and the SAC behaviour-policy trainer. A run stopped right after some of its
saves and resumed each time (as after a kill: nothing after the save survives) ends with the same
metrics and the same checkpoint, bit for bit, as a run that was never stopped."""
import os

import gin
import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import experiments, sac_data_policies, fileio, runs  # noqa: F401 (gin)
from bremen_tf.replay import ReplayBuffer
from bremen_tf.run_state import RunState

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMING = ('train_steps_per_s', 'steps_per_s', 'elapsed_s')  # wall-clock columns differ


class Killed(Exception):
  pass


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp('data'))


def checkpoint_values(run_path):
  """Every tensor of the checkpoint train_state.json names (weights, optimiser moments, random
  generator states, counters), by key."""
  state = fileio.read_json(os.path.join(run_path, 'train_state.json'))
  reader = tf.train.load_checkpoint(os.path.join(run_path, state['checkpoint']))
  return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
          if not k.startswith('save_counter')}


def comparable_metrics(run_path):
  return [{k: v for k, v in row.items() if k not in TIMING}
          for row in runs.read_metrics(run_path)]


def assert_same_run(path, reference):
  assert comparable_metrics(path) == comparable_metrics(reference)
  ours, theirs = checkpoint_values(path), checkpoint_values(reference)
  assert sorted(ours) == sorted(theirs)
  for key, value in theirs.items():
    np.testing.assert_array_equal(ours[key], value, err_msg=key)


def train_model_free(root, data_dir, algo, kill_at=(), monkeypatch=None):
  """One launch/offline.py session in-process; raises Killed right after the save whose (stage,
  step) is in `kill_at`."""
  gin.clear_config()
  gin.add_config_file_search_path(REPO)  # the gin files' includes are relative to the repository
  gin.parse_config_files_and_bindings(
      [os.path.join(REPO, 'gin', f) for f in ('hopper_100k.gin', f'algos/{algo}.gin',
                                               'smoke/model_free.gin')],
      [f'train_offline.data_dir = "{data_dir}"', 'train_model_free.train_steps = 150',
       'train_model_free.behavior_steps = 40', 'train_model_free.eval_every = 60',
       'train_model_free.checkpoint_every = 40', 'train_model_free.eval_episodes = 1'])
  save = RunState.save

  def save_then_maybe_die(self, stage):
    save(self, stage)
    if (stage, int(self.counter.numpy())) in kill_at:
      raise Killed
  monkeypatch.setattr(RunState, 'save', save_then_maybe_die)
  run = runs.RunDir(root)
  try:
    return experiments.train_offline(run, seed=3, log=lambda m: None)
  finally:
    run._lock.close()  # pylint: disable=protected-access (as the end of the process would)
    monkeypatch.undo()
    gin.clear_config()


@pytest.mark.parametrize('algo, kills', [
    ('bc', [('train', 40)]),
    ('bcq', [('train', 120)]),
    ('brac', [('behavior', 0), ('train', 80)]),
])
def test_model_free_run_resumes_bit_for_bit(tmp_path, data_dir, monkeypatch, algo, kills):
  reference = str(tmp_path / 'whole')
  train_model_free(reference, data_dir, algo, monkeypatch=monkeypatch)
  path = str(tmp_path / 'stopped')
  for kill in kills:
    with pytest.raises(Killed):
      train_model_free(path, data_dir, algo, kill_at=[kill], monkeypatch=monkeypatch)
  summary = train_model_free(path, data_dir, algo, monkeypatch=monkeypatch)
  assert [int(r['step']) for r in runs.read_metrics(path)] == [0, 60, 120, 150]
  assert summary['final_eval_return_mean'] == float(
      runs.read_metrics(reference)[-1]['eval_return_mean'])
  assert_same_run(path, reference)


def train_sac(root, total_steps):
  gin.clear_config()
  gin.bind_parameter('Sac.q_hidden', (16, 16))
  gin.bind_parameter('Sac.actor_hidden', (16, 16))
  run = runs.RunDir(root)
  try:
    return sac_data_policies.train_behavior_policy(
        run, env_id='bremen/Hopper-v0', seed=2, initial_random_steps=100, batch_size=32,
        eval_every=50, eval_episodes=1, checkpoint_every=100, target_return=1e9,
        total_steps=total_steps, log=lambda m: None)
  finally:
    run._lock.close()  # pylint: disable=protected-access
    gin.clear_config()


def test_sac_behavior_training_resumes_bit_for_bit(tmp_path, monkeypatch):
  """Stopped after its save at 170 (mid-episode: simulator, time limit, replay, pending action
  and both random streams must all come back), then killed inside its save at 200 (checkpoint
  written, replay not), then run to 250: as if never stopped."""
  reference = str(tmp_path / 'whole')
  assert train_sac(reference, 250) is None
  path = str(tmp_path / 'stopped')
  train_sac(path, 170)
  save = ReplayBuffer.save

  def die_in_the_save_at_200(self, file):
    if self.size == 300:  # 100 random + 200 training transitions
      raise Killed
    save(self, file)
  monkeypatch.setattr(ReplayBuffer, 'save', die_in_the_save_at_200)
  with pytest.raises(Killed):
    train_sac(path, 250)
  monkeypatch.undo()
  assert fileio.read_json(os.path.join(path, 'train_state.json'))['saves'] == 2  # still at 170
  assert os.path.exists(os.path.join(path, 'checkpoints', 'save-3.index'))  # the killed save's
  train_sac(path, 250)
  assert [int(r['step']) for r in runs.read_metrics(path)] == [50, 100, 150, 200, 250]
  assert_same_run(path, reference)
  replay = lambda run: os.path.join(run, fileio.read_json(os.path.join(
      run, 'train_state.json'))['checkpoint'] + '.replay.npz')
  with np.load(replay(path)) as ours, np.load(replay(reference)) as theirs:
    assert int(ours['size']) == 350
    for key in theirs.files:
      np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
  assert sorted(os.listdir(os.path.join(path, 'checkpoints'))) == [
      'checkpoint', 'save-4.data-00000-of-00001', 'save-4.index', 'save-4.replay.npz']
