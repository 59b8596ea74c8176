"""Atomic, durable file writes: a reader never sees a half-written file, a crash never leaves one,
and a write that returned survives a power loss (file and directory are fsynced)."""
import contextlib
import json
import os
import shutil
import tempfile

import numpy as np


def fsync(path):
  """Flushes a file's data, or a directory's entries (so a rename in it is durable), to disk."""
  fd = os.open(path, os.O_RDONLY)
  try:
    os.fsync(fd)
  finally:
    os.close(fd)


@contextlib.contextmanager
def atomic_path(path):
  """Yields a temporary path beside `path`; renames it onto `path` only if the block succeeds.
  The data is on disk before the rename, and the rename is on disk when this returns."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix='.tmp-', suffix=os.path.basename(path))
  os.close(fd)
  try:
    yield tmp
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
    fsync(tmp)  # else a power loss after the rename can leave `path` empty
    os.replace(tmp, path)
    fsync(directory)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_text(path, text):
  with atomic_path(path) as tmp:
    with open(tmp, 'w') as f:
      f.write(text)


def write_json(path, obj):
  write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + '\n')


def read_json(path):
  with open(path) as f:
    return json.load(f)


def write_npz(path, **arrays):
  """np.savez to `path` atomically (the temporary name ends in .npz so numpy keeps it as is)."""
  with atomic_path(path) as tmp:
    with open(tmp, 'wb') as f:
      np.savez(f, **arrays)


def replace_directory(tmp, path):
  """Puts the finished directory `tmp` at `path`. An old `path` is renamed aside, not deleted,
  until the new one is in place, so a kill at any instant leaves a whole directory (at `path`, or
  aside as `path`.old while the write is redone)."""
  old = path.rstrip('/') + '.old'
  shutil.rmtree(old, ignore_errors=True)
  if os.path.exists(path):
    os.replace(path, old)
  os.replace(tmp, path)
  shutil.rmtree(old, ignore_errors=True)


def directories_holding(root, name, skip=lambda d: d.startswith('.')):
  """Relative paths (sorted) of the directories under `root` that hold a file `name` (finished
  runs: DONE; waypoints: their manifest). The walk does not go into such a directory, nor into a
  subdirectory whose name `skip` accepts (hidden ones by default; a copy being written), nor
  follow symbolic links."""
  found = []
  for directory, subdirs, files in os.walk(root):
    if name in files:
      found.append(os.path.relpath(directory, root))
      subdirs[:] = []
    else:
      subdirs[:] = sorted(d for d in subdirs if not skip(d))
  return sorted(found)
