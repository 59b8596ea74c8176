"""Benchmark of one BREMEN TRPO update and of ensemble training; writes results/performance.md.

  python bench/bench_bremen.py                 # both shapes, 3 timed repeats each
  python bench/bench_bremen.py --repeats=1 --out=/tmp/perf.md

Each figure stands beside
  (a) its FLOP-bound time: the phase's floating-point operations (counted from the layer sizes,
      below) divided by the matmul rate measured at the start of this run, and
  (b) a naive reference run in the same process, written the way the original TF1 code ran:
      a Python loop over imagined steps calling the policy and the drawn member separately,
      conjugate gradient in Python with one call per Fisher-vector product (double backprop),
      a Python line search, and ensemble members trained one after another.

Shapes: Hopper (50 parallel paths x H 1000) and HalfCheetah (200 x 250), 50,000 imagined steps.
Termination is switched off for the timing so that every update has exactly that shape (an
untrained model's predicted falls would make Hopper paths arbitrarily short). Models are
randomly initialised; the timing does not depend on the weights.
"""
import os
import sys
import time

from absl import app, flags
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'launch'))
import launch_common  # noqa: E402  (REPO_ROOT, quiet logs)

flags.DEFINE_integer('repeats', 3, 'Timed repeats per figure (the median is reported).')
flags.DEFINE_string('out', None, 'Markdown output (default results/performance.md).')
flags.DEFINE_integer('threads', 0, 'TF threads (0: TF decides, i.e. all cores).')
FLAGS = flags.FLAGS

SHAPES = {'Hopper': 'bremen/Hopper-v0', 'HalfCheetah': 'bremen/HalfCheetah-v0'}


def median_time(fn, repeats):
  fn()  # warm-up (tracing)
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t0)
  return float(np.median(times))


def matmul_rate(tf, repeats):
  """FLOP/s of a large float32 matmul chain, the machine's practical peak."""
  n = 2048
  a = tf.random.normal([n, n])

  @tf.function
  def chain():
    x = a
    for _ in range(8):
      x = tf.matmul(x, a) * 1e-3
    return tf.reduce_sum(x)
  seconds = median_time(lambda: chain().numpy(), repeats)
  return 8 * 2 * n ** 3 / seconds


def mlp_flops(sizes):
  """Multiply-adds x 2 of one forward pass of a dense stack, per sample."""
  return 2 * sum(i * o for i, o in zip(sizes[:-1], sizes[1:]))


def bench_update(tf, name, env_id, rate, repeats):
  from bremen_tf import envs, trpo
  from bremen_tf.bremen import reset_observations
  from bremen_tf.dynamics import DynamicsEnsemble
  from bremen_tf.imagined_trpo import ImaginedTRPO
  from bremen_tf.policies import GaussianPolicy
  spec = envs.get_spec(env_id)
  never = lambda s: tf.zeros(tf.shape(s)[:1], tf.bool)
  dynamics = DynamicsEnsemble(spec.obs_dim, spec.act_dim)
  policy = GaussianPolicy(spec.obs_dim, spec.act_dim)
  behavior = GaussianPolicy(spec.obs_dim, spec.act_dim, name='bc')
  trainer = ImaginedTRPO(policy, behavior, dynamics, spec.reward_fn, never,
                         reset_observations(env_id, 1000, 0), spec.horizon, target_kl=0.05)
  n = trainer.batch_size
  snapshot = [v.numpy() for v in policy.trainable_variables]

  def restore():
    for v, x in zip(policy.trainable_variables, snapshot):
      v.assign(x)

  imagine = tf.function(trainer.imagine, reduce_retracing=True)
  process = tf.function(trainer.process, reduce_retracing=True)
  paths = imagine()
  batch, fit, _ = process(paths)

  @tf.function
  def direction():
    surrogate, kl, fvp, variables = trainer.step_functions(batch)
    return trpo.trpo_direction(surrogate, kl, variables, trainer.target_kl, fvp_fn=fvp)
  loss_before, full_step, expected = direction()

  @tf.function
  def search():
    surrogate, _, _, variables = trainer.step_functions(batch)
    return trpo.line_search(surrogate, variables, loss_before, full_step, expected)

  def timed_search():
    restore()
    return search()[1].numpy()

  fit_baseline = tf.function(trainer.fit_baseline)
  frac = timed_search()
  evaluations = 1 + int(round(-np.log2(frac))) if frac > 0 else 10
  times = {
      'imagination': median_time(lambda: imagine().obs.numpy(), repeats),
      'advantages': median_time(lambda: process(paths)[0]['obs'].numpy(), repeats),
      'conjugate gradient': median_time(lambda: direction()[1].numpy(), repeats),
      'line search': median_time(timed_search, repeats),
      'baseline fit': median_time(lambda: (fit_baseline(fit), trainer.baseline.coeffs.numpy()),
                                  repeats),
  }
  restore()
  times['whole update (one tf.function)'] = median_time(
      lambda: (restore(), trainer.update()['kl_after'].numpy()), repeats)

  # The rllab option (not the default): Fisher products on a 10% subsample of the rows.
  trainer.fisher_rows = n // 10
  subsampled_update = tf.function(trainer._update)
  times['whole update, fisher_subsample=0.1 (option)'] = median_time(
      lambda: (restore(), subsampled_update()['kl_after'].numpy()), repeats)
  trainer.fisher_rows = n

  # FLOPs per phase, from the layer sizes.
  model = mlp_flops([spec.obs_dim + spec.act_dim, *dynamics.net_sizes, spec.obs_dim])
  pol = mlp_flops([spec.obs_dim, *policy.hidden, 2 * spec.act_dim])
  n_params = sum(v.shape.num_elements() for v in policy.trainable_variables)
  n_features = 2 * spec.obs_dim + 4
  flops = {
      'imagination': n * (model + pol),
      'advantages': n * 2 * n_features,
      # gradient (forward + backward = 3 forwards); each Fisher product = forward + JVP +
      # backward = 5 forwards; CG uses cg_iters of them plus one for the step size.
      'conjugate gradient': n * pol * (3 + 5 * (10 + 1)) + 10 * 4 * n_params,
      'line search': n * pol * (1 + evaluations),
      'baseline fit': n * 2 * n_features ** 2,
  }
  flops['whole update (one tf.function)'] = sum(flops.values()) + 2 * n * pol  # + KL diagnostics
  flops['whole update, fisher_subsample=0.1 (option)'] = (
      flops['whole update (one tf.function)'] - n * pol * 5 * 11 * 0.9)

  naive = naive_update(tf, trainer, spec, never, repeats)
  return times, flops, naive, evaluations


def naive_update(tf, trainer, spec, done_fn, repeats):
  """The original's way: per-step Python imagination with separate per-member networks, Python
  CG with one double-backprop Fisher-vector product call per iteration, Python line search."""
  from bremen_tf import trpo
  policy, dynamics = trainer.policy, trainer.dynamics
  members = [[(w[k], b[k, 0]) for w, b in zip(dynamics.net.kernels, dynamics.net.biases)]
             for k in range(dynamics.n_models)]

  def member_fn(layers):
    layers = [(tf.constant(w), tf.constant(b)) for w, b in layers]

    @tf.function
    def f(obs, act):
      x = dynamics._inputs(obs, act)
      for i, (w, b) in enumerate(layers):
        x = tf.matmul(x, w) + b
        if i < len(layers) - 1:
          x = tf.nn.relu(x)
      return dynamics._denormalize(obs, x)
    return f
  member_fns = [member_fn(layers) for layers in members]
  act_fn = tf.function(lambda o: policy.sample(o, tf.random.normal([tf.shape(o)[0],
                                                                     policy.act_dim])))
  reward_fn = tf.function(spec.reward_fn)
  done_fn = tf.function(done_fn)
  starts = trainer.start_obs.numpy()
  rng = np.random.default_rng(0)
  p, h = trainer.n_parallel, trainer.horizon

  def imagine():
    obs = starts[rng.integers(len(starts), size=p)]
    rows = []
    for _ in range(h):
      act = act_fn(obs).numpy()
      clipped = np.clip(act, -1, 1)
      nxt = member_fns[rng.integers(dynamics.n_models)](obs, clipped).numpy()
      rew = reward_fn(obs, clipped, nxt).numpy()
      done_fn(nxt).numpy()
      rows.append((obs, act, rew))
      obs = nxt
    return rows

  batch, _, _ = trainer.process(trainer.imagine())
  surrogate, kl, _, variables = trainer.step_functions(batch)
  grad_fn = tf.function(lambda: trpo.flat_concat(
      tf.gradients(surrogate(), variables)))
  fvp_fn = tf.function(lambda v: trpo.fisher_vector_product(kl, variables, v, 0.1))
  loss_fn = tf.function(surrogate)

  def step():
    g = grad_fn().numpy()
    x, r = np.zeros_like(g), -g.copy()
    pv, rr = r.copy(), r @ r
    for _ in range(10):
      z = fvp_fn(tf.constant(pv)).numpy()
      a = rr / (pv @ z)
      x += a * pv
      r -= a * z
      new_rr = r @ r
      pv = r + new_rr / rr * pv
      rr = new_rr
    shs = 0.5 * x @ fvp_fn(tf.constant(x)).numpy()
    full = x * np.sqrt(trainer.target_kl / shs)
    old = trpo.flat_concat(variables).numpy()
    before = loss_fn().numpy()
    for k in range(10):
      trpo.assign_flat(variables, tf.constant(old + 0.5 ** k * full))
      if before - loss_fn().numpy() > 0:
        break
    trpo.assign_flat(variables, tf.constant(old))

  return {'imagination': median_time(imagine, repeats), 'policy step': median_time(step, repeats)}


def bench_training(tf, rate, repeats, n_batches=10):
  """Ensemble training at the HalfCheetah shape: batched (ours) vs members one after another."""
  from bremen_tf.dynamics import DynamicsEnsemble
  obs_dim, act_dim, b = 17, 6, 1000
  model = DynamicsEnsemble(obs_dim, act_dim)
  x = tf.random.normal([n_batches * b, obs_dim + act_dim])
  y = tf.random.normal([n_batches * b, obs_dim])
  index = tf.constant(np.stack([np.random.permutation(n_batches * b).reshape(n_batches, b)
                                for _ in range(model.n_models)], axis=1), tf.int32)
  active = tf.ones([model.n_models], tf.bool)
  ours = median_time(lambda: model._train_epoch(x, y, index, active, tf.constant(1e5)),
                     repeats) / n_batches

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
  naive_time = median_time(naive, repeats) / n_batches
  flops = model.n_models * b * 3 * mlp_flops([obs_dim + act_dim, *model.net_sizes, obs_dim])
  return ours, naive_time, flops


def main(argv):
  del argv
  launch_common.quiet_logs()
  import tensorflow as tf
  from bremen_tf import fileio, results
  if FLAGS.threads:
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
  rate = matmul_rate(tf, FLAGS.repeats)
  print(f'matmul rate: {rate / 1e9:.0f} GFLOP/s', flush=True)
  out = FLAGS.out or os.path.join(launch_common.REPO_ROOT, 'results', 'performance.md')
  lines = ['# Performance of one BREMEN TRPO update and of ensemble training', '',
           results.provenance_header(f'bench/bench_bremen.py, {FLAGS.repeats} repeats (median), '
                                     f'TF threads: {FLAGS.threads or "all"}'), '',
           f'Measured matmul rate (2048² float32 chain): **{rate / 1e9:.0f} GFLOP/s**. '
           'FLOP-bound time = counted FLOPs / that rate; "x FLOP-bound" = measured / FLOP-bound.',
           '']
  csv_rows = []
  for name, env_id in SHAPES.items():
    print(f'[{name}] timing one update ...', flush=True)
    times, flops, naive, evaluations = bench_update(tf, name, env_id, rate, FLAGS.repeats)
    rows = []
    for phase, seconds in times.items():
      bound = flops[phase] / rate
      rows.append([phase, f'{seconds:.3f}', f'{flops[phase] / 1e9:.1f}', f'{bound:.3f}',
                   f'{seconds / bound:.1f}x'])
      csv_rows.append([name, phase, seconds, flops[phase], bound])
    whole = times['whole update (one tf.function)']
    naive_total = naive['imagination'] + naive['policy step'] + times['advantages'] + \
        times['baseline fit']
    lines += [f'## {name} shape', '',
              f'{"50 paths x 1000 steps" if name == "Hopper" else "200 paths x 250 steps"}, '
              f'50,000 imagined steps; the line search evaluated {evaluations} step size(s).', '',
              results.markdown_table(['phase', 'seconds', 'GFLOP', 'FLOP-bound s',
                                      'x FLOP-bound'], rows),
              f'Naive reference (same process): imagination {naive["imagination"]:.2f} s, '
              f'policy step (Python CG + line search) {naive["policy step"]:.2f} s; '
              f'a naive update ≈ {naive_total:.2f} s, so ours is '
              f'**{naive_total / whole:.1f}x faster** '
              f'(imagination alone {naive["imagination"] / times["imagination"]:.1f}x; '
              f'with the 10% Fisher subsample option '
              f'{naive_total / times["whole update, fisher_subsample=0.1 (option)"]:.1f}x).', '']
    csv_rows.append([name, 'naive imagination', naive['imagination'], '', ''])
    csv_rows.append([name, 'naive policy step', naive['policy step'], '', ''])
    print(f'[{name}] update {whole:.2f} s ({whole / (flops["whole update (one tf.function)"] / rate):.1f}x '
          f'FLOP-bound), naive {naive_total:.2f} s', flush=True)
  print('[training] ensemble training step ...', flush=True)
  ours, naive_time, flops = bench_training(tf, rate, FLAGS.repeats)
  lines += ['## Ensemble training (HalfCheetah shape: 5 x (23 -> 1024 -> 1024 -> 17), batch 1000)',
            '', results.markdown_table(
                ['', 'seconds per batch step', 'samples/s (x5 members)', 'x FLOP-bound'],
                [['ours (one batched op)', f'{ours:.3f}', f'{1000 / ours:,.0f}',
                  f'{ours / (flops / rate):.1f}x'],
                 ['naive (members one after another)', f'{naive_time:.3f}',
                  f'{1000 / naive_time:,.0f}', f'{naive_time / (flops / rate):.1f}x']]),
            f'Batched training is {naive_time / ours:.2f}x the speed of the naive loop.', '']
  csv_rows += [['training', 'ours per batch', ours, flops, flops / rate],
               ['training', 'naive per batch', naive_time, flops, flops / rate]]
  fileio.write_text(out, '\n'.join(lines))
  results.write_csv(os.path.splitext(out)[0] + '.csv',
                    ['shape', 'phase', 'seconds', 'flops', 'flop_bound_seconds'], csv_rows)
  print(f'Wrote {out}')


if __name__ == '__main__':
  app.run(main)
