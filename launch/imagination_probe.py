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
import gin

import launch_common

flags.DEFINE_string('run_dir', None, 'An offline or deployment run directory (BREMEN or ME-TRPO).')
flags.DEFINE_integer('batches', 1, 'Imagined batches per policy and member.')
flags.mark_flags_as_required(['run_dir'])
flags.adopt_module_key_flags(launch_common)
FLAGS = flags.FLAGS


def bound(name, default):
  try:
    return gin.query_parameter(name)
  except ValueError:
    return default


def check_run_dir(path):
  from bremen_tf import errors  # pylint: disable=g-import-not-at-top
  for f in ('config.gin', 'train_state.json'):
    if not os.path.isfile(os.path.join(path, f)):
      raise errors.RunDirError(f'{path} has no {f}: not a run directory of launch/offline.py or '
                               'launch/deployment.py.')
  if FLAGS.batches < 1:
    raise errors.ConfigError(f'--batches must be at least 1, got {FLAGS.batches}.')


def main(argv):
  del argv
  check_run_dir(FLAGS.run_dir)
  launch_common.quiet_logs()
  launch_common.configure_tf()
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.ERROR)  # each member's imagination is a trace of its own
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from bremen_tf import errors, experiments, fileio  # pylint: disable=g-import-not-at-top,unused-import
  from bremen_tf.runaway_probe import probe  # pylint: disable=g-import-not-at-top
  from bremen_tf.stages import build_models  # pylint: disable=g-import-not-at-top
  gin.parse_config_file(os.path.join(FLAGS.run_dir, 'config.gin'))
  state = fileio.read_json(os.path.join(FLAGS.run_dir, 'train_state.json'))
  kind = 'train_deployment' if 'deployment' in state else 'train_offline'
  env_id = bound(f'{kind}.env_id', None) or state.get('dataset', {}).get('env_id')
  # The run's seed from provenance.json (runs.RunDir would open the run, which may be running).
  provenance = os.path.join(FLAGS.run_dir, 'provenance.json')
  sessions = fileio.read_json(provenance)['sessions'] if os.path.exists(provenance) else []
  seed = (sessions[0].get('seed') if sessions else None) or 0
  policy_init = bound(f'{kind}.policy_init', 'bc')
  dynamics, bc_policy, policy, trainer = build_models(
      env_id, seed, policy_init, bound(f'{kind}.reset_bank_size', 10_000),
      bound(f'{kind}.horizon', None))
  checkpoint = tf.train.latest_checkpoint(os.path.join(FLAGS.run_dir, 'checkpoints'))
  if checkpoint is None or state.get('stage') in ('start', 'collected', 'dynamics_fit'):
    raise errors.RunDirError(f'{FLAGS.run_dir} has no fitted model yet (stage '
                             f'{state.get("stage")!r}).')
  iteration = tf.Variable(0, dtype=tf.int64, name='iteration')
  tf.train.Checkpoint(dynamics=dynamics, bc_policy=bc_policy, policy=policy, trainer=trainer,
                      iteration=iteration).read(checkpoint).expect_partial()
  policies = {} if policy_init == 'random' else {'BC policy π̂_β': bc_policy}
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
