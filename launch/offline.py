"""BREMEN (or ME-TRPO) offline on one dataset: one table cell of the paper.

  python launch/offline.py --gin_file=gin/hopper_100k.gin
  python launch/offline.py --gin_file=gin/hopper_100k.gin --gin_file=gin/algos/me_trpo.gin
  python launch/offline.py --gin_file=gin/halfcheetah_1m.gin \
      --gin_bindings="train_offline.noise = 'eps1'" --seed=1

The dataset is collected with the shipped behaviour policy the first time it is needed; a Minari
dataset or a D4RL file instead (the env comes from the dataset, scores are also normalised):
  python launch/offline.py --gin_file=gin/d4rl/hopper_medium.gin
  python launch/offline.py --gin_file=gin/d4rl/hopper_medium.gin \
      --gin_bindings="train_offline.dataset = 'd4rl:/data/hopper_medium-v2.hdf5'"

The run directory (default runs/offline/<gin file names>/seed<seed>) gets metrics.csv, TensorBoard events,
config.gin, operative_config.gin, provenance.json, checkpoints/ and the exported policy/.
Run the same command again to resume an interrupted run; a finished run is never overwritten.
"""
from absl import flags

import launch_common  # TensorFlow and the library are imported in main, after the flags are checked

flags.DEFINE_string('root_dir', None,
                    'Run directory (default runs/offline/<gin file names>/seed<seed>).')
flags.adopt_module_key_flags(launch_common)
FLAGS = flags.FLAGS


def main(argv):
  launch_common.check_args(argv, 'gin/hopper_100k.gin')
  launch_common.setup('train_offline')  # imports TF after checking the flags and gin files
  from bremen_tf import experiments  # pylint: disable=g-import-not-at-top
  run = launch_common.open_run(
      FLAGS.root_dir or launch_common.default_root_dir(FLAGS.gin_file, FLAGS.seed))
  summary = experiments.train_offline(run, seed=FLAGS.seed, log=lambda m: print(m, flush=True))
  launch_common.finish_run(run, summary)
  score = summary.get('final_eval_normalized_score')
  score = f' (normalised score {score:.1f})' if score is not None else ''
  print(f'Done: final real return {summary["final_eval_return_mean"]:.1f}{score}; '
        f'policy exported to {summary["export_dir"]}', flush=True)


if __name__ == '__main__':
  launch_common.run(main)
