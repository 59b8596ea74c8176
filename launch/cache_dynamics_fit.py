"""Puts an offline run's fitted dynamics ensemble into a dynamics cache (bremen_tf/dynamics_cache.py),
so that other runs on the same data, seed and ensemble settings start from it instead of refitting
(hours at the full budget): e.g. a variant of the TRPO stage, or ME-TRPO beside BREMEN.

  python launch/cache_dynamics_fit.py --run_dir=runs/offline/halfcheetah_100k/seed0 \\
      --cache_dir=runs/dynamics_cache
  python launch/offline.py --gin_file=gin/halfcheetah_100k.gin \\
      --gin_bindings="ImaginedTRPO.data_box_margin = 0.1" \\
      --gin_bindings="train_offline.dynamics_cache_dir = 'runs/dynamics_cache'" --root_dir=...

Reads the run's config.gin, train_state.json, latest checkpoint (TRPO never changes the model,
so any checkpoint after the fit holds it) and its dataset (the key names the data by content);
writes nothing into the run, which may be running.
The entry's key is the one the offline recipe computes, so only a run whose data, seed and
ensemble settings equal the source run's finds it.
"""
from absl import flags

import launch_common

flags.DEFINE_string('run_dir', None, 'An offline run directory (launch/offline.py) past its fit.')
flags.DEFINE_string('cache_dir', None, 'The dynamics cache (train_offline.dynamics_cache_dir).')
flags.mark_flags_as_required(['run_dir', 'cache_dir'])
flags.adopt_module_key_flags(launch_common)
FLAGS = flags.FLAGS


def main(argv):
  del argv
  import os  # pylint: disable=g-import-not-at-top
  from bremen_tf import errors  # pylint: disable=g-import-not-at-top
  from bremen_tf import run_models  # pylint: disable=g-import-not-at-top
  from bremen_tf.run_models import check_run_dir, load_run_models  # pylint: disable=g-import-not-at-top
  launch_common.check_tool_flags()
  check_run_dir(FLAGS.run_dir)  # before TensorFlow is imported
  launch_common.quiet_logs()
  launch_common.configure_tf()
  from bremen_tf import dynamics_cache, experiments  # pylint: disable=g-import-not-at-top
  run = load_run_models(FLAGS.run_dir)
  if run.kind != 'train_offline':
    raise errors.RunDirError(f'{FLAGS.run_dir} is a deployment run: its fits are cached by the '
                             'run itself (train_deployment.dynamics_cache_dir).')
  fit = run.state.get('dynamics_fit')
  if not fit:
    raise errors.RunDirError(f'{FLAGS.run_dir} has no dynamics fit record in train_state.json.')
  setting = lambda name: run_models.setting('train_offline', name)
  # The run's data, read as the run read it (its config is parsed): the key names it by content.
  from bremen_tf.data import sources  # pylint: disable=g-import-not-at-top
  data = sources.load_source(setting('dataset'), setting('env_id'), setting('noise'),
                             setting('dataset_size'), setting('data_dir'),
                             reference_scores=setting('reference_scores'))
  if len(data) != run.state['dataset']['size']:
    raise errors.RunDirError(f'{FLAGS.run_dir} trained on {run.state["dataset"]["size"]:,} '
                             f'transitions, but its dataset now has {len(data):,}.')
  data_name = experiments.offline_data_name(setting('dataset'), setting('noise'),
                                            setting('dataset_size'), data)
  name, key = dynamics_cache.dynamics_cache_key(
      run.env_id, *data_name, run.state['dataset']['size'], setting('validation_fraction'),
      run.seed, run.dynamics)
  entry = os.path.join(FLAGS.cache_dir, name)
  if os.path.exists(entry):
    print(f'{entry} exists already: nothing to do')
    return
  os.makedirs(FLAGS.cache_dir, exist_ok=True)
  record = {k: v for k, v in fit.items() if k != 'cached_from'}
  dynamics_cache.save_cached_dynamics(FLAGS.cache_dir, name, key, run.dynamics,
                                      {**record, 'copied_from_run': os.path.abspath(FLAGS.run_dir)})
  print(f'cached the fit of {FLAGS.run_dir} (checkpoint {os.path.basename(run.checkpoint)}) as '
        f'{entry}')


if __name__ == '__main__':
  launch_common.run(main)
