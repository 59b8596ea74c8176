"""Imagined rollouts through the dynamics ensemble, assembled into paths (reference/bremen.md §3, §6).

`rollout` runs P imagined paths side by side, as the original's vectorised sampler did: every
step draws one ensemble member for the whole batch, clips the exploration action to the action
bounds for the model and the reward, and stores the unclipped action. A slot whose path ends
(predicted termination, or H steps) restarts from a fresh reset state; stepping stops once the
*completed* paths hold at least `min_steps` steps, and unfinished paths are dropped.

`assemble_paths` orders the completed paths by completion (time, then slot, as the original
appended them) and lays them out zero-padded as [n_paths, longest path] arrays. Everything is TF
ops, so a caller runs rollout + assembly inside one tf.function with no per-step Python.
"""
import collections
import math

import tensorflow as tf

Records = collections.namedtuple('Records', 'obs actions rewards ends positions')
Paths = collections.namedtuple('Paths', 'obs actions rewards mask timesteps lengths')


def max_rollout_steps(min_steps, n_parallel, horizon):
  """Steps after which completed paths surely hold >= min_steps: each slot has then finished
  at least steps − H steps (its running path is at most H long)."""
  return math.ceil(min_steps / n_parallel) + horizon


def rollout(policy, dynamics, reward_fn, done_fn, start_obs, rng, n_parallel, horizon, min_steps,
            action_low=-1.0, action_high=1.0):
  """Time-major Records of shape [T, P, ...]; start states are drawn uniformly from `start_obs`
  (a bank of real env reset observations)."""
  n_starts = tf.shape(start_obs)[0]
  act_dim = policy.act_dim

  def starts():
    return tf.gather(start_obs, rng.uniform([n_parallel], 0, n_starts, dtype=tf.int32))

  predict = dynamics.member_predictor()  # unstacks the member weights once, outside the loop
  t_max = max_rollout_steps(min_steps, n_parallel, horizon)
  arrays = [tf.TensorArray(dtype, size=0, dynamic_size=True, element_shape=shape)
            for dtype, shape in ((tf.float32, [n_parallel, policy.obs_dim]),
                                 (tf.float32, [n_parallel, act_dim]),
                                 (tf.float32, [n_parallel]), (tf.bool, [n_parallel]),
                                 (tf.int32, [n_parallel]))]

  def cond(t, obs, pos, completed, *arrays):
    return tf.logical_and(completed < min_steps, t < t_max)

  def body(t, obs, pos, completed, ta_obs, ta_act, ta_rew, ta_end, ta_pos):
    actions = policy.sample(obs, rng.normal([n_parallel, act_dim]))
    clipped = tf.clip_by_value(actions, action_low, action_high)
    member = rng.uniform([], 0, dynamics.n_models, dtype=tf.int32)
    next_obs = predict(obs, clipped, member)
    rewards = reward_fn(obs, clipped, next_obs)
    ends = tf.logical_or(done_fn(next_obs), pos + 1 >= horizon)
    completed += tf.reduce_sum(tf.where(ends, pos + 1, 0))
    arrays = (ta_obs.write(t, obs), ta_act.write(t, actions), ta_rew.write(t, rewards),
              ta_end.write(t, ends), ta_pos.write(t, pos))
    obs = tf.where(ends[:, None], starts(), next_obs)
    pos = tf.where(ends, 0, pos + 1)
    return (t + 1, obs, pos, completed) + arrays

  out = tf.while_loop(cond, body, [tf.constant(0), starts(), tf.zeros([n_parallel], tf.int32),
                                   tf.constant(0)] + arrays)
  return Records(*(ta.stack() for ta in out[4:]))


def assemble_paths(records):
  """Completed paths from time-major records, zero-padded: Paths with [n_paths, L, ...] arrays."""
  ends, pos = records.ends, records.positions
  # The k-th end in (time, slot) order completes path k; a step belongs to its slot's next end.
  end_ids = tf.reshape(tf.cumsum(tf.cast(tf.reshape(ends, [-1]), tf.int32)) - 1, tf.shape(ends))
  end_ids = tf.where(ends, end_ids, -1)
  path_ids = tf.scan(lambda nxt, cur: tf.where(cur[0], cur[1], nxt), (ends, end_ids),
                     initializer=-tf.ones_like(end_ids[0]), reverse=True)
  valid = path_ids >= 0
  n_paths = tf.reduce_sum(tf.cast(ends, tf.int32))
  lengths = tf.boolean_mask(pos + 1, ends)  # in path-id order (row-major over [T, P])
  longest = tf.reduce_max(lengths)
  index = tf.stack([tf.boolean_mask(path_ids, valid), tf.boolean_mask(pos, valid)], axis=1)

  def pad(x):
    values = tf.boolean_mask(x, valid)
    shape = tf.concat([[n_paths, longest], tf.shape(values)[1:]], axis=0)
    return tf.scatter_nd(index, values, shape)

  mask = pad(tf.ones_like(records.rewards))
  timesteps = tf.range(longest)[None, :] * tf.ones([n_paths, 1], tf.int32)
  return Paths(pad(records.obs), pad(records.actions), pad(records.rewards), mask, timesteps,
               lengths)


def flatten_paths(x):
  """[n_paths, L, ...] -> [n_paths·L, ...], row-major (path by path)."""
  return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], axis=0))


def first_rows(x, n):
  """The first n rows of flatten_paths(x): the original's batch (pad to the longest path,
  flatten, cut to batch_size), pad rows included."""
  return flatten_paths(x)[:n]
