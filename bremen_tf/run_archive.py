"""Finished runs outlive the machine: their light files, what every table reads, kept in the repo.

Run directories live on one machine's disk, and the machines here have been replaced (2026-12-04
and 2026-12-05), each time taking every run with them. `save` copies each finished run's small
top-level files (DONE, run.json, config.gin, provenance.json, train_state.json, metrics.csv,
deployments.csv, summary.json, ...) from a runs root into the archive, a directory of the repo, at
the same relative path; commit it and the run survives. `restore` copies archived runs back into a
runs root where they are missing, so that on a new machine the tables regenerate and the lanes and
sweeps skip them (DONE). Checkpoints, data, TensorBoard files and exported policies stay behind:
they are megabytes to gigabytes, and no table needs them from a finished run (the full-budget
policies are committed separately, under results/policies/).

  saved = save('/work/runs', 'results/runs')      # [relative path of each run newly archived]
  restored = restore('results/runs', '/work/runs')

A finished run is never overwritten, in either direction: a run already archived is compared file
by file and a difference is an error (two different runs at one path), never a silent replace.
DONE is written last, so a copy cut short is not taken for a finished run.
"""
import filecmp
import os
import shutil

from bremen_tf import fileio
from bremen_tf.errors import RunDirError

DONE_FILE = 'DONE'  # runs.DONE_FILE; runs imports TensorFlow, which this module (run by
                   # long_runs.sh before every start) does without

LIGHT_SUFFIXES = ('.json', '.csv', '.gin')


def light_files(run_dir):
  """The file names `save` keeps of `run_dir`: DONE and its top-level .json/.csv/.gin files
  (hidden and temporary files left out), sorted."""
  names = []
  for name in os.listdir(run_dir):
    path = os.path.join(run_dir, name)
    if name.startswith('.') or not os.path.isfile(path) or os.path.islink(path):
      continue
    if name == DONE_FILE or name.endswith(LIGHT_SUFFIXES):
      names.append(name)
  return sorted(names)


def finished_runs(root):
  """Relative paths (sorted) of the finished runs under `root`: directories holding DONE. The walk
  does not go into a finished run, nor follow symbolic links."""
  return fileio.directories_holding(root, DONE_FILE)


def _differing(source, dest, names):
  """The files among `names` that both directories hold with different bytes."""
  both = [n for n in names if os.path.isfile(os.path.join(dest, n))]
  _, mismatch, errors = filecmp.cmpfiles(source, dest, both, shallow=False)
  return sorted(mismatch + errors)


def _copy(source, dest, names):
  """Copies `names` from `source` into `dest`, each atomically, DONE last."""
  for name in sorted(names, key=lambda n: n == DONE_FILE):
    with fileio.atomic_path(os.path.join(dest, name)) as tmp:
      shutil.copyfile(os.path.join(source, name), tmp)


def _transfer(source_root, dest_root, what, unfinished_ok):
  """Copies each finished run of `source_root` that `dest_root` lacks; returns (copied, present):
  the relative paths copied and those already there, identical. A directory at the destination
  that is not a finished run is completed if `unfinished_ok` (an archive copy cut short), else
  refused (an unfinished run of this machine)."""
  copied, present = [], []
  for run in finished_runs(source_root):
    source, dest = os.path.join(source_root, run), os.path.join(dest_root, run)
    names = light_files(source)
    if os.path.exists(os.path.join(dest, DONE_FILE)):
      differing = _differing(source, dest, names)
      if differing:
        raise RunDirError(
            f'{dest} holds a finished run that differs from {source} ({", ".join(differing)}): '
            f'two different runs at one path. A finished run is never overwritten: move one of '
            f'them away, then {what} again.')
      # a file the run wrote after DONE (summary.json) and an earlier save missed
      _copy(source, dest, [n for n in names if not os.path.isfile(os.path.join(dest, n))])
      present.append(run)
      continue
    if not unfinished_ok and os.path.isdir(dest) and os.listdir(dest):
      raise RunDirError(
          f'{dest} holds an unfinished run and {source} a finished one at the same path: {what} '
          f'touches neither. Move {dest} away (its work repeats the finished run if both are the '
          f'same experiment), then {what} again.')
    _copy(source, dest, names)
    copied.append(run)
  return copied, present


def save(runs_root, archive):
  """Archives the finished runs of `runs_root` that `archive` lacks; returns (saved, present)."""
  if not os.path.isdir(runs_root):
    raise RunDirError(f'{runs_root} is not a directory: no runs to archive.')
  return _transfer(runs_root, archive, 'save', unfinished_ok=True)


def restore(archive, runs_root):
  """Copies the archived runs `runs_root` lacks into it; returns (restored, present). An archive
  that does not exist yet restores nothing."""
  if not os.path.isdir(archive):
    return [], []
  return _transfer(archive, runs_root, 'restore', unfinished_ok=False)
