"""Real-environment evaluation of any policy, batched over a set of environments."""
import math

import numpy as np

from bremen_tf import envs
from bremen_tf.data.dataset import return_stats


def run_episodes(env_id, policy_fn, n_episodes, seed, clip_actions=True, record=False):
  """Runs `n_episodes` whole episodes in lockstep; returns their returns and lengths (and, with
  `record`, a third item: per episode a dict of 'obs' [T+1, obs_dim] and 'actions' [T, act_dim]).

  `policy_fn(obs float32 [B, obs_dim]) -> actions [B, act_dim]` is called once per step for all
  episodes still running, so a TF policy is evaluated in one batched call. Episode k is reset
  with seed `seed + k`. v5 envs charge the raw action, so actions are clipped to the action
  bounds before `step` (the paper-faithful envs clip by themselves).
  """
  env_list = [envs.make(env_id) for _ in range(n_episodes)]
  low, high = env_list[0].action_space.low, env_list[0].action_space.high
  obs = np.stack([e.reset(seed=seed + k)[0] for k, e in enumerate(env_list)]).astype(np.float32)
  returns = np.zeros(n_episodes)
  lengths = np.zeros(n_episodes, dtype=np.int64)
  active = np.ones(n_episodes, dtype=bool)
  trajectories = [{'obs': [obs[k].copy()], 'actions': []} for k in range(n_episodes)]
  while active.any():
    idx = np.flatnonzero(active)
    actions = np.asarray(policy_fn(obs[idx]))
    if clip_actions:
      actions = np.clip(actions, low, high)
    for j, k in enumerate(idx):
      o, r, terminated, truncated, _ = env_list[k].step(actions[j])
      obs[k] = o
      if record:
        trajectories[k]['obs'].append(np.asarray(o, np.float32))
        trajectories[k]['actions'].append(np.asarray(actions[j], np.float32))
      returns[k] += r
      lengths[k] += 1
      if terminated or truncated:
        active[k] = False
  for e in env_list:
    e.close()
  if record:
    return returns, lengths, [{k: np.stack(v) for k, v in t.items()} for t in trajectories]
  return returns, lengths


def summarize(returns):
  """return_stats with 'return_'-prefixed keys (the names evaluation logs and metadata use)."""
  stats = return_stats(returns)
  return {('episodes' if k == 'episodes' else f'return_{k}'): v for k, v in stats.items()}


def run_until_steps(env_id, policy_fn, min_steps, seed, max_episode_steps=1000, record=False):
  """Whole episodes, as if run one after another, until their lengths sum to >= min_steps (the
  original's evaluation: 3000 steps, so 3 or more episodes). Episodes run in lockstep batches
  sized so that every episode started is needed. Episode k is seeded with seed + k."""
  returns, lengths, trajectories = [], [], []
  while sum(lengths) < min_steps:
    n = max(1, math.ceil((min_steps - sum(lengths)) / max_episode_steps))
    out = run_episodes(env_id, policy_fn, n, seed + len(returns), record=record)
    returns.extend(out[0].tolist())
    lengths.extend(out[1].tolist())
    if record:
      trajectories.extend(out[2])
  if record:
    return np.asarray(returns), np.asarray(lengths), trajectories
  return np.asarray(returns), np.asarray(lengths)
