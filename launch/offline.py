"""BREMEN (or ME-TRPO) offline on one dataset: one table cell of the paper.

  python launch/offline.py --gin_file=gin/hopper_100k.gin
  python launch/offline.py --gin_file=gin/hopper_100k.gin --gin_file=gin/algos/me_trpo.gin
  python launch/offline.py --gin_file=gin/halfcheetah_1m.gin \
      --gin_bindings="train_offline.noise = 'eps1'" --seed=1

The dataset is collected with the shipped behaviour policy the first time it is needed. The run
directory (default runs/offline/<gin file names>/seed<seed>) gets metrics.csv, TensorBoard events,
config.gin, operative_config.gin, provenance.json, checkpoints/ and the exported policy/.
Run the same command again to resume an interrupted run; a finished run is never overwritten.
"""
import os
import sys

from absl import app, flags
import gin

import launch_common
from bremen_tf import bremen, fileio, model_free, runs  # pylint: disable=unused-import (registers gin)

flags.DEFINE_string('root_dir', None,
                    'Run directory (default runs/offline/<gin file names>/seed<seed>).')
flags.adopt_module_key_flags(launch_common)
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    sys.exit(f'error: unexpected arguments {argv[1:]}; settings go in --gin_file/--gin_bindings.')
  if not FLAGS.gin_file:
    sys.exit('error: give at least one --gin_file, e.g. --gin_file=gin/hopper_100k.gin')
  launch_common.setup()
  try:
    run = runs.RunDir(FLAGS.root_dir
                      or launch_common.default_root_dir(FLAGS.gin_file, FLAGS.seed))
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
  summary = bremen.train_offline(run, seed=FLAGS.seed, log=lambda m: print(m, flush=True))
  run.write_operative_config()
  run.mark_done(**summary)
  fileio.write_json(run.file('summary.json'), summary)
  print(f'Done: final real return {summary["final_eval_return_mean"]:.1f}; '
        f'policy exported to {summary["export_dir"]}', flush=True)


if __name__ == '__main__':
  app.run(main)
