"""Batched TF reward(s, a, s') and done(s') for imagination, one pair per environment variant.

All take float32 tensors [B, obs_dim] / [B, act_dim] and return [B] (reward float32, done bool).
Each `reward` equals what the real env's `step(a)` returns for the same (s, a, s'):
  * paper-faithful variants clip `a` to [-1, 1] like the original code, so the match is exact;
  * v5 variants use `a` as given (v5 charges the raw action), and approximate v5's
    displacement-based forward reward Δx/dt from the velocities in s and s' (see VELOCITY_WEIGHT).
"""
import tensorflow as tf


def check_imagination_fns(where, reward_fn, done_fn, obs_dim, act_dim, batch=3):
  """Calls reward_fn and done_fn on a small batch and fails with a ValueError naming `where`
  unless they return [batch] float and bool tensors (envs.register_env's check)."""
  s = tf.zeros([batch, obs_dim]) + tf.range(batch, dtype=tf.float32)[:, None] * 0.1
  a = tf.zeros([batch, act_dim])
  for name, fn, args, dtype in (('reward_fn(s, a, s_next)', reward_fn, (s, a, s), tf.float32),
                                ('done_fn(s_next)', done_fn, (s,), tf.bool)):
    try:
      out = tf.convert_to_tensor(fn(*args))
    except Exception as e:  # pylint: disable=broad-except
      raise ValueError(f'{where}: {name} failed on float32 tensors of shape [{batch}, {obs_dim}] '
                       f'/ [{batch}, {act_dim}]: {type(e).__name__}: {e}') from e
    if out.shape != (batch,) or out.dtype != dtype:
      raise ValueError(f'{where}: {name} must return a {dtype.name} tensor of shape [B] '
                       f'(here [{batch}]), found {out.dtype.name} of shape {out.shape.as_list()}.')


def _sq_norm(a):
  return tf.reduce_sum(tf.square(a), axis=-1)


def _clip(a):
  return tf.clip_by_value(a, -1.0, 1.0)


def _never_done(s_next):
  return tf.zeros(tf.shape(s_next)[:1], dtype=tf.bool)


def _all_finite(s):
  return tf.reduce_all(tf.math.is_finite(s), axis=-1)


# --- paper-faithful (reference/bremen.md §8) ------------------------------------------------------
def hopper_paper_reward(s, a, s_next):
  return s_next[:, 5] + 1.0 - 1e-3 * _sq_norm(_clip(a))


def hopper_paper_done(s_next):
  healthy = (_all_finite(s_next)
             & tf.reduce_all(tf.abs(s_next[:, 1:]) < 100.0, axis=-1)
             & (s_next[:, 0] > 0.7) & (tf.abs(s_next[:, 1]) < 0.2))
  return tf.logical_not(healthy)


def walker2d_paper_reward(s, a, s_next):
  return s_next[:, 8] + 1.0 - 1e-3 * _sq_norm(_clip(a))


def _walker2d_healthy(s_next):
  z, angle = s_next[:, 0], s_next[:, 1]
  return (z > 0.8) & (z < 2.0) & (angle > -1.0) & (angle < 1.0)


def walker2d_paper_done(s_next):
  return tf.logical_not(_walker2d_healthy(s_next))


def halfcheetah_paper_reward(s, a, s_next):
  return s[:, 8] - 0.1 * _sq_norm(_clip(a))  # pre-step velocity


def ant_paper_reward(s, a, s_next):
  return s[:, 13] - 0.1 * _sq_norm(_clip(a)) - 3.0 * tf.square(s[:, 0] - 0.57) + 1.0


halfcheetah_paper_done = _never_done
ant_paper_done = _never_done


# --- gymnasium v5 ----------------------------------------------------------------------------------
# v5 pays Δx/dt over `frame_skip` substeps; we estimate it as (1 - w)·v + w·v' from the velocities
# in s and s'. HalfCheetah integrates with semi-implicit Euler (x_{k+1} = x_k + h·v_{k+1}), so
# Δx/dt is the mean of the 5 post-substep velocities; for a velocity changing linearly over the
# step that is 0.4·v + 0.6·v' (w = (n+1)/2n with n = 5). Hopper, Walker2d and Ant use RK4, for
# which the trapezoid w = 0.5 is the fit (measured: tests/test_envs.py prints the match).
VELOCITY_WEIGHT = {'Hopper-v5': 0.5, 'Walker2d-v5': 0.5, 'HalfCheetah-v5': 0.6, 'Ant-v5': 0.5}


def _forward(s, s_next, index, env_id):
  w = VELOCITY_WEIGHT[env_id]
  return (1.0 - w) * s[:, index] + w * s_next[:, index]


def _hopper_v5_healthy(s_next):
  # v5 tests |qpos[2:], qvel| < 100 on the *unclipped* qvel; the observation clips qvel at ±10,
  # so that part is always true here (it only matters for diverging states).
  return (_all_finite(s_next)
          & tf.reduce_all(tf.abs(s_next[:, 1:]) < 100.0, axis=-1)
          & (s_next[:, 0] > 0.7) & (tf.abs(s_next[:, 1]) < 0.2))


def hopper_v5_reward(s, a, s_next):
  healthy = tf.cast(_hopper_v5_healthy(s_next), tf.float32)
  return _forward(s, s_next, 5, 'Hopper-v5') + healthy - 1e-3 * _sq_norm(a)


def hopper_v5_done(s_next):
  return tf.logical_not(_hopper_v5_healthy(s_next))


def walker2d_v5_reward(s, a, s_next):
  healthy = tf.cast(_walker2d_healthy(s_next), tf.float32)
  return _forward(s, s_next, 8, 'Walker2d-v5') + healthy - 1e-3 * _sq_norm(a)


def walker2d_v5_done(s_next):
  return tf.logical_not(_walker2d_healthy(s_next))


def halfcheetah_v5_reward(s, a, s_next):
  return _forward(s, s_next, 8, 'HalfCheetah-v5') - 0.1 * _sq_norm(a)


halfcheetah_v5_done = _never_done


def _ant_v5_healthy(s_next):
  z = s_next[:, 0]
  return _all_finite(s_next) & (z >= 0.2) & (z <= 1.0)


def ant_v5_reward(s, a, s_next):
  # The contact cost 5e-4·‖clip(cfrc_ext, ±1)‖² needs contact forces the 27-dim observation
  # lacks; it is dropped (at most 0.039 per step).
  healthy = tf.cast(_ant_v5_healthy(s_next), tf.float32)
  return _forward(s, s_next, 13, 'Ant-v5') + healthy - 0.5 * _sq_norm(a)


def ant_v5_done(s_next):
  return tf.logical_not(_ant_v5_healthy(s_next))


# --- manipulation (reference/bremen.md §9): minus the distance of the achieved goal to the goal ---
def fetch_reach_reward(s, a, s_next):
  return -tf.norm(s_next[:, 0:3] - s_next[:, -3:], axis=-1)  # gripper position vs goal


def hand_reach_reward(s, a, s_next):
  return -tf.norm(s_next[:, -30:-15] - s_next[:, -15:], axis=-1)  # fingertips vs goal


fetch_reach_done = _never_done
hand_reach_done = _never_done
