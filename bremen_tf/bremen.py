"""BREMEN offline: Algorithm 1 for one dataset (reference/bremen.md §1-§6, §10).

  dataset -> fit the dynamics ensemble (first 85% trains, last 15% validates)
          -> behaviour-clone π̂_β on all of it -> copy π̂_β (weights + obs statistics) into π_θ
          -> `outer_iterations` x [`updates_per_iteration` TRPO updates in imagination,
                                   then a deterministic evaluation in the real env]
          -> export the final policy as a SavedModel

ME-TRPO (offline) is the same pipeline with `policy_init='random'`: a fresh normc policy with
identity observation normalisation, and no behaviour cloning unless `alpha` needs π̂_β.

Resumable: the state during the dynamics fit (every DynamicsEnsemble.checkpoint_seconds), after
it, after BC and after every outer iteration (`checkpoint_every`) is checkpointed, and a restarted
run continues from the last checkpoint.
"""
import hashlib
import json
import os
import re
import shutil
import time

import gin
import numpy as np
import tensorflow as tf

from bremen_tf import envs, evaluation, export, fileio, runs
from bremen_tf.dynamics import DynamicsEnsemble
from bremen_tf.imagined_trpo import ImaginedTRPO
from bremen_tf.model_diagnostics import model_diagnostics
from bremen_tf.policies import GaussianPolicy, behavior_clone
from bremen_tf.resumable_fit import FIT_STAGE, fit_dynamics
from bremen_tf.data import sources
from bremen_tf.data.external import add_normalized_scores, normalized_score
from bremen_tf.run_state import RunState, record_dataset

POLICY_INITS = ('bc', 'bc_unit_std', 'random')


def split_sequential(dataset, validation_fraction):
  """The first (1 − f) of the transitions train, the last f validate (no shuffling)."""
  n_train = int(round(len(dataset) * (1.0 - validation_fraction)))
  arrays = (dataset.observations, dataset.actions, dataset.next_observations)
  return tuple(a[:n_train] for a in arrays), tuple(a[n_train:] for a in arrays)


def dynamics_cache_key(env_id, noise, dataset_size, n, validation_fraction, seed, dynamics):
  """Everything the fitted ensemble depends on (the fit is deterministic given these). For a
  Minari or D4RL dataset, `noise` is its binding ('minari:...') and `dataset_size` its length."""
  key = dict(env_id=env_id, noise=noise, dataset_size=dataset_size, n=n, seed=seed,
             validation_fraction=validation_fraction, n_models=dynamics.n_models,
             hidden=list(dynamics.net_sizes), learning_rate=dynamics.optimizer.learning_rate,
             **dynamics.fit_defaults)
  digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
  name = re.sub(r'[^\w.+-]', '_', f'{env_id}_{noise}_{dataset_size}_seed{seed}_{digest}')
  return name, key


def load_cached_dynamics(cache_dir, name, dynamics):
  """The cached fit summary (and `dynamics` restored), or None if the cache has no entry."""
  entry = os.path.join(cache_dir, name)
  info_path = os.path.join(entry, 'fit.json')
  if not os.path.exists(info_path):
    return None
  info = fileio.read_json(info_path)
  tf.train.Checkpoint(dynamics=dynamics).read(
      os.path.join(entry, 'dynamics')).assert_existing_objects_matched()
  return info


def save_cached_dynamics(cache_dir, name, key, dynamics, fit):
  """Writes the entry atomically (a directory renamed into place; a concurrent writer loses)."""
  entry = os.path.join(cache_dir, name)
  tmp = f'{entry}.tmp{os.getpid()}'
  shutil.rmtree(tmp, ignore_errors=True)
  tf.train.Checkpoint(dynamics=dynamics).write(os.path.join(tmp, 'dynamics'))
  fileio.write_json(os.path.join(tmp, 'fit.json'), {**fit, 'key': key})
  try:
    os.replace(tmp, entry)
  except OSError:  # another run cached the same fit first
    shutil.rmtree(tmp, ignore_errors=True)


def reset_observations(env_id, n, seed):
  """n observations from the real env's reset distribution (nothing is simulated)."""
  env = envs.make(env_id)
  obs = [env.reset(seed=seed)[0]] + [env.reset()[0] for _ in range(n - 1)]
  env.close()
  return np.asarray(obs, np.float32)


def build_models(env_id, seed, policy_init, reset_bank_size, horizon):
  """(dynamics ensemble, π̂_β, π_θ, ImaginedTRPO trainer) for `env_id`."""
  spec = envs.get_spec(env_id)
  dynamics = DynamicsEnsemble(spec.obs_dim, spec.act_dim, seed=seed)
  bc_policy = GaussianPolicy(spec.obs_dim, spec.act_dim, name='bc_policy')
  policy = GaussianPolicy(spec.obs_dim, spec.act_dim, name='policy')
  if policy_init == 'bc_unit_std':
    policy.set_fixed_log_std(0.0)  # the paper text's π_θ0 = Normal(π̂_β, 1)
  trainer = ImaginedTRPO(policy, bc_policy, dynamics, spec.reward_fn, spec.done_fn,
                         reset_observations(env_id, reset_bank_size, seed + 7919),
                         horizon or spec.horizon, seed=seed)
  return dynamics, bc_policy, policy, trainer


def evaluate_policy(env_id, action_fn, min_steps, seed, model=None, diagnostics_seed=0):
  """Deterministic real-env evaluation: whole episodes totalling >= min_steps. With `model` =
  (dynamics, policy, reward_fn), also the §11 model diagnostics on those episodes."""
  out = evaluation.run_until_steps(env_id, lambda o: action_fn(tf.constant(o)).numpy(),
                                   min_steps, seed=seed, record=model is not None)
  returns, lengths = out[:2]
  extra = model_diagnostics(*model, out[2], seed=diagnostics_seed) if model else {}
  return {'eval_return_mean': float(returns.mean()), 'eval_return_std': float(returns.std()),
          'eval_return_min': float(returns.min()), 'eval_return_max': float(returns.max()),
          'eval_episodes': len(returns), 'eval_steps': int(lengths.sum()), **extra}


def trpo_iteration(trainer, updates):
  """`updates` TRPO updates in imagination: {'imagined': steps, 'row': metrics averages}."""
  t0 = time.time()
  infos = [{k: v.numpy() for k, v in trainer.update().items()} for _ in range(updates)]
  seconds = time.time() - t0
  imagined = int(sum(i['imagined_steps'] for i in infos))
  row = {key: float(np.mean([i[key] for i in infos]))
         for key in ('imagined_return_mean', 'imagined_path_length', 'kl_after',
                     'kl_to_behavior', 'step_fraction', 'policy_log_std_mean')}
  row['accept_rate'] = float(np.mean([i['accepted'] for i in infos]))
  row['imagined_steps_per_s'] = imagined / seconds
  return {'imagined': imagined, 'row': row}


def describe_return(row, prefix='eval'):
  """'123.4 ± 5.6', with the normalised score when the dataset has reference scores."""
  text = f'{row[f"{prefix}_return_mean"]:.1f} ± {row[f"{prefix}_return_std"]:.1f}'
  score = row.get(f'{prefix}_normalized_score')
  return text + (f' (normalised {score:.1f})' if score is not None else '')


def describe_iteration(row):
  return (f'real return {describe_return(row)} | '
          f'imagined {row["imagined_return_mean"]:.1f} | KL to BC {row["kl_to_behavior"]:.3g} | '
          f'accepted {row["accept_rate"]:.0%} | {row["imagined_steps_per_s"]:,.0f} imagined '
          'steps/s')


@gin.configurable(denylist=['run', 'seed', 'log'])
def train_offline(run, seed=0, env_id=None, noise='pure', dataset_size='1m',
                  data_dir=None, dataset=None, validation_fraction=0.15, policy_init='bc',
                  outer_iterations=250, updates_per_iteration=25, eval_min_steps=3000,
                  checkpoint_every=1, reset_bank_size=10_000, horizon=None, eval_model=False,
                  dynamics_cache_dir=None, algorithm='bremen', log=print):
  """Runs (or resumes) one offline run in `run` (a runs.RunDir). Returns a summary.

  `algorithm` 'bremen' runs BREMEN/ME-TRPO (below); 'bc', 'bcq' and 'brac' run the model-free
  baselines of bremen_tf/model_free.py on the same dataset. `dynamics_cache_dir`, if set, shares
  one dynamics fit between runs with the same data, seed and ensemble settings (e.g. BREMEN and
  ME-TRPO): the fit is deterministic given those, so this only saves time.

  `dataset` None is the BRAC-protocol dataset of (`env_id`, `noise`, `dataset_size`);
  'minari:<id or path>' and 'd4rl:<path>' read those datasets, whose env is theirs (`env_id`, if
  bound, must agree) and whose reference scores give `eval_normalized_score` (x100) beside every
  evaluation return (bremen_tf/data/sources.py).
  """
  if algorithm != 'bremen':
    from bremen_tf import model_free  # pylint: disable=g-import-not-at-top
    return model_free.train_model_free(run, seed=seed, algorithm=algorithm, env_id=env_id,
                                       noise=noise, dataset_size=dataset_size,
                                       data_dir=data_dir, dataset=dataset, log=log)
  if policy_init not in POLICY_INITS:
    raise ValueError(f'policy_init must be one of {POLICY_INITS}, got {policy_init!r}.')
  if not 0.0 < validation_fraction < 1.0:
    raise ValueError(f'validation_fraction must be in (0, 1), got {validation_fraction}.')
  # The data first: its env decides the models, and a bad dataset fails before any work.
  data = sources.load_source(dataset, env_id, noise, dataset_size, data_dir, log=log)
  env_id, refs = data.metadata['env_id'], data.metadata.get('reference_scores')
  if dataset is not None:  # the dynamics cache tells datasets apart by binding and length
    noise, dataset_size = dataset, len(data)
  spec = envs.get_spec(env_id)
  tf.random.set_seed(seed)
  np.random.seed(seed)

  # --- models -----------------------------------------------------------------------------------
  dynamics, bc_policy, policy, trainer = build_models(env_id, seed, policy_init, reset_bank_size,
                                                      horizon)
  use_bc = policy_init != 'random' or trainer.alpha != 0.0
  if not use_bc:
    trainer.behavior_policy = None  # ME-TRPO: nothing needs π̂_β, so BC is skipped
  iteration = tf.Variable(0, dtype=tf.int64, name='iteration')
  ckpt = tf.train.Checkpoint(dynamics=dynamics, bc_policy=bc_policy, policy=policy,
                             trainer=trainer, iteration=iteration)
  run_state = RunState(run, ckpt, iteration, log=log)
  state, save = run_state.state, run_state.save
  record_dataset(run_state, sources.run_record(data, noise))

  # --- dynamics -----------------------------------------------------------------------------------
  if state['stage'] in ('start', FIT_STAGE):
    train, validation = split_sequential(data, validation_fraction)
    cached = None
    if dynamics_cache_dir:
      cache_name, cache_key = dynamics_cache_key(env_id, noise, dataset_size, len(data),
                                                 validation_fraction, seed, dynamics)
      cached = load_cached_dynamics(dynamics_cache_dir, cache_name, dynamics)
    t0 = time.time()
    if cached is not None:
      log(f'[dynamics] reusing the fit cached in {os.path.join(dynamics_cache_dir, cache_name)}')
      state['dynamics_fit'] = {**{k: v for k, v in cached.items() if k != 'key'},
                               'cached_from': os.path.join(dynamics_cache_dir, cache_name)}
      state.pop('dynamics_progress', None)  # of a fit this run had begun before the cache had it
    else:
      log(f'[dynamics] fitting {dynamics.n_models} models on {len(train[0]):,} transitions, '
          f'validating on {len(validation[0]):,}')
      state['dynamics_fit'] = fit_dynamics(run_state, dynamics, train, validation, log)
      if dynamics_cache_dir:
        save_cached_dynamics(dynamics_cache_dir, cache_name, cache_key, dynamics,
                             state['dynamics_fit'])
    log(f'[dynamics] done in {runs.format_duration(time.time() - t0)}: stopped at epochs '
        f'{state["dynamics_fit"]["stop_epoch"]}')
    save('dynamics')

  # --- behaviour cloning --------------------------------------------------------------------------
  if state['stage'] == 'dynamics':
    if use_bc:
      t0 = time.time()
      log(f'[bc] behaviour cloning on {len(data):,} transitions')
      _, history = behavior_clone(bc_policy, data.observations, data.actions, seed=seed,
                                  log=lambda m: log(f'[bc] {m}'))
      state['bc'] = {'final_loss': history[-1][1], 'seconds': time.time() - t0}
    if policy_init != 'random':
      policy.copy_from(bc_policy)
    save('bc')

  # --- TRPO in imagination ------------------------------------------------------------------------
  eval_fn = tf.function(lambda obs: policy.mean_log_std(obs)[0])

  def evaluate(it):
    return add_normalized_scores(evaluate_policy(
        env_id, eval_fn, eval_min_steps, seed=10_000 * (seed + 1) + 100 * it,
        model=(dynamics, policy, spec.reward_fn) if eval_model else None,
        diagnostics_seed=seed + it), refs)

  if state['stage'] == 'bc':
    row = {'iteration': 0, 'step': 0, 'trpo_updates': 0, 'imagined_steps': 0,
           **evaluate(0)}
    run.log_metrics(row, step=0)
    which = {'bc': 'BC policy', 'bc_unit_std': 'BC mean, σ=1', 'random': 'random init'}
    log(f'[eval] iteration 0 ({which[policy_init]}): return {describe_return(row)} '
        f'({row["eval_episodes"]} episodes)')
    state['initial_eval'] = row
    save('trpo')

  start_it = int(iteration.numpy())
  session_start = time.time()
  imagined_total = start_it * updates_per_iteration * trainer.batch_size
  for it in range(start_it + 1, outer_iterations + 1):
    t0 = time.time()
    stats = trpo_iteration(trainer, updates_per_iteration)
    imagined_total += stats['imagined']
    row = {'iteration': it, 'step': it, 'trpo_updates': it * updates_per_iteration,
           'imagined_steps': imagined_total, **evaluate(it), **stats['row']}
    row['iteration_seconds'] = time.time() - t0
    run.log_metrics(row, step=it)
    iteration.assign(it)
    if it % checkpoint_every == 0 or it == outer_iterations:
      save('trpo')
    done_here = it - start_it
    eta = (time.time() - session_start) / done_here * (outer_iterations - it)
    log(f'[trpo] iteration {it}/{outer_iterations}: {describe_iteration(row)} | '
        f'ETA {runs.format_duration(eta)}')

  export_dir = run.file('policy')
  export.export_policy(policy, export_dir, {
      'env_id': env_id, 'algorithm': 'me_trpo' if policy_init == 'random' else 'bremen',
      'policy_init': policy_init, 'iterations': outer_iterations, 'seed': seed,
      'sampling_std': policy.sampling_std})
  log(f'Exported the policy to {export_dir}')
  final = run.read_metrics()[-1]
  summary = {'final_eval_return_mean': float(final['eval_return_mean']),
             'iterations': outer_iterations, 'export_dir': export_dir}
  if refs:
    summary['final_eval_normalized_score'] = normalized_score(summary['final_eval_return_mean'],
                                                              refs)
  return summary
