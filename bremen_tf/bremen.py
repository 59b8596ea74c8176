"""BREMEN offline: Algorithm 1 for one dataset (reference/bremen.md §1-§6, §10).

  dataset -> fit the dynamics ensemble (first 85% trains, last 15% validates)
          -> behaviour-clone π̂_β on all of it -> copy π̂_β (weights + obs statistics) into π_θ
          -> `outer_iterations` x [`updates_per_iteration` TRPO updates in imagination,
                                   then a deterministic evaluation in the real env]
          -> export the final policy as a SavedModel

ME-TRPO (offline) is the same recipe with `policy_init='random'`: a fresh normc policy with
identity observation normalisation, and no behaviour cloning unless `alpha` needs π̂_β.
Reached through `train_offline` (bremen_tf/experiments.py), whose bindings these are.

Resumable: the state during the dynamics fit (every DynamicsEnsemble.checkpoint_seconds), after
it, after BC and after every outer iteration (`checkpoint_every`) is checkpointed, and a restarted
run continues from the last checkpoint.
"""
import tensorflow as tf

from bremen_tf import envs, export
from bremen_tf.data.dataset import DatasetError
from bremen_tf.data.external import add_normalized_scores, normalized_score
from bremen_tf.dynamics_cache import dynamics_cache_key
from bremen_tf.policies import mean_action_fn
from bremen_tf.resumable_fit import FIT_STAGE
from bremen_tf.run_state import RunState, record_dataset
from bremen_tf.runs import Progress, seed_everything
from bremen_tf.stages import (build_models, clone_behavior_stage, describe_iteration,
                              describe_return, evaluate_policy, fit_dynamics_stage, train_size,
                              trpo_iterations, uses_bc)

INITIAL_POLICY = {'bc': 'BC policy', 'bc_unit_std': 'BC mean, σ=1', 'random': 'random init'}


def offline(run, data, record, *, seed, log, data_name, policy_init, validation_fraction,
            outer_iterations, updates_per_iteration, eval_min_steps, checkpoint_every,
            reset_bank_size, horizon, eval_model, dynamics_cache_dir):
  """Runs (or resumes) BREMEN on `data` (a Dataset; `record` what train_state.json keeps of it,
  `data_name` its (noise, size) names for the dynamics cache) in `run`. Returns a summary."""
  if not 0.0 < validation_fraction < 1.0:
    raise ValueError(f'validation_fraction must be in (0, 1), got {validation_fraction}.')
  env_id, refs = data.metadata['env_id'], data.metadata.get('reference_scores')
  spec = envs.get_spec(env_id)
  seed_everything(seed)
  dynamics, bc_policy, policy, trainer = build_models(env_id, seed, policy_init, reset_bank_size,
                                                      horizon)
  n_train = train_size(len(data), validation_fraction)
  batch_size = dynamics.fit_defaults['batch_size']
  if n_train < batch_size:  # before any stage: the fit could not take one step
    raise DatasetError(f'the dataset has {len(data):,} transitions; the dynamics fit trains on '
                       f'the first {1 - validation_fraction:.0%} ({n_train:,}), fewer than one '
                       f'batch of {batch_size:,}. Use more data, or bind DynamicsEnsemble.'
                       'batch_size lower.')
  iteration = tf.Variable(0, dtype=tf.int64, name='iteration')
  run_state = RunState(run, tf.train.Checkpoint(dynamics=dynamics, bc_policy=bc_policy,
                                                policy=policy, trainer=trainer,
                                                iteration=iteration), iteration, log=log)
  state, save = run_state.state, run_state.save
  record_dataset(run_state, record)

  if state['stage'] in ('start', FIT_STAGE):  # 1. the dynamics ensemble on the dataset
    cache = None
    if dynamics_cache_dir:
      cache = (dynamics_cache_dir, *dynamics_cache_key(env_id, *data_name, len(data),
                                                       validation_fraction, seed, dynamics))
    state['dynamics_fit'] = fit_dynamics_stage(run_state, dynamics, [data], validation_fraction,
                                               log, cache=cache)
    save('dynamics')

  if state['stage'] == 'dynamics':  # 2. π̂_β by behaviour cloning; π_θ initialised from it
    if uses_bc(policy_init, trainer):
      state['bc'] = clone_behavior_stage(bc_policy, data.observations, data.actions, seed,
                                         'the dataset', log)
    if policy_init != 'random':
      policy.copy_from(bc_policy)
    save('bc')

  eval_fn = mean_action_fn(policy)

  def evaluate(it):
    return add_normalized_scores(evaluate_policy(
        env_id, eval_fn, eval_min_steps, seed=10_000 * (seed + 1) + 100 * it,
        model=(dynamics, policy, spec.reward_fn) if eval_model else None,
        diagnostics_seed=seed + it), refs)

  if state['stage'] == 'bc':  # 3. the initial policy, evaluated
    row = {'iteration': 0, 'step': 0, 'trpo_updates': 0, 'imagined_steps': 0, **evaluate(0)}
    run.log_metrics(row, step=0)
    log(f'[eval] iteration 0 ({INITIAL_POLICY[policy_init]}): return {describe_return(row)} '
        f'({row["eval_episodes"]} episodes)')
    state['initial_eval'] = row
    save('trpo')

  # 4. TRPO in imagination, each iteration evaluated in the real env
  trainer.set_data_box(data.observations, data.next_observations)  # only with the guard
  imagined = [int(iteration.numpy()) * updates_per_iteration * trainer.batch_size]

  def make_row(it, stats):
    imagined[0] += stats['imagined']
    return {'iteration': it, 'step': it, 'trpo_updates': it * updates_per_iteration,
            'imagined_steps': imagined[0], **evaluate(it), **stats['row']}

  trpo_iterations(run_state, trainer, iteration, outer_iterations, updates_per_iteration,
                  make_row, lambda it, row: (f'[trpo] iteration {it}/{outer_iterations}: '
                                             f'{describe_iteration(row)}'),
                  Progress(int(iteration.numpy()), outer_iterations), log, checkpoint_every)

  export_dir = run.file('policy')  # 5. the final policy, as a SavedModel
  export.export_policy(policy, export_dir, {
      'env_id': env_id, 'algorithm': 'me_trpo' if policy_init == 'random' else 'bremen',
      'policy_init': policy_init, 'iterations': outer_iterations, 'seed': seed,
      'sampling_std': policy.sampling_std})
  log(f'Exported the policy to {export_dir}')
  summary = {'final_eval_return_mean': float(run.read_metrics()[-1]['eval_return_mean']),
             'iterations': outer_iterations, 'export_dir': export_dir}
  if refs:
    summary['final_eval_normalized_score'] = normalized_score(summary['final_eval_return_mean'],
                                                              refs)
  return summary
