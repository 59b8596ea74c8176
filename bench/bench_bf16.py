"""Does a bfloat16 dynamics fit pay on this CPU, and are its models as good?

The guide once recorded bfloat16 as slower (a CPU without AMX). CPUs with AMX (Intel Sapphire
Rapids and later: `amx_bf16` in /proc/cpuinfo) multiply bfloat16 matrices in hardware; CPUs with
AVX-512 BF16 only (`avx512_bf16`: AMD Zen 4, Intel Cooper Lake) have a bfloat16 dot product in the
vector units, a smaller step. This times,
in one process and one TF thread, alternately:
  - a chain of n x n matmuls, float32 and bfloat16 (the machine's two peaks);
  - one training step of one dynamics member at the fit's shape (batch 1000, [s, a] -> 2 x 1024
    ReLU -> Δs, MSE, forward + backward), float32 as our fit runs it, and mixed precision (weights
    and the loss in float32, each matmul's operands cast to bfloat16, as Keras' mixed_bfloat16
    policy does), with the relative difference of the two steps' gradients;
  - with --fit_epochs > 0, the real fit both ways (`DynamicsEnsemble.fit_matmul_dtype`, an opt-in
    deviation; the default and the original are float32) on a BRAC-protocol dataset: seconds per
    epoch and the validation MSE (computed in float32) at every check,
and writes results/bf16.md.

  python bench/bench_bf16.py [--repeats=20] [--fit_epochs=30] [--out=results/bf16]
"""
import os
import sys
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # pylint: disable=g-import-not-at-top

flags.DEFINE_integer('repeats', 20, 'Timed repeats of each variant (medians are reported).')
flags.DEFINE_string('out', 'results/bf16', 'Output path without extension.')
flags.DEFINE_integer('obs_dim', 17, 'Observation width (HalfCheetah).')
flags.DEFINE_integer('act_dim', 6, 'Action width (HalfCheetah).')
flags.DEFINE_integer('fit_epochs', 30, 'Epochs of the real fit compared (0: skip it).')
flags.DEFINE_string('fit_env', 'bremen/HalfCheetah-v0', 'The fit\'s dataset: env,')
flags.DEFINE_string('fit_noise', 'pure', '... noise and')
flags.DEFINE_string('fit_size', '100k', '... size (made on demand if missing, ~30 s).')
flags.DEFINE_string('data_dir', None, 'Dataset cache directory (default: the package\'s).')
FLAGS = flags.FLAGS

BATCH, HIDDEN = 1000, 1024


def cpu_flags():
  """The bfloat16 flags /proc/cpuinfo lists: AMX tiles (Intel) and AVX-512 BF16 dot products
  (Intel Cooper Lake, AMD Zen 4 and later); '' if none or not Linux."""
  try:
    with open('/proc/cpuinfo') as f:
      words = next((l for l in f if l.startswith('flags')), '').split()
  except OSError:
    return ''
  return ' '.join(sorted(w for w in words if w.startswith('amx') or w == 'avx512_bf16'))


def member_step(tf, compute_dtype):
  """A tf.function: the gradient of one member's MSE at [BATCH, in] (operands of each matmul in
  `compute_dtype`, everything else float32)."""
  sizes = [FLAGS.obs_dim + FLAGS.act_dim, HIDDEN, HIDDEN, FLAGS.obs_dim]
  weights = [tf.Variable(tf.random.stateless_normal([i, o], seed=[1, k]) / i ** 0.5)
             for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:]))]
  biases = [tf.Variable(tf.zeros([o])) for o in sizes[1:]]
  x = tf.random.stateless_normal([BATCH, sizes[0]], seed=[2, 0])
  y = tf.random.stateless_normal([BATCH, sizes[-1]], seed=[3, 0])

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      h = x
      for k, (w, b) in enumerate(zip(weights, biases)):
        h = tf.cast(tf.matmul(tf.cast(h, compute_dtype), tf.cast(w, compute_dtype)),
                    tf.float32) + b
        if k < len(weights) - 1:
          h = tf.nn.relu(h)
      loss = tf.reduce_mean(tf.square(h - y))
    return tape.gradient(loss, weights + biases)
  return step


def fit_comparison(tf):
  """The dynamics fit as runs make it (a fresh ensemble, the train/validation split of an offline
  run), once per fit_matmul_dtype from the same initial weights: (table rows, text)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bremen_tf import stages  # pylint: disable=g-import-not-at-top
  from bremen_tf.data.on_demand import get_dataset  # pylint: disable=g-import-not-at-top
  from bremen_tf.dynamics import DynamicsEnsemble  # pylint: disable=g-import-not-at-top
  data = get_dataset(FLAGS.fit_env, FLAGS.fit_noise, FLAGS.fit_size, data_dir=FLAGS.data_dir)
  train, validation = stages.split_batches([data], 0.15)  # train_offline's validation_fraction
  curves, seconds, stops = {}, {}, {}
  for dtype in ('float32', 'bfloat16'):
    model = DynamicsEnsemble(train[0].shape[1], train[1].shape[1], seed=0,
                             fit_matmul_dtype=dtype)
    checks, check_seconds = [], [0.0]

    def log(line, model=model, checks=checks, check_seconds=check_seconds):
      """At each check, the members' validation MSE again (the same float32 pass; not timed)."""
      print(f'[{dtype}] {line}', flush=True)
      t = time.perf_counter()
      checks.append(model._validation_mse(  # pylint: disable=protected-access
          model._inputs(*validation[:2]), model._targets(validation[0], validation[2])).numpy())
      check_seconds[0] += time.perf_counter() - t
    t0 = time.perf_counter()
    fit = model.fit(train, validation, max_epochs=FLAGS.fit_epochs, log=log)
    seconds[dtype] = (time.perf_counter() - t0 - check_seconds[0]) / FLAGS.fit_epochs
    curves[dtype] = [*checks, np.array(fit['final_validation_mse'])]
    stops[dtype] = fit['stop_epoch']
  eval_every = model.fit_defaults['eval_every']
  epochs = [*range(0, FLAGS.fit_epochs, eval_every), FLAGS.fit_epochs]
  rows = []
  for k, epoch in enumerate(epochs):
    f32, b16 = curves['float32'][k], curves['bfloat16'][k]
    rows.append([str(epoch), f'{f32.mean():.5f} ({f32.min():.5f}-{f32.max():.5f})',
                 f'{b16.mean():.5f} ({b16.min():.5f}-{b16.max():.5f})',
                 f'{b16.mean() / f32.mean():.3f}'])
  from bremen_tf import results  # pylint: disable=g-import-not-at-top
  text = (f'\n## The fit itself: {FLAGS.fit_env}, {FLAGS.fit_noise} {FLAGS.fit_size}, '
          f'{FLAGS.fit_epochs} epochs\n\n'
          f'{len(train[0]):,} training and {len(validation[0]):,} validation transitions (the '
          'offline runs\' sequential 15% split), 5 members, batch 1000, from the same initial '
          f'weights; `DynamicsEnsemble.fit_matmul_dtype`. Seconds per epoch: float32 '
          f'{seconds["float32"]:.1f}, bfloat16 {seconds["bfloat16"]:.1f} '
          f'(**{seconds["float32"] / seconds["bfloat16"]:.2f}x**). Members stopped at epochs '
          f'{stops["float32"]} (float32) and {stops["bfloat16"]} (bfloat16), of at most '
          f'{FLAGS.fit_epochs}.\n\n'
          + results.markdown_table(['epoch', 'validation MSE, float32 fit: mean (members\' range)',
                                    'bfloat16 fit: mean (range)', 'bfloat16 / float32'], rows)
          + '\nValidation MSE on the normalised Δs, computed in float32 for both, at the '
          'fit\'s own checks (every 5 epochs) and after the last epoch. One fit each, on a '
          'machine whose other core(s) may be busy: seconds are as measured, not peaks.\n')
  return text


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.threading.set_intra_op_parallelism_threads(1)
  tf.config.threading.set_inter_op_parallelism_threads(1)
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bremen_tf import fileio, results  # pylint: disable=g-import-not-at-top

  rates = {d: bench_common.matmul_rate(tf, FLAGS.repeats, dtype=d) for d in (tf.float32, tf.bfloat16)}
  steps = {'float32': member_step(tf, tf.float32), 'bfloat16 matmuls': member_step(tf, tf.bfloat16)}
  times = bench_common.median_times({k: lambda s=s: [g.numpy() for g in s()]
                                     for k, s in steps.items()}, FLAGS.repeats)
  g32 = np.concatenate([g.numpy().ravel() for g in steps['float32']()])
  g16 = np.concatenate([g.numpy().ravel() for g in steps['bfloat16 matmuls']()])
  rel = float(np.linalg.norm(g16 - g32) / np.linalg.norm(g32))
  flops = 3 * 2 * BATCH * (
      (FLAGS.obs_dim + FLAGS.act_dim) * HIDDEN + HIDDEN * HIDDEN + HIDDEN * FLAGS.obs_dim)
  t32, t16 = times['float32'], times['bfloat16 matmuls']
  rows = [['chain of 2048 x 2048 matmuls', f'{rates[tf.float32] / 1e9:.0f} GFLOP/s',
           f'{rates[tf.bfloat16] / 1e9:.0f} GFLOP/s',
           f'{rates[tf.bfloat16] / rates[tf.float32]:.2f}x', '—'],
          [f'one member\'s training step (batch {BATCH}, 2 x {HIDDEN}; {flops / 1e9:.2f} GFLOP)',
           f'{t32 * 1e3:.1f} ms ({flops / t32 / 1e9:.0f} GFLOP/s)',
           f'{t16 * 1e3:.1f} ms ({flops / t16 / 1e9:.0f} GFLOP/s)', f'{t32 / t16:.2f}x',
           f'{rel:.1e}']]
  bf16_flags = cpu_flags()
  text = ('# bfloat16 matmuls on this CPU: the dynamics fit\'s shapes\n\n'
          + results.provenance_header(f'{FLAGS.repeats} timed repeats, medians, one TF thread')
          + f'- bfloat16 flags in /proc/cpuinfo: {bf16_flags or "none"}\n\n'
          + results.markdown_table(['what', 'float32', 'bfloat16', 'speed-up',
                                    'gradient vs float32 (relative L2)'], rows)
          + '\nThe training step casts each matmul\'s operands to bfloat16 and keeps weights, '
          'biases, activations between layers and the loss in float32 (mixed precision). Our '
          'dynamics fit runs float32 (the original\'s numerics); this measures what an opt-in '
          'bfloat16 fit gains in one training step.\n')
  if FLAGS.fit_epochs > 0:
    text += fit_comparison(tf)
  fileio.write_text(FLAGS.out + '.md', text)
  print(text)


if __name__ == '__main__':
  app.run(main)
