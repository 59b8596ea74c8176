"""Model diagnostics on real evaluation episodes, as the original's `--eval_model` (reference §11).

  step-wise        d_t = f(s_t, a_t) − s_{t+1} on the real transitions; logged as
                   mean over paths of Σ_t‖d_t‖², divided by the number of transitions (the
                   original's normalisation), and the mean over paths of Σ_t r(s_t, a_t, f(s_t, a_t))
  trajectory-wise  from each real s_0, s̃_{t+1} = f(s̃_t, μ(s̃_t)) for T = the shortest real episode;
                   mean over paths of Σ_{t<T}‖s_t − s̃_t‖² / (3T), and the imagined T-step return
  energy distance  D(x, y) = Σ_{t<T} Σ_dim |x − y| between whole T-step trajectories;
                   ED = sqrt(2A − B − C), A over (real, imagined) pairs, B over (imagined,
                   imagined) pairs and C over (real, real) pairs, self-pairs included
Each model call draws one uniformly random ensemble member for the whole batch.
"""
import numpy as np
import tensorflow as tf


def energy_distance(real, sim):
  """real [n, T, d], sim [m, T, d] -> sqrt(2A − B − C) with the L1 trajectory distance."""
  def mean_dist(x, y):
    return np.mean(np.abs(x[:, None] - y[None]).sum(axis=(2, 3)))
  value = 2 * mean_dist(real, sim) - mean_dist(sim, sim) - mean_dist(real, real)
  return float(np.sqrt(max(value, 0.0)))


def model_diagnostics(dynamics, policy, reward_fn, trajectories, seed=0):
  """Diagnostics dict for `trajectories` (dicts of 'obs' [T+1, d] and 'actions' [T, a])."""
  rng = np.random.default_rng(seed)
  predict = dynamics.member_predictor()

  def f(obs, act):
    member = tf.constant(int(rng.integers(dynamics.n_models)), tf.int32)
    return predict(tf.constant(obs, tf.float32), tf.constant(np.clip(act, -1, 1), tf.float32),
                   member)

  sse, step_returns = [], []
  for t in trajectories:
    obs, act = t['obs'][:-1], t['actions']
    pred = f(obs, act)
    sse.append(float(np.sum(np.square(pred.numpy() - t['obs'][1:]))))
    step_returns.append(float(np.sum(reward_fn(tf.constant(obs), tf.constant(
        np.clip(act, -1, 1)), pred).numpy())))
  n_transitions = sum(len(t['actions']) for t in trajectories)

  horizon = min(len(t['actions']) for t in trajectories)
  real = np.stack([t['obs'][:horizon] for t in trajectories])
  sim = np.zeros_like(real)
  sim[:, 0] = real[:, 0]
  imagined_return = np.zeros(len(trajectories))
  for k in range(horizon - 1):
    s = tf.constant(sim[:, k])
    a = policy.mean_log_std(s)[0].numpy()
    nxt = f(sim[:, k], a)
    imagined_return += reward_fn(s, tf.constant(np.clip(a, -1, 1)), nxt).numpy()
    sim[:, k + 1] = nxt.numpy()
  traj_mse = np.mean(np.sum(np.square(real - sim), axis=(1, 2))) / (3 * horizon)
  return {'model_step_mse': float(np.mean(sse) / n_transitions),
          'model_step_return': float(np.mean(step_returns)),
          'model_traj_mse': float(traj_mse), 'model_traj_return': float(imagined_return.mean()),
          'model_traj_steps': int(horizon),
          'model_energy_distance': energy_distance(real, sim)}
