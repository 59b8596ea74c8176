"""A run directory: provenance, operative gin config, metrics CSV, TensorBoard, done-sentinel.

    run = RunDir(path)             # refuses a finished run; an unfinished one is resumed
    run.start(seed=..., flags=...) # appends this session's provenance
    run.log_metrics({...})         # one CSV row (+ TensorBoard scalars)
    run.mark_done()

A run is finished when `DONE` exists. Starting a finished run raises RunFinishedError instead of
overwriting it; opening a run another process holds raises RunBusyError.
"""
import csv
import fcntl
import os
import time

import gin
import numpy as np
import tensorflow as tf

from bremen_tf import fileio, provenance
from bremen_tf.errors import RunDirError

DONE_FILE = 'DONE'
# What a launcher writes when it opens a run, before any work (launch_common.open_run). A
# directory holding nothing else was stopped before it did anything (a bad dataset setting, a
# kill during start-up), so it starts afresh: the corrected command is not refused as "a
# different config" of a run that never ran.
DESCRIPTION_FILES = ('provenance.json', 'config.gin', 'run.json')


def format_duration(seconds):
  """'1h02m03s' for progress lines."""
  seconds = int(seconds)
  return f'{seconds // 3600}h{seconds // 60 % 60:02d}m{seconds % 60:02d}s'


def require_positive(**values):
  """Raises ValueError naming the first setting that is not > 0."""
  for name, value in values.items():
    if value <= 0:
      raise ValueError(f'{name} must be positive, got {value}.')


def seed_everything(seed):
  tf.random.set_seed(seed)
  np.random.seed(seed)


class Progress:
  """The ETA of a loop from its pace in this session (a resumed run does not count old work)."""

  def __init__(self, done, total):
    self.start, self.done_at_start, self.total = time.time(), done, total

  def eta(self, done):
    pace = (time.time() - self.start) / max(done - self.done_at_start, 1)
    return format_duration(pace * (self.total - done))


def read_metrics(run_path):
  """The rows of <run_path>/metrics.csv as dicts ([] before the first row); no lock needed."""
  path = os.path.join(run_path, 'metrics.csv')
  if not os.path.exists(path):
    return []
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


class RunFinishedError(RunDirError):
  pass


class RunBusyError(RunDirError):
  pass


class RunDir:

  def __init__(self, path):
    self.path = os.path.abspath(path)
    if os.path.exists(os.path.join(self.path, DONE_FILE)):
      raise RunFinishedError(
          f'{self.path} holds a finished run ({DONE_FILE} exists); it is never overwritten. '
          'Choose another --root_dir, or delete that directory to run again.')
    os.makedirs(self.path, exist_ok=True)
    # One process per run directory: a second launch of the same run fails instead of
    # interleaving checkpoints. The OS drops the lock when the process ends, however it ends.
    self._lock = open(os.path.join(self.path, '.lock'), 'w')
    try:
      fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      self._lock.close()
      raise RunBusyError(f'{self.path} is in use by another process; wait for it to finish or '
                         'choose another --root_dir.') from None
    self.resumed = os.path.exists(self.file('provenance.json'))
    if self.resumed and not self._did_work():
      for name in DESCRIPTION_FILES:
        if os.path.exists(self.file(name)):
          os.remove(self.file(name))
      self.resumed = False
    self._writer = None

  def _did_work(self):
    """Whether the directory holds anything beyond the description a launcher writes first."""
    return any(name not in DESCRIPTION_FILES + ('.lock',) for name in os.listdir(self.path))

  def file(self, *parts):
    return os.path.join(self.path, *parts)

  def start(self, **info):
    """Records this session (command, revision, machine, packages, `info`) and the gin config."""
    prov_path = self.file('provenance.json')
    sessions = fileio.read_json(prov_path)['sessions'] if os.path.exists(prov_path) else []
    sessions.append(provenance.record(**info))
    fileio.write_json(prov_path, {'sessions': sessions})
    fileio.write_text(self.file('config.gin'), gin.config_str())

  def started_seed(self):
    """The --seed the run was started with (None before its first session)."""
    path = self.file('provenance.json')
    sessions = fileio.read_json(path)['sessions'] if os.path.exists(path) else []
    return sessions[0].get('seed') if sessions else None

  def write_operative_config(self):
    """The gin values actually used (call after the configurables have run once)."""
    fileio.write_text(self.file('operative_config.gin'), gin.operative_config_str())

  def log_metrics(self, row, step):
    """Appends `row` to metrics.csv (header from the first row) and writes TensorBoard scalars.

    Columns are matched by name; a row with new columns rewrites the file with the extended
    header (earlier rows get blanks there), so the CSV never misaligns."""
    path = self.file('metrics.csv')
    rows = self.read_metrics()
    header = list(rows[0]) if rows else list(row)
    extra = [k for k in row if k not in header]
    if extra:
      self._write_rows(header + extra, rows + [row])
    else:
      with open(path, 'a', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=header)
        if not rows:
          writer.writeheader()
        writer.writerow(row)
    if self._writer is None:
      self._writer = tf.summary.create_file_writer(self.file('tensorboard'))
    with self._writer.as_default():
      for key, value in row.items():
        if isinstance(value, (int, float)) and key != 'step':
          tf.summary.scalar(key, value, step=step)
    self._writer.flush()

  def read_metrics(self):
    return read_metrics(self.path)

  def truncate_metrics(self, max_step):
    """Drops rows after `max_step` (rows logged after the checkpoint a resume restarts from)."""
    rows = [r for r in self.read_metrics() if int(float(r['step'])) <= max_step]
    path = self.file('metrics.csv')
    if not rows:
      if os.path.exists(path):
        os.remove(path)
      return
    self._write_rows(list(rows[0]), rows)

  def keep_metrics_rows(self, n):
    """Keeps the first `n` rows (those logged before the checkpoint a resume restarts from)."""
    rows = self.read_metrics()
    if len(rows) <= n:
      return
    if n == 0:
      os.remove(self.file('metrics.csv'))
      return
    self._write_rows(list(rows[0]), rows[:n])

  def _write_rows(self, header, rows):
    with fileio.atomic_path(self.file('metrics.csv')) as tmp:
      with open(tmp, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=header, restval='')
        writer.writeheader()
        writer.writerows(rows)

  def mark_done(self, **summary):
    fileio.write_json(self.file(DONE_FILE), summary)

  def close(self):
    """Flushes TensorBoard and releases the directory (for callers that open it more than once)."""
    if self._writer is not None:
      self._writer.close()
      self._writer = None
    self._lock.close()
