"""Finished runs into the repo and back (bremen_tf/run_archive.py): what survives a new machine.

  python launch/run_archive.py save [--runs_root=/work/runs]     # then commit results/runs/
  python launch/run_archive.py restore [--runs_root=/work/runs]  # launch/long_runs.sh start does it
  python launch/run_archive.py list [--runs_root=/work/runs]     # finished runs not archived yet

The archive is results/runs/ of this checkout (--archive to change it); paths inside it are the
runs' paths relative to the runs root (full/..., coverage/..., guard/...). Imports no TensorFlow.
"""
import os
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bremen_tf import run_archive  # pylint: disable=g-import-not-at-top
from bremen_tf.errors import BremenError  # pylint: disable=g-import-not-at-top

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
flags.DEFINE_string('runs_root', os.environ.get('RUNS_ROOT', '/work/runs'),
                    'The runs root (launch/long_runs.sh RUNS_ROOT).')
flags.DEFINE_string('archive', os.path.join(REPO, 'results', 'runs'), 'The archive directory.')
FLAGS = flags.FLAGS
ACTIONS = ('save', 'restore', 'list')


def main(argv):
  if len(argv) != 2 or argv[1] not in ACTIONS:
    raise app.UsageError(f'usage: python launch/run_archive.py {"|".join(ACTIONS)} '
                         f'[--runs_root=DIR] [--archive=DIR]')
  action = argv[1]
  try:
    if action == 'list':
      archived = set(run_archive.finished_runs(FLAGS.archive)) if os.path.isdir(
          FLAGS.archive) else set()
      pending = [r for r in run_archive.finished_runs(FLAGS.runs_root) if r not in archived]
      for run in pending:
        print(run)
      print(f'{len(pending)} finished run(s) in {FLAGS.runs_root} not in {FLAGS.archive}'
            + (': python launch/run_archive.py save, then commit it' if pending else ''))
      return
    if action == 'save':
      copied, present = run_archive.save(FLAGS.runs_root, FLAGS.archive)
      where = f'{FLAGS.runs_root} -> {FLAGS.archive}'
    else:
      copied, present = run_archive.restore(FLAGS.archive, FLAGS.runs_root)
      where = f'{FLAGS.archive} -> {FLAGS.runs_root}'
  except BremenError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)
  for run in copied:
    print(f'{action}d {run}')
  print(f'{action}: {len(copied)} run(s) copied, {len(present)} there already ({where})')


if __name__ == '__main__':
  app.run(main)
