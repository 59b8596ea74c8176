"""Does a run repeat an earlier, lost attempt of itself? Compares its evaluations with the
attempt's report iteration by iteration (exactly) and its exported deployment policies with the
attempt's committed ones byte for byte (bremen_tf/reporting/attempt_match.py).

  python launch/attempt_match.py --run_dir=/work/runs/full/deployment/halfcheetah_200k/seed0 \
      --attempt=results/full_budget_attempt2 --run_name=deployment/halfcheetah_200k/seed0 \
      --out=results/full_budget_attempt_match.md

Reads the run's metrics.csv and policies/deployment_<d>, and the attempt's full_budget.csv (its
rows for --run_name) and policies/<run_name>/deployment_<d>. Prints the table and a sentence per
deployment; with --out, writes them (.md, and a .csv beside it).
"""
import os

from absl import flags

import launch_common
from bremen_tf import errors  # no TF

flags.DEFINE_string('run_dir', None, 'The run directory (a deployment run: metrics.csv).')
flags.DEFINE_string('attempt', None, 'The earlier attempt\'s report directory (full_budget.csv, '
                    'policies/), e.g. results/full_budget_attempt2.')
flags.DEFINE_string('run_name', None, 'The run\'s name in the attempt\'s report, e.g. '
                    'deployment/halfcheetah_200k/seed0.')
flags.DEFINE_string('out', None, 'Optional .md file to write (a .csv is written beside it).')
flags.mark_flags_as_required(['run_dir', 'attempt', 'run_name'])
FLAGS = flags.FLAGS

HEADER = ['deployment', 'iterations evaluated: run / attempt', 'compared', 'equal',
          'first iteration that differs', 'largest difference', 'exported policy byte-identical']


def check_inputs():
  """Before any work: both sides exist and the attempt's report has rows for --run_name. Returns
  (the run's metrics rows, the attempt's rows of that run)."""
  if FLAGS.out and not FLAGS.out.endswith('.md'):
    raise errors.ConfigError(f'--out must end in .md, got {FLAGS.out!r}.')
  metrics = os.path.join(FLAGS.run_dir, 'metrics.csv')
  if not os.path.isfile(metrics):
    raise errors.ConfigError(f'{FLAGS.run_dir} has no metrics.csv: not a run that has evaluated.')
  report = os.path.join(FLAGS.attempt, 'full_budget.csv')
  if not os.path.isfile(report):
    raise errors.ConfigError(f'{FLAGS.attempt} has no full_budget.csv: not an attempt\'s report.')
  from bremen_tf.reporting import run_reader  # pylint: disable=g-import-not-at-top
  attempt_rows = run_reader.read_csv(FLAGS.attempt, 'full_budget.csv')
  mine = [r for r in attempt_rows if r.get('run') == FLAGS.run_name]
  if not mine:
    names = sorted({r.get('run') for r in attempt_rows if r.get('run')})
    raise errors.ConfigError(f'{report} has no rows for --run_name={FLAGS.run_name}; it has '
                             f'{", ".join(names) or "none"}.')
  return run_reader.read_csv(FLAGS.run_dir, 'metrics.csv'), mine


def main(argv):
  if len(argv) > 1:
    raise errors.ConfigError(f'unexpected arguments {argv[1:]}.')
  launch_common.quiet_logs()
  run_rows, attempt_rows = check_inputs()
  from bremen_tf import results  # pylint: disable=g-import-not-at-top
  from bremen_tf.reporting import attempt_match  # pylint: disable=g-import-not-at-top
  compared = attempt_match.compare(run_rows, attempt_rows)
  if not compared:
    raise errors.ConfigError(f'{FLAGS.run_dir} and {FLAGS.run_name} in {FLAGS.attempt} have '
                             'evaluated no deployment in common yet.')
  weights = {r['deployment']: attempt_match.same_weights(
      os.path.join(FLAGS.run_dir, 'policies', f'deployment_{r["deployment"]}'),
      os.path.join(FLAGS.attempt, 'policies', FLAGS.run_name, f'deployment_{r["deployment"]}'))
             for r in compared}
  answer = {True: 'yes', False: 'no', None: '—'}
  table = [[r['deployment'], f'{r["run_iterations"]} / {r["attempt_iterations"]}', r['compared'],
            r['equal'], '—' if r['first_difference'] is None else r['first_difference'],
            f'{r["largest_difference"]:.6g}', answer[weights[r['deployment']]]] for r in compared]
  to_come = attempt_match.still_to_come(run_rows, attempt_rows)
  text = '\n'.join([results.markdown_table(HEADER, table)]
                   + attempt_match.statement(compared, weights, to_come)) + '\n'
  print(text)
  if FLAGS.out:
    lines = [f'# Does `{FLAGS.run_name}` repeat its earlier attempt ({FLAGS.attempt})?', '',
             results.provenance_header(f'the run in `{FLAGS.run_dir}`; the attempt\'s '
                                       f'`{FLAGS.attempt}/full_budget.csv` rows of '
                                       f'`{FLAGS.run_name}` and its committed policies'), '',
             'Evaluations (the deterministic policy\'s real return, 3 episodes, every outer '
             'iteration) compared as numbers, exactly; an iteration counts only where both have '
             'evaluated it. The exported policies compare their weight files (variables/) byte '
             'for byte. An attempt that ran on a CPU with other kernels (oneDNN) parts from this '
             'run in round-off, and TRPO\'s step is rounding-sensitive: then evaluations differ '
             'from the first iterations on.', '', text]
    results.write_report(FLAGS.out, lines, HEADER, table)


if __name__ == '__main__':
  launch_common.run(main)
