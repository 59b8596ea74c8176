"""Collects (or finds cached) BRAC-protocol datasets with the shipped behaviour policies.

  python launch/collect_data.py --env_id=bremen/Hopper-v0 --noise=pure --size=100k
  python launch/collect_data.py --env_id=all --noise=all --size=1m,100k,50k

Each dataset is made once and cached (see bremen_tf.data.on_demand); asking again is instant.
"""
from absl import app, flags

import launch_common
launch_common.quiet_tensorflow()  # before anything imports TF
from bremen_tf import envs
from bremen_tf.data import NOISES, SUBSET_RULES, get_dataset, parse_size

flags.DEFINE_list('env_id', ['bremen/Hopper-v0'], 'Env ids, comma-separated, or "all" (the '
                  'four paper-faithful envs).')
flags.DEFINE_list('noise', ['pure'], f'Noise configs ({", ".join(NOISES)}) or "all".')
flags.DEFINE_list('size', ['1m'], 'Sizes, e.g. 1m,100k,50k.')
flags.DEFINE_string('data_dir', None, 'Dataset cache (default $BREMEN_TF_DATA_DIR or '
                    '~/.cache/bremen_tf/datasets).')
flags.DEFINE_enum('subset_rule', 'mixture', SUBSET_RULES, 'How datasets smaller than 1M are '
                  'made: mixture (collect n with the 20/40/40 mix) or first_n (the authors\' '
                  'code: the first n of the 1M file).')
flags.DEFINE_integer('n_envs', 64, 'Environments stepped side by side (one policy call each step).')
flags.adopt_module_key_flags(launch_common)
FLAGS = flags.FLAGS


def main(argv):
  del argv
  launch_common.setup()
  env_ids = envs.PAPER_ENV_IDS if FLAGS.env_id == ['all'] else FLAGS.env_id
  noises = NOISES if FLAGS.noise == ['all'] else FLAGS.noise
  try:
    sizes = [parse_size(s) for s in FLAGS.size]
    for env_id in env_ids:
      envs.get_spec(env_id)
    for noise in noises:
      if noise not in NOISES:
        raise ValueError(f'Unknown noise {noise!r}; expected one of {", ".join(NOISES)}.')
  except ValueError as e:
    raise app.UsageError(str(e))
  for env_id in env_ids:
    for noise in noises:
      for size in sizes:
        ds = get_dataset(env_id, noise, size, seed=FLAGS.seed, data_dir=FLAGS.data_dir,
                         subset_rule=FLAGS.subset_rule, n_envs=FLAGS.n_envs,
                         log=lambda m: print(m, flush=True))
        ret = ds.metadata['behavior_returns']
        mean = 'n/a' if ret['mean'] is None else f'{ret["mean"]:.1f}'
        print(f'{env_id} {noise} {size:,}: {len(ds):,} transitions, episode return {mean} '
              f'over {ret["episodes"]} episodes', flush=True)


if __name__ == '__main__':
  launch_common.run(main)
