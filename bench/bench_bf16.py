"""Would bfloat16 matmuls speed up the dynamics fit on this CPU? A measurement, not an option.

The guide once recorded bfloat16 as slower (a CPU without AMX). CPUs with AMX (Intel Sapphire
Rapids and later: `amx_bf16` in /proc/cpuinfo) multiply bfloat16 matrices in hardware. This times,
in one process and one TF thread, alternately:
  - a chain of n x n matmuls, float32 and bfloat16 (the machine's two peaks);
  - one training step of one dynamics member at the fit's shape (batch 1000, [s, a] -> 2 x 1024
    ReLU -> Δs, MSE, forward + backward), float32 as our fit runs it, and mixed precision (weights
    and the loss in float32, each matmul's operands cast to bfloat16, as Keras' mixed_bfloat16
    policy does), with the relative difference of the two steps' gradients.
and writes results/bf16.md. The fit itself stays float32: a bfloat16 fit would be another
algorithm's numerics (8 bits of mantissa), an opt-in deviation if ever built.

  python bench/bench_bf16.py [--repeats=20] [--out=results/bf16]
"""
import os
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # pylint: disable=g-import-not-at-top

flags.DEFINE_integer('repeats', 20, 'Timed repeats of each variant (medians are reported).')
flags.DEFINE_string('out', 'results/bf16', 'Output path without extension.')
flags.DEFINE_integer('obs_dim', 17, 'Observation width (HalfCheetah).')
flags.DEFINE_integer('act_dim', 6, 'Action width (HalfCheetah).')
FLAGS = flags.FLAGS

BATCH, HIDDEN = 1000, 1024


def cpu_flags():
  """The AMX flags /proc/cpuinfo lists ('' if none or not Linux)."""
  try:
    with open('/proc/cpuinfo') as f:
      words = next((l for l in f if l.startswith('flags')), '').split()
  except OSError:
    return ''
  return ' '.join(sorted(w for w in words if w.startswith('amx')))


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
  amx = cpu_flags()
  text = ('# bfloat16 matmuls on this CPU: the dynamics fit\'s shapes\n\n'
          + results.provenance_header(f'{FLAGS.repeats} timed repeats, medians, one TF thread')
          + f'- AMX flags in /proc/cpuinfo: {amx or "none"}\n\n'
          + results.markdown_table(['what', 'float32', 'bfloat16', 'speed-up',
                                    'gradient vs float32 (relative L2)'], rows)
          + '\nThe training step casts each matmul\'s operands to bfloat16 and keeps weights, '
          'biases, activations between layers and the loss in float32 (mixed precision). Our '
          'dynamics fit runs float32 (the original\'s numerics); this measures what an opt-in '
          'bfloat16 fit could gain on this CPU, not an option that exists.\n')
  fileio.write_text(FLAGS.out + '.md', text)
  print(text)


if __name__ == '__main__':
  app.run(main)
