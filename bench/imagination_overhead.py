"""Where imagination's time goes beyond its matmuls (issue 14, item 2); prints a table.

  python bench/imagination_overhead.py              # 1 TF thread, 3 timed repeats

For the Hopper (50 paths x 1000 steps) and HalfCheetah (200 x 250) shapes it times one imagined
batch (`ImaginedTRPO.imagine`: rollout and path assembly, one tf.function) three ways, side by side:
  real         the paper's sizes: dynamics (1024, 1024) x 5 members, policy (200, 200)
  tiny policy  the policy cut to (8, 8): what the policy's matmuls cost
  tiny         both cut to (8, 8): everything that is not a matmul (member switch, normalisation,
               reward and done functions, sampling, TensorArray writes, path assembly)
and the matmul rate of [M, 1024] x [1024, 1024] for the row counts M an imagination step feeds a
member (50 at Hopper's shape, 200 at HalfCheetah's) against large M: one member serves the whole
batch each step (the original's layout), so Hopper's matmuls are skinny.
"""
import os
import sys

from absl import app, flags
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'launch'))
import launch_common  # noqa: E402  (quiet logs)
from bench_common import median_times  # noqa: E402

flags.DEFINE_integer('repeats', 3, 'Timed repeats per figure (the median is reported).')
FLAGS = flags.FLAGS

SHAPES = {'Hopper': 'bremen/Hopper-v0', 'HalfCheetah': 'bremen/HalfCheetah-v0'}
VARIANTS = {'real': ((1024, 1024), (200, 200)), 'tiny policy': ((1024, 1024), (8, 8)),
            'tiny': ((8, 8), (8, 8))}


def imagination_times(tf, env_id, repeats):
  from bremen_tf import envs  # pylint: disable=g-import-not-at-top
  from bremen_tf.dynamics import DynamicsEnsemble  # pylint: disable=g-import-not-at-top
  from bremen_tf.imagined_trpo import ImaginedTRPO  # pylint: disable=g-import-not-at-top
  from bremen_tf.policies import GaussianPolicy  # pylint: disable=g-import-not-at-top
  from bremen_tf.stages import reset_observations  # pylint: disable=g-import-not-at-top
  spec = envs.get_spec(env_id)
  never = lambda s: tf.zeros(tf.shape(s)[:1], tf.bool)  # fixed shape, as bench_bremen.py
  starts = reset_observations(env_id, 1000, 0)
  fns = {}
  for name, (dynamics_hidden, policy_hidden) in VARIANTS.items():
    dynamics = DynamicsEnsemble(spec.obs_dim, spec.act_dim, hidden=dynamics_hidden)
    policy = GaussianPolicy(spec.obs_dim, spec.act_dim, hidden=policy_hidden)
    behavior = GaussianPolicy(spec.obs_dim, spec.act_dim, hidden=policy_hidden, name='bc')
    trainer = ImaginedTRPO(policy, behavior, dynamics, spec.reward_fn, never, starts,
                           spec.horizon, target_kl=0.05)
    imagine = tf.function(trainer.imagine)
    fns[name] = lambda imagine=imagine: imagine().obs.numpy()
  return median_times(fns, repeats)


def skinny_matmul_rates(tf, repeats, rows=(50, 200, 1000, 4000)):
  """{M: FLOP/s} of chained [M, 1024] x [1024, 1024] matmuls (~2.6 GFLOP per timed call)."""
  w = tf.random.stateless_normal([1024, 1024], seed=[0, 1])
  rates = {}
  for m in rows:
    x = tf.random.stateless_normal([m, 1024], seed=[0, 2])
    reps = max(1, 1250 // max(1, m // 50))

    @tf.function
    def chain(x=x, reps=reps):
      y = x
      for _ in tf.range(reps):
        y = tf.matmul(y, w) * 1e-3
      return tf.reduce_sum(y)
    seconds = median_times({'chain': lambda chain=chain: chain().numpy()}, repeats)['chain']
    rates[m] = 2 * m * 1024 * 1024 * reps / seconds
  return rates


def main(argv):
  del argv
  launch_common.quiet_logs()
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.get_logger().setLevel('ERROR')  # the six functions traced here are not retracing to fix
  tf.config.threading.set_intra_op_parallelism_threads(1)
  tf.config.threading.set_inter_op_parallelism_threads(1)
  print(f'1 TF thread, medians of {FLAGS.repeats}; 1-minute load average '
        f'{os.getloadavg()[0]:.1f} at the start')
  print('\n| shape | real s | tiny policy s | tiny s | not matmul (tiny / real) | '
        'policy matmuls ((real - tiny policy) / real) |\n|---|---|---|---|---|---|')
  for shape, env_id in SHAPES.items():
    t = imagination_times(tf, env_id, FLAGS.repeats)
    print(f'| {shape} | {t["real"]:.3f} | {t["tiny policy"]:.3f} | {t["tiny"]:.3f} | '
          f'{t["tiny"] / t["real"]:.0%} | {(t["real"] - t["tiny policy"]) / t["real"]:.0%} |',
          flush=True)
  rates = skinny_matmul_rates(tf, FLAGS.repeats)
  print('\n| rows M | GFLOP/s of [M, 1024] x [1024, 1024] | of the largest M |\n|---|---|---|')
  for m, rate in rates.items():
    print(f'| {m} | {rate / 1e9:.0f} | {rate / rates[max(rates)]:.0%} |')
  print(f'\n1-minute load average {os.getloadavg()[0]:.1f} at the end')


if __name__ == '__main__':
  app.run(main)
