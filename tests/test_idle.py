"""launch/idle.sh: a command at idle CPU priority (nice 19, in a session of its own whose autogroup
nice is 19 where the kernel groups CPU time by session), its exit status kept, stopped whole."""
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import LAUNCH

IDLE = os.path.join(LAUNCH, 'idle.sh')


def autogroup(text):
  """The group of a /proc/<pid>/autogroup text ("/autogroup-30 nice 19"), or None where the kernel
  does not group by session (no file, an empty one: some container kernels, CI's among them)."""
  match = re.fullmatch(r'(/autogroup-\d+) nice -?\d+', text.strip())
  return match.group(1) if match else None


def my_autogroup():
  try:
    with open('/proc/sys/kernel/sched_autogroup_enabled') as f:
      if f.read().strip() != '1':
        return None
    with open('/proc/self/autogroup') as f:
      return autogroup(f.read())
  except OSError:
    return None


def idle_command():
  out = subprocess.run([IDLE, 'sh', '-c', 'ps -o ni= -p $$; cat /proc/self/autogroup 2> /dev/null; '
                        'exit 3'], capture_output=True, text=True, timeout=30)
  assert out.returncode == 3, out.stderr
  return out.stdout.split('\n')


def test_the_command_runs_at_nice_19_and_keeps_its_status():
  assert idle_command()[0].strip() == '19'


def test_the_command_runs_in_its_own_idle_autogroup():
  mine = my_autogroup()
  if mine is None:
    pytest.skip('this kernel does not group CPU time by session (autogroup)')
  line = idle_command()[1]  # e.g. "/autogroup-30 nice 19": not this test process's group
  assert line.endswith(' nice 19') and autogroup(line) not in (None, mine), line


def test_an_autogroup_text_is_read_and_an_empty_one_is_none():
  assert autogroup('/autogroup-30 nice 19\n') == '/autogroup-30'
  assert autogroup('/autogroup-7 nice -5') == '/autogroup-7'
  assert autogroup('') is None and autogroup('garbage') is None


def test_a_term_stops_the_whole_command():
  marker = f'idle-test-{os.getpid()}'
  wrapper = subprocess.Popen([IDLE, 'sh', '-c', f'sleep 60; echo {marker}'],
                             stdout=subprocess.PIPE, text=True)
  time.sleep(1.0)
  wrapper.send_signal(signal.SIGTERM)
  out, _ = wrapper.communicate(timeout=20)
  assert wrapper.returncode != 0 and marker not in out
  deadline = time.time() + 20  # a loaded machine may take a moment to end the signalled group
  while True:
    left = subprocess.run(['pgrep', '-f', f'sleep 60; echo {marker}'], capture_output=True)
    if left.returncode == 1 or time.time() > deadline:
      break
    time.sleep(0.2)
  assert left.returncode == 1, left.stdout  # no process of the command is left


def test_no_command_is_a_usage_error():
  out = subprocess.run([IDLE], capture_output=True, text=True, timeout=30)
  assert out.returncode == 2 and 'usage: launch/idle.sh COMMAND' in out.stderr
