"""Trains a partially trained SAC behaviour policy (BRAC protocol) and optionally ships it.

  python launch/train_behavior.py --gin_file=gin/behavior/hopper.gin --ship

Resumable: run the same command again after an interruption. The run directory defaults to
runs/behavior/<env>/seed<seed>; `--ship` copies the partial policy into bremen_tf/behavior_policies/.
"""
import os

from absl import flags
import gin

import launch_common  # TensorFlow and the library are imported in main, after the flags are checked

flags.DEFINE_string('root_dir', None, 'Run directory (default runs/behavior/<env>/seed<seed>).')
flags.DEFINE_boolean('ship', False, 'Copy the partial policy into bremen_tf/behavior_policies/.')
flags.adopt_module_key_flags(launch_common)
FLAGS = flags.FLAGS


def main(argv):
  del argv
  launch_common.setup('train_behavior_policy')  # imports TF after checking the flags and gin files
  from bremen_tf import envs, runs, sac_data_policies  # pylint: disable=g-import-not-at-top
  from bremen_tf.data import shipped_policies  # pylint: disable=g-import-not-at-top
  env_id = gin.query_parameter('train_behavior_policy.env_id')
  root = FLAGS.root_dir or os.path.join(launch_common.REPO_ROOT, 'runs', 'behavior',
                                        envs.slug(env_id), f'seed{FLAGS.seed}')
  # Not launch_common.open_run: a resume may change the config (e.g. a higher total_steps after
  # the threshold was not reached); config.gin is rewritten, and run.json, written once, is read
  # only while config.gin is the text it was made from (run_reader.description).
  run = runs.RunDir(root)
  run.start(seed=FLAGS.seed, flags=FLAGS.flag_values_dict())
  launch_common.write_description(run)
  print(f'Run directory: {run.path}', flush=True)
  meta = sac_data_policies.train_behavior_policy(run, seed=FLAGS.seed,
                                        log=lambda m: print(m, flush=True))
  run.write_operative_config()
  if meta is None:
    raise SystemExit(1)
  run.mark_done(partial_policy_step=meta['sac_steps'])
  if FLAGS.ship:
    print(f'Shipped to {shipped_policies.ship(run.path, env_id)}')


if __name__ == '__main__':
  launch_common.run(main)
