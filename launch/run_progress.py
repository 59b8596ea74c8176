"""How far each run directory got and, for BREMEN/ME-TRPO runs, about how long it still needs at
the speeds it measured itself (bremen_tf/reporting/progress.py). Reads only; safe beside running
runs. `launch/long_runs.sh status` calls it.

  python launch/run_progress.py /work/runs/full/deployment/halfcheetah_200k/seed0 [DIR ...]

One line per directory: `<dir>: <progress>[; <estimate>]`. A run that has timed no outer iteration
yet (ME-TRPO during its first fit) borrows the iteration time of another directory listed with the
same env, imagined batch and updates per iteration, and says so.
"""
import os

import launch_common
launch_common.quiet_tensorflow()  # before anything imports TF
from bremen_tf.reporting import progress, run_reader


def line(path, others=()):
  """The line of `path`; a run that has timed no outer iteration yet borrows the iteration time
  of the first of `others` (directories) with the same TRPO shape that has."""
  if not os.path.isdir(path):
    return f'{path}: not started'
  description = run_reader.description(path)
  if description is None:
    return f'{path}: not started (no config yet)'
  found = progress.progress(path, description)
  estimate = progress.estimate(path, description, others)
  if estimate:
    return f'{path}: {found["text"]}; {estimate["text"]}'
  if found['status'] == 'in progress' and description.get('algorithm') == 'bremen':
    return f'{path}: {found["text"]}; no estimate until it has timed a fit and an outer iteration'
  return f'{path}: {found["text"]}'


def main(argv):
  if len(argv) < 2:
    raise SystemExit('usage: python launch/run_progress.py DIR [DIR ...]')
  paths = [p.rstrip('/') for p in argv[1:]]
  for path in paths:
    print(line(path, paths), flush=True)


if __name__ == '__main__':
  launch_common.run(main)
