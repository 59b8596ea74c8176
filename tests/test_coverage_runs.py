"""launch/coverage_runs.sh with a Python that only records its commands: the D4RL datasets are
made unless every run of the grid has finished (a new machine that restored them from
results/runs/ has no use for 1-1.5 core-hours of datasets), and PROGRESS=1 counts each group's
finished runs."""
import os
import subprocess
import textwrap

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'launch',
                      'coverage_runs.sh')
FAKE_PYTHON = textwrap.dedent('''\
    #!/usr/bin/env bash
    # The sweep lists the runs of $RUNS_LISTED; every command is recorded.
    echo "$*" >> "$RECORD"
    if [[ " $* " == *" --dry_run "* ]]; then
      # as launch/sweep.py prints them: the run, then its command with the absolute interpreter
      for run in $RUNS_LISTED; do echo "$run "; echo "    /usr/bin/python3 launch/offline.py --root_dir=$run"; done
    elif [[ " $* " == *" --list_runs "* ]]; then
      for run in $RUNS_LISTED; do echo "$run"; done
    fi
''')


def coverage(tmp_path, runs, *args, **env):
  python = tmp_path / 'python'
  python.write_text(FAKE_PYTHON)
  python.chmod(0o755)
  record = tmp_path / 'record'
  result = subprocess.run(['bash', SCRIPT, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, 'PYTHON': str(python), 'RECORD': str(record),
                               'RUNS_LISTED': ' '.join(str(r) for r in runs), **env})
  assert result.returncode == 0, result.stderr
  return result.stdout, record.read_text() if record.exists() else ''


def d4rl_group(tmp_path, runs):
  return coverage(tmp_path, runs, 'd4rl')


def test_the_datasets_are_made_unless_every_d4rl_run_has_finished(tmp_path):
  runs = [tmp_path / 'd4rl' / name / 'seed0' for name in ('a', 'b')]
  for run in runs:
    run.mkdir(parents=True)
  (runs[0] / 'DONE').write_text('')
  out, record = d4rl_group(tmp_path, runs)  # one unfinished run: it needs the datasets
  assert 'launch/make_d4rl_datasets.py' in record and 'not needed' not in out
  (runs[1] / 'DONE').write_text('')
  (tmp_path / 'record').unlink()
  out, record = d4rl_group(tmp_path, runs)
  assert 'launch/make_d4rl_datasets.py' not in record
  assert '[coverage] every D4RL run has finished: the datasets are not needed' in out
  # the grid still goes to the sweep (which skips finished runs) and then the table
  assert [line.split()[0] for line in record.splitlines()] == [
      'launch/sweep.py', 'launch/sweep.py', 'launch/d4rl_table.py']
  (tmp_path / 'record').unlink()
  out, record = d4rl_group(tmp_path, [])  # a dry run that lists nothing proves nothing
  assert 'launch/make_d4rl_datasets.py' in record


def test_progress_counts_each_groups_finished_and_started_runs(tmp_path):
  runs = [tmp_path / 'd4rl' / name / 'seed0' for name in ('a', 'b', 'c')]
  for run in runs:
    run.mkdir(parents=True)
  (runs[0] / 'DONE').write_text('')
  (runs[1] / 'train_state.json').write_text('{}')
  out, record = coverage(tmp_path, runs, 'd4rl', 'tables', PROGRESS='1')
  assert out.splitlines() == ['d4rl: 1 of 3 runs finished; started, not finished: b/seed0',
                              'tables: no runs of its own']
  assert 'make_d4rl_datasets' not in record and 'd4rl_table' not in record  # nothing ran
  # the sweep was asked where its runs live (COVERAGE_RUNS, default runs/ of the checkout), for
  # the list only: no gin check, no TensorFlow
  assert '--runs_dir=runs/d4rl' in record and '--list_runs' in record and '--dry_run' not in record
  _, record = coverage(tmp_path, runs, 'd4rl', PROGRESS='1', COVERAGE_RUNS='/elsewhere')
  assert '--runs_dir=/elsewhere/d4rl' in record
  sac = tmp_path / 'deployment_sac' / 'halfcheetah' / 'seed0'  # a group without a sweep
  out, _ = coverage(tmp_path, runs, 'sac', PROGRESS='1', COVERAGE_RUNS=str(tmp_path))
  assert out == 'sac: 0 of 1 runs finished\n'
  sac.mkdir(parents=True)
  (sac / 'DONE').write_text('')
  out, _ = coverage(tmp_path, runs, 'sac', PROGRESS='1', COVERAGE_RUNS=str(tmp_path))
  assert out == 'sac: 1 of 1 runs finished\n'
