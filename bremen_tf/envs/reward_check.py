"""How closely an env variant's imagination reward/done match the real env, on real transitions.

Used by the tests (assertions) and by `launch/reward_match.py` (the figures in the README).
"""
import numpy as np
import tensorflow as tf

from bremen_tf import envs
from bremen_tf.data import shipped_policies
from bremen_tf.data import noise


def random_policy(env_id, seed=0):
  rng = np.random.default_rng(seed)
  act_dim = envs.get_spec(env_id).act_dim
  return lambda s: rng.uniform(-1.0, 1.0, act_dim)


def behavior_policy(env_id, seed=0):
  """The shipped paper-faithful SAC policy of the same robot, sampling (v5 shares the layout)."""
  actor, _ = shipped_policies.load_behavior_policy(paper_env_id(env_id))
  sample = noise.make_action_fn(noise.get_segments('pure')[0], actor, -1.0, 1.0)
  rng = np.random.default_rng(seed)
  return lambda s: sample(np.asarray(s, np.float32)[None], rng)[0]


def paper_env_id(env_id):
  """'Hopper-v5' or 'bremen/Hopper-v0' -> 'bremen/Hopper-v0'."""
  return f"bremen/{env_id.split('/')[-1].split('-')[0]}-v0"


def compare(env_id, policy, episodes, seed=0):
  """Runs `episodes` real episodes and compares env and imagination reward/done per step."""
  spec = envs.get_spec(env_id)
  env = envs.make(env_id)
  low, high = env.action_space.low, env.action_space.high
  rows, ids = [], []
  for ep in range(episodes):
    s, _ = env.reset(seed=seed + ep)
    while True:
      a = np.clip(np.asarray(policy(s), np.float64), low, high)
      s2, r, term, trunc, _ = env.step(a)
      rows.append((s, a, s2, r, term))
      ids.append(ep)
      s = s2
      if term or trunc:
        break
  env.close()
  s, a, s2, r, d = (np.array(x) for x in zip(*rows))
  f = lambda x: tf.constant(x, tf.float32)
  r_hat = spec.reward_fn(f(s), f(a), f(s2)).numpy().astype(np.float64)
  d_hat = spec.done_fn(f(s2)).numpy()
  ids = np.array(ids)
  true_ret, pred_ret = np.bincount(ids, weights=r), np.bincount(ids, weights=r_hat)
  return {
      'steps': int(r.size), 'episodes': episodes,
      'max_abs_error': float(np.abs(r_hat - r).max()),
      'correlation': float(np.corrcoef(r, r_hat)[0, 1]),
      'done_agreement': float(np.mean(d_hat == d)),
      'true_return_mean': float(true_ret.mean()),
      # (predicted - true) summed return, relative to the true return and to Σ|r| (the latter
      # stays meaningful when returns are near zero).
      'return_bias': float((pred_ret.sum() - true_ret.sum()) / abs(true_ret.sum())),
      'return_bias_of_abs': float((pred_ret.sum() - true_ret.sum()) / np.abs(r).sum()),
  }
