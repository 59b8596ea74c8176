"""Deployment-efficient BREMEN (or ME-TRPO, or the alpha ablation) on one environment.

  python launch/deployment.py --gin_file=gin/deployment/halfcheetah_200k.gin
  python launch/deployment.py --gin_file=gin/deployment/halfcheetah_200k.gin \
      --gin_file=gin/algos/me_trpo.gin --seed=1

The run directory (default runs/deployment/<gin file names>/seed<seed>) gets metrics.csv (one row
per outer iteration: deployment, real_transitions, eval_return_*, kl_to_previous_deployment, ...),
deployments.csv (one row per deployment), the collected batches in data/, checkpoints, and each
deployment's exported policy in policies/deployment_<d>/. Run the same command again to resume;
a finished run is never overwritten.
"""
import os
import sys

from absl import app, flags
import gin

import launch_common
from bremen_tf import deployment, deployment_model_free, fileio, runs  # pylint: disable=unused-import (registers gin)

flags.DEFINE_string('root_dir', None,
                    'Run directory (default runs/deployment/<gin file names>/seed<seed>).')
flags.adopt_module_key_flags(launch_common)
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    sys.exit(f'error: unexpected arguments {argv[1:]}; settings go in --gin_file/--gin_bindings.')
  if not FLAGS.gin_file:
    sys.exit('error: give at least one --gin_file, e.g. '
             '--gin_file=gin/deployment/halfcheetah_200k.gin')
  launch_common.setup()
  root = FLAGS.root_dir or launch_common.default_root_dir(FLAGS.gin_file, FLAGS.seed,
                                                           kind='deployment')
  try:
    run = runs.RunDir(root)
  except (runs.RunFinishedError, runs.RunBusyError) as e:
    sys.exit(f'error: {e}')
  config_path = run.file('config.gin')
  if run.resumed and os.path.exists(config_path):
    with open(config_path) as f:
      if f.read() != gin.config_str():
        sys.exit(f'error: {run.path} holds an unfinished run with a different gin config '
                 f'(see {config_path}). Resume it with the same --gin_file/--gin_bindings, or '
                 'choose another --root_dir.')
  run.start(seed=FLAGS.seed, flags=FLAGS.flag_values_dict())
  print(f'Run directory: {run.path}' + (' (resuming)' if run.resumed else ''), flush=True)
  summary = deployment.train_deployment(run, seed=FLAGS.seed, log=lambda m: print(m, flush=True))
  run.write_operative_config()
  run.mark_done(**summary)
  fileio.write_json(run.file('summary.json'), summary)
  print(f'Done: {summary["deployments"]} deployments, {summary["real_transitions"]:,} real '
        f'transitions, final real return {summary["final_eval_return_mean"]:.1f}', flush=True)


if __name__ == '__main__':
  app.run(main)
