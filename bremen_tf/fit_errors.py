"""Where a deployment run's dynamics fit has its validation error: per batch, per validation
episode and per state dimension, and how much of it lies outside the states the fit trained on.

The fit's early stopping reads one number per member, the validation MSE of the normalised state
change Δ = s' − s over the last part of every batch (the run's validation_fraction, 0.15 by
default: stages.split_batches, as the authors' code).
One far-off episode can make that number: here it is taken apart. Errors are those of the fit's
own measure, (f_k(s, a) − Δ)² per dimension in its normalised units, so the mean of a member's
column equals its logged validation MSE.
"""
import numpy as np

CHUNK = 20_000  # transitions per forward pass (5 members x 20K x 1024 floats: ~400 MB at most)


def squared_errors(dynamics, obs, act, next_obs):
  """Per member, transition and dimension: (f_k(s, a) − Δ)² in the fit's normalised units,
  [K, N, obs_dim] float32 (its mean over N and the dimensions is the fit's validation MSE)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top (the module loads without TF)
  parts = []
  for start in range(0, len(obs), CHUNK):
    o, a, n = (tf.constant(np.asarray(x[start:start + CHUNK], np.float32))
               for x in (obs, act, next_obs))
    # pylint: disable-next=protected-access (the fit's own normalisation of inputs and targets)
    x, y = dynamics._inputs(o, a), dynamics._targets(o, n)
    parts.append(tf.square(dynamics.net(x) - y).numpy())
  return np.concatenate(parts, axis=1)


def has_fit(state, d):
  """Does the run's state record deployment d's dynamics fit (in progress or finished)? A
  model-free deployment run (BRAC, BCQ, BC) records none: it has no dynamics model."""
  if state.get('stage') == 'dynamics_fit':
    return bool(state.get('dynamics_progress'))
  return any(r.get('deployment') == d and r.get('dynamics_fit')
             for r in state.get('deployments', []))


def analyse(dynamics, batches, validation_fraction):
  """The fit's errors on `batches` (datasets with observations, actions, next_observations,
  terminals, timeouts), split as the fit split them. Returns a dict:
    batches      per batch: {'batch', 'train_mse' [K], 'validation_mse' [K], 'n_train', 'n_val'}
    validation_mse [K] over all validation transitions (the fit's logged number)
    episodes     per validation episode (a batch's episodes that reach into its validation
                 split; the part in the split): {'batch', 'episode', 'first_step', 'steps',
                 'mse' (members' mean), 'share' of the summed validation error, 'outside'
                 (transitions with a state dimension outside the training range), 'furthest'
                 (dim, value, training min, max)}
    dims         per dimension: {'dim', 'train_mse', 'validation_mse', 'train_min', 'train_max',
                 'validation_min', 'validation_max', 'outside'}
    outside      {'transitions', 'share' of the summed validation error, 'mse_without' [K]}
  Members' errors are averaged where a row has no member axis."""
  from bremen_tf import stages  # pylint: disable=g-import-not-at-top
  from bremen_tf.data.dataset import episode_bounds  # pylint: disable=g-import-not-at-top
  splits = [stages.split_sequential(b, validation_fraction) for b in batches]
  for i, (train, val) in enumerate(splits, start=1):
    if not len(train[0]) or not len(val[0]):
      raise ValueError(f'batch {i} has {len(train[0])} training and {len(val[0])} validation '
                       f'transitions at validation_fraction {validation_fraction}: nothing to '
                       'compare.')
  train_obs = np.concatenate([t[0] for t, _ in splits])
  low, high = train_obs.min(axis=0), train_obs.max(axis=0)
  rows, episodes, train_sums, val_errors, val_outside = [], [], 0.0, [], []
  for i, (batch, (train, val)) in enumerate(zip(batches, splits), start=1):
    train_err = squared_errors(dynamics, *train)
    val_err = squared_errors(dynamics, *val)
    train_sums = train_sums + train_err.sum(axis=1)  # [K, dim]
    n_train = len(train[0])
    rows.append({'batch': i, 'n_train': n_train, 'n_val': len(val[0]),
                 'train_mse': train_err.mean(axis=(1, 2)),
                 'validation_mse': val_err.mean(axis=(1, 2))})
    outside = np.any((val[0] < low) | (val[0] > high), axis=1)
    for e, (s, last, _) in enumerate(episode_bounds(batch)):
      t = last + 1
      if t <= n_train:
        continue
      a, b = max(s, n_train) - n_train, t - n_train
      states = val[0][a:b]
      beyond = np.maximum(low - states, states - high).max(axis=0)  # per dim, >0 if outside
      dim = int(np.argmax(beyond))
      value = states[:, dim][np.argmax(np.abs(states[:, dim] - (low[dim] + high[dim]) / 2))]
      episodes.append({'batch': i, 'episode': e, 'first_step': a + n_train - s, 'steps': b - a,
                       'sum': float(val_err[:, a:b].mean(axis=0).sum()),
                       'mse': float(val_err[:, a:b].mean()), 'outside': int(outside[a:b].sum()),
                       'furthest': (dim, float(value), float(low[dim]), float(high[dim]))})
    val_errors.append(val_err)
    val_outside.append(outside)
  val_err, outside = np.concatenate(val_errors, axis=1), np.concatenate(val_outside)
  per_transition = val_err.mean(axis=0).sum(axis=1)  # members' mean, summed over dims
  total = float(per_transition.sum())
  for ep in episodes:
    ep['share'] = ep.pop('sum') / total if total else 0.0
  val_obs = np.concatenate([v[0] for _, v in splits])
  dims = [{'dim': j, 'train_mse': float(train_sums[:, j].mean() / len(train_obs)),
           'validation_mse': float(val_err[:, :, j].mean()),
           'train_min': float(low[j]), 'train_max': float(high[j]),
           'validation_min': float(val_obs[:, j].min()),
           'validation_max': float(val_obs[:, j].max()),
           'outside': int(np.sum((val_obs[:, j] < low[j]) | (val_obs[:, j] > high[j])))}
          for j in range(val_obs.shape[1])]
  inside = ~outside
  return {'batches': rows, 'validation_mse': val_err.mean(axis=(1, 2)), 'episodes': episodes,
          'dims': dims,
          'outside': {'transitions': int(outside.sum()),
                      'share': float(per_transition[outside].sum() / total) if total else 0.0,
                      'mse_without': (val_err[:, inside].mean(axis=(1, 2)) if inside.any()
                                      else np.full(len(val_err), np.nan))}}
