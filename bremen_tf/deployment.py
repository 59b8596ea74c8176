"""The deployment-efficient (recursive) BREMEN recipe (reference/bremen.md §1, §7).

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
Reached through `train_deployment` (bremen_tf/experiments.py), whose bindings these are.

Resumable at every stage: train_state.json names the stage (collected, dynamics_fit, dynamics, bc,
trpo, trpo_done) and the deployment; the batches are saved in <run>/data/ as they are collected.
"""

import numpy as np
import tensorflow as tf

from bremen_tf import export, runs
from bremen_tf.dynamics_cache import data_digest, dynamics_cache_key
from bremen_tf.deployment_batches import collect_deployment, load_batches, write_deployments
from bremen_tf.policies import GaussianPolicy, gaussian_kl, make_bc_optimizer, mean_action_fn
from bremen_tf.resumable_fit import FIT_STAGE
from bremen_tf.run_state import RunState
from bremen_tf.runs import Progress, seed_everything
from bremen_tf.stages import (build_models, clone_behavior_stage, describe_iteration,
                              evaluate_policy, fit_dynamics_stage, trpo_iterations, uses_bc)

BC_DATA = ('newest', 'all')


def reinitialize(policy):
  """The policy's weights back to their fixed initial values (normc with fixed seeds, so a fresh
  GaussianPolicy has them); the observation statistics are left as they are."""
  fresh = GaussianPolicy(policy.obs_dim, policy.act_dim, hidden=policy.hidden, low=policy.low,
                         high=policy.high)
  for v, f in zip(policy.trainable_variables, fresh.trainable_variables):
    v.assign(f)


def clone_afresh(bc_policy, batches, bc_data, seed, optimizer, log):
  """π̂_β back to its initial weights, then cloned on the newest batch (`bc_data` 'newest', the
  original) or on all batches ('all'); returns the final BC loss."""
  data = batches[-1:] if bc_data == 'newest' else batches
  reinitialize(bc_policy)
  return clone_behavior_stage(
      bc_policy, np.concatenate([b.observations for b in data]),
      np.concatenate([b.actions for b in data]), seed,
      'the newest batch' if bc_data == 'newest' else 'the data so far', log,
      optimizer)['final_loss']


def policy_functions(policy, previous):
  """tf.functions of π_θ: its mean (evaluation), how it collects (μ + 0.1·ε; obs, rng -> actions)
  and its mean KL to the previous deployment's policy on given observations."""
  mean_fn = mean_action_fn(policy)
  sample_fn = tf.function(lambda obs, noise: policy.sample(obs, noise), autograph=False)

  @tf.function(autograph=False)
  def kl_to_previous(obs):
    mean, log_std = policy.mean_log_std(obs)
    prev_mean, prev_log_std = previous.mean_log_std(obs)
    return tf.reduce_mean(gaussian_kl(mean, log_std, prev_mean, prev_log_std))

  def collect_actions(obs, rng):
    noise = rng.standard_normal((len(obs), policy.act_dim))
    return sample_fn(tf.constant(obs, tf.float32), tf.constant(noise, tf.float32)).numpy()
  return mean_fn, collect_actions, kl_to_previous


def finish_deployment(run, state, policy, metadata, deployments, log):
  """Deployment d's summary (its last evaluation) into the state and deployments.csv, and its
  policy exported to <run>/policies/deployment_<d>."""
  d, final = metadata['deployment'], run.read_metrics()[-1]
  summary = {'deployment': d, 'real_transitions': int(final['real_transitions']),
             'eval_return_mean': float(final['eval_return_mean']),
             'eval_return_std': float(final['eval_return_std']),
             'iteration': int(final['iteration'])}
  state['deployments'][-1].update(summary)
  export_dir = run.file('policies', f'deployment_{d}')
  export.export_policy(policy, export_dir, metadata)
  write_deployments(run, state['deployments'])
  log(f'[deployment {d}/{deployments}] done: real return '
      f'{summary["eval_return_mean"]:.1f} after {summary["real_transitions"]:,} real '
      f'transitions; policy exported to {export_dir}')


def fit_cache(cache_dir, env_id, seed, dynamics, batches, validation_fraction):
  """(directory, entry name, key) of the fit after deployment len(batches) in a cache shared by
  runs (bremen_tf/dynamics_cache.py). That fit is determined by the seed, the ensemble and fit
  settings, the validation split and every batch so far: deployment d's fit warm-starts from
  d - 1's, which those determine too. So runs that collected the same batches share it, e.g.
  BREMEN and ME-TRPO in deployment 1 (uniform-random actions from the same seed)."""
  data = f'deployment{len(batches)}-{data_digest(batches)}'
  return (cache_dir, *dynamics_cache_key(env_id, data, len(batches), sum(map(len, batches)),
                                         validation_fraction, seed, dynamics))


def deployment(run, *, seed, env_id, deployments, transitions_per_deployment, collect_envs, log,
               policy_init, iterations_per_deployment, updates_per_iteration, bc_data,
               validation_fraction, eval_min_steps, reset_bank_size, horizon,
               dynamics_cache_dir=None):
  """Runs (or resumes) deployment-efficient BREMEN in `run` (a runs.RunDir); returns a summary."""
  if bc_data not in BC_DATA:
    raise ValueError(f"bc_data must be 'newest' or 'all', got {bc_data!r}.")
  runs.require_positive(iterations_per_deployment=iterations_per_deployment,
                        updates_per_iteration=updates_per_iteration)
  seed_everything(seed)
  dynamics, bc_policy, policy, trainer = build_models(env_id, seed, policy_init, reset_bank_size,
                                                      horizon)
  previous = GaussianPolicy(policy.obs_dim, policy.act_dim, name='previous_deployment_policy')
  bc_optimizer = make_bc_optimizer(bc_policy)
  iteration = tf.Variable(0, dtype=tf.int64, name='iteration')
  run_state = RunState(run, tf.train.Checkpoint(
      dynamics=dynamics, bc_policy=bc_policy, policy=policy, trainer=trainer, previous=previous,
      bc_optimizer=bc_optimizer, iteration=iteration), iteration, log=log)
  state, save = run_state.state, run_state.save
  state.setdefault('deployment', 0)  # deployments collected so far
  batches = load_batches(run, env_id, state['deployment'])
  mean_fn, policy_actions, kl_to_previous = policy_functions(policy, previous)
  total_iterations = deployments * iterations_per_deployment
  while True:
    d = state['deployment']
    if state['stage'] in ('start', 'trpo_done'):  # 1. deploy: collect a batch in the real env
      if d == deployments:
        break
      d += 1
      batches.append(collect_deployment(
          run, state, env_id, d, deployments, policy_actions,
          f'the deployment-{d - 1} policy (μ + {policy.sampling_std}·ε)',
          transitions_per_deployment, seed, collect_envs, log))
      save('collected')
    if state['stage'] in ('collected', FIT_STAGE):  # 2. refit the dynamics on all batches
      # Resumed mid-fit, the restored checkpoint holds the fit's weights, not deployment d-1's.
      cache = (fit_cache(dynamics_cache_dir, env_id, seed, dynamics, batches, validation_fraction)
               if dynamics_cache_dir else None)
      state['deployments'][-1]['dynamics_fit'] = fit_dynamics_stage(
          run_state, dynamics, batches, validation_fraction, log, warm_start=True, cache=cache)
      save('dynamics')
    if state['stage'] == 'dynamics':  # 3. π̂_β cloned afresh; π_θ <- π̂_β
      if uses_bc(policy_init, trainer):
        state['deployments'][-1]['bc_final_loss'] = clone_afresh(
            bc_policy, batches, bc_data, seed + d, bc_optimizer, log)
      if policy_init != 'random':
        policy.copy_from(bc_policy)
      save('bc')

    # 4. TRPO in imagination, each iteration evaluated in the real env
    trainer.set_data_box(*(b.observations for b in batches),  # only with the guard
                         *(b.next_observations for b in batches))
    newest_obs = tf.constant(batches[-1].observations[:10_000], tf.float32)
    real = sum(len(b) for b in batches)

    def make_row(it, stats, d=d, real=real, newest_obs=newest_obs):
      return {'iteration': it, 'step': it, 'deployment': d, 'real_transitions': real,
              'trpo_updates': it * updates_per_iteration,
              **evaluate_policy(env_id, mean_fn, eval_min_steps,
                                seed=10_000 * (seed + 1) + 100 * it),
              **stats['row'],
              'kl_to_previous_deployment': (float(kl_to_previous(newest_obs)) if d > 1
                                            else float('nan'))}

    def describe(it, row, d=d):
      return (f'[trpo] deployment {d}/{deployments}, iteration {it}/{total_iterations}: '
              f'{describe_iteration(row)} | KL to previous deployment '
              f'{row["kl_to_previous_deployment"]:.3g}')

    # The ETA covers this deployment's TRPO only: a later deployment's fit takes hours that no
    # pace measured here predicts (the data grow, early stopping ends it at an unknown epoch).
    progress = Progress(int(iteration.numpy()), d * iterations_per_deployment)
    trpo_iterations(run_state, trainer, iteration, d * iterations_per_deployment,
                    updates_per_iteration, make_row, describe, progress, log,
                    eta_covers=f" to the end of deployment {d}'s TRPO")

    # 5. export the deployment's policy: it collects the next batch
    finish_deployment(run, state, policy, {
        'env_id': env_id, 'algorithm': 'me_trpo' if policy_init == 'random' else 'bremen',
        'deployment': d, 'seed': seed, 'sampling_std': policy.sampling_std}, deployments, log)
    previous.copy_from(policy)
    save('trpo_done')

  last = state['deployments'][-1]
  return {'final_eval_return_mean': last['eval_return_mean'], 'deployments': deployments,
          'real_transitions': last['real_transitions'],
          'export_dir': run.file('policies', f'deployment_{deployments}')}
