"""How long a faithful reproduction takes on this machine at one TF thread, from measured per-stage
costs; writes results/reproduction_time.{md,csv}.

  python bench/reproduction_time.py

With the default --out it also writes the hours table into the `reproduction-time` blocks of
docs/performance.md and results/performance.md (the latter's block is appended if missing; bench_bremen.py
keeps it when it rewrites the file).

Measured per env, in this process at one thread: one TRPO update at the env's imagination shape
(the default implementation; termination off so that the shape is exact), one batch step of the
5-member dynamics ensemble, one BC step, one real-env evaluation (>= 3000 steps). The budgets are
read from the gin files (gin/<env>_<size>.gin, gin/deployment/<env>_<size>.gin) with the library's
defaults (250 x 25 TRPO updates offline, BC 300K steps, dynamics up to 200 epochs). The dynamics
fit stops early (patience 20) at an epoch nobody knows in advance, so every row gives the hours
with the fit at its 200-epoch maximum and at 50 epochs: the truth lies between or below.
"""
import os
import sys
import time

from absl import app, flags
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'launch'))
import launch_common  # noqa: E402  (REPO_ROOT, quiet logs)

flags.DEFINE_string('out', None, 'Output prefix (default results/reproduction_time).')
FLAGS = flags.FLAGS

ENVS = {'hopper': 'bremen/Hopper-v0', 'walker2d': 'bremen/Walker2d-v0',
        'halfcheetah': 'bremen/HalfCheetah-v0', 'ant': 'bremen/Ant-v0'}
OFFLINE_SIZES = ('1m', '100k', '50k')
DEPLOYMENT_SIZES = ('200k', '100k')
EPOCHS = (200, 50)  # the fit's maximum, and an early stop


def seconds(fn, repeats=2):
  fn()  # warm-up (tracing)
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t0)
  return float(np.median(times))


def measure(tf, env_id):
  """Seconds of one TRPO update, dynamics batch step, BC step and evaluation for `env_id`."""
  from bremen_tf import envs
  from bremen_tf.stages import evaluate_policy, reset_observations
  from bremen_tf.dynamics import DynamicsEnsemble
  from bremen_tf.imagined_trpo import ImaginedTRPO
  from bremen_tf.policies import GaussianPolicy, behavior_clone
  spec = envs.get_spec(env_id)
  never = lambda s: tf.zeros(tf.shape(s)[:1], tf.bool)
  dynamics = DynamicsEnsemble(spec.obs_dim, spec.act_dim)
  policy = GaussianPolicy(spec.obs_dim, spec.act_dim)
  trainer = ImaginedTRPO(policy, None, dynamics, spec.reward_fn, never,
                         reset_observations(env_id, 1000, 0), spec.horizon)
  update = seconds(lambda: trainer.update()['kl_after'].numpy())

  n_batches, batch = 5, 1000
  x = tf.random.normal([n_batches * batch, spec.obs_dim + spec.act_dim])
  y = tf.random.normal([n_batches * batch, spec.obs_dim])
  index = tf.constant(np.stack([np.random.permutation(n_batches * batch).reshape(n_batches, batch)
                                for _ in range(dynamics.n_models)], axis=1), tf.int32)
  active = tf.ones([dynamics.n_models], tf.bool)
  dynamics_step = seconds(lambda: dynamics._train_epoch(x, y, index, active,
                                                        tf.constant(1e5))) / n_batches

  rng = np.random.default_rng(0)
  obs = rng.normal(size=(10_000, spec.obs_dim)).astype(np.float32)
  act = rng.uniform(-1, 1, size=(10_000, spec.act_dim)).astype(np.float32)
  bc_steps = 2000
  bc_step = seconds(lambda: behavior_clone(policy, obs, act, steps=bc_steps,
                                           log_every=bc_steps)) / bc_steps

  mean_fn = tf.function(lambda o: policy.mean_log_std(o)[0])
  evaluation = seconds(lambda: evaluate_policy(env_id, mean_fn, 3000, seed=0), repeats=1)
  return {'update': update, 'dynamics_step': dynamics_step, 'bc_step': bc_step,
          'evaluation': evaluation}


def budget(gin_file, names):
  """{name: value} of `names` bound by `gin_file` (library defaults where it binds none)."""
  import gin
  from bremen_tf import experiments  # noqa: F401  (registers the configurables)
  gin.clear_config()
  gin.add_config_file_search_path(launch_common.REPO_ROOT)
  gin.parse_config_file(os.path.join(launch_common.REPO_ROOT, gin_file))
  out = {}
  for name, default in names.items():
    try:
      out[name] = gin.query_parameter(name)
    except ValueError:
      out[name] = default
  gin.clear_config()
  return out


def hours(cost, epochs, fits_rows, updates, bc_runs, evaluations):
  """Hours at one thread: dynamics `epochs` over each fit's training rows, BC, TRPO, evaluation."""
  dynamics = sum(epochs * (rows // 1000) * cost['dynamics_step'] for rows in fits_rows)
  total = (dynamics + bc_runs * 300_000 * cost['bc_step'] + updates * cost['update']
           + evaluations * cost['evaluation'])
  return total / 3600.0


def main(argv):
  del argv
  launch_common.quiet_logs()
  os.chdir(launch_common.REPO_ROOT)  # gin includes resolve from here
  import tensorflow as tf
  tf.config.threading.set_intra_op_parallelism_threads(1)
  tf.config.threading.set_inter_op_parallelism_threads(1)
  from bremen_tf import fileio, provenance, results
  from bremen_tf.data import parse_size
  costs = {}
  for env, env_id in ENVS.items():
    print(f'[{env}] measuring ...', flush=True)
    costs[env] = measure(tf, env_id)
    print(f'[{env}] ' + ', '.join(f'{k} {v:.4g} s' for k, v in costs[env].items()), flush=True)

  rows, csv_rows = [], []
  for env in ENVS:
    cost = costs[env]
    for size in OFFLINE_SIZES:
      b = budget(f'gin/{env}_{size}.gin', {'train_offline.outer_iterations': 250,
                                          'train_offline.updates_per_iteration': 25})
      iterations = b['train_offline.outer_iterations']
      updates = iterations * b['train_offline.updates_per_iteration']
      fit_rows = [int(0.85 * parse_size(size))]
      h = [hours(cost, e, fit_rows, updates, 1, iterations + 1) for e in EPOCHS]
      rows.append(['offline', env, size, f'{updates:,} updates', f'{h[0]:.1f}', f'{h[1]:.1f}'])
      csv_rows.append(['offline', env, size, updates, h[0], h[1]])
    for size in DEPLOYMENT_SIZES:
      b = budget(f'gin/deployment/{env}_{size}.gin', {
          'train_deployment.deployments': 5, 'train_deployment.transitions_per_deployment': 0,
          'train_deployment.iterations_per_deployment': 80,
          'train_deployment.updates_per_iteration': 25})
      d = b['train_deployment.deployments']
      per = b['train_deployment.transitions_per_deployment']
      iterations = d * b['train_deployment.iterations_per_deployment']
      updates = iterations * b['train_deployment.updates_per_iteration']
      fit_rows = [int(0.85 * per * k) for k in range(1, d + 1)]  # refit on all data so far
      h = [hours(cost, e, fit_rows, updates, d, iterations) for e in EPOCHS]
      rows.append(['deployment (BREMEN)', env, f'{d} x {size}', f'{updates:,} updates',
                   f'{h[0]:.1f}', f'{h[1]:.1f}'])
      csv_rows.append(['deployment', env, f'{d}x{size}', updates, h[0], h[1]])

  out = FLAGS.out or os.path.join(launch_common.REPO_ROOT, 'results', 'reproduction_time')
  cost_rows = [[env, f'{c["update"]:.2f}', f'{c["dynamics_step"]:.3f}',
                f'{c["bc_step"] * 1e3:.2f}', f'{c["evaluation"]:.1f}'] for env, c in costs.items()]
  text = '\n'.join([
      '# How long a reproduction takes (one TF thread)', '',
      results.provenance_header('bench/reproduction_time.py: per-stage costs measured in this '
                                'run, budgets from the gin files'), '',
      'Measured per-stage costs (seconds, one thread):', '',
      results.markdown_table(['env', 'TRPO update', 'dynamics batch step (5 x 1000)',
                              'BC step (ms)', 'evaluation (>= 3000 steps)'], cost_rows),
      'Hours for one run at the paper\'s budget: dynamics fit(s) + BC (300K steps per fit of '
      'π̂_β) + TRPO updates + an evaluation per outer iteration. The dynamics fit stops early '
      '(patience 20) at an epoch not known in advance: one column puts every fit at its '
      '200-epoch maximum, the other at 50 epochs. Deployment runs refit on all data so far at '
      'every deployment. ME-TRPO skips BC (300K x the BC step less); two runs side by side '
      '(one thread each) take about the same hours each on this 2-core machine.', '',
      results.markdown_table(['experiment', 'env', 'data', 'TRPO budget',
                              'hours (fits at 200 epochs)', 'hours (fits at 50 epochs)'], rows),
  ])
  fileio.write_text(out + '.md', text + '\n')
  if not FLAGS.out:  # the repository's own results: the same table in both performance.md files
    revision = (provenance.git_revision() or 'unknown')[:8]
    block = (f'Hours at one TF thread, from per-stage costs measured by '
             f'`bench/reproduction_time.py` at `{revision}` on '
             f'{time.strftime("%Y-%m-%d", time.gmtime())} (this machine; '
             '[`results/reproduction_time.md`](results/reproduction_time.md) has the costs):\n\n'
             + results.markdown_table(['experiment', 'env', 'data', 'TRPO budget',
                                       'hours (fits at 200 epochs)', 'hours (fits at 50 epochs)'],
                                      rows))
    results.replace_block(os.path.join(launch_common.REPO_ROOT, 'docs', 'performance.md'),
                          'reproduction-time', block.replace('(results/', '(../results/'))
    results.replace_block(os.path.join(launch_common.REPO_ROOT, 'results', 'performance.md'),
                          'reproduction-time', block.replace('(results/', '('),
                          heading='## How long a reproduction takes')
  results.write_csv(out + '.csv', ['experiment', 'env', 'data', 'trpo_updates',
                                   'hours_fit_200_epochs', 'hours_fit_50_epochs'], csv_rows)
  print(f'Wrote {out}.md')


if __name__ == '__main__':
  app.run(main)
