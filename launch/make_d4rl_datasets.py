"""The D4RL MuJoCo datasets regenerated on gymnasium v5 with our SAC, written as Minari datasets.

  python launch/make_d4rl_datasets.py --tf_threads=1   # halfcheetah, hopper x random, medium, medium-replay
  python launch/make_d4rl_datasets.py --envs=walker2d \
      --datasets=random,medium,medium-replay,expert,medium-expert

Writes `$MINARI_DATASETS_PATH/bremen-d4rl/<robot>/<dataset>-v0` (default ~/.minari/datasets; or
--minari_root), which `train_offline.dataset = 'minari:bremen-d4rl/hopper/medium-v0'` reads
(gin/d4rl/*.gin). The recipe and the reference scores are in bremen_tf/d4rl_recipe.py. Run the
same command again after an interruption: finished datasets are skipped and the SAC run resumes
(runs/d4rl_sac/<robot>/sac_seed<seed>). SAC hyperparameters are train_behavior_policy's
(--gin_bindings="train_behavior_policy.eval_every=10000" etc.).

Cost on this CPU, one TF thread (SAC ~65 gradient steps/s, collection 5,000-10,000 transitions/s;
results/behavior_policies.md): random ~3 min per env; medium + medium-replay = SAC to a third of
the expert return (HalfCheetah ~40k steps ~15 min, Hopper ~100k+ steps ~30-45 min) plus ~3 min
collection; expert = SAC on to 1M steps, ~4.5 hours per env; medium-expert is then free.
"""
from absl import app, flags

import launch_common
from bremen_tf import d4rl_recipe

flags.DEFINE_list('envs', ['halfcheetah', 'hopper'], 'Robots: halfcheetah, hopper, walker2d.')
flags.DEFINE_list('datasets', list(d4rl_recipe.DEFAULT_DATASETS),
                  f'Some of {", ".join(d4rl_recipe.DATASETS)}.')
flags.DEFINE_string('size', '1m', 'Transitions per collected dataset (D4RL: 1M).')
flags.DEFINE_integer('expert_steps', 1_000_000, 'SAC steps of the expert (D4RL: 1M).')
flags.DEFINE_float('medium_return', None, 'The medium stop (default: a third of the way from '
                   "D4RL's random to its expert return).")
flags.DEFINE_string('minari_root', None, 'Where the datasets go (default $MINARI_DATASETS_PATH, '
                    'else ~/.minari/datasets).')
flags.DEFINE_string('work_dir', None, 'SAC runs (default runs/d4rl_sac).')
flags.DEFINE_integer('n_envs', 64, 'Envs stepped together during collection.')
flags.adopt_module_key_flags(launch_common)
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from bremen_tf.data import parse_size  # pylint: disable=g-import-not-at-top
  try:  # a bad request fails before any work
    d4rl_recipe.check_request(FLAGS.envs, FLAGS.datasets)
    size = parse_size(FLAGS.size)
  except ValueError as e:
    raise SystemExit(f'error: {e}') from None
  launch_common.setup()
  work_dir = FLAGS.work_dir or f'{launch_common.REPO_ROOT}/runs/d4rl_sac'
  for robot in FLAGS.envs:
    recipe = d4rl_recipe.Recipe(robot, work_dir, FLAGS.minari_root, size,
                                FLAGS.seed, FLAGS.expert_steps, FLAGS.n_envs,
                                medium_return=FLAGS.medium_return,
                                log=lambda m: print(m, flush=True))
    recipe.make(FLAGS.datasets)
  print('Done.', flush=True)


if __name__ == '__main__':
  app.run(main)
