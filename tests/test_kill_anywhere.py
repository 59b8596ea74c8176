"""A real BREMEN run interrupted again and again ends bit-identical to an uninterrupted run: the
same metrics rows, once each, and the same weights. The interruptions, one per process: SIGKILL
inside the dynamics fit, inside BC, around the first evaluation and its save, and just after a
TRPO iteration's save; SIGTERM (a scheduler's stop: one line, exit 130); between them, resumes
refused before any work (another --seed, another gin config) that leave the run resumable."""
import csv
import json
import os
import signal
import subprocess
import sys

import numpy as np

from test_resume_dynamics_fit import checkpoint_tensors, metrics

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A kill as soon as the run prints a line starting with each of these, one kill per resume.
KILL_AT = ['[dynamics] checkpointed the fit at epoch 1',  # mid-fit, after a fit checkpoint
           '[bc] BC step 100/200',                        # inside BC (not checkpointed)
           '[eval] iteration 0',                          # between a metrics row and its save
           '[trpo] iteration 1/3']                        # just after an iteration's save


def command(root, data_dir, *extra):
  return [sys.executable, os.path.join('launch', 'offline.py'), '--gin_file=gin/hopper_100k.gin',
          '--gin_file=gin/smoke/offline.gin', f'--root_dir={root}',
          f'--gin_bindings=train_offline.data_dir="{data_dir}"',
          '--gin_bindings=train_offline.outer_iterations=3',
          # a fit checkpoint every epoch
          '--gin_bindings=DynamicsEnsemble.checkpoint_seconds=0', *extra]


def start(root, data_dir, stderr=subprocess.STDOUT):
  return subprocess.Popen(command(root, data_dir), cwd=REPO, stdout=subprocess.PIPE,
                          stderr=stderr, text=True)


def run_until(root, data_dir, prefix):
  """Starts (or resumes) the run and SIGKILLs it right after it prints `prefix` (None: to the
  end). Returns its output and exit status."""
  proc, out = start(root, data_dir), []
  for line in proc.stdout:
    out.append(line)
    if prefix and line.startswith(prefix):
      proc.kill()
      break
  rest, _ = proc.communicate(timeout=300)
  return ''.join(out) + rest, proc.returncode


def rows(root):
  with open(os.path.join(root, 'metrics.csv')) as f:
    return [int(r['iteration']) for r in csv.DictReader(f)]


def test_a_run_interrupted_again_and_again_ends_as_an_uninterrupted_one(tmp_path,
                                                                         hopper_3k_data_dir):
  root, reference = (str(tmp_path / n) for n in ('run', 'reference'))
  data = hopper_3k_data_dir  # collected already (conftest)
  out, code = run_until(reference, data, None)
  assert code == 0, out
  for prefix in KILL_AT:
    out, code = run_until(root, data, prefix)
    assert code == -9, f'the run ended before "{prefix}":\n{out}'
  assert rows(root) == [0, 1] and not os.path.exists(os.path.join(root, 'DONE'))

  # SIGTERM once the resumed run is under way (in iteration 2): one line, exit status 130.
  proc = start(root, data, stderr=subprocess.PIPE)
  for line in proc.stdout:
    if line.startswith('Resuming'):
      break
  proc.send_signal(signal.SIGTERM)
  _, stderr = proc.communicate(timeout=240)
  assert proc.returncode == 130, stderr
  assert stderr.strip().splitlines() == [
      f'interrupted: the run in {root} keeps everything up to its last checkpoint; run the same '
      'command again to resume.']
  assert rows(root) == [0, 1]

  # Resumes that would change the run are refused before any work, and change nothing.
  for extra, message in (('--seed=1', f'{root} holds an unfinished run with --seed=0, not '
                                      '--seed=1'),
                         ('--gin_bindings=ImaginedTRPO.target_kl=0.5', 'different gin config')):
    refused = subprocess.run(command(root, data, extra), cwd=REPO, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode == 2 and message in refused.stderr, refused.stderr

  out, code = run_until(root, data, None)
  assert code == 0, out
  assert '(resuming)' in out and '[dynamics] fitting' not in out
  assert '[trpo] iteration 1/3' not in out and '[trpo] iteration 2/3' in out
  with open(os.path.join(root, 'provenance.json')) as f:
    assert len(json.load(f)['sessions']) == len(KILL_AT) + 2  # the refused ones left no session

  assert rows(root) == [0, 1, 2, 3]
  assert metrics(root) == metrics(reference)
  prefixes = ('policy/', 'bc_policy/', 'dynamics/', 'trainer/')
  got, expected = checkpoint_tensors(root, prefixes), checkpoint_tensors(reference, prefixes)
  assert sorted(got) == sorted(expected) and len(got) > 20
  for key in expected:
    np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
