"""Checkpoint files that a crash cannot corrupt (used by RunState.save).

A save writes a checkpoint under a new name and fsyncs it, then names it in the run's state file,
then deletes every other checkpoint. Nothing is ever written over the checkpoint the state file
names, so a kill between any two steps leaves that file naming a complete checkpoint; what the
kill leaves behind is unnamed, and the next save deletes it.
"""
import glob
import os
import shutil

from bremen_tf import fileio

INDEX = 'checkpoint'  # the index file tf.train.latest_checkpoint reads


def named_in(run_dir, state):
  """The checkpoint a run's state file names, in `run_dir`/checkpoints (None if it names none).
  States hold it relative to the run directory, so a moved or copied run uses its own files; an
  older state's absolute path is mapped to the same file name here."""
  if 'checkpoint' not in state:
    return None
  return os.path.join(run_dir, 'checkpoints', os.path.basename(state['checkpoint']))


def write(ckpt, prefix):
  """ckpt.write(prefix) with its files and their directory fsynced; returns the path written."""
  directory = os.path.dirname(prefix)
  os.makedirs(directory, exist_ok=True)
  ckpt.save_counter  # pylint: disable=pointless-statement
  # ^ creates it, so the checkpoint holds it: restore() creates it and then
  #   assert_existing_objects_matched() wants it matched (CheckpointManager's saves held it).
  path = ckpt.write(prefix)
  for name in glob.glob(glob.escape(path) + '.*'):
    fileio.fsync(name)
  fileio.fsync(directory)
  return path


def mark_latest(path):
  """Points the index file (a CheckpointState text proto) at `path`, for tools that use
  tf.train.latest_checkpoint; RunState itself reads only train_state.json."""
  name = os.path.basename(path)  # relative, as CheckpointManager writes it
  fileio.write_text(os.path.join(os.path.dirname(path), INDEX),
                    f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n')


def remove_all_but(directory, keep):
  """Deletes everything in `directory` but the index and checkpoint `keep`'s files (None: keeps
  no checkpoint): older checkpoints, and whatever a killed save left."""
  if not os.path.isdir(directory):
    return
  kept = os.path.basename(keep) + '.' if keep else None
  for name in os.listdir(directory):
    if name == INDEX or (kept and name.startswith(kept)):
      continue
    path = os.path.join(directory, name)
    if os.path.isdir(path):
      shutil.rmtree(path)
    else:
      os.remove(path)
