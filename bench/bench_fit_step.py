"""How close one dynamics training step is to the matmuls it cannot avoid.

The dynamics fit is most of a deployment run's time. This times, at one TF thread and the
HalfCheetah shape (5 members of 23 -> 1024 -> 1024 -> 17, 1000 rows each):
  - the step as the library runs it (`DynamicsEnsemble._train_epoch`, all 5 members training);
  - the step's matmuls alone, at the same shapes and transposes, one tf.function: per member and
    layer the forward X @ W, the weight gradient Xᵀ @ dY and, above the first layer, the input
    gradient dY @ Wᵀ (nothing else: no activation, loss, gather, bias or Adam);
  - a chain of 2048² matmuls (the rate the other benches quote).
The step over its matmuls says what an exact rewrite of the rest (activations, gathers, Adam)
could still gain; the matmuls' own rate against the 2048² chain says how well the kernels do at
these shapes. Writes results/fit_step.md.

  python bench/bench_fit_step.py [--repeats=5] [--context="other core idle"]
"""
import os
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import fastest, matmul_rate  # noqa: E402  pylint: disable=g-import-not-at-top

flags.DEFINE_integer('repeats', 5, 'Timed repeats per figure (the fastest is reported).')
flags.DEFINE_integer('batches', 10, 'Training steps per timed repeat.')
flags.DEFINE_string('out', 'results/fit_step', 'Output path without extension.')
flags.DEFINE_string('context', 'not stated', 'What else the machine ran meanwhile (recorded).')
FLAGS = flags.FLAGS

OBS, ACT, ROWS = 17, 6, 1000  # HalfCheetah; the ensemble's batch


def main(argv):
  del argv
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.threading.set_intra_op_parallelism_threads(1)
  tf.config.threading.set_inter_op_parallelism_threads(1)
  from bremen_tf import fileio, results  # pylint: disable=g-import-not-at-top
  from bremen_tf.dynamics import DynamicsEnsemble  # pylint: disable=g-import-not-at-top

  model = DynamicsEnsemble(OBS, ACT)
  k, nb = model.n_models, FLAGS.batches
  sizes = [OBS + ACT, *model.net_sizes, OBS]
  rng = np.random.default_rng(0)
  x = tf.constant(rng.standard_normal((nb * ROWS, OBS + ACT)), tf.float32)
  y = tf.constant(rng.standard_normal((nb * ROWS, OBS)), tf.float32)
  index = tf.constant(np.stack([rng.permutation(nb * ROWS).reshape(nb, ROWS)
                                for _ in range(k)], axis=1), tf.int32)
  step_s = fastest(lambda: model._train_epoch(x, y, index, tf.ones([k], tf.bool),
                                              tf.constant(1e5)), FLAGS.repeats) / nb

  # Each member its own operands: with shared ones, grappler would compute the matmuls once.
  acts = [[tf.constant(rng.standard_normal((ROWS, n)), tf.float32) for n in sizes]
          for _ in range(k)]
  weights = [[tf.constant(rng.standard_normal((a, b)) * 0.01, tf.float32)
              for a, b in zip(sizes[:-1], sizes[1:])] for _ in range(k)]

  @tf.function(autograph=False)
  def matmuls():
    outs = []
    for m in range(k):
      for layer, w in enumerate(weights[m]):
        x_in, dy = acts[m][layer], acts[m][layer + 1]
        outs.append(tf.matmul(x_in, w))                                # forward
        outs.append(tf.matmul(x_in, dy, transpose_a=True))             # dW = Xᵀ dY
        if layer > 0:
          outs.append(tf.matmul(dy, w, transpose_b=True))              # dX = dY Wᵀ
    return tf.add_n([tf.reduce_sum(o[:1, :1]) for o in outs])
  matmul_s = fastest(lambda: [matmuls().numpy() for _ in range(nb)], FLAGS.repeats) / nb
  flops = k * ROWS * 2 * sum(a * b * (2 if i == 0 else 3)
                             for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])))

  chain_rate = matmul_rate(tf, FLAGS.repeats) / 1e9  # the rate the other benches quote

  rate = flops / matmul_s / 1e9
  rows = [['one training step (5 members), as the library runs it', f'{step_s:.4f} s',
           f'{flops / step_s / 1e9:.0f}', f'{step_s / matmul_s:.2f}x'],
          ["the step's matmuls alone (same shapes and transposes)", f'{matmul_s:.4f} s',
           f'{rate:.0f}', '1.00x'],
          ['a chain of 2048² matmuls (for scale; median)', '', f'{chain_rate:.0f}', '']]
  text = ('# One dynamics training step against its matmuls\n\n'
          + results.provenance_header(
              f'{FLAGS.repeats} repeats of {nb} steps (fastest), one TF thread; {k} members of '
              f'{" -> ".join(map(str, sizes))}, {ROWS} rows each; the rest of the machine: '
              f'{FLAGS.context}')
          + '\n' + results.markdown_table(
              ['what', 'seconds per step', 'GFLOP/s (the matmuls\' FLOPs)', 'over the matmuls'],
              rows)
          + f'\nThe matmuls are {flops / 1e9:.1f} GFLOP a step (forward, weight gradients, and '
          'input gradients above the first layer). "over the matmuls" is what everything else '
          'in the step (activations, loss, gathers, biases, fused Adam) adds to the matmuls the '
          'step cannot avoid: an exact rewrite could at most remove that part.\n')
  fileio.write_text(FLAGS.out + '.md', text)
  print(text)


if __name__ == '__main__':
  app.run(main)
