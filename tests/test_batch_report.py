"""launch/batch_report.py and episode_diagnostics.batch_rows: a data batch's episodes classified
from the recorded transitions as launch/episode_report.py classifies a policy's."""
import csv
import math

import numpy as np
import pytest

import conftest
from bremen_tf import episode_diagnostics
from bremen_tf.data.dataset import Dataset, save_dataset
from bremen_tf.errors import ConfigError

ENV = 'bremen/HalfCheetah-v0'  # pitch obs[1], forward speed obs[8]


def halfcheetah_batch(final_pitches, speeds, steps=150, cut_last=False):
  """Episodes of `steps` transitions, episode k ending at final_pitches[k] and running at
  speeds[k] over its last 100 steps; reward 1 per step times (k + 1)."""
  obs, rewards = [], []
  for k, (pitch, speed) in enumerate(zip(final_pitches, speeds)):
    o = np.zeros((steps + 1, 17), np.float32)
    o[:, 1] = np.linspace(0.0, pitch, steps + 1)
    o[:, 8] = speed
    obs.append(o)
    rewards.append(np.full(steps, k + 1.0, np.float32))
  n = steps * len(final_pitches)
  ends = np.zeros(n, bool)
  ends[steps - 1::steps] = True
  metadata = {'env_id': ENV, 'cut_indices': [n - 1] if cut_last else []}
  return Dataset(np.concatenate([o[:-1] for o in obs]), np.zeros((n, 6), np.float32),
                 np.concatenate(rewards), np.concatenate([o[1:] for o in obs]),
                 np.zeros(n, bool), ends, metadata=metadata)


def test_batch_rows_classify_each_recorded_episode():
  data = halfcheetah_batch([0.1, math.pi, 2 * math.pi, 2 * math.pi, 3 * math.pi],
                           [3.0, 0.0, 0.0, 2.0, 0.0], cut_last=True)
  rows = episode_diagnostics.batch_rows(ENV, data)
  assert [r[-1] for r in rows] == ['moving', 'flipped', 'turned over, still',
                                   'turned over, moving']  # the cut fifth episode left out
  assert [r[2] for r in rows] == [150.0, 300.0, 450.0, 600.0]  # returns
  assert [r[3] for r in rows] == [150] * 4
  assert rows[2][7] == pytest.approx(2 * math.pi)  # final pitch: the last next-observation's


def test_the_report_counts_outcomes_per_batch_and_writes_every_episode(tmp_path, capsys):
  save_dataset(str(tmp_path / 'b1.npz'), halfcheetah_batch([0.0, 0.0, math.pi], [3.0, 3.0, 0.0]))
  save_dataset(str(tmp_path / 'b2.npz'), halfcheetah_batch([2 * math.pi], [0.0]))
  out = tmp_path / 'report.md'
  conftest.run_here('batch_report', f'--data={tmp_path}/b1.npz', f'--data={tmp_path}/b2.npz',
                    f'--out={out}')
  text = capsys.readouterr().out
  assert '| b1.npz | 3 | all | 3 | 300 | 150 | 450 |' in text
  assert '| b1.npz | 3 | moving | 2 | 225 | 150 | 300 |' in text
  assert '| b1.npz | 3 | flipped | 1 | 450 | 450 | 450 |' in text
  assert '| b2.npz | 1 | turned over, still | 1 | 150 | 150 | 150 |' in text
  assert 'git revision' in out.read_text()
  rows = list(csv.DictReader(open(tmp_path / 'report.csv')))
  assert [r['outcome'] for r in rows] == ['moving', 'moving', 'flipped', 'turned over, still']


def test_bad_batches_are_refused_before_anything_is_written(tmp_path):
  out = tmp_path / 'report.md'
  with pytest.raises(ConfigError, match='no such file'):
    conftest.run_here('batch_report', f'--data={tmp_path}/missing.npz', f'--out={out}')
  fetch = halfcheetah_batch([0.0], [1.0])
  fetch.metadata['env_id'] = 'bremen/FetchReach-v0'
  save_dataset(str(tmp_path / 'fetch.npz'), fetch)
  save_dataset(str(tmp_path / 'ok.npz'), halfcheetah_batch([0.0], [1.0]))
  with pytest.raises(ConfigError, match='fetch.npz: .*locomotion robots'):
    conftest.run_here('batch_report', f'--data={tmp_path}/ok.npz', f'--data={tmp_path}/fetch.npz',
                      f'--out={out}')
  with pytest.raises(ConfigError, match='--out must end in .md'):
    conftest.run_here('batch_report', f'--data={tmp_path}/ok.npz', f'--out={tmp_path}/r.txt')
  assert not out.exists()
