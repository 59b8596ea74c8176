"""Behaviour cloning of a dataset's better episodes: which part of a dataset BC can use.

BREMEN starts TRPO from π̂_β, the BC policy of the whole dataset. On a mixed dataset (a replay
buffer: random warm-up, then a learning policy) π̂_β can be far worse than most of its episodes:
where the poor episodes crowd a region of the state space (a standing robot), the BC mean there is
theirs. This clones the same policy, with the same BC as BREMEN's (`policies.behavior_clone`), on
the complete episodes above each return threshold, and evaluates each as BREMEN evaluates
(deterministic, whole episodes totalling >= `eval_min_steps`). `launch/bc_by_return.py` runs it.
"""
import time

import numpy as np

from bremen_tf import stages
from bremen_tf.data.dataset import episode_bounds, episode_returns
from bremen_tf.data.external import add_normalized_scores
from bremen_tf.policies import GaussianPolicy, behavior_clone, mean_action_fn


def episode_subset(dataset, min_return):
  """(indices of the kept transitions, returns of the kept complete episodes): the complete
  episodes whose return exceeds `min_return`, or with None every transition (cut episodes too)."""
  returns = episode_returns(dataset)  # in the order of the complete episodes' bounds
  if min_return is None:
    return np.arange(len(dataset)), returns
  complete = [(s, e) for s, e, is_complete in episode_bounds(dataset) if is_complete]
  keep = returns > min_return
  idx = np.concatenate([np.arange(s, e + 1) for (s, e), k in zip(complete, keep) if k]
                       or [np.zeros(0, np.int64)])
  return idx.astype(np.int64), returns[keep]


def bc_by_return(dataset, env_id, thresholds, steps, seed=0, eval_min_steps=3000, refs=None,
                 log=print):
  """One row per threshold (None first means the whole dataset): transitions and episodes kept,
  their mean episode return, BC's final loss and the BC policy's real-env evaluation."""
  rows = []
  for threshold in thresholds:
    idx, returns = episode_subset(dataset, threshold)
    what = 'every transition' if threshold is None else f'episodes with return > {threshold:g}'
    if len(idx) == 0:
      log(f'{what}: no episode; skipped')
      rows.append({'min_return': threshold, 'transitions': 0, 'episodes': 0})
      continue
    t0 = time.time()
    policy = GaussianPolicy(dataset.observations.shape[1], dataset.actions.shape[1],
                            name='bc_policy')
    _, history = behavior_clone(policy, dataset.observations[idx], dataset.actions[idx],
                                steps=steps, seed=seed)
    act = mean_action_fn(policy)
    row = add_normalized_scores(stages.evaluate_policy(env_id, act, eval_min_steps,
                                                       seed=10_000 * (seed + 1)), refs)
    row.update(min_return=threshold, transitions=int(len(idx)), episodes=len(returns),
               episode_return_mean=float(np.mean(returns)) if len(returns) else float('nan'),
               bc_final_loss=history[-1][1],
               seconds=time.time() - t0)
    log(f'{what}: {len(idx):,} transitions, BC loss {history[-1][1]:.4f}, real return '
        f'{stages.describe_return(row)} ({row["seconds"]:.0f} s)')
    rows.append(row)
  return rows
