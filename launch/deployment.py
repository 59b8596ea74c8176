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
from absl import flags

import launch_common  # TensorFlow and the library are imported in main, after the flags are checked

flags.DEFINE_string('root_dir', None,
                    'Run directory (default runs/deployment/<gin file names>/seed<seed>).')
flags.adopt_module_key_flags(launch_common)
FLAGS = flags.FLAGS


def main(argv):
  launch_common.check_args(argv, 'gin/deployment/halfcheetah_200k.gin')
  launch_common.setup('train_deployment')  # imports TF after checking the flags and gin files
  from bremen_tf import experiments  # pylint: disable=g-import-not-at-top
  run = launch_common.open_run(FLAGS.root_dir or launch_common.default_root_dir(
      FLAGS.gin_file, FLAGS.seed, kind='deployment'))
  summary = experiments.train_deployment(run, seed=FLAGS.seed, log=lambda m: print(m, flush=True))
  launch_common.finish_run(run, summary)
  print(f'Done: {summary["deployments"]} deployments, {summary["real_transitions"]:,} real '
        f'transitions, final real return {summary["final_eval_return_mean"]:.1f}', flush=True)


if __name__ == '__main__':
  launch_common.run(main)
