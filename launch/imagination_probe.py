"""Runaway imagined paths in a BREMEN / ME-TRPO run, per ensemble member (bremen_tf/runaway_probe.py).

  python launch/imagination_probe.py --run_dir=/work/runs/full/offline/halfcheetah_100k/seed0

Reads the run's config.gin and its latest checkpoint (nothing is written; a running run may go on),
then imagines batches with the BC policy π̂_β (if the run has one) and the current π_θ, each
ensemble member alone and the usual random member per step, and prints the fraction of paths that
reached the model's ±1e5 output clip and the median path return. Copy the run's checkpoints/
first if the run may write a new checkpoint while this reads.
"""
import os

from absl import flags

import launch_common

flags.DEFINE_string('run_dir', None, 'An offline or deployment run directory (BREMEN or ME-TRPO).')
flags.DEFINE_integer('batches', 1, 'Imagined batches per policy and member.')
flags.mark_flags_as_required(['run_dir'])
flags.adopt_module_key_flags(launch_common)
FLAGS = flags.FLAGS


def main(argv):
  del argv
  launch_common.check_run_tool(FLAGS.run_dir, positive=('batches',))  # before TensorFlow
  from bremen_tf.run_models import load_run_models  # pylint: disable=g-import-not-at-top
  launch_common.quiet_logs()
  launch_common.configure_tf()
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.ERROR)  # each member's imagination is a trace of its own
  from bremen_tf.runaway_probe import probe  # pylint: disable=g-import-not-at-top
  run = load_run_models(FLAGS.run_dir)
  env_id, checkpoint, trainer = run.env_id, run.checkpoint, run.trainer
  bc_policy, policy, iteration = run.bc_policy, run.policy, run.iteration
  if trainer.data_box is not None:  # the run's opt-in guard (ImaginedTRPO.data_box_margin)
    trainer.data_box = None
    print('The run ends imagined paths that leave its data box; the probe imagines without it, '
          'to show where the model itself takes the paths.')
  policies = {} if run.policy_init == 'random' else {'BC policy π̂_β': bc_policy}
  policies[f'π_θ at iteration {int(iteration.numpy())}'] = policy
  print(f'{FLAGS.run_dir} ({env_id}, checkpoint {os.path.basename(checkpoint)}): '
        f'{FLAGS.batches} imagined batch(es) of {trainer.batch_size:,} steps per row', flush=True)
  print('| policy | member | paths | paths at the model clip | median path return |')
  print('|---|---|---|---|---|')
  for row in probe(trainer, policies, FLAGS.batches):
    print(f'| {row["policy"]} | {row["member"]} | {row["paths"]} | '
          f'{row["clipped_path_fraction"]:.1%} | {row["median_return"]:.0f} |', flush=True)


if __name__ == '__main__':
  launch_common.run(main)
