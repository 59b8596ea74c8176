"""BREMEN's stages, shared by the offline recipe (bremen.py) and the deployment recipe
(deployment.py): build the models, fit the dynamics, clone π̂_β, run TRPO iterations in
imagination with an evaluation after each (reference/bremen.md §3-§6).

Each stage is a function of the run's RunState and models; the recipes decide the order, the
stage names written to train_state.json and what each metrics row holds.
"""
import os
import time

import numpy as np
import tensorflow as tf

from bremen_tf import envs, evaluation, runs
from bremen_tf.dynamics import DynamicsEnsemble
from bremen_tf.dynamics_cache import load_cached_dynamics, save_cached_dynamics
from bremen_tf.imagined_trpo import ImaginedTRPO
from bremen_tf.model_diagnostics import model_diagnostics
from bremen_tf.policies import GaussianPolicy, behavior_clone
from bremen_tf.resumable_fit import fit_dynamics

POLICY_INITS = ('bc', 'bc_unit_std', 'random')


# --- models ---------------------------------------------------------------------------------------

def reset_observations(env_id, n, seed):
  """n observations from the real env's reset distribution (nothing is simulated)."""
  env = envs.make(env_id)
  obs = [env.reset(seed=seed)[0]] + [env.reset()[0] for _ in range(n - 1)]
  env.close()
  return np.asarray(obs, np.float32)


def build_models(env_id, seed, policy_init, reset_bank_size, horizon):
  """(dynamics ensemble, π̂_β, π_θ, ImaginedTRPO trainer) for `env_id`. π̂_β is dropped from the
  trainer when nothing needs it (ME-TRPO without the alpha penalty): see `uses_bc`."""
  if policy_init not in POLICY_INITS:
    raise ValueError(f'policy_init must be one of {POLICY_INITS}, got {policy_init!r}.')
  spec = envs.get_spec(env_id)
  dynamics = DynamicsEnsemble(spec.obs_dim, spec.act_dim, seed=seed)
  bc_policy = GaussianPolicy(spec.obs_dim, spec.act_dim, name='bc_policy')
  policy = GaussianPolicy(spec.obs_dim, spec.act_dim, name='policy')
  if policy_init == 'bc_unit_std':
    policy.set_fixed_log_std(0.0)  # the paper text's π_θ0 = Normal(π̂_β, 1)
  trainer = ImaginedTRPO(policy, bc_policy, dynamics, spec.reward_fn, spec.done_fn,
                         reset_observations(env_id, reset_bank_size, seed + 7919),
                         horizon or spec.horizon, seed=seed)
  if not uses_bc(policy_init, trainer):
    trainer.behavior_policy = None  # ME-TRPO: nothing needs π̂_β, so BC is skipped
  return dynamics, bc_policy, policy, trainer


def uses_bc(policy_init, trainer):
  """BC is needed to initialise π_θ (BREMEN) or for the explicit KL penalty (alpha > 0)."""
  return policy_init != 'random' or trainer.alpha != 0.0


# --- dynamics -------------------------------------------------------------------------------------

def train_size(n, validation_fraction):
  """The training transitions of a batch of n (split_sequential)."""
  return int(round(n * (1.0 - validation_fraction)))


def split_sequential(dataset, validation_fraction):
  """The first (1 − f) of the transitions train, the last f validate (no shuffling)."""
  n_train = train_size(len(dataset), validation_fraction)
  arrays = (dataset.observations, dataset.actions, dataset.next_observations)
  return tuple(a[:n_train] for a in arrays), tuple(a[n_train:] for a in arrays)


def split_batches(batches, validation_fraction):
  """Each batch split sequentially (first 1 − f trains), the parts concatenated across batches."""
  train, validation = zip(*(split_sequential(b, validation_fraction) for b in batches))
  join = lambda parts: tuple(np.concatenate(p) for p in zip(*parts))
  return join(train), join(validation)


def fit_dynamics_stage(run_state, dynamics, batches, validation_fraction, log, warm_start=False,
                       cache=None):
  """Fits the ensemble on `batches` (each split sequentially), resumably; returns the fit record.
  `cache` = (directory, entry name, key) shares the fit between runs (dynamics_cache.py)."""
  train, validation = split_batches(batches, validation_fraction)
  cached = load_cached_dynamics(cache[0], cache[1], dynamics) if cache else None
  t0 = time.time()
  if cached is not None:
    where = os.path.join(cache[0], cache[1])
    log(f'[dynamics] reusing the fit cached in {where}')
    record = {**{k: v for k, v in cached.items() if k != 'key'}, 'cached_from': where}
    run_state.state.pop('dynamics_progress', None)  # of a fit begun before the cache had it
  else:
    what = (f'on {len(train[0]):,} transitions (warm start)' if warm_start else
            f'{dynamics.n_models} models on {len(train[0]):,} transitions')
    log(f'[dynamics] fitting {what}, validating on {len(validation[0]):,}')
    record = fit_dynamics(run_state, dynamics, train, validation, log)
    if cache:
      save_cached_dynamics(*cache, dynamics, record)
  log(f'[dynamics] done in {runs.format_duration(time.time() - t0)}: stopped at epochs '
      f'{record["stop_epoch"]}')
  return record


# --- behaviour cloning of π̂_β ---------------------------------------------------------------------

def clone_behavior_stage(bc_policy, observations, actions, seed, what, log, optimizer=None):
  """Behaviour-clones π̂_β on (observations, actions), described as `what` in the log;
  returns {'final_loss', 'seconds'}."""
  t0 = time.time()
  log(f'[bc] cloning {what} ({len(observations):,} transitions)')
  _, history = behavior_clone(bc_policy, observations, actions, seed=seed, optimizer=optimizer,
                              log=lambda m: log(f'[bc] {m}'))
  return {'final_loss': history[-1][1], 'seconds': time.time() - t0}


# --- TRPO in imagination, evaluated in the real env ----------------------------------------------

def trpo_iteration(trainer, updates):
  """`updates` TRPO updates in imagination: {'imagined': steps, 'row': metrics averages}."""
  t0 = time.time()
  infos = [{k: v.numpy() for k, v in trainer.update().items()} for _ in range(updates)]
  seconds = time.time() - t0
  imagined = int(sum(i['imagined_steps'] for i in infos))
  row = {key: float(np.mean([i[key] for i in infos]))
         for key in ('imagined_return_mean', 'imagined_return_median',
                     'imagined_clipped_path_fraction', 'imagined_path_length', 'kl_after',
                     'kl_to_behavior', 'step_fraction', 'policy_log_std_mean')}
  row['accept_rate'] = float(np.mean([i['accepted'] for i in infos]))
  row['imagined_steps_per_s'] = imagined / seconds
  return {'imagined': imagined, 'row': row}


def trpo_iterations(run_state, trainer, iteration, last, updates_per_iteration, make_row,
                    describe, progress, log, checkpoint_every=1, eta_covers=''):
  """Outer iterations iteration+1 .. `last`: each `updates_per_iteration` TRPO updates, then
  make_row(it, stats) (the evaluation and what the recipe records) as a metrics row, a checkpoint
  every `checkpoint_every` iterations and at `last`, and a progress line describe(it, row) ending
  in the ETA of `progress`, followed by `eta_covers` (what that ETA counts, if not the run)."""
  for it in range(int(iteration.numpy()) + 1, last + 1):
    t0 = time.time()
    row = make_row(it, trpo_iteration(trainer, updates_per_iteration))
    row['iteration_seconds'] = time.time() - t0
    run_state.run.log_metrics(row, step=it)
    iteration.assign(it)
    if it % checkpoint_every == 0 or it == last:
      run_state.save('trpo')
    log(f'{describe(it, row)} | ETA {progress.eta(it)}{eta_covers}')


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


def describe_return(row, prefix='eval'):
  """'123.4 ± 5.6', with the normalised score when the dataset has reference scores."""
  text = f'{row[f"{prefix}_return_mean"]:.1f} ± {row[f"{prefix}_return_std"]:.1f}'
  score = row.get(f'{prefix}_normalized_score')
  return text + (f' (normalised {score:.1f})' if score is not None else '')


def describe_iteration(row):
  kl_bc = row['kl_to_behavior']  # NaN where there is no BC policy (ME-TRPO): then not shown
  return (f'real return {describe_return(row)} | imagined {row["imagined_return_mean"]:.1f} '
          f'(median {row["imagined_return_median"]:.1f}; '
          f'{row["imagined_clipped_path_fraction"]:.1%} of paths at the model clip) | '
          + ('' if np.isnan(kl_bc) else f'KL to BC {kl_bc:.3g} | ')
          + f'accepted {row["accept_rate"]:.0%} | {row["imagined_steps_per_s"]:,.0f} imagined '
          'steps/s')
