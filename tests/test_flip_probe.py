"""bremen_tf/flip_probe.py's counts on paths with known flips, early ends and speeds (no model)."""
import math

import numpy as np
import pytest

from bremen_tf import flip_probe

PITCH, VELOCITY = 1, 8  # HalfCheetah's (episode_diagnostics.BODY_INDICES)


def states(pitches, speeds):
  obs = np.zeros((len(pitches), 17), np.float32)
  obs[:, PITCH], obs[:, VELOCITY] = pitches, speeds
  return obs


def test_runaway_paths_are_counted_apart():
  # Path 1 reaches the model's clip (its pitch too): a runaway, not a flip; speed from path 0.
  obs = np.stack([states([0.1, 0.2], [5, 5]), states([0.1, 1e5], [6, 1e5])])
  stats = flip_probe.path_stats(obs, np.ones((2, 2)), np.array([2, 2]), 2, PITCH, VELOCITY)
  assert (stats['ran_away'], stats['flipped'], stats['speed']) == (0.5, 0.0, 5.0)


def test_imagined_paths_count_flips_on_valid_steps_only():
  # Path 0 tips past 90° at its 2nd step; path 1 ends after 2 steps (its pad row holds a
  # large pitch that must not count); path 2 stays upright.
  obs = np.stack([states([0.1, 2.0, 3.0], [5, 4, 1]), states([0.1, 0.2, 9.9], [6, 6, 0]),
                  states([-0.3, 0.4, 1.5], [7, 7, 7])])
  mask = np.array([[1, 1, 1], [1, 1, 0], [1, 1, 1]], np.float32)
  stats = flip_probe.path_stats(obs, mask, np.array([3, 2, 3]), 3, PITCH, VELOCITY)
  assert stats == {'paths': 3, 'ran_away': 0.0, 'flipped': pytest.approx(1 / 3),
                   'ended_early': pytest.approx(1 / 3), 'speed': pytest.approx(43 / 8),
                   'speed_steps': 8}


def test_real_episodes_within_the_horizon_and_by_their_end():
  upright = {'obs': states([0.0] * 6, [1, 2, 3, 4, 5, 6])}
  late = {'obs': states([0.0, 0.1, 0.2, 0.3, 2.5, 3.1], [0, 2, 2, 2, 0, 0])}  # flips at step 4
  short = {'obs': states([0.0, -1.7], [0, 3])}  # one step, past -90°, ended early
  stats = flip_probe.trajectory_stats([upright, late, short], 3, PITCH, VELOCITY)
  assert stats['flipped'] == pytest.approx(1 / 3)  # only `short` within the first 3 steps
  assert stats['flipped_by_end'] == pytest.approx(2 / 3)
  assert stats['ended_early'] == pytest.approx(1 / 3) and stats['paths'] == 3
  assert stats['speed'] == pytest.approx(np.mean([2, 3, 4, 2, 2, 2, 3]))


def test_a_robot_without_a_pitch_is_refused():
  assert flip_probe.body_indices('bremen/Hopper-v0') == (1, 5)
  with pytest.raises(ValueError, match='no body pitch'):
    flip_probe.body_indices('bremen/Ant-v0')
  assert flip_probe.FLIP == math.pi / 2


def test_batches_pool_by_paths_and_the_speed_by_its_steps():
  """A batch whose every path ran away has no speed; pooling must not turn the whole into nan."""
  lost = {'paths': 2, 'ran_away': 1.0, 'flipped': 0.0, 'ended_early': 0.0, 'speed': float('nan'),
          'speed_steps': 0}
  a = {'paths': 2, 'ran_away': 0.0, 'flipped': 0.5, 'ended_early': 0.5, 'speed': 4.0,
       'speed_steps': 3}
  b = {'paths': 4, 'ran_away': 0.25, 'flipped': 0.0, 'ended_early': 0.0, 'speed': 6.0,
       'speed_steps': 9}
  pooled = flip_probe.pool([lost, a, b])
  assert pooled == {'paths': 8, 'speed_steps': 12, 'speed': pytest.approx((12 + 54) / 12),
                    'ran_away': pytest.approx(3 / 8), 'flipped': pytest.approx(1 / 8),
                    'ended_early': pytest.approx(1 / 8)}
  assert np.isnan(flip_probe.pool([lost])['speed'])
