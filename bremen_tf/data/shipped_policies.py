"""The shipped data-collecting policies (reference/brac_protocol.md §2): the partially trained SAC
actors that make the BRAC-protocol datasets, as package data, and their I/O.

They live in `bremen_tf/behavior_policies/<env slug>/` as a TF checkpoint of the actor
(`policy.index`, `policy.data-*`) plus `policy.json` (how it was made and how it scores); they are
trained by bremen_tf/sac_data_policies.py.
"""
import os
import shutil

import tensorflow as tf

from bremen_tf import envs, fileio
from bremen_tf.agents.networks import TanhGaussianActor

SHIPPED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           'behavior_policies')
POLICY_PREFIX = 'policy'


def write_policy(directory, actor, meta):
  """Writes a behaviour-policy directory: actor checkpoint + policy.json (meta + actor sizes)."""
  os.makedirs(directory, exist_ok=True)
  tf.train.Checkpoint(actor=actor).write(os.path.join(directory, POLICY_PREFIX))
  meta = {**meta, 'actor': {'hidden': list(actor.hidden), 'obs_dim': actor.obs_dim,
                            'act_dim': actor.act_dim}}
  fileio.write_json(os.path.join(directory, 'policy.json'), meta)
  return meta


def ship(run_dir, env_id, shipped_dir=SHIPPED_DIR):
  """Copies a run's partial policy into the package (`bremen_tf/behavior_policies/<slug>/`)."""
  src = os.path.join(run_dir, 'partial_policy')
  if not os.path.exists(os.path.join(src, 'policy.json')):
    raise FileNotFoundError(f'No partial policy in {src}: the run has not reached its threshold.')
  dest = os.path.join(shipped_dir, envs.slug(env_id))
  tmp = dest + '.tmp'
  shutil.rmtree(tmp, ignore_errors=True)
  shutil.copytree(src, tmp)
  shutil.rmtree(dest, ignore_errors=True)
  os.replace(tmp, dest)
  return dest


def load_behavior_policy(env_id, directory=None):
  """(TanhGaussianActor, metadata) of the shipped (or given) partial policy of `env_id`."""
  directory = directory or os.path.join(SHIPPED_DIR, envs.slug(env_id))
  meta_path = os.path.join(directory, 'policy.json')
  if not os.path.exists(meta_path):
    shipped = sorted(os.listdir(SHIPPED_DIR)) if os.path.isdir(SHIPPED_DIR) else []
    raise FileNotFoundError(
        f'No behaviour policy for {env_id!r} at {directory}. Shipped: {shipped or "none"}. '
        'Train one with: python launch/train_behavior.py '
        f'--gin_bindings="train_behavior_policy.env_id=\'{env_id}\'" --ship')
  meta = fileio.read_json(meta_path)
  if meta['env_id'] != env_id:
    raise ValueError(f'{meta_path} is a policy for {meta["env_id"]!r}, not {env_id!r}.')
  actor = TanhGaussianActor(meta['actor']['obs_dim'], meta['actor']['act_dim'],
                            tuple(meta['actor']['hidden']))
  tf.train.Checkpoint(actor=actor).read(
      os.path.join(directory, POLICY_PREFIX)).assert_existing_objects_matched()
  return actor, meta
