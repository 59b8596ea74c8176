"""What the D4RL and Minari readers share: the envs they may serve, the Dataset they build, and
normalised scores.

Datasets made by others are served only where our env reproduces theirs: the gymnasium v5
MuJoCo locomotion envs, whose imagination reward and termination functions are tested against
the real envs (bremen_tf/envs). Anything else is a DatasetError naming the dataset and why.
"""
import gin
import numpy as np
import tensorflow as tf

from bremen_tf import envs
from bremen_tf.data.dataset import (Dataset, DatasetError, check_arrays, episode_returns,
                                    return_stats)

# The v5 locomotion envs external data can be served on (D4RL's gym -v2 envs map to these).
V5_ENV_IDS = ('HalfCheetah-v5', 'Hopper-v5', 'Walker2d-v5', 'Ant-v5')


def check_env(where, env_id, obs_dim, act_dim):
  """Fails unless `env_id` is one of our locomotion envs (or one registered with
  envs.register_env) with these observation/action widths (None: not checked here; check_arrays
  reports a malformed array)."""
  if env_id not in envs.LOCOMOTION_ENV_IDS + envs.USER_ENV_IDS:
    raise DatasetError(
        f'{where}: env {env_id!r} is not served: only the MuJoCo locomotion envs '
        f'{", ".join(envs.LOCOMOTION_ENV_IDS)} have tested imagination reward and termination '
        'functions here (an env of your own: bremen_tf.envs.register_env).')
  spec = envs.get_spec(env_id)
  if obs_dim is not None and obs_dim != spec.obs_dim:
    hint = (' (Ant-v5 is served without contact forces: include_cfrc_ext_in_observation=False)'
            if env_id == 'Ant-v5' else '')
    raise DatasetError(f'{where}: key \'observations\': expected width {spec.obs_dim} for '
                       f'{env_id}{hint}, found {obs_dim}.')
  if act_dim is not None and act_dim != spec.act_dim:
    raise DatasetError(f'{where}: key \'actions\': expected width {spec.act_dim} for {env_id}, '
                       f'found {act_dim}.')


ACTION_TOLERANCE = 1e-3  # |a| up to 1 + this passes (float round-off in a file's writer)


def check_action_range(where, actions):
  """Every action in [-1, 1], where the envs' action spaces and BREMEN's policies (whose mean is a
  tanh) lie: unscaled actions (torques, [0, 2]) would be cloned and modelled where no policy acts."""
  if len(actions) and np.abs(actions).max() > 1.0 + ACTION_TOLERANCE:
    row = int(np.argmax(np.abs(actions).max(axis=1)))
    raise DatasetError(f'{where}: key \'actions\': expected values in [-1, 1] (the action space '
                       f'BREMEN\'s policies act in), found {actions[row].tolist()} at row {row}. '
                       'Rescale the actions to [-1, 1], as gymnasium.wrappers.RescaleAction does '
                       'for the env.')


SAMPLE_ROWS = 10_000  # transitions the env-match check evaluates (evenly spaced)


def env_agreement(arrays, env_id, skip_rows=()):
  """How the data agree with `env_id`'s imagination functions on up to SAMPLE_ROWS transitions:
  (the fraction of rows whose terminal flag differs from done_fn(s'), the RMS of reward_fn(s, a,
  s') - reward over the rewards' standard deviation, the rows compared). `skip_rows` (ends a loader
  cut: the file says nothing about termination there) stay out of the termination comparison, and
  terminal rows out of the reward comparison: D4RL's -v2 Hopper and Walker2d (gym v3) pay the
  healthy reward on the step that falls, which gymnasium v5 and its reward function do not
  (docs/reference/brac_protocol.md)."""
  n = len(arrays['rewards'])
  rows = np.unique(np.linspace(0, n - 1, min(n, SAMPLE_ROWS)).astype(int))
  spec = envs.get_spec(env_id)
  take = lambda key: tf.constant(arrays[key][rows], tf.float32)
  rewards = arrays['rewards'][rows].astype(np.float64)
  predicted = spec.reward_fn(take('observations'), take('actions'),
                             take('next_observations')).numpy().astype(np.float64)
  done = spec.done_fn(take('next_observations')).numpy().astype(bool)
  judged = ~np.isin(rows, np.asarray(skip_rows, int))
  terminals = arrays['terminals'][rows].astype(bool)
  disagree = float(np.mean(done[judged] != terminals[judged])) if judged.any() else 0.0
  alive = ~terminals
  if not alive.any():
    return disagree, 0.0, len(rows)
  # The rewards' spread, floored so that float round-off on a few equal rewards is not an error.
  scale = max(rewards[alive].std(), 1e-3 * max(1.0, np.abs(rewards[alive]).mean()))
  error = float(np.sqrt(np.mean((predicted[alive] - rewards[alive]) ** 2)) / scale)
  return disagree, error, len(rows)


@gin.configurable(denylist=['where', 'arrays', 'env_id', 'skip_rows'])
def check_matches_env(where, arrays, env_id, skip_rows, enabled=True,
                      max_done_disagreement=0.01, max_reward_error=0.35):
  """Refuses data whose terminals and rewards are not those of `env_id`'s termination and reward
  functions (the ones imagination trains on): the data of another env of the same widths
  (HalfCheetah and Walker2d are both 17/6), or rewards changed on purpose (then bind `enabled =
  False`). Measured on 3,000-step random and SAC data of each v5 env and on the D4RL-protocol
  Minari datasets made here: the right env's rule agrees on every row and its reward error is at
  most 0.18 (HalfCheetah: its reward reads the velocity where the env takes a position
  difference; the others under 0.1); another env of the same widths disagrees on every row or
  errs by 0.78 or more, doubled rewards by 0.5 or more."""
  if not enabled:
    return
  passes = lambda disagree, error, _: (disagree <= max_done_disagreement
                                       and error <= max_reward_error)
  disagree, error, rows = found = env_agreement(arrays, env_id, skip_rows)
  if passes(*found):
    return
  width = lambda e: (envs.get_spec(e).obs_dim, envs.get_spec(e).act_dim)
  others = [e for e in V5_ENV_IDS + envs.USER_ENV_IDS  # the envs external data are served on
            if e != env_id and width(e) == width(env_id)
            and passes(*env_agreement(arrays, e, skip_rows))]
  hint = f'They match {" and ".join(others)}: data of another env? ' if others else ''
  raise DatasetError(
      f'{where}: the data do not look like {env_id}\'s: on {rows:,} sampled transitions '
      f'{env_id}\'s termination rule disagrees with the terminals on {disagree:.1%} of rows '
      f'(at most {max_done_disagreement:.0%} expected) and its reward function differs from the '
      f'rewards by an RMS of {error:.2f} of their standard deviation (at most '
      f'{max_reward_error:g}). {hint}Imagination would train on this env\'s functions, not on '
      'these data\'s. If the rewards were changed on purpose (rescaled, shaped), bind '
      'check_matches_env.enabled = False.')


def terminated_cuts(arrays, env_id, cut_indices):
  """Of the ends a loader cut where the data set no terminal flag, those where `env_id`'s
  termination rule holds on s' end in a termination (the episode is whole, and a critic must not
  bootstrap past it): they become terminals and leave the cuts. Returns the cuts that remain
  (timeouts: the episode was cut, or ended at its time limit unflagged)."""
  rows = np.asarray(sorted(cut_indices), int)
  if not rows.size:
    return []
  done = envs.get_spec(env_id).done_fn(
      tf.constant(arrays['next_observations'][rows], tf.float32)).numpy().astype(bool)
  ended = rows[done & ~arrays['terminals'][rows]]
  arrays['terminals'][ended], arrays['timeouts'][ended] = True, False
  return [int(i) for i in np.setdiff1d(rows, ended)]


def make_dataset(binding, raw, env_id, reference_scores=None, cut_indices=(), **meta):
  """A validated Dataset of `env_id` from `raw` arrays, with metadata naming its `binding`
  ('minari:...' / 'd4rl:...'), its reference scores (None if unknown) and the return statistics
  of its complete episodes."""
  spec = envs.get_spec(env_id)
  arrays = check_arrays(binding, raw, spec.obs_dim, spec.act_dim)
  check_action_range(binding, arrays['actions'])
  check_matches_env(binding, arrays, env_id, skip_rows=cut_indices)
  cut_indices = terminated_cuts(arrays, env_id, cut_indices)
  dataset = Dataset(**arrays, metadata={
      'env_id': env_id, 'dataset': binding, 'size': len(arrays['rewards']),
      'cut_indices': [int(i) for i in cut_indices], 'reference_scores': reference_scores,
      **meta})
  dataset.metadata['behavior_returns'] = return_stats(episode_returns(dataset))
  return dataset


def normalized_score(value, reference_scores):
  """100 (value − min) / (max − min), as papers report D4RL scores; None without references."""
  if not reference_scores or value is None:
    return None
  low, high = reference_scores['min'], reference_scores['max']
  return float(100.0 * (value - low) / (high - low))


def add_normalized_scores(row, reference_scores):
  """For every `eval[_<name>]_return_mean` in `row`, `eval[_<name>]_normalized_score` beside it."""
  if not reference_scores:
    return row
  for key in [k for k in row if k.startswith('eval') and k.endswith('_return_mean')]:
    row[key[:-len('_return_mean')] + '_normalized_score'] = normalized_score(row[key],
                                                                             reference_scores)
  return row


def check_reference_scores(where, low, high, origin):
  """{'min', 'max', 'origin'} or None when either is missing; a clear error if they are unusable."""
  if low is None or high is None:
    return None
  low, high = float(low), float(high)
  if not (np.isfinite(low) and np.isfinite(high) and high > low):
    raise DatasetError(f'{where}: reference scores: expected finite min < max, found '
                       f'min {low}, max {high} ({origin}).')
  return {'min': low, 'max': high, 'origin': origin}
