"""Episode diagnostics: what a policy's real episodes look like (ran, stood still, flipped)."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import conftest
from bremen_tf import episode_diagnostics, evaluation

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_outcome_classification_at_its_boundaries():
  assert episode_diagnostics.outcome(math.pi / 2 + 1e-3, 3.0) == 'flipped'
  assert episode_diagnostics.outcome(-math.pi / 2 - 1e-3, 3.0) == 'flipped'
  assert episode_diagnostics.outcome(math.pi / 2 - 1e-3, 3.0) == 'moving'
  assert episode_diagnostics.outcome(0.0, 0.099) == 'still'
  assert episode_diagnostics.outcome(0.0, -0.099) == 'still'
  assert episode_diagnostics.outcome(0.0, 0.1) == 'moving'
  assert episode_diagnostics.outcome(None, 0.05) == 'still'  # Ant: no pitch


def test_a_full_turn_is_upright_again_and_a_turn_and_a_half_is_on_its_back():
  """The observed pitch is not wrapped: HalfCheetah upright after a somersault reads ~2π."""
  outcome = episode_diagnostics.outcome
  assert outcome(3.30, 0.0) == 'flipped'
  assert outcome(6.29, -0.001) == 'turned over, still'
  assert outcome(-6.2, 3.0) == 'turned over, moving'
  assert outcome(9.58, 0.0) == 'flipped'  # one and a half turns
  assert outcome(12.5, 0.0) == 'turned over, still'  # two turns
  assert outcome(3 * math.pi / 2 + 1e-3, 3.0) == 'turned over, moving'
  assert outcome(3 * math.pi / 2 - 1e-3, 3.0) == 'flipped'
  assert episode_diagnostics.summary(['moving', 'flipped', 'turned over, still', 'flipped']) == \
      '1 moving, 0 still, 2 flipped, 1 turned over (0 moving, 1 still)'
  assert episode_diagnostics.summary(['still']) == '0 moving, 1 still, 0 flipped'


def test_robot_of_names_the_supported_robots():
  assert episode_diagnostics.robot_of('bremen/HalfCheetah-v0') == 'HalfCheetah'
  assert episode_diagnostics.robot_of('Walker2d-v5') == 'Walker2d'
  with pytest.raises(ValueError, match='FetchReach-v4: episode diagnostics know the locomotion'):
    episode_diagnostics.robot_of('FetchReach-v4')


def test_a_zero_action_halfcheetah_stands_still_and_rows_match_the_evaluation():
  zero = lambda obs: np.zeros([len(obs), 6], np.float32)
  rows = episode_diagnostics.episode_rows('bremen/HalfCheetah-v0', zero, 2, seed=5)
  returns, lengths = evaluation.run_episodes('bremen/HalfCheetah-v0', zero, 2, 5)
  assert [r[0] for r in rows] == [0, 1] and [r[1] for r in rows] == [5, 6]
  np.testing.assert_allclose([r[2] for r in rows], returns)
  assert [r[3] for r in rows] == list(lengths) == [1000, 1000]
  for row in rows:
    assert row[4] == 0.0 and row[5] == 0.0
    assert abs(row[6]) < 0.1 and abs(row[7]) < 0.5
    assert row[8] == 'still'


def test_a_row_reads_speed_over_the_last_100_steps_and_the_final_pitch():
  """A hand-built Walker2d record (obs 17: pitch at 1, forward velocity at 8)."""
  obs = np.zeros([301, 17], np.float32)
  obs[:, 8] = np.r_[np.zeros(201), np.full(100, 2.0)]  # runs at 2 m/s over the last 100 steps
  obs[-1, 1] = 0.3
  actions = np.r_[np.full([100, 6], 0.5), np.zeros([100, 6]), np.full([100, 6], -0.25)]
  row = episode_diagnostics.episode_row('Walker2d-v5', 3, 8, 123.0, 300,
                                        {'obs': obs, 'actions': actions})
  assert row == [3, 8, 123.0, 300, 0.5, 0.25, 2.0, pytest.approx(0.3), 'moving']
  obs[-1, 1] = -2.0
  assert episode_diagnostics.episode_row('Walker2d-v5', 0, 0, 0.0, 300, {
      'obs': obs, 'actions': actions})[-1] == 'flipped'
  obs[-100:, 8] = 0.05
  obs[-1, 1] = 0.0
  assert episode_diagnostics.episode_row('Walker2d-v5', 0, 0, 0.0, 300, {
      'obs': obs, 'actions': actions})[-1] == 'still'


def test_the_launcher_refuses_a_directory_that_is_not_an_exported_policy(tmp_path):
  out = conftest.run_launcher_noting_imports('episode_report', f'--policy_dir={tmp_path}')
  assert out.returncode == 2
  assert f'error: {tmp_path} is not an exported policy' in out.stderr
  assert conftest.NOTHING_IMPORTED in out.stdout  # refused before TensorFlow was imported
  out = subprocess.run([sys.executable, os.path.join(REPO, 'launch', 'episode_report.py'),
                        f'--policy_dir={tmp_path}', '--noise_std=-0.1'], capture_output=True,
                       text=True, timeout=60)
  assert out.returncode == 2 and 'error: --noise_std must be >= 0, got -0.1.' in out.stderr


def test_every_policy_s_env_is_checked_before_any_policy_is_loaded(tmp_path):
  """The first policy directory holds only metadata (loading it would fail): the error is the
  second's, one line, no traceback."""
  for name, meta in (('first', {'env_id': 'bremen/HalfCheetah-v0', 'obs_dim': 17}),
                     ('second', {'env_id': 'bremen/HalfCheetah-v0', 'obs_dim': 11})):
    (tmp_path / name).mkdir()
    (tmp_path / name / 'bremen_policy.json').write_text(json.dumps(meta))
  for extra, message in (
      ([], f'error: {tmp_path}/second: the policy takes 11-dimensional observations, but '
           'bremen/HalfCheetah-v0 has 17.'),
      (['--env_id=Hopper-v9'], f"error: {tmp_path}/first: Unknown env_id 'Hopper-v9'")):
    out = subprocess.run([sys.executable, os.path.join(REPO, 'launch', 'episode_report.py'),
                          f'--policy_dir={tmp_path}/first', f'--policy_dir={tmp_path}/second',
                          *extra], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and 'Traceback' not in out.stderr, out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith(message), out.stderr


def test_with_noise_adds_seeded_gaussian_noise_and_zero_is_the_policy_itself():
  """--noise_std: the deployments' exploration (μ + 0.1·ε); reproducible for a seed."""
  zero = lambda obs: np.zeros([len(obs), 6], np.float32)
  assert episode_diagnostics.with_noise(zero, 0.0) is zero
  with pytest.raises(ValueError, match='noise_std must be >= 0, got -0.1'):
    episode_diagnostics.with_noise(zero, -0.1)
  rows = [episode_diagnostics.episode_rows(
      'bremen/HalfCheetah-v0', episode_diagnostics.with_noise(zero, 0.1, seed=3), 2, seed=3)
          for _ in range(2)]
  assert rows[0] == rows[1]  # the same seed, the same noise
  for row in rows[0]:  # mean |0.1·ε| = 0.1·sqrt(2/π) ≈ 0.080 (100 steps x 6 dims)
    assert abs(row[4] - 0.1 * math.sqrt(2 / math.pi)) < 0.01 and row[2] != 0.0
  other = episode_diagnostics.episode_rows(
      'bremen/HalfCheetah-v0', episode_diagnostics.with_noise(zero, 0.1, seed=4), 2, seed=3)
  assert [r[2] for r in other] != [r[2] for r in rows[0]]
  noisy = episode_diagnostics.with_noise(lambda obs: np.full([len(obs), 6], 0.5, np.float32),
                                         0.1, seed=0)(np.zeros([4000, 17], np.float32))
  assert abs(noisy.mean() - 0.5) < 0.005 and abs(noisy.std() - 0.1) < 0.005
