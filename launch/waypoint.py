"""Unfinished deployment runs into the repo and back (bremen_tf/waypoints.py): what survives a new
machine of a run that has not finished.

  python launch/waypoint.py save [--runs_root=/work/runs] [--min_hours=1]
                                 [--min_hours_same_ensemble=0.25] [--keep_adam]
      # each unfinished BREMEN/ME-TRPO deployment run that has recorded >= min_hours of fits and
      # TRPO since its waypoint (or its start), or >= min_hours_same_ensemble if no fit has
      # changed its ensemble since: a new waypoint in results/waypoints/ (commit it). Stop the
      # runs first (launch/long_runs.sh stop does, then calls this). A run that has finished loses
      # its waypoint (launch/run_archive.py keeps it).
  python launch/waypoint.py restore [--runs_root=/work/runs]
      # each waypoint whose run this machine lacks: the run directory made again (its batches
      # collected again: about a minute per 200K transitions); launch/long_runs.sh start does it
  python launch/waypoint.py list [--runs_root=/work/runs]   # the waypoints and how far behind they are

Paths in the archive are the runs' paths relative to the runs root, as in results/runs/.
"""
import os
import shutil
import sys

from absl import app
from absl import flags

import launch_common
from bremen_tf import fileio, waypoints  # no TensorFlow: `list` of nothing, `status` stay quick
from bremen_tf.errors import BremenError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
flags.DEFINE_string('runs_root', os.environ.get('RUNS_ROOT', '/work/runs'),
                    'The runs root (launch/long_runs.sh RUNS_ROOT).')
flags.DEFINE_string('archive', os.path.join(REPO, 'results', 'waypoints'),
                    'The waypoints directory.')
# A new machine costs the runs everything since their waypoints (2026-12-07: ~2.8 hours each,
# under the former 8-hour threshold): a session's work is worth 22 MB; see docs/full_budget.md.
flags.DEFINE_float('min_hours', 1.0,
                   'save: a run gets a waypoint once it has recorded this many hours of fits and '
                   'TRPO since its last one (or its start): a lost machine costs it at most that '
                   "plus the session under way. A waypoint with a new dynamics ensemble adds about "
                   '22 MB to the repo at HalfCheetah\'s size.', lower_bound=0.0)
flags.DEFINE_float('min_hours_same_ensemble', 0.25,
                   'save: the same for a run whose ensemble no fit has changed since its last '
                   'waypoint (it is in BC, TRPO or the next collection): git stores the ensemble '
                   'once, and the waypoint adds about 1 MB.', lower_bound=0.0)
flags.DEFINE_bool('keep_adam', False,
                  "save: keep the dynamics ensemble's Adam moments too (exact, 3x the size); by "
                  'default a restore gives the fit a fresh Adam.')
FLAGS = flags.FLAGS
ACTIONS = ('save', 'restore', 'list')


def archived(archive):
  """Relative paths (sorted) of the waypoints in `archive` (not those being written or replaced)."""
  return fileio.directories_holding(archive, waypoints.MANIFEST,
                                    skip=lambda d: d.endswith(('.writing', '.old')))


def save(runs_root, archive):
  """Saves the due waypoints; a run that cannot be saved is said and skipped (BremenError at the
  end names them)."""
  failed = []
  for run in archived(archive):  # finished here: the run archive carries it now
    if os.path.exists(os.path.join(runs_root, run, 'DONE')):
      shutil.rmtree(os.path.join(archive, run))
      print(f'removed the waypoint of {run}: it has finished (launch/run_archive.py save keeps it)')
  for run in waypoints.unfinished_deployment_runs(runs_root):
    launch_common.quiet_tensorflow()  # once, before the first use
    run_dir, waypoint = os.path.join(runs_root, run), os.path.join(archive, run)
    least, same = waypoints.due_after(run_dir, waypoint, FLAGS.min_hours,
                                      FLAGS.min_hours_same_ensemble)
    behind = waypoints.hours_unsaved(run_dir, waypoint)
    if behind < least:
      flag = 'min_hours_same_ensemble' if same else 'min_hours'
      print(f'{run}: ' + (f'its waypoint is {behind:.1f} h' if os.path.isdir(waypoint) else
                          f'no waypoint yet: {behind:.1f} h')
            + f' of fits and TRPO behind (< --{flag}={least:g}): none saved')
      continue
    try:
      manifest, added = waypoints.save(run_dir, waypoint, keep_adam=FLAGS.keep_adam)
    except BremenError as e:  # the other runs still get theirs
      print(f'error: {e}', file=sys.stderr)
      failed.append(run)
      continue
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(waypoint) for f in fs)
    print(f'saved {run}: stage {manifest["stage"]}, deployment {manifest["deployment"]}, '
          f'iteration {manifest["iteration"]} ({size / 2**20:.1f} MB in {waypoint}, '
          f'{added / 2**20:.1f} MB of it changed; commit it)')
  if failed:
    raise BremenError(f'no waypoint saved for {", ".join(failed)} (above)')


def restore(runs_root, archive):
  """Restores the waypoints whose runs this machine lacks; one that cannot be restored is said
  and skipped (BremenError at the end names them)."""
  failed = []
  for run in archived(archive):
    run_dir = os.path.join(runs_root, run)
    if os.path.exists(run_dir):
      print(f'{run}: this machine has the run already: its waypoint is not restored')
      continue
    launch_common.quiet_tensorflow()
    try:
      record = waypoints.restore(os.path.join(archive, run), run_dir,
                                 log=lambda m: print(m, flush=True))
    except BremenError as e:  # the other runs are still restored
      print(f'error: {e}', file=sys.stderr)
      failed.append(run)
      continue
    same = sum(b['identical'] for b in record['batches'])
    print(f'restored {run} at stage {record["stage"]}, deployment {record["deployment"]}, '
          f'iteration {record["iteration"]}: {same} of {len(record["batches"])} batches collected '
          f'again bit-identical; dynamics Adam {record["dynamics_adam"]}', flush=True)
  if failed:
    raise BremenError(f'not restored: {", ".join(failed)} (above)')


def list_waypoints(runs_root, archive):
  for run in archived(archive):
    launch_common.quiet_tensorflow()  # the stage times: bremen_tf.reporting imports TF
    manifest = waypoints.read_manifest(os.path.join(archive, run))
    run_dir = os.path.join(runs_root, run)
    here = 'not on this machine'
    if os.path.exists(os.path.join(run_dir, 'DONE')):
      here = 'finished here'
    elif os.path.isdir(run_dir):
      behind = (waypoints.stage_seconds(run_dir) - manifest['stage_seconds']) / 3600
      here = f'the run here is {behind:.1f} h of fits and TRPO ahead' + (
          ', with the same ensemble (a new waypoint adds ~1 MB)'
          if waypoints.same_ensemble(run_dir, os.path.join(archive, run))
          else ', with another ensemble (a new waypoint adds it: ~22 MB at HalfCheetah\'s size)')
    print(f'{run}: saved {manifest["date"]} at stage {manifest["stage"]}, deployment '
          f'{manifest["deployment"]}, iteration {manifest["iteration"]}; {here}')


def main(argv):
  if len(argv) != 2 or argv[1] not in ACTIONS:
    raise app.UsageError(f'usage: python launch/waypoint.py {"|".join(ACTIONS)} '
                         '[--runs_root=DIR] [--archive=DIR] [--min_hours=H] '
                         '[--min_hours_same_ensemble=H] [--keep_adam]')
  try:
    if argv[1] == 'save':
      if not os.path.isdir(FLAGS.runs_root):
        raise BremenError(f'{FLAGS.runs_root} is not a directory: no runs to save.')
      save(FLAGS.runs_root, FLAGS.archive)
    elif not (os.path.isdir(FLAGS.archive) and archived(FLAGS.archive)):  # say so, not silence
      print(f'no waypoints in {FLAGS.archive}: nothing to {argv[1]}')
    elif argv[1] == 'restore':
      restore(FLAGS.runs_root, FLAGS.archive)
    else:
      list_waypoints(FLAGS.runs_root, FLAGS.archive)
  except BremenError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)


if __name__ == '__main__':
  app.run(main)
