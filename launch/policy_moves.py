"""What moved a BREMEN deployment run's policy from one deployment to the next: TRPO, or the
restart from BC? (bremen_tf/reporting/policy_moves.py says how each size is measured.)

  python launch/policy_moves.py --run_dir=runs/deployment/handreach/seed0 \
      --out=results/handreach_policy_moves.md

Reads the run's metrics.csv, deployments.csv, exported policies (policies/deployment_<d>) and
batches (data/deployment_<d>.npz); a deployment whose policy or batch is missing gets "—" in the
columns that need them. Prints the table; with --out, writes it (.md, and a .csv beside it).
"""
import os

from absl import flags

import launch_common
from bremen_tf import errors  # no TF

flags.DEFINE_string('run_dir', None, 'A deployment run directory (BREMEN: its policy_init is bc).')
flags.DEFINE_string('out', None, 'Optional .md file to write (a .csv is written beside it).')
flags.mark_flags_as_required(['run_dir'])
flags.declare_key_flag('tf_threads')
FLAGS = flags.FLAGS

HEADER = ['deployment', 'TRPO updates', 'real return: first -> last iteration',
          'imagined return: first -> last iteration', 'TRPO\'s move from the BC start (RMS Δμ)',
          'change from the previous deployment\'s policy (RMS Δμ)', 'change / TRPO\'s move',
          'mean action on its BC batch: RMS, at the bounds', 'return of the batch it collected']


def check_run(path):
  """A deployment run's directory, before any policy is loaded: (its act_dim, its description)."""
  from bremen_tf.reporting import run_reader  # pylint: disable=g-import-not-at-top
  for name in ('metrics.csv', 'deployments.csv'):
    if not os.path.isfile(os.path.join(path, name)):
      raise errors.ConfigError(f'{path} is not a deployment run with a finished deployment: '
                               f'{name} is missing.')
  description = run_reader.description(path, 'deployment')
  if description is None:
    raise errors.ConfigError(f'{path} is not a deployment run (its run.json or config.gin says '
                             'another kind, or it has neither).')
  from bremen_tf import envs  # pylint: disable=g-import-not-at-top
  return envs.get_spec(description['env_id']).act_dim, description


def main(argv):
  if len(argv) > 1:
    raise errors.ConfigError(f'unexpected arguments {argv[1:]}.')
  if FLAGS.out and not FLAGS.out.endswith('.md'):
    raise errors.ConfigError(f'--out must end in .md, got {FLAGS.out!r}.')
  launch_common.quiet_logs()
  launch_common.configure_tf()  # the readers below import TF: quietly, at --tf_threads
  act_dim, description = check_run(FLAGS.run_dir)
  from bremen_tf.reporting import action_change, policy_moves  # pylint: disable=g-import-not-at-top
  rows = policy_moves.deployment_rows(FLAGS.run_dir, act_dim)
  if not rows:
    raise errors.ConfigError(f'{FLAGS.run_dir} has no finished deployment yet.')
  from bremen_tf import results  # pylint: disable=g-import-not-at-top
  for row in rows:
    d = row['deployment']
    row['change'] = action_change.action_change(FLAGS.run_dir, d)
    policy, batch = (action_change.policy_dir(FLAGS.run_dir, d),
                     action_change.batch_path(FLAGS.run_dir, d))
    row['rms'] = row['saturated'] = None
    if os.path.isdir(policy) and os.path.isfile(batch):
      row['rms'], row['saturated'] = policy_moves.saturation(
          action_change.deterministic_actions(policy, batch))
  fmt = lambda v, spec: '—' if v is None else format(v, spec)
  table = [[r['deployment'], r['updates'], f'{r["eval_first"]:.3g} -> {r["eval_last"]:.3g}',
            f'{r["imagined_first"]:.3g} -> {r["imagined_last"]:.3g}', fmt(r['trpo_move'], '.4f'),
            fmt(r['change'], '.4f'),
            '—' if r['change'] is None or not r['trpo_move']
            else policy_moves.ratio_text(r['change'] / r['trpo_move']),
            '—' if r['rms'] is None else f'{r["rms"]:.3f}, {100 * r["saturated"]:.1f}%',
            fmt(r['next_batch_return'], '.3g')] for r in rows]
  text = '\n'.join([results.markdown_table(HEADER, table)] + policy_moves.statements(rows)) + '\n'
  print(text)
  if FLAGS.out:
    lines = [f'# What moved the policy: TRPO or the restart from BC ({description["method"]}, '
             f'{description["env_id"]})', '',
             results.provenance_header(f'the run in `{FLAGS.run_dir}`'), '',
             'Per finished deployment d: TRPO\'s move is the RMS change of the deterministic '
             'action μ(s) from the BC policy π_θ started from, computed from the KL(π_d ‖ π̂_β,d) '
             'the run logged at the deployment\'s last iteration (imagined states; equal σ: '
             'σ·sqrt(2·KL/act_dim)); the change from the previous deployment\'s policy is the RMS '
             'of μ_d(s) − μ_{d−1}(s) of the exported policies on deployment d\'s batch (the states '
             'its BC was fitted on), which adds the restart\'s error to TRPO\'s move; the mean '
             'action\'s RMS and its share at the bounds (|μ_j| >= '
             f'{policy_moves.SATURATED}) are on the same states; the batch return is that of the '
             'batch deployment d\'s policy collected (with its exploration noise) for deployment '
             'd + 1. bremen_tf/reporting/policy_moves.py says why.', '', text]
    results.write_report(FLAGS.out, lines, HEADER, table)


if __name__ == '__main__':
  launch_common.run(main)
