"""bremen_tf/flip_probe.py's counts on paths with known flips, early ends and speeds (no model)."""
import math
import types

import numpy as np
import pytest
import tensorflow as tf

import conftest
from bremen_tf import envs, flip_probe

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
  obs[:, :, flip_probe.HEIGHT] = [[1.0, 1.0, 1.0], [1.2, 0.8, 5.0], [1.1, 1.1, 1.1]]
  mask = np.array([[1, 1, 1], [1, 1, 0], [1, 1, 1]], np.float32)
  stats = flip_probe.path_stats(obs, mask, np.array([3, 2, 3]), 3, PITCH, VELOCITY)
  assert stats == {'paths': 3, 'ran_away': 0.0, 'flipped': pytest.approx(1 / 3),
                   'ended_early': pytest.approx(1 / 3), 'speed': pytest.approx(43 / 8),
                   'height': pytest.approx(8.3 / 8), 'abs_pitch': pytest.approx(7.6 / 8),
                   'speed_steps': 8, 'end_height': pytest.approx(0.8),  # path 1's last state
                   'end_abs_pitch': pytest.approx(0.2), 'ends': 1}


def test_real_episodes_within_the_horizon_and_by_their_end():
  upright = {'obs': states([0.0] * 6, [1, 2, 3, 4, 5, 6])}
  late = {'obs': states([0.0, 0.1, 0.2, 0.3, 2.5, 3.1], [0, 2, 2, 2, 0, 0])}  # flips at step 4
  short = {'obs': states([0.0, -1.7], [0, 3])}  # one step, past -90°, ended early
  short['obs'][:, flip_probe.HEIGHT] = [0.9, 0.6]
  stats = flip_probe.trajectory_stats([upright, late, short], 3, PITCH, VELOCITY)
  # means over the states after each step within the horizon; the end: the state before it
  assert stats['height'] == pytest.approx(0.6 / 7) and stats['abs_pitch'] == pytest.approx(2.3 / 7)
  assert (stats['end_height'], stats['end_abs_pitch']) == (pytest.approx(0.9), 0.0)
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
  nan = float('nan')
  lost = {'paths': 2, 'ran_away': 1.0, 'flipped': 0.0, 'ended_early': 0.0, 'speed': nan,
          'height': nan, 'abs_pitch': nan, 'speed_steps': 0, 'end_height': nan,
          'end_abs_pitch': nan, 'ends': 0}
  a = {'paths': 2, 'ran_away': 0.0, 'flipped': 0.5, 'ended_early': 0.5, 'speed': 4.0,
       'height': 1.0, 'abs_pitch': 0.1, 'speed_steps': 3, 'end_height': 0.7,
       'end_abs_pitch': 0.3, 'ends': 1}
  b = {'paths': 4, 'ran_away': 0.25, 'flipped': 0.0, 'ended_early': 0.0, 'speed': 6.0,
       'height': 1.2, 'abs_pitch': 0.2, 'speed_steps': 9, 'end_height': nan,
       'end_abs_pitch': nan, 'ends': 0}
  pooled = flip_probe.pool([lost, a, b])
  assert pooled == {'paths': 8, 'speed_steps': 12, 'speed': pytest.approx((12 + 54) / 12),
                    'height': pytest.approx(13.8 / 12), 'abs_pitch': pytest.approx(2.1 / 12),
                    'ends': 1, 'end_height': pytest.approx(0.7),
                    'end_abs_pitch': pytest.approx(0.3),
                    'ran_away': pytest.approx(3 / 8), 'flipped': pytest.approx(1 / 8),
                    'ended_early': pytest.approx(1 / 8)}
  assert np.isnan(flip_probe.pool([lost])['speed'])
  assert np.isnan(flip_probe.pool([lost, b])['end_height'])


def episode(pitches, z=1.2):
  """A recorded real episode whose states s_0..s_T have these pitches."""
  obs = states(pitches, np.zeros(len(pitches)))
  obs[:, 0] = z
  return {'obs': obs, 'actions': np.zeros((len(pitches) - 1, 6), np.float32)}


def fall(next_obs):
  return next_obs[:, 0] < 0.7  # a Hopper-like termination test on the height


def test_real_failures_are_falls_or_flips():
  flips = episode(0.1 * np.arange(31))  # s_t has pitch 0.1 t: past π/2 first at t = 16
  falls = episode(np.zeros(9))
  falls['obs'][7:, 0] = 0.5  # terminated at s_7 (and the env would have ended there)
  upright = episode(np.zeros(101))
  assert flip_probe.failure_steps([flips, falls, upright], fall, PITCH) == [16, 7, None]


def test_foresight_starts_k_steps_before_and_controls_2k_clear():
  flips, upright = episode(0.1 * np.arange(31)), episode(np.zeros(101))
  before, control = flip_probe.foresight_starts([flips, upright], [16, None], 5)
  np.testing.assert_allclose(before[:, PITCH], [1.1])  # s_11
  # Controls every 50 steps: flips' s_0 (s_1..s_10 are clear of its failure at 16); upright's s_0
  # and s_50 (s_90 would be the last with 10 real states after it).
  assert len(control) == 3
  assert flip_probe.foresight_starts([flips], [16], 8)[1].shape[0] == 0  # s_0 + 16 fails


class Tilting:
  """A one-member model in which the pitch grows by 0.1 a step whatever the action; the 3rd
  dimension jumps to the output clip once the pitch passes 1.0 if `runaway`."""
  n_models = 1

  def __init__(self, runaway=False):
    self.runaway = runaway

  def member_predictor(self):
    def predict(obs, act, member):
      del act, member
      nxt = obs + tf.constant([0.0, 0.1] + [0.0] * 15)
      if self.runaway:
        jump = tf.constant([0.0, 0.0, 1e5] + [0.0] * 14)
        nxt = tf.where((nxt[:, 1] > 1.0)[:, None], nxt + jump, nxt)
      return nxt
    return predict


class StillPolicy:
  obs_dim, act_dim = 17, 6

  def sample(self, obs, noise):
    return tf.zeros_like(noise)


def trainer(model):
  return types.SimpleNamespace(policy=StillPolicy(), dynamics=model, done_fn=fall,
                               reward_fn=lambda obs, act, nxt: tf.zeros(tf.shape(obs)[:1]),
                               rng=tf.random.Generator.from_seed(0))


def test_foresight_of_a_model_that_tilts_like_the_real_robot():
  """The model tips past π/2 16 steps after a pitch of 0: from 5 steps before the real flip every
  imagined path flips within 10 steps, from the upright controls none (k = 5); with k = 10 the
  controls (pitch 0) flip within 20 steps too: false alarms."""
  flips, upright = episode(0.1 * np.arange(31)), episode(np.zeros(101))
  out = flip_probe.foresight(trainer(Tilting()), [flips, upright], PITCH, steps=(5, 10),
                             n_parallel=4)
  assert out[5] == {'n_before': 1, 'before': 1.0, 'n_control': 3, 'control': 0.0}
  assert out[10] == {'n_before': 1, 'before': 1.0, 'n_control': 2, 'control': 1.0}


def test_foresight_does_not_count_runaway_paths_as_failures():
  flips = episode(0.1 * np.arange(31))
  out = flip_probe.foresight(trainer(Tilting(runaway=True)), [flips], PITCH, steps=(5,),
                             n_parallel=4)
  assert out[5]['before'] == 0.0  # its paths hit the clip at pitch 1.1, before tipping over


@pytest.mark.parametrize('steps', ['0,10', 'ten', ''])
def test_bad_foresight_steps_are_refused_before_any_work(tmp_path, steps):
  for name in ('config.gin', 'train_state.json'):
    (tmp_path / name).write_text('')
  result = conftest.run_launcher_noting_imports('flip_probe', f'--run_dir={tmp_path}',
                                                f'--foresight_steps={steps}')
  assert result.returncode == 2, result.stdout + result.stderr
  assert '--foresight_steps must be positive integers' in result.stderr
  assert conftest.NOTHING_IMPORTED in result.stdout  # refused before TensorFlow was imported


def test_the_data_pitch_says_whether_the_data_ever_flips():
  obs = states([0.1, -1.5, 0.3, 1.7], [0, 0, 0, 0])
  assert flip_probe.data_pitch(obs, PITCH) == (pytest.approx(1.7), 0.25)


def test_the_real_env_answers_from_the_same_starts():
  """real_failures sets the real env to each start: a cheetah already on its back fails at once,
  one standing still with no action does not; a hopper below its healthy height terminates; a v5
  env, whose state an observation does not fix, gives None."""
  cheetah = envs.make('bremen/HalfCheetah-v0')
  upright, _ = cheetah.reset(seed=0)
  on_back = upright.copy()
  on_back[PITCH] = 3.0
  rng = np.random.default_rng(0)
  starts = np.array([on_back, upright], np.float32)
  still = types.SimpleNamespace(act_dim=6, sample=lambda obs, noise: tf.zeros_like(noise))
  assert flip_probe.real_failures('bremen/HalfCheetah-v0', still, starts, 20, 2, rng) == 0.5
  hopper = envs.make('bremen/Hopper-v0')
  low, _ = hopper.reset(seed=0)
  low[0] = 0.5  # height
  still3 = types.SimpleNamespace(act_dim=3, sample=lambda obs, noise: tf.zeros_like(noise))
  assert flip_probe.real_failures('bremen/Hopper-v0', still3, np.array([low], np.float32), 5, 3,
                                  rng) == 1.0
  assert flip_probe.real_failures('HalfCheetah-v5', still, starts, 5, 1, rng) is None


def test_an_imagined_path_returns_its_valid_steps_rewards():
  rewards = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 1e5]])  # path 1's pad step holds a runaway
  mask = np.array([[1, 1, 1], [1, 1, 0]], np.float32)
  np.testing.assert_array_equal(flip_probe.path_returns(rewards, mask), [7.0, 8.0])
  np.testing.assert_allclose(flip_probe.path_returns(rewards, mask, gamma=0.5), [1 + 1 + 1, 5.5])
