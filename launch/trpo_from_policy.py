"""TRPO in a run's model from another starting policy (bremen_tf/trpo_from_policy.py).

  # does the offline Hopper run's model keep the authors' released policy (2,573 in our env)?
  python launch/released_policies.py --bremen_repo=/tmp/BREMEN --export_dir=/work/runs/released
  python launch/trpo_from_policy.py --run_dir=/work/runs/full/offline/hopper_100k/seed0 \\
      --policy_dir=/work/runs/released/Hopper_100k --iterations=10 \\
      --out=results/full_budget_trpo_from_released_hopper.md

Reads the run's config.gin and latest checkpoint (the model, the TRPO trainer, the BC policy; the
run is not written), puts the exported policy in π_θ's place and runs --iterations outer
iterations of the run's TRPO updates in the run's imagination, each followed by a deterministic
real-env evaluation of at least the run's evaluation steps, as the run itself does. Prints a line
per iteration; with --out, writes the table (.md) and a .csv beside it. One outer iteration of a
full-budget cell is 25 updates on 50,000 imagined steps: about 1.5-2.5 minutes on one core.
"""
import os

from absl import flags
import gin

import launch_common

flags.DEFINE_string('run_dir', None, 'An offline or deployment run directory (BREMEN or ME-TRPO) '
                    'whose model and TRPO settings to use.')
flags.DEFINE_string('policy_dir', None, 'The starting policy: an exported policy of the run\'s '
                    'env (a SavedModel with its bremen_policy.json).')
flags.DEFINE_integer('iterations', 10, 'Outer iterations (each the run\'s updates per iteration).')
flags.DEFINE_integer('updates_per_iteration', None, 'TRPO updates per outer iteration (default: '
                     'the run\'s).')
flags.DEFINE_string('out', None, 'Optional .md file to write (a .csv is written beside it).')
flags.mark_flags_as_required(['run_dir', 'policy_dir'])
flags.adopt_module_key_flags(launch_common)
FLAGS = flags.FLAGS

COLUMNS = ['iteration', 'trpo_updates', 'eval_return_mean', 'eval_return_std', 'eval_episodes',
           'imagined_return_mean', 'imagined_return_median', 'imagined_path_length',
           'kl_to_behavior', 'step_fraction', 'accept_rate']


def check_flags():
  """Before TensorFlow: the run, the policy and the numbers make sense."""
  from bremen_tf import errors  # pylint: disable=g-import-not-at-top
  launch_common.check_run_tool(FLAGS.run_dir, positive=('iterations', 'updates_per_iteration'))
  if not os.path.isfile(os.path.join(FLAGS.policy_dir, 'bremen_policy.json')):
    raise errors.ConfigError(f'{FLAGS.policy_dir} has no bremen_policy.json: not an exported '
                             'policy.')


def cell(row, key):
  value = row.get(key)
  if value is None:
    return ''
  if key in ('iteration', 'trpo_updates', 'eval_episodes'):
    return str(int(value))
  return f'{value:.3g}' if key in ('kl_to_behavior', 'step_fraction') else f'{value:.1f}'


def main(argv):
  del argv
  check_flags()
  launch_common.quiet_logs()
  launch_common.configure_tf()
  from bremen_tf import fileio, results, trpo_from_policy  # pylint: disable=g-import-not-at-top
  from bremen_tf.run_models import (  # pylint: disable=g-import-not-at-top
      load_policy_for_run, load_run_models, setting)
  gin.clear_config()  # load_run_models parses the run's own config
  run = load_run_models(FLAGS.run_dir)
  policy = load_policy_for_run(FLAGS.policy_dir, run)
  updates = FLAGS.updates_per_iteration or setting(run.kind, 'updates_per_iteration')
  eval_min_steps = setting(run.kind, 'eval_min_steps')
  rows = trpo_from_policy.continue_trpo(run, policy, FLAGS.iterations, updates, eval_min_steps,
                                        FLAGS.seed, log=lambda m: print(m, flush=True))
  table = results.markdown_table(COLUMNS, [[cell(r, k) for k in COLUMNS] for r in rows])
  what = (f'{run.env_id}; the model, the TRPO trainer and the BC policy of `{FLAGS.run_dir}` '
          f'(checkpoint {os.path.basename(run.checkpoint)}, its π_θ at iteration '
          f'{int(run.iteration.numpy())}), π_θ replaced by `{FLAGS.policy_dir}`; {updates} TRPO '
          f'updates of {run.trainer.batch_size:,} imagined steps per iteration; each iteration '
          f'evaluated deterministically over whole episodes of at least {eval_min_steps:,} steps '
          f'(reset seeds from {FLAGS.seed} + 100 x iteration). Iteration 0: the starting policy as '
          'it is. kl_to_behavior: KL to the run\'s BC policy.')
  print(table, flush=True)
  if FLAGS.out:
    fileio.write_text(FLAGS.out, '# TRPO in a run\'s model from another starting policy\n\n'
                      + results.provenance_header(f'`{FLAGS.run_dir}`') + '\n' + what + '\n\n'
                      + table)
    results.write_csv(FLAGS.out[:-3] + '.csv', COLUMNS, [[r.get(k, '') for k in COLUMNS]
                                                          for r in rows])
    print(f'Wrote {FLAGS.out}')


if __name__ == '__main__':
  launch_common.run(main)
