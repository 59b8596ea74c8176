"""What a sweep's Ray task does on a worker (launch/sweep.py): one launcher command, run to its end.

Kept apart from sweep.py so that it imports nothing but the standard library: Ray ships this
function to every worker, which needs only the Python and the checkout the command names.
"""
import ctypes
import datetime
import fcntl
import os
import signal
import socket
import subprocess
import time

ATTEMPT_MARK = '=== sweep attempt'  # a line in the run's log per attempt (counted by sweep.py)
PR_SET_PDEATHSIG = 1


def die_with_parent():
  """A preexec_fn: the launcher gets SIGTERM when the Ray worker that started it dies (its node
  was lost), so that the run directory is free for the retry. libc is loaded here, in the
  parent; the forked child only calls prctl."""
  prctl = ctypes.CDLL(None, use_errno=True).prctl
  return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_until_free(run_dir, seconds):
  """Waits (up to `seconds`) until no process holds the run directory's lock (runs.RunDir):
  a retry can start before the launcher of the lost attempt has finished exiting."""
  lock_path = os.path.join(run_dir, '.lock')
  deadline = time.time() + seconds
  while os.path.exists(lock_path) and time.time() < deadline:
    with open(lock_path, 'a') as f:
      try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(f, fcntl.LOCK_UN)
        return
      except BlockingIOError:
        pass
    time.sleep(2)


def previous_attempts(log_path, sweep_id):
  try:
    with open(log_path, errors='replace') as f:
      return sum(line.startswith(f'{ATTEMPT_MARK} {sweep_id} ') for line in f)
  except OSError:
    return 0


def run_command(command, run_dir, log_path, env, sweep_id):
  """Runs `command` with its output appended to `log_path`; returns (exit status, host).

  Cancelled (the sweep stopped: Ray raises KeyboardInterrupt here), it stops the launcher with
  SIGTERM, which saves nothing new and exits at once (the run resumes from its last checkpoint),
  waits for it, and re-raises."""
  host = socket.gethostname()
  try:
    import ray  # pylint: disable=g-import-not-at-top (present on every Ray worker)
    node = ray.get_runtime_context().get_node_id()[:8]
  except Exception:  # pylint: disable=broad-except
    node = '?'
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  if previous_attempts(log_path, sweep_id):  # a retry: the lost attempt may still be exiting
    wait_until_free(run_dir, 300)
  with open(log_path, 'a') as log:
    now = datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S')
    log.write(f'\n{ATTEMPT_MARK} {sweep_id} {now} on {host} (node {node}): '
              f'{" ".join(command)}\n')
    log.flush()
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                            preexec_fn=die_with_parent())
    try:
      return proc.wait(), host
    except KeyboardInterrupt:
      proc.send_signal(signal.SIGTERM)
      proc.wait()
      raise
