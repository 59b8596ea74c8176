"""Synthetic run directories with known numbers, for the reporting tests (no training).

`build(root)` writes offline, deployment, online-SAC and full-budget runs under `root` as the
launchers would (config.gin as gin.config_str() writes it, metrics.csv, train_state.json,
deployments.csv, DONE, provenance.json) and returns the numbers it put there, so a test can
compute the expected cells itself. `run_json=True` also writes run.json (a new-style run).
"""
import csv
import datetime
import glob
import importlib
import json
import os

import gin
import numpy as np

from bremen_tf import validation
from conftest import LAUNCH, script  # pylint: disable=unused-import (tests import them from here)

REVISION = 'f' * 40
CHEETAH, HOPPER = 'bremen/HalfCheetah-v0', 'bremen/Hopper-v0'
MINARI = 'minari:bremen-d4rl/hopper/medium-v0'
REFS = {'min': -20.27, 'max': 3234.3}

# The reduced budget (as gin/budget/table.gin binds it); the 50k cell leaves the defaults.
TABLE_BUDGET = {'train_offline.outer_iterations': 4, 'DynamicsEnsemble.max_epochs': 10,
                'behavior_clone.steps': 100_000, 'train_model_free.train_steps': 30_000,
                'train_model_free.behavior_steps': 30_000, 'train_model_free.eval_every': 5000}
ALGO = {'bremen': {}, 'me_trpo': {'train_offline.policy_init': 'random'},
        'bc': {'train_offline.algorithm': 'bc'}, 'bcq': {'train_offline.algorithm': 'bcq'},
        'brac': {'train_offline.algorithm': 'brac'}}

# (env, size, method) -> final return per seed (None: unfinished, its last row is `running`).
OFFLINE_FINALS = {
    ('HalfCheetah', '100k', 'bremen'): [5000.0, 5200.0, 5600.0],
    ('HalfCheetah', '100k', 'me_trpo'): [1000.0, 1500.0],
    ('HalfCheetah', '100k', 'bc'): [4200.0, 4300.0],
    ('HalfCheetah', '100k', 'bcq'): [3900.0, 4100.0],
    ('HalfCheetah', '100k', 'brac'): [3000.0, 3400.0],
    ('Hopper', '100k', 'bremen'): [2000.0, 2400.0, None],
    ('Hopper', '100k', 'bc'): [1300.0, 1350.0],
    ('HalfCheetah', '50k', 'bremen'): [5800.0],
    ('HalfCheetah', '50k', 'bc'): [4100.0],
}
MAX_Q_BONUS = 150.0  # BRAC's max-Q policy scores its mode's return + this
DATASET_RETURN = {('HalfCheetah', '100k'): 4000.0, ('Hopper', '100k'): 1100.0,
                  ('HalfCheetah', '50k'): 4100.0, ('Hopper', 'minari'): 1500.0}
MINARI_FINALS = [1800.0, 2000.0]  # BREMEN, seeds 0 and 1, on the Minari dataset
ENV_IDS = {'HalfCheetah': CHEETAH, 'Hopper': HOPPER}
GIN_ENV = {'HalfCheetah': {'ImaginedTRPO.target_kl': 0.1, 'ImaginedTRPO.gae_lambda': 0.95},
           'Hopper': {'ImaginedTRPO.target_kl': 0.05}}

# Deployment runs: (name, bindings, per seed the end-of-deployment returns (fewer: unfinished)).
DEPLOY_BASE = {'train_deployment.env_id': CHEETAH, 'train_deployment.deployments': 3,
               'train_deployment.transitions_per_deployment': 50_000,
               'train_deployment.iterations_per_deployment': 2,
               'DynamicsEnsemble.max_epochs': 5, 'behavior_clone.steps': 100_000,
               'train_deployment_model_free.train_steps': 30_000,
               'train_deployment_model_free.behavior_steps': 30_000}
DEPLOYMENT_RUNS = {
    'halfcheetah_50k': ({}, [[100.0, 800.0, 1500.0], [300.0, 1000.0, 1700.0]]),
    'halfcheetah_50k+me_trpo': ({'train_deployment.policy_init': 'random'},
                                [[200.0, 900.0, 2000.0], [400.0, 1100.0]]),
    'halfcheetah_50k+bcq': ({'train_deployment.algorithm': 'bcq'}, [[-50.0, 600.0, 900.0]]),
    'halfcheetah_50k+alpha_0.1': ({'train_deployment.policy_init': 'random',
                                   'ImaginedTRPO.alpha': 0.1}, [[150.0, 500.0, 700.0]]),
}
SAC_RETURNS = [(50_000, 900.0), (100_000, 2100.0), (150_000, 3000.0), (200_000, 3500.0)]


def config_text(bindings):
  """config.gin as a launcher writes it: the bindings parsed by gin, then gin.config_str()."""
  for module in set(validation.CONFIGURABLES.values()):
    importlib.import_module(module)
  gin.clear_config()
  try:
    gin.parse_config([f'{k} = {v!r}' for k, v in bindings.items()])
    return gin.config_str()
  finally:
    gin.clear_config()


def write_csv(path, rows):
  header = []
  for row in rows:
    header += [k for k in row if k not in header]
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=header, restval='')
    writer.writeheader()
    writer.writerows(rows)


def write_run(path, bindings, metrics, state, finished, seed, sessions=None, deployments=None,
              kind=None):
  os.makedirs(path, exist_ok=True)
  text = config_text(bindings)
  with open(os.path.join(path, 'config.gin'), 'w') as f:
    f.write(text)
  if metrics:
    write_csv(os.path.join(path, 'metrics.csv'), metrics)
  if deployments is not None:
    write_csv(os.path.join(path, 'deployments.csv'), deployments)
  with open(os.path.join(path, 'train_state.json'), 'w') as f:
    json.dump(state, f)
  dates = sessions or ['2026-01-01T00:00:00+00:00']
  with open(os.path.join(path, 'provenance.json'), 'w') as f:
    json.dump({'sessions': [{'date': d, 'git_revision': REVISION, 'seed': seed,
                             'command': 'synthetic'} for d in dates]}, f)
  if finished:
    with open(os.path.join(path, 'DONE'), 'w') as f:
      json.dump({}, f)
  if kind:  # a new-style run: its description, as launch_common.open_run writes it
    from bremen_tf.reporting import describe  # pylint: disable=g-import-not-at-top
    gin.clear_config()
    try:
      gin.parse_config([f'{k} = {v!r}' for k, v in bindings.items()])
      with open(os.path.join(path, 'run.json'), 'w') as f:
        json.dump({'description': describe.describe(kind, seed=seed),
                   'config_sha256': describe.config_digest(text)}, f)
    finally:
      gin.clear_config()


def bremen_metrics(final, iterations, per_it, bc=900.0, refs=None):
  """Iteration 0 is the BC policy; then a straight line to `final` (None: stops half way)."""
  last = iterations if final is not None else iterations // 2
  target = final if final is not None else 777.0
  rows = []
  for it in range(last + 1):
    value = bc + (target - bc) * it / last if last else target
    row = {'iteration': it, 'step': it, 'trpo_updates': it * per_it,
           'imagined_steps': it * per_it * 50_000, 'eval_return_mean': value,
           'eval_return_std': 10.0 + it, 'eval_return_min': value - 20, 'eval_return_max': value + 20,
           'eval_episodes': 3}
    if refs:
      row['eval_normalized_score'] = 100 * (value - refs['min']) / (refs['max'] - refs['min'])
    if it:
      row.update(imagined_return_mean=value * 1.1, kl_to_behavior=0.01 * it, accept_rate=1.0,
                 imagined_steps_per_s=1000.0 * it, iteration_seconds=60.0)
    rows.append(row)
  return rows


def model_free_metrics(final, steps, brac=False, every=5000):
  rows = []
  for step in range(0, steps + 1, every):
    value = 100.0 + (final - 100.0) * step / steps
    row = {'iteration': step // every, 'step': step, 'train_steps': step,
           'eval_return_mean': value, 'eval_return_std': 5.0, 'eval_episodes': 10}
    if brac:
      row.update(eval_max_q_return_mean=value + MAX_Q_BONUS, eval_max_q_return_std=6.0)
    if step:
      row.update(q_mean=step / 100.0, divergence=0.5, q_loss=1.0 / step,
                 train_steps_per_s=100.0 + step / 1000.0)
    rows.append(row)
  return rows


def dataset_state(env, size, stage='trpo', external=None):
  record = {'size': 100_000, 'noise': 'pure', 'env_id': ENV_IDS[env],
            'behavior_returns': {'mean': DATASET_RETURN[(env, size)], 'std': 50.0,
                                 'episodes': 100}}
  if external:
    record.update(dataset=external, noise=None, reference_scores=REFS)
  return {'stage': stage, 'dataset': record, 'dynamics_fit': {'stop_epoch': [10, 9, 8, 10, 7]}}


def build_offline(root, run_json=False):
  for (env, size, method), finals in OFFLINE_FINALS.items():
    name = f'{env.lower()}_{size}+{method}'
    for seed, final in enumerate(finals):
      bindings = {'train_offline.env_id': ENV_IDS[env], 'train_offline.noise': 'pure',
                  **GIN_ENV[env], **ALGO[method]}
      if size != '1m':
        bindings['train_offline.dataset_size'] = size
      if size == '100k':
        bindings.update(TABLE_BUDGET)
      if method in ('bremen', 'me_trpo'):
        # The 50k cell runs the default budget (250 iterations): 5 of them logged, then DONE.
        metrics = bremen_metrics(final, 4 if size == '100k' else 5, 25)
      else:
        metrics = model_free_metrics(final if final is not None else 777.0,
                                     30_000 if size == '100k' else 300_000,
                                     brac=method == 'brac',
                                     every=5000 if size == '100k' else 100_000)
      write_run(os.path.join(root, 'offline', name, f'seed{seed}'), bindings, metrics,
                dataset_state(env, size), final is not None, seed,
                kind='offline' if run_json else None)
  for seed, final in enumerate(MINARI_FINALS):
    bindings = {'train_offline.dataset': MINARI, **GIN_ENV['Hopper'], **TABLE_BUDGET}
    write_run(os.path.join(root, 'offline', 'hopper_medium', f'seed{seed}'), bindings,
              bremen_metrics(final, 4, 25, refs=REFS), dataset_state('Hopper', 'minari',
                                                                    external=MINARI),
              True, seed, kind='offline' if run_json else None)


def deployment_files(returns, iterations, size, kl=True, model_free=False):
  metrics, deployments = [], []
  for d, value in enumerate(returns, start=1):
    for k in range(1, iterations + 1):
      it = (d - 1) * iterations + k
      row = {'iteration': it, 'step': it, 'deployment': d, 'real_transitions': d * size,
             'eval_return_mean': value - 100.0 * (iterations - k), 'eval_return_std': 10.0,
             'iteration_seconds': 30.0}
      if model_free:
        row = {k2: v for k2, v in row.items() if k2 != 'iteration_seconds'}
      elif kl:
        row['kl_to_previous_deployment'] = float('nan') if d == 1 else 0.001 * it
      metrics.append(row)
    deployments.append({'deployment': d, 'transitions': size, 'real_transitions': d * size,
                        'data_return_mean': value / 2, 'data_episodes': 50,
                        'eval_return_mean': value, 'eval_return_std': 10.0,
                        'iteration': d * iterations})
  return metrics, deployments


def build_deployment(root, run_json=False):
  for name, (extra, per_seed) in DEPLOYMENT_RUNS.items():
    for seed, returns in enumerate(per_seed):
      metrics, deployments = deployment_files(
          returns, 2, 50_000, model_free='bcq' in name)
      write_run(os.path.join(root, 'deployment', name, f'seed{seed}'),
                {**DEPLOY_BASE, **GIN_ENV['HalfCheetah'], **extra}, metrics,
                {'stage': 'trpo_done', 'deployment': len(returns)}, len(returns) == 3, seed,
                deployments=deployments, kind='deployment' if run_json else None)
  metrics = [{'step': s - 10_000, 'env_steps': s, 'eval_return_mean': r, 'eval_return_std': 1.0}
             for s, r in SAC_RETURNS]
  write_run(os.path.join(root, 'deployment_sac', 'halfcheetah', 'seed0'),
            {'train_behavior_policy.env_id': CHEETAH, 'train_behavior_policy.stop_at_target':
             False, 'train_behavior_policy.total_steps': 190_000}, metrics, {'stage': 'sac'},
            True, 0, kind='behavior' if run_json else None)


# The full-budget layout: BREMEN finished 2 of 3 deployments and is inside the third; ME-TRPO is
# in its first dynamics fit; the HalfCheetah offline cell is at iteration 3 of 6; Hopper absent.
FULL_BREMEN = [500.0, 1500.0]
FULL_SESSIONS = ['2026-01-01T00:00:00+00:00', '2026-01-01T10:00:00+00:00']
FULL_ELAPSED = 36 * 3600.0  # every file last written 36 h after the first session started


def write_policies(run_path, last, scale=0.05, seed=0):
  """Exported GaussianPolicies of deployments 1..last, each the one before with `scale`-sized
  noise added to its kernels, and deployments 2..last's batches (50 states) in `run_path`;
  returns {d: the RMS action change of deployment d from d - 1}, computed in this process."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from bremen_tf.export import export_policy  # pylint: disable=g-import-not-at-top
  from bremen_tf.policies import GaussianPolicy  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  obs = rng.standard_normal((50, 17)).astype(np.float32)
  policy, means, changes = GaussianPolicy(17, 6), {}, {}
  os.makedirs(os.path.join(run_path, 'data'), exist_ok=True)
  for d in range(1, last + 1):
    if d > 1:
      for w in policy.kernels:
        w.assign_add(scale * rng.standard_normal(w.shape).astype(np.float32))
      np.savez(os.path.join(run_path, 'data', f'deployment_{d}.npz'), observations=obs)
    export_policy(policy, os.path.join(run_path, 'policies', f'deployment_{d}'))
    means[d] = policy.mean_log_std(tf.constant(obs))[0].numpy()
    if d > 1:
      changes[d] = float(np.sqrt(np.mean(np.square(means[d] - means[d - 1]))))
  return changes

def build_full(root):
  full = os.path.join(root, 'full')
  bindings = {**DEPLOY_BASE, **GIN_ENV['HalfCheetah'],
              'train_deployment.transitions_per_deployment': 200_000,
              'train_deployment.iterations_per_deployment': 3}
  metrics, deployments = deployment_files(FULL_BREMEN + [2500.0], 3, 200_000)
  metrics = metrics[:-2]  # the third deployment: 1 of its 3 iterations done
  write_run(os.path.join(full, 'deployment', 'halfcheetah_200k', 'seed0'), bindings, metrics,
            {'stage': 'trpo', 'deployment': 3, 'deployments': [
                {'deployment': 3, 'dynamics_fit': {'stop_epoch': [40] * 5}}]},
            False, 0, sessions=FULL_SESSIONS, deployments=deployments[:2])
  write_run(os.path.join(full, 'deployment', 'halfcheetah_200k+me_trpo', 'seed0'),
            {**bindings, 'train_deployment.policy_init': 'random'}, [],
            {'stage': 'dynamics_fit', 'deployment': 1, 'dynamics_progress': {
                'fit': {'epoch': 3, 'settings': {'max_epochs': 5, 'n_train': 170_000}},
                'seconds': 7200.0}},
            False, 0, sessions=FULL_SESSIONS[:1])
  offline = {'train_offline.env_id': CHEETAH, 'train_offline.noise': 'pure',
             'train_offline.dataset_size': '100k', 'train_offline.outer_iterations': 6,
             **GIN_ENV['HalfCheetah']}
  metrics = bremen_metrics(6000.0, 6, 25)[:4]
  write_run(os.path.join(full, 'offline', 'halfcheetah_100k', 'seed0'), offline, metrics,
            dataset_state('HalfCheetah', '100k'), False, 0, sessions=FULL_SESSIONS[:1])
  last_write = datetime.datetime.fromisoformat(FULL_SESSIONS[0]).timestamp() + FULL_ELAPSED
  for path in glob.glob(os.path.join(full, '*', '*', 'seed0', '*')):
    os.utime(path, (last_write, last_write))
  return full


def build(root, run_json=False):
  root = str(root)
  build_offline(root, run_json)
  build_deployment(root, run_json)
  build_full(root)
  return root


# Running the report scripts in this process: conftest.script (kept importable from here).
