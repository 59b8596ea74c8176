"""The data of a deployment-efficient run: one batch per deployment, in <run>/data/, and the
per-deployment summary deployments.csv (shared by the BREMEN and the model-free loops)."""
import os

import numpy as np

from bremen_tf import envs, fileio
from bremen_tf.data.collection import collect_episodes
from bremen_tf.data.dataset import Dataset, load_dataset, save_dataset

DEPLOYMENTS_FILE = 'deployments.csv'


def batch_file(run_dir, d):
  return os.path.join(run_dir, 'data', f'deployment_{d}.npz')


def batch_path(run, d):
  return batch_file(run.path, d)


def load_batches(run, env_id, count):
  """The first `count` deployments' batches, saved in <run>/data/ as they were collected."""
  return [load_dataset(batch_path(run, d), env_id) for d in range(1, count + 1)]


def collect_batch(env_id, d, action_fn, size, seed, n_envs, log):
  """Deployment d's batch: whole episodes until `size` transitions, with uniform-random actions
  in deployment 1 and `action_fn(obs, rng)` after (the deployment-(d-1) policy). A function of its
  arguments alone, so that bremen_tf/waypoints.py collects the same batch again on another machine."""
  if d == 1:
    act_dim = envs.get_spec(env_id).act_dim
    action_fn = lambda obs, rng: rng.uniform(-1.0, 1.0, (len(obs), act_dim))
  return collect_episodes(env_id, action_fn, size, seed=1_000_003 * (seed + 1) + d,
                          n_envs=n_envs, log=log)


def collect_deployment(run, state, env_id, d, deployments, action_fn, how, size, seed, n_envs,
                       log):
  """Deployment d: whole episodes until `size` transitions, saved to <run>/data/deployment_<d>.npz
  and recorded in `state` (a RunState's dict). Deployment 1 takes uniform-random actions, later
  ones `action_fn(obs, rng)` (the current policy, described by `how`). Returns the batch."""
  if d == 1:
    how = 'uniform-random actions'
  log(f'[deployment {d}/{deployments}] collecting {size:,} transitions with {how}')
  batch = collect_batch(env_id, d, action_fn, size, seed, n_envs, log)
  save_dataset(batch_path(run, d), batch)
  returns = batch.metadata['behavior_returns']
  state['deployment'] = d
  state.setdefault('deployments', []).append(
      {'deployment': d, 'transitions': len(batch), 'data_return_mean': returns['mean'],
       'data_episodes': returns['episodes']})
  log(f'[deployment {d}/{deployments}] {len(batch):,} transitions, episode return '
      f'{returns["mean"]:.1f} over {returns["episodes"]} episodes')
  return batch


def concat_batches(batches):
  """All batches as one Dataset (the model-free agents train on everything collected)."""
  keys = ('observations', 'actions', 'rewards', 'next_observations', 'terminals', 'timeouts')
  return Dataset(*(np.concatenate([getattr(b, k) for b in batches]) for k in keys))


def write_deployments(run, rows):
  """deployments.csv: one row per finished deployment (rewritten whole, atomically)."""
  keys = ['deployment', 'transitions', 'real_transitions', 'data_return_mean', 'data_episodes',
          'eval_return_mean', 'eval_return_std', 'iteration']
  lines = [','.join(keys)] + [','.join(str(r.get(k, '')) for k in keys) for r in rows
                              if 'eval_return_mean' in r]
  fileio.write_text(run.file(DEPLOYMENTS_FILE), '\n'.join(lines) + '\n')
