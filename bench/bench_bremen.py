"""Benchmark of one BREMEN TRPO update and of ensemble training; writes results/performance.md.

  python bench/bench_bremen.py                    # 1 and 2 TF threads, 3 timed repeats each
  python bench/bench_bremen.py --threads=1 --repeats=1 --out=/tmp/perf.md

Each thread count runs in its own process (TF fixes its thread pools at start-up). In each, every
phase of the update is timed for two implementations side by side, alternating repeats:
  reference  the implementation of commit 731004b (`ImaginedTRPO.fisher_product='gauss_newton',
             block_rows=None`: each Fisher product runs the forward pass again, forward-mode then
             backward; the surrogate's gradient on a forward pass of its own)
  ours       the default (`'cached'`, bremen_tf/policy_fisher.py: one forward pass serves the
             gradient and all products; products and forward passes in 1000-row blocks)
beside the FLOP floor: the *minimal* floating-point operations of the phase (counted from the
layer sizes below, for any faithful implementation) over the matmul rate measured in the run.

Shapes: Hopper (50 parallel paths x H 1000) and HalfCheetah (200 x 250), 50,000 imagined steps.
Termination is switched off for the timing so that every update has exactly that shape (an
untrained model's predicted falls would make Hopper paths arbitrarily short). Models are
randomly initialised; the timing does not depend on the weights.
"""
import os
import subprocess
import sys

from absl import app, flags
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'launch'))
import launch_common  # noqa: E402  (REPO_ROOT, quiet logs)
from bench_common import matmul_rate, median_times  # noqa: E402

flags.DEFINE_integer('repeats', 3, 'Timed repeats per figure (the median is reported).')
flags.DEFINE_string('out', None, 'Markdown output (default results/performance.md).')
flags.DEFINE_list('threads', ['1', '2'], 'TF thread counts, each timed in its own process.')
flags.DEFINE_string('csv_out', None, 'Internal: one thread count\'s timings to this CSV.')
FLAGS = flags.FLAGS

SHAPES = {'Hopper': 'bremen/Hopper-v0', 'HalfCheetah': 'bremen/HalfCheetah-v0'}
# ImaginedTRPO bindings of each implementation.
IMPLEMENTATIONS = {'reference': dict(fisher_product='gauss_newton', block_rows=None),
                   'ours': dict(fisher_product='cached', block_rows=1000)}
CG_PRODUCTS = 10 + 1  # cg_iters products, one more for the step size


def mlp_flops(sizes):
  """Multiply-adds x 2 of one forward pass of a dense stack, per sample."""
  return 2 * sum(i * o for i, o in zip(sizes[:-1], sizes[1:]))


def minimal_flops(n, model_sizes, policy_sizes, evaluations):
  """Minimal FLOPs per phase of one update on n rows. A forward pass is `fwd`; backprop to the
  weights and to every layer's input but the first is `bwd`; a Fisher product is J v (the same
  two terms per layer) and Jᵀu back, on activations kept from one forward pass."""
  fwd = mlp_flops(policy_sizes)
  bwd = fwd + mlp_flops(policy_sizes[1:])
  return {
      'imagination': n * (mlp_flops(model_sizes) + fwd),
      'policy step: gradient + conjugate gradient': n * (fwd + bwd + CG_PRODUCTS * 2 * bwd),
      'line search': n * fwd * evaluations,
      # kl after the step, log σ and KL to π̂_β diagnostics: one forward of each policy
      'diagnostics': n * 2 * fwd,
  }


def bench_update(tf, env_id, repeats):
  """Per phase: {implementation: seconds}, minimal FLOPs, line-search evaluations."""
  from bremen_tf import envs, trpo
  from bremen_tf.stages import reset_observations
  from bremen_tf.dynamics import DynamicsEnsemble
  from bremen_tf.imagined_trpo import ImaginedTRPO
  from bremen_tf.policies import GaussianPolicy
  spec = envs.get_spec(env_id)
  never = lambda s: tf.zeros(tf.shape(s)[:1], tf.bool)
  dynamics = DynamicsEnsemble(spec.obs_dim, spec.act_dim)
  starts = reset_observations(env_id, 1000, 0)
  trainers, fns = {}, {}
  for name, bindings in IMPLEMENTATIONS.items():
    policy = GaussianPolicy(spec.obs_dim, spec.act_dim)
    behavior = GaussianPolicy(spec.obs_dim, spec.act_dim, name='bc')
    trainers[name] = ImaginedTRPO(policy, behavior, dynamics, spec.reward_fn, never, starts,
                                  spec.horizon, target_kl=0.05, **bindings)
  paths = tf.function(trainers['ours'].imagine)()
  batch, fit, _ = tf.function(trainers['ours'].process)(paths)
  snapshot = [v.numpy() for v in trainers['ours'].policy.trainable_variables]

  def phase_fns(trainer):
    variables = trainer.policy.trainable_variables

    def line_search_surrogate():
      """The implementation's surrogate without the cached forward pass (timed alone, that pass,
      which in the update serves the gradient and the products, would be unused work)."""
      fisher, trainer.fisher_product = trainer.fisher_product, 'gauss_newton'
      surrogate = trainer.step_functions(batch)[0]
      trainer.fisher_product = fisher
      return surrogate

    def restore():
      for v, x in zip(variables, snapshot):
        v.assign(x)

    @tf.function
    def direction():
      surrogate, kl, fvp, _, loss_and_gradient = trainer.step_functions(batch)
      return trpo.trpo_direction(surrogate, kl, variables, trainer.target_kl, fvp_fn=fvp,
                                 loss_and_gradient=loss_and_gradient)
    loss_before, full_step, expected = direction()

    @tf.function
    def search():  # a forward pass per step size tried
      return trpo.line_search(line_search_surrogate(), variables, loss_before, full_step,
                              expected)

    imagine = tf.function(trainer.imagine)
    process = tf.function(trainer.process)
    fit_baseline = tf.function(trainer.fit_baseline)
    return {
        'imagination': lambda: imagine().obs.numpy(),
        'advantages': lambda: process(paths)[0]['obs'].numpy(),
        'policy step: gradient + conjugate gradient': lambda: direction()[1].numpy(),
        'line search': lambda: (restore(), search()[1].numpy())[1],
        'baseline fit': lambda: (fit_baseline(fit), trainer.baseline.coeffs.numpy()),
        'whole update (one tf.function)': lambda: (
            restore(), trainer.rng.reset_from_seed(0), trainer.update()['kl_after'].numpy()),
    }
  fns = {name: phase_fns(trainer) for name, trainer in trainers.items()}
  frac = fns['ours']['line search']()
  evaluations = 1 + int(round(-np.log2(frac))) if frac > 0 else 10
  times = {}
  for phase in fns['ours']:
    times[phase] = median_times({name: fns[name][phase] for name in fns}, repeats)
  flops = minimal_flops(trainers['ours'].batch_size,
                        [spec.obs_dim + spec.act_dim, *dynamics.net_sizes, spec.obs_dim],
                        [spec.obs_dim, *trainers['ours'].policy.hidden, 2 * spec.act_dim],
                        evaluations)
  flops['whole update (one tf.function)'] = sum(flops.values())
  return times, flops, evaluations


def bench_training(tf, rate, repeats, n_batches=10):
  """Ensemble training at the HalfCheetah shape: batched (ours) vs members one after another."""
  from bremen_tf.dynamics import DynamicsEnsemble
  obs_dim, act_dim, b = 17, 6, 1000
  model = DynamicsEnsemble(obs_dim, act_dim)
  before = DynamicsEnsemble(obs_dim, act_dim, reference_training=True)
  x = tf.random.normal([n_batches * b, obs_dim + act_dim])
  y = tf.random.normal([n_batches * b, obs_dim])
  index = tf.constant(np.stack([np.random.permutation(n_batches * b).reshape(n_batches, b)
                                for _ in range(model.n_models)], axis=1), tf.int32)
  active = tf.ones([model.n_models], tf.bool)
  ours = lambda: model._train_epoch(x, y, index, active, tf.constant(1e5))
  plain = lambda: before._train_epoch(x, y, index, active, tf.constant(1e5))
  # Late in a fit most members have stopped early; with one of five still training:
  one_on = tf.constant([True] + [False] * (model.n_models - 1))
  ours_one = lambda: model._train_epoch(x, y, index, one_on, tf.constant(1e5))
  plain_one = lambda: before._train_epoch(x, y, index, one_on, tf.constant(1e5))

  # Naive: K separate networks, each trained on its own batch stream, one after another.
  from bremen_tf.networks import MLP
  from bremen_tf.optim import Adam
  nets = [MLP(obs_dim + act_dim, model.net_sizes, obs_dim, seed=k) for k in range(model.n_models)]
  opts = [Adam(n.trainable_variables, 1e-3, epsilon=1e-8) for n in nets]

  def make_step(net, opt):
    @tf.function
    def step(xb, yb):
      with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(net(xb) - yb))
      opt.apply(tape.gradient(loss, net.trainable_variables))
    return step
  steps = [make_step(n, o) for n, o in zip(nets, opts)]

  def naive():
    for k, step in enumerate(steps):
      for i in range(n_batches):
        idx = index[i, k]
        step(tf.gather(x, idx), tf.gather(y, idx))
  times = median_times({'ours': ours, 'plain': plain, 'naive': naive, 'ours_one': ours_one,
                        'plain_one': plain_one}, repeats)
  flops = model.n_models * b * 3 * mlp_flops([obs_dim + act_dim, *model.net_sizes, obs_dim])
  return {name: t / n_batches for name, t in times.items()}, flops


def measure(tf, repeats):
  """This process's rows: [shape, phase, implementation, seconds, minimal flops, rate]."""
  rate = matmul_rate(tf, repeats)
  print(f'matmul rate: {rate / 1e9:.0f} GFLOP/s', flush=True)
  rows = []
  for name, env_id in SHAPES.items():
    print(f'[{name}] timing one update, reference and ours ...', flush=True)
    times, flops, evaluations = bench_update(tf, env_id, repeats)
    for phase, by_impl in times.items():
      for impl, seconds in by_impl.items():
        rows.append([name, phase, impl, seconds, flops.get(phase, 0), rate, evaluations])
    whole = times['whole update (one tf.function)']
    print(f'[{name}] whole update: reference {whole["reference"]:.2f} s, ours '
          f'{whole["ours"]:.2f} s ({whole["reference"] / whole["ours"]:.2f}x)', flush=True)
  print('[training] ensemble training step ...', flush=True)
  times, flops = bench_training(tf, rate, repeats)
  rows += [['training', 'batch step', TRAINING_IMPLEMENTATIONS[name], seconds, flops, rate, 0]
           for name, seconds in times.items()]
  return rows


TRAINING_IMPLEMENTATIONS = {
    'ours': 'ours (a 2-D matmul per member, Adam fused by XLA)',
    'plain': 'batched matmuls, Adam in plain TF ops (`reference_training=True`, before)',
    'naive': 'members one after another',
    'ours_one': 'ours, 1 of 5 members still training',
    'plain_one': 'before, 1 of 5 members still training'}

COLUMNS = ['shape', 'phase', 'implementation', 'seconds', 'minimal_flops', 'matmul_rate',
           'line_search_evaluations']


def report(rows_by_threads):
  """Markdown: per shape a table of phases x (threads, implementation)."""
  from bremen_tf import results
  lines = []
  threads = sorted(rows_by_threads)
  rates = ', '.join(f'{int(rows[0][5] / 1e9)} GFLOP/s at {t} thread{"s" * (t > 1)}'
                    for t, rows in sorted(rows_by_threads.items()))
  lines += [f'Measured matmul rate (2048² float32 chain): {rates}. Floor = the phase\'s minimal '
            'FLOPs / that rate. "reference" is the implementation of 731004b '
            '(`fisher_product=\'gauss_newton\', block_rows=None`), "ours" the default (`\'cached\'`, '
            '1000-row blocks); both timed '
            'in the same process, alternating.', '']
  for shape in SHAPES:
    header = ['phase', 'GFLOP (minimal)']
    for t in threads:
      header += [f'{t}T reference s', f'{t}T ours s', f'{t}T speed-up', f'{t}T ours / floor']
    table = []
    evaluations = None
    for phase in dict.fromkeys(r[1] for r in rows_by_threads[threads[0]] if r[0] == shape):
      row = None
      for t in threads:
        got = {r[2]: r for r in rows_by_threads[t] if r[0] == shape and r[1] == phase}
        ref, ours = got['reference'], got['ours']
        evaluations = ours[6]
        if row is None:
          row = [phase, f'{ours[4] / 1e9:.1f}' if ours[4] else '~0']
        floor = ours[4] / ours[5]
        row += [f'{ref[3]:.3f}', f'{ours[3]:.3f}', f'{ref[3] / ours[3]:.2f}x',
                f'{ours[3] / floor:.2f}x' if ours[4] else '']
      table.append(row)
    lines += [f'## {shape} shape', '',
              f'{"50 paths x 1000 steps" if shape == "Hopper" else "200 paths x 250 steps"}, '
              f'50,000 imagined steps; the line search evaluated {evaluations} step size(s).', '',
              results.markdown_table(header, table), '']
  lines += ['## Ensemble training (HalfCheetah shape: 5 x (23 -> 1024 -> 1024 -> 17), batch 1000)',
            '']
  table = []
  for t in threads:
    got = {r[2]: r for r in rows_by_threads[t] if r[0] == 'training'}
    for impl, r in got.items():
      training = 1 if '1 of 5' in impl else 5  # members whose samples count, and FLOPs needed
      table.append([f'{t}', impl, f'{r[3]:.3f}', f'{training * 1000 / r[3]:,.0f}',
                    f'{r[3] / (r[4] * training / 5 / r[5]):.2f}x'])
  lines += [results.markdown_table(['threads', 'implementation', 'seconds per batch step',
                                    'samples/s (members training)', 'x floor'], table), '']
  return lines


def main(argv):
  del argv
  launch_common.quiet_logs()
  if FLAGS.csv_out:  # a child: one thread count
    import tensorflow as tf
    threads = int(FLAGS.threads[0])
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from bremen_tf import results
    results.write_csv(FLAGS.csv_out, COLUMNS, measure(tf, FLAGS.repeats))
    return
  import csv
  import tempfile
  from bremen_tf import fileio, results
  threads = [int(t) for t in FLAGS.threads]
  if not threads or min(threads) < 1:
    sys.exit(f'error: --threads must be positive integers, got {FLAGS.threads}.')
  rows_by_threads = {}
  with tempfile.TemporaryDirectory() as tmp:
    for t in threads:
      print(f'=== {t} TF thread(s) ===', flush=True)
      path = os.path.join(tmp, f'threads{t}.csv')
      subprocess.run([sys.executable, os.path.abspath(__file__), f'--threads={t}',
                      f'--repeats={FLAGS.repeats}', f'--csv_out={path}'], check=True)
      with open(path) as f:
        reader = csv.reader(line for line in f if not line.startswith('#'))
        next(reader)
        rows_by_threads[t] = [[r[0], r[1], r[2], float(r[3]), float(r[4]), float(r[5]),
                               int(r[6])] for r in reader]
  out = FLAGS.out or os.path.join(launch_common.REPO_ROOT, 'results', 'performance.md')
  lines = ['# Performance of one BREMEN TRPO update and of ensemble training', '',
           results.provenance_header(f'bench/bench_bremen.py, {FLAGS.repeats} repeats (median), '
                                     f'TF threads: {", ".join(map(str, threads))}'), '']
  # bench/reproduction_time.py's block, kept as it wrote it (this bench does not measure it).
  kept = results.read_block(out, 'reproduction-time')
  lines += report(rows_by_threads) + [
      '## How long a reproduction takes', '',
      '<!-- reproduction-time:start -->\n'
      + (kept or 'Not measured yet: run `python bench/reproduction_time.py`.\n')
      + '<!-- reproduction-time:end -->', '']
  fileio.write_text(out, '\n'.join(lines))
  results.write_csv(os.path.splitext(out)[0] + '.csv', ['threads'] + COLUMNS,
                    [[t] + r for t, rows in rows_by_threads.items() for r in rows])
  print(f'Wrote {out}')


if __name__ == '__main__':
  app.run(main)
