"""Imagined rollouts and the TRPO update built on them, with stand-in models of known behaviour."""
import numpy as np
import tensorflow as tf

from bremen_tf import envs, imagination
from bremen_tf.dynamics import DynamicsEnsemble
from bremen_tf.imagined_trpo import ImaginedTRPO
from bremen_tf.policies import GaussianPolicy


class CounterPolicy:
  """obs [B, 2] -> actions = noise; the stand-in only needs obs_dim/act_dim/sample."""
  obs_dim, act_dim = 2, 1

  def sample(self, obs, noise):
    return 5.0 * noise  # well outside [-1, 1]: the stored action must stay unclipped


class CounterDynamics:
  """s' = s + (member + 1, clipped action): column 0 counts the members' increments."""
  n_models = 3

  def member_predictor(self):
    def predict(obs, act, member):
      step = tf.cast(member + 1, tf.float32) * tf.ones_like(obs[:, :1])
      return obs + tf.concat([step, act], axis=1)
    return predict


def run(min_steps, n_parallel, horizon, done_at=None, seed=0):
  done_fn = (lambda s: tf.zeros(tf.shape(s)[:1], tf.bool)) if done_at is None else \
      (lambda s: s[:, 0] >= done_at)
  reward_fn = lambda s, a, s2: s2[:, 0] - s[:, 0]  # the member's increment
  starts = tf.zeros([4, 2])
  rng = tf.random.Generator.from_seed(seed)
  records = tf.function(lambda: imagination.rollout(
      CounterPolicy(), CounterDynamics(), reward_fn, done_fn, starts, rng, n_parallel, horizon,
      min_steps))()
  return records, imagination.assemble_paths(records)


def test_one_member_per_step_for_the_whole_batch_and_actions_clipped_for_the_model():
  records, _ = run(min_steps=30, n_parallel=6, horizon=5)
  rewards = records.rewards.numpy()  # [T, P]: the increment of the member drawn at step t
  assert np.all(rewards == rewards[:, :1])  # same member for every slot in a step
  assert set(np.unique(rewards)) <= {1.0, 2.0, 3.0} and len(np.unique(rewards)) > 1
  acts = records.actions.numpy()
  assert np.abs(acts).max() > 1.0  # stored unclipped
  obs = records.obs.numpy()
  # Column 1 accumulates the *clipped* actions between restarts.
  for t in range(1, 5):
    np.testing.assert_allclose(obs[t, :, 1], obs[t - 1, :, 1] + np.clip(acts[t - 1, :, 0], -1, 1),
                               atol=1e-5)


def test_paths_end_at_horizon_or_termination_and_restart():
  records, paths = run(min_steps=40, n_parallel=4, horizon=6, done_at=7.0)
  lengths = paths.lengths.numpy()
  assert lengths.sum() >= 40 and lengths.max() <= 6
  mask = paths.mask.numpy()
  np.testing.assert_array_equal(mask.sum(axis=1), lengths)
  obs, rewards = paths.obs.numpy(), paths.rewards.numpy()
  for k, n in enumerate(lengths):
    assert obs[k, 0, 0] == 0.0  # every path starts from a reset state
    final = obs[k, n - 1, 0] + rewards[k, n - 1]
    assert n == 6 or final >= 7.0  # ended by the horizon or by termination
    if n < 6:
      assert obs[k, n - 1, 0] < 7.0  # ... at the first terminal state, not later
    assert np.all(obs[k, n:] == 0) and np.all(mask[k, n:] == 0)  # zero padding


def test_completed_paths_are_ordered_by_completion_and_unfinished_ones_dropped():
  records, paths = run(min_steps=25, n_parallel=4, horizon=5, done_at=4.0, seed=3)
  ends = records.ends.numpy()
  expected = [int(p) for t in range(ends.shape[0]) for p in range(4) if ends[t, p]]
  assert len(paths.lengths.numpy()) == len(expected)
  # Path k is the k-th end in (time, slot) order; its length is the slot's steps since restart.
  pos = records.positions.numpy()
  order = [(t, p) for t in range(ends.shape[0]) for p in range(4) if ends[t, p]]
  np.testing.assert_array_equal(paths.lengths.numpy(), [pos[t, p] + 1 for t, p in order])
  # Stepping stopped at the first step where completed paths reached min_steps.
  completed = np.cumsum([(pos[t] + 1)[ends[t]].sum() for t in range(ends.shape[0])])
  assert completed[-1] >= 25 and (len(completed) == 1 or completed[-2] < 25)


def test_batch_is_padded_flattened_and_cut_like_the_original():
  x = tf.constant([[[1.], [2.], [0.]], [[3.], [4.], [5.]], [[6.], [0.], [0.]]])  # lengths 2, 3, 1
  np.testing.assert_array_equal(imagination.first_rows(x, 5).numpy()[:, 0], [1, 2, 0, 3, 4])


def tiny_trainer(env_id='bremen/Hopper-v0', **kwargs):
  spec = envs.get_spec(env_id)
  dynamics = DynamicsEnsemble(spec.obs_dim, spec.act_dim, n_models=2, hidden=(16, 16))
  rng = np.random.default_rng(0)
  obs = rng.normal(size=(500, spec.obs_dim)).astype(np.float32)
  dynamics.set_normalization(obs, rng.normal(size=(500, spec.act_dim)).astype(np.float32),
                             obs + 0.01)
  policy = GaussianPolicy(spec.obs_dim, spec.act_dim)
  behavior = GaussianPolicy(spec.obs_dim, spec.act_dim, name='bc')
  env = envs.make(env_id)
  starts = np.stack([env.reset(seed=i)[0] for i in range(16)])
  trainer = ImaginedTRPO(policy, behavior, dynamics, spec.reward_fn, spec.done_fn, starts,
                         horizon=20, batch_size=400, target_kl=0.01, **kwargs)
  return trainer, policy


def test_imagined_update_moves_the_policy_within_the_trust_region_and_fits_the_baseline():
  trainer, policy = tiny_trainer('bremen/HalfCheetah-v0')
  assert trainer.n_parallel == 20  # batch_size / horizon
  before = [v.numpy() for v in policy.trainable_variables]
  info = {k: v.numpy() for k, v in trainer.update().items()}
  assert info['imagined_paths'] == 20 and info['imagined_steps'] == 400
  assert info['batch_real_rows'] == 400
  assert info['accepted'] and info['step_fraction'] == 1.0  # the full step (the surrogate allows it)
  assert 0.8 * 0.01 <= info['kl_after'] <= 0.01  # the quadratic model of the KL is close (0.0089)
  assert any(np.abs(a - v.numpy()).max() > 0 for a, v in zip(before, policy.trainable_variables))
  assert np.abs(trainer.baseline.coeffs.numpy()).max() > 0  # fitted after the step


def test_cached_gauss_newton_and_double_backprop_fisher_give_the_same_update():
  results = []
  for fisher in ('cached', 'gauss_newton', 'double_backprop'):
    trainer, policy = tiny_trainer('bremen/HalfCheetah-v0', fisher_product=fisher)
    trainer.update()
    results.append(np.concatenate([v.numpy().ravel() for v in policy.trainable_variables]))
  np.testing.assert_allclose(results[0], results[1], rtol=1e-3, atol=1e-6)
  np.testing.assert_allclose(results[0], results[2], rtol=1e-3, atol=1e-6)


def test_alpha_penalty_needs_a_behavior_policy():
  import pytest
  spec = envs.get_spec('bremen/Hopper-v0')
  with pytest.raises(ValueError, match='behaviour policy'):
    ImaginedTRPO(GaussianPolicy(11, 3), None, DynamicsEnsemble(11, 3, n_models=1, hidden=(4,)),
                 spec.reward_fn, spec.done_fn, np.zeros((1, 11)), horizon=10, alpha=0.1)


def test_energy_distance_hand_example_and_zero_for_identical_sets():
  from bremen_tf.model_diagnostics import energy_distance
  real = np.zeros((2, 1, 1))
  sim = np.array([[[1.0]], [[3.0]]])
  # A = mean |r − s| = 2, B = mean |s − s'| = (0 + 2 + 2 + 0)/4 = 1, C = 0 -> sqrt(4 − 1).
  assert abs(energy_distance(real, sim) - np.sqrt(3.0)) < 1e-9
  assert energy_distance(sim, sim) == 0.0


def test_model_diagnostics_are_zero_for_a_perfect_model():
  from bremen_tf.model_diagnostics import model_diagnostics

  class Exact:  # s' = s + clipped action, exactly what the "real" trajectories do
    n_models = 2

    def member_predictor(self):
      return lambda obs, act, member: obs + act

  class Policy:
    def mean_log_std(self, obs):
      return 0.5 * tf.ones_like(obs), tf.zeros_like(obs)

  trajectories = []
  for start in (0.0, 1.0):
    obs = [np.full(2, start, np.float32)]
    for _ in range(4):
      obs.append(obs[-1] + 0.5)
    trajectories.append({'obs': np.stack(obs), 'actions': np.full((4, 2), 0.5, np.float32)})
  d = model_diagnostics(Exact(), Policy(), lambda s, a, s2: tf.reduce_sum(s2 - s, -1),
                        trajectories)
  assert d['model_step_mse'] == 0.0 and d['model_traj_mse'] == 0.0
  assert d['model_energy_distance'] == 0.0 and d['model_traj_steps'] == 4
  assert abs(d['model_step_return'] - 4.0) < 1e-6  # 4 steps of +0.5 in 2 dims


def test_fisher_subsample_still_steps_within_a_loose_trust_region():
  trainer, _ = tiny_trainer('bremen/HalfCheetah-v0', fisher_subsample=0.25)
  assert trainer.fisher_rows == 100
  info = trainer.update()
  assert bool(info['accepted']) and 0.0 < float(info['kl_after']) <= 0.01 * 3


def test_the_update_traced_without_autograph_is_the_autograph_trace_bit_for_bit():
  """ImaginedTRPO.update skips autograph (its control flow is tf.while_loop and tf.cond); the
  same update converted by autograph, from the same state, gives the same numbers exactly. With
  the optional branches on (data box, α penalty, Fisher subsample); one case, as each trace with
  autograph takes seconds."""
  trainer, _ = tiny_trainer('bremen/HalfCheetah-v0', data_box_margin=0.5, alpha=0.1,
                            fisher_subsample=0.5)
  trainer.set_data_box(trainer.start_obs.numpy() + 0.0)
  state = list(trainer.variables) + [trainer.rng.state]  # policies, dynamics, baseline; draws
  start = [v.numpy() for v in state]
  results = []
  for update in (trainer.update, tf.function(trainer._update)):  # pylint: disable=protected-access
    for v, value in zip(state, start):
      v.assign(value)
    info = {k: v.numpy() for k, v in update().items()}
    results.append((info, [v.numpy() for v in state]))
  (info, after), (reference_info, reference_after) = results
  assert sorted(info) == sorted(reference_info) and info['accepted']
  for key in reference_info:
    np.testing.assert_array_equal(info[key], reference_info[key], err_msg=key)
  assert any(np.any(a != b) for a, b in zip(after, start))  # the update moved something
  for a, b in zip(after, reference_after):
    np.testing.assert_array_equal(a, b)
