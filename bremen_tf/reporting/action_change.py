"""How far a deployment run's policy moved from one deployment to the next, in action units.

The runs log KL(π_d ‖ π_{d−1}) on the newest batch, but a KL is no yardstick *across* methods whose
policies have different σ: for a change Δμ of the mean it grows as Δμ²/(2σ²) per action dimension,
and BREMEN's policies keep log σ = −5 (1.1e4·Δμ²) while ME-TRPO's and the α-penalty runs' learn a
state-dependent σ (log σ ≈ −2.3 on average in our HalfCheetah run, ≈ 50·Δμ²; a change of σ adds
to the KL too). The RMS change of the deterministic action μ(s), read from the two exported
policies on the states the KL is measured on (the first 10,000 of deployment d's batch), has no σ
in it.
"""
import os

import numpy as np

N_STATES = 10_000  # as deployment.py's kl_to_previous_deployment


def policy_dir(run_path, d):
  return os.path.join(run_path, 'policies', f'deployment_{d}')


def batch_path(run_path, d):
  return os.path.join(run_path, 'data', f'deployment_{d}.npz')


def action_change(run_path, d):
  """sqrt(mean over states and action dims of (μ_d(s) − μ_{d−1}(s))²) on deployment d's batch,
  from the exported policies of deployments d − 1 and d; None if a policy or the batch is missing."""
  paths = [policy_dir(run_path, d - 1), policy_dir(run_path, d), batch_path(run_path, d)]
  if d < 2 or not all(os.path.exists(p) for p in paths):
    return None
  before, after = (deterministic_actions(p, paths[2]) for p in paths[:2])
  return float(np.sqrt(np.mean(np.square(after - before))))


def deterministic_actions(policy_path, batch_file):
  """μ(s) of the exported policy in `policy_path` on the first N_STATES states of `batch_file`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  with np.load(batch_file) as batch:
    obs = tf.constant(batch['observations'][:N_STATES], tf.float32)
  return tf.saved_model.load(policy_path).signatures['serving_default'](
      observations=obs)['actions'].numpy()
