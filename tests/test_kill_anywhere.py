"""A real BREMEN run killed with SIGKILL at several instants (inside the dynamics fit, inside BC,
around the first evaluation and its save, inside a TRPO iteration), resumed after each kill, ends
bit-identical to an uninterrupted run: the same metrics rows, once each, and the same weights."""
import os
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


def command(root, data_dir):
  return [sys.executable, os.path.join('launch', 'offline.py'), '--gin_file=gin/hopper_100k.gin',
          '--gin_file=gin/smoke/offline.gin', f'--root_dir={root}',
          f'--gin_bindings=train_offline.data_dir="{data_dir}"',
          '--gin_bindings=train_offline.outer_iterations=3',
          '--gin_bindings=DynamicsEnsemble.checkpoint_seconds=0']  # a fit checkpoint every epoch


def run_until(root, data_dir, prefix):
  """Starts (or resumes) the run and SIGKILLs it right after it prints `prefix` (None: to the
  end). Returns its output."""
  proc = subprocess.Popen(command(root, data_dir), cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
  out = []
  for line in proc.stdout:
    out.append(line)
    if prefix and line.startswith(prefix):
      proc.kill()
      break
  proc.wait(timeout=300)
  return ''.join(out), proc.returncode


def test_a_run_killed_again_and_again_ends_as_an_uninterrupted_one(tmp_path, hopper_3k_data_dir):
  root, reference = (str(tmp_path / n) for n in ('run', 'reference'))
  data = hopper_3k_data_dir  # collected already (conftest)
  out, code = run_until(reference, data, None)
  assert code == 0, out
  for prefix in KILL_AT:
    out, code = run_until(root, data, prefix)
    assert code == -9, f'the run ended before "{prefix}":\n{out}'
  out, code = run_until(root, data, None)
  assert code == 0, out
  assert '(resuming)' in out

  assert [int(r['iteration']) for r in metrics(root)] == [0, 1, 2, 3]
  assert metrics(root) == metrics(reference)
  prefixes = ('policy/', 'bc_policy/', 'dynamics/', 'trainer/')
  got, expected = checkpoint_tensors(root, prefixes), checkpoint_tensors(reference, prefixes)
  assert sorted(got) == sorted(expected) and len(got) > 20
  for key in expected:
    np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
