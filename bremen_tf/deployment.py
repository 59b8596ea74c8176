"""The deployment-efficient (recursive) BREMEN loop (reference/bremen.md §1, §7).

  deployment 1: collect with uniform-random actions
  every deployment d:
    append the batch (its first 85% to the dynamics training data, the last 15% to validation)
    refit the dynamics ensemble on all data so far, warm-started (weights and Adam moments kept)
    BC: re-initialise π̂_β to its fixed initial weights (Adam moments and the accumulating
        observation statistics kept) and clone the newest batch only
    π_θ <- π̂_β, then `iterations_per_deployment` x [25 TRPO updates in imagination, evaluation]
    export the deployment's policy; the next batch is collected with it (μ + 0.1·ε)

ME-TRPO (`policy_init='random'`) skips BC: its policy starts random and carries over between
deployments. The ablation of the paper (explicit KL value penalty, `ImaginedTRPO.alpha > 0`,
without BC initialisation) clones π̂_β for the penalty but does not initialise π_θ from it.
Every iteration logs the KL of π_θ to the previous deployment's policy on the newest batch.

Resumable at every stage: train_state.json names the stage (collected, dynamics_fit, dynamics, bc,
trpo) and the deployment; the batches are saved in <run>/data/ as they are collected.
"""
import time

import gin
import numpy as np
import tensorflow as tf

from bremen_tf import envs, export, fileio, runs
from bremen_tf.bremen import (POLICY_INITS, build_models, describe_iteration, evaluate_policy,
                              split_sequential, trpo_iteration)
from bremen_tf.data.collection import collect_episodes
from bremen_tf.data.dataset import load_dataset, save_dataset
from bremen_tf.policies import (GaussianPolicy, behavior_clone, gaussian_kl,
                                make_bc_optimizer)
from bremen_tf.resumable_fit import FIT_STAGE, fit_dynamics
from bremen_tf.run_state import RunState

DEPLOYMENTS_FILE = 'deployments.csv'


def load_batches(run, env_id, count):
  """The first `count` deployments' batches, saved in <run>/data/ as they were collected."""
  return [load_dataset(run.file('data', f'deployment_{d}.npz'), env_id)
          for d in range(1, count + 1)]


def collect_deployment(run, state, env_id, d, deployments, action_fn, how, size, seed, n_envs,
                       log):
  """Deployment d: whole episodes until `size` transitions, saved to <run>/data/deployment_<d>.npz
  and recorded in `state` (a RunState's dict). Deployment 1 takes uniform-random actions, later
  ones `action_fn(obs, rng)` (the current policy, described by `how`). Returns the batch."""
  if d == 1:
    act_dim = envs.get_spec(env_id).act_dim
    action_fn = lambda obs, rng: rng.uniform(-1.0, 1.0, (len(obs), act_dim))
    how = 'uniform-random actions'
  log(f'[deployment {d}/{deployments}] collecting {size:,} transitions with {how}')
  batch = collect_episodes(env_id, action_fn, size, seed=1_000_003 * (seed + 1) + d,
                           n_envs=n_envs, log=log)
  save_dataset(run.file('data', f'deployment_{d}.npz'), batch)
  returns = batch.metadata['behavior_returns']
  state['deployment'] = d
  state.setdefault('deployments', []).append(
      {'deployment': d, 'transitions': len(batch), 'data_return_mean': returns['mean'],
       'data_episodes': returns['episodes']})
  log(f'[deployment {d}/{deployments}] {len(batch):,} transitions, episode return '
      f'{returns["mean"]:.1f} over {returns["episodes"]} episodes')
  return batch


def split_batches(batches, validation_fraction):
  """Each batch split sequentially (first 1 − f trains), the parts concatenated across batches."""
  train, validation = zip(*(split_sequential(b, validation_fraction) for b in batches))
  join = lambda parts: tuple(np.concatenate(p) for p in zip(*parts))
  return join(train), join(validation)


def reinitialize(policy):
  """The policy's weights back to their fixed initial values (normc with fixed seeds, so a fresh
  GaussianPolicy has them); the observation statistics are left as they are."""
  fresh = GaussianPolicy(policy.obs_dim, policy.act_dim, hidden=policy.hidden, low=policy.low,
                         high=policy.high)
  for v, f in zip(policy.trainable_variables, fresh.trainable_variables):
    v.assign(f)


@gin.configurable(denylist=['run', 'seed', 'log'])
def train_deployment(run, seed=0, env_id=gin.REQUIRED, algorithm='bremen', policy_init='bc',
                     deployments=5, transitions_per_deployment=200_000,
                     iterations_per_deployment=80, updates_per_iteration=25, bc_data='newest',
                     validation_fraction=0.15, eval_min_steps=3000, reset_bank_size=10_000,
                     horizon=None, collect_envs=16, log=print):
  """Runs (or resumes) one deployment-efficient run in `run` (a runs.RunDir); returns a summary.

  `algorithm` 'bremen' is BREMEN (or ME-TRPO with policy_init='random'); 'bcq', 'brac', 'bc' are
  the recursive model-free baselines (bremen_tf/deployment_model_free.py). `bc_data`: 'newest'
  (the original) or 'all' (its --all_bc). Defaults are HalfCheetah/Ant's (5 deployments of 200K,
  80 x 25 = 2,000 TRPO updates each); see gin/deployment/.
  """
  if algorithm != 'bremen':
    from bremen_tf.deployment_model_free import (  # pylint: disable=g-import-not-at-top
        train_deployment_model_free)
    return train_deployment_model_free(run, seed=seed, env_id=env_id, algorithm=algorithm,
                                       deployments=deployments,
                                       transitions_per_deployment=transitions_per_deployment,
                                       collect_envs=collect_envs, log=log)
  if policy_init not in POLICY_INITS:
    raise ValueError(f'policy_init must be one of {POLICY_INITS}, got {policy_init!r}.')
  if bc_data not in ('newest', 'all'):
    raise ValueError(f"bc_data must be 'newest' or 'all', got {bc_data!r}.")
  runs.require_positive(deployments=deployments,
                        transitions_per_deployment=transitions_per_deployment,
                        iterations_per_deployment=iterations_per_deployment,
                        updates_per_iteration=updates_per_iteration)
  spec = envs.get_spec(env_id)
  tf.random.set_seed(seed)
  np.random.seed(seed)
  dynamics, bc_policy, policy, trainer = build_models(env_id, seed, policy_init,
                                                      reset_bank_size, horizon)
  use_bc = policy_init != 'random' or trainer.alpha != 0.0
  if not use_bc:
    trainer.behavior_policy = None
  previous = GaussianPolicy(spec.obs_dim, spec.act_dim, name='previous_deployment_policy')
  bc_optimizer = make_bc_optimizer(bc_policy)
  iteration = tf.Variable(0, dtype=tf.int64, name='iteration')
  ckpt = tf.train.Checkpoint(dynamics=dynamics, bc_policy=bc_policy, policy=policy,
                             trainer=trainer, previous=previous, bc_optimizer=bc_optimizer,
                             iteration=iteration)
  run_state = RunState(run, ckpt, iteration, log=log)
  state, save = run_state.state, run_state.save
  state.setdefault('deployment', 0)  # deployments collected so far

  batches = load_batches(run, env_id, state['deployment'])
  mean_fn = tf.function(lambda obs: policy.mean_log_std(obs)[0])
  sample_fn = tf.function(lambda obs, noise: policy.sample(obs, noise))

  @tf.function
  def kl_to_previous(obs):
    mean, log_std = policy.mean_log_std(obs)
    prev_mean, prev_log_std = previous.mean_log_std(obs)
    return tf.reduce_mean(gaussian_kl(mean, log_std, prev_mean, prev_log_std))

  def collect(d):
    action_fn = lambda obs, rng: sample_fn(
        tf.constant(obs, tf.float32),
        tf.constant(rng.standard_normal((len(obs), spec.act_dim)), tf.float32)).numpy()
    return collect_deployment(run, state, env_id, d, deployments, action_fn,
                              f'the deployment-{d - 1} policy (μ + {policy.sampling_std}·ε)',
                              transitions_per_deployment, seed, collect_envs, log)

  session_start, start_it = time.time(), int(iteration.numpy())
  total_iterations = deployments * iterations_per_deployment
  while True:
    d = state['deployment']
    if state['stage'] in ('start', 'trpo_done'):
      if d == deployments:
        break
      d += 1
      batches.append(collect(d))
      save('collected')
    if state['stage'] in ('collected', FIT_STAGE):
      train, validation = split_batches(batches, validation_fraction)
      log(f'[dynamics] fitting on {len(train[0]):,} transitions (warm start), validating on '
          f'{len(validation[0]):,}')
      # Resumed mid-fit, the restored checkpoint holds the fit's weights, not deployment d-1's.
      state['deployments'][-1]['dynamics_fit'] = fit_dynamics(run_state, dynamics, train,
                                                              validation, log)
      save('dynamics')
    if state['stage'] == 'dynamics':
      if use_bc:
        data = batches[-1:] if bc_data == 'newest' else batches
        obs = np.concatenate([b.observations for b in data])
        act = np.concatenate([b.actions for b in data])
        reinitialize(bc_policy)
        log(f'[bc] cloning the {"newest batch" if bc_data == "newest" else "data so far"} '
            f'({len(obs):,} transitions)')
        _, history = behavior_clone(bc_policy, obs, act, seed=seed + d, optimizer=bc_optimizer,
                                    log=lambda m: log(f'[bc] {m}'))
        state['deployments'][-1]['bc_final_loss'] = history[-1][1]
      if policy_init != 'random':
        policy.copy_from(bc_policy)
      save('bc')

    # --- TRPO iterations of deployment d ------------------------------------------------------
    newest_obs = tf.constant(batches[-1].observations[:10_000], tf.float32)
    first_it = (d - 1) * iterations_per_deployment + 1
    for it in range(max(int(iteration.numpy()) + 1, first_it), d * iterations_per_deployment + 1):
      t0 = time.time()
      stats = trpo_iteration(trainer, updates_per_iteration)
      row = {'iteration': it, 'step': it, 'deployment': d,
             'real_transitions': sum(len(b) for b in batches),
             'trpo_updates': it * updates_per_iteration,
             **evaluate_policy(env_id, mean_fn, eval_min_steps,
                               seed=10_000 * (seed + 1) + 100 * it),
             **stats['row'],
             'kl_to_previous_deployment': (float(kl_to_previous(newest_obs)) if d > 1
                                           else float('nan')),
             'iteration_seconds': time.time() - t0}
      run.log_metrics(row, step=it)
      iteration.assign(it)
      save('trpo')
      eta = ((time.time() - session_start) / max(it - start_it, 1) * (total_iterations - it))
      log(f'[trpo] deployment {d}/{deployments}, iteration {it}/{total_iterations}: '
          f'{describe_iteration(row)} | KL to previous deployment '
          f'{row["kl_to_previous_deployment"]:.3g} | ETA {runs.format_duration(eta)}')

    final = run.read_metrics()[-1]
    summary = {'deployment': d, 'real_transitions': int(final['real_transitions']),
               'eval_return_mean': float(final['eval_return_mean']),
               'eval_return_std': float(final['eval_return_std']),
               'iteration': int(iteration.numpy())}
    state['deployments'][-1].update(summary)
    export_dir = run.file('policies', f'deployment_{d}')
    export.export_policy(policy, export_dir, {
        'env_id': env_id, 'algorithm': 'me_trpo' if policy_init == 'random' else 'bremen',
        'deployment': d, 'seed': seed, 'sampling_std': policy.sampling_std})
    write_deployments(run, state['deployments'])
    previous.copy_from(policy)
    save('trpo_done')
    log(f'[deployment {d}/{deployments}] done: real return {summary["eval_return_mean"]:.1f} '
        f'after {summary["real_transitions"]:,} real transitions; policy exported to '
        f'{export_dir}')

  last = state['deployments'][-1]
  return {'final_eval_return_mean': last['eval_return_mean'], 'deployments': deployments,
          'real_transitions': last['real_transitions'],
          'export_dir': run.file('policies', f'deployment_{deployments}')}


def write_deployments(run, rows):
  """deployments.csv: one row per finished deployment (rewritten whole, atomically)."""
  keys = ['deployment', 'transitions', 'real_transitions', 'data_return_mean', 'data_episodes',
          'eval_return_mean', 'eval_return_std', 'iteration']
  lines = [','.join(keys)] + [','.join(str(r.get(k, '')) for k in keys) for r in rows
                              if 'eval_return_mean' in r]
  fileio.write_text(run.file(DEPLOYMENTS_FILE), '\n'.join(lines) + '\n')
