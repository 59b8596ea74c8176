"""launch/long_runs.sh without TensorFlow: what the lanes would run, the status of each run, a stop
that waits for each run's next checkpoint, and the refusals. Run directories are synthetic (a
train_state.json, a DONE); the runs of `stop` are small Python processes that write a checkpoint."""
import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'launch',
                      'long_runs.sh')
BREMEN = 'deployment/halfcheetah_200k/seed0'
ME_TRPO = 'deployment/halfcheetah_200k+me_trpo/seed0'


def long_runs(root, *args, **env):
  # Generous: beside both long-run lanes and a second test worker, `status` once took over 120 s
  # (2026-12-07, when it still checked every coverage group's gin files with TensorFlow; now the
  # sweeps only list their runs, --list_runs: 4 s for the status test beside the lanes).
  return subprocess.run(['bash', SCRIPT, *args], capture_output=True, text=True, timeout=300,
                        env={**os.environ, 'RUNS_ROOT': str(root),
                             'WAYPOINTS': str(root / 'waypoints'), **env})


def make_run(root, name, state=None, done=False):
  path = root / 'full' / name
  path.mkdir(parents=True)
  if state is not None:
    (path / 'train_state.json').write_text(json.dumps(state))
  if done:
    (path / 'DONE').write_text('')
  return path


GUARD_CMD = ('launch/offline.py --gin_file=gin/evidence/halfcheetah_100k_data_box.gin '
             "--gin_bindings=train_offline.dynamics_cache_dir='{root}/guard/dynamics_cache'")
SHARED_GROUPS = ['d4rl', 'fetchreach', 'offline', 'ablation', 'sac', 'tables']
N_SHARED = len(SHARED_GROUPS) + 5  # with SAC, Hopper, the guard, two seeds
SHARED_INDEX = {'offline/hopper_100k/seed0': 7}


def claim(root, name, lane):
  """The shared entry `name` taken by `lane` since the last start."""
  path = root / 'lanes' / 'claims' / str(SHARED_INDEX[name])
  path.mkdir(parents=True)
  (path / 'lane').write_text(f'{lane}\n')


def test_dry_run_lists_each_lane_and_skips_finished_runs(tmp_path):
  make_run(tmp_path, BREMEN, {'stage': 'trpo_done', 'deployment': 5}, done=True)
  result = long_runs(tmp_path, 'start', DRY_RUN='1')
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  # Lane A: the offline HalfCheetah cell, then BREMEN (finished here).
  assert lines[0].startswith('lane A (tree /work/frozen/')
  assert lines[1:3] == [
      '  python launch/offline.py --gin_file=gin/halfcheetah_100k.gin --tf_threads=1 '
      f'--root_dir={tmp_path}/full/offline/halfcheetah_100k/seed0', f'  (finished) {BREMEN}']
  # Lane B: HandReach while BREMEN makes the deployment-1 fit that ME-TRPO reuses, then ME-TRPO.
  assert lines[3].startswith('lane B (tree /work/frozen/')
  assert lines[4].startswith('  launch/coverage_runs.sh handreach (tree /work/frozen/')
  assert lines[5] == (
      '  python launch/deployment.py --gin_file=gin/deployment/halfcheetah_200k.gin '
      f'--gin_file=gin/deployment/me_trpo.gin --tf_threads=1 --root_dir={tmp_path}/full/{ME_TRPO}')
  # Then the D4RL and FetchReach groups, issue 20's other groups and the tables after them (runs
  # of a few core-hours at most), SAC, offline Hopper, the guarded variant of the offline
  # HalfCheetah cell (an absolute run directory, outside full/) and the second seeds: whichever
  # lane is free first.
  assert lines[6] == 'then, whichever lane is free first:'
  for line, group in zip(lines[7:13], SHARED_GROUPS):
    assert line.startswith(f'  launch/coverage_runs.sh {group} (tree /work/frozen/'), line
  assert lines[13:] == [
      '  python launch/train_behavior.py --gin_file=gin/deployment/sac_halfcheetah.gin '
      f'--tf_threads=1 --root_dir={tmp_path}/full/sac/halfcheetah/seed0',
      '  python launch/offline.py --gin_file=gin/hopper_100k.gin --tf_threads=1 '
      f'--root_dir={tmp_path}/full/offline/hopper_100k/seed0',
      '  python ' + GUARD_CMD.format(root=tmp_path) +
      f' --tf_threads=1 --root_dir={tmp_path}/guard/halfcheetah_100k_data_box/seed0',
      '  python launch/offline.py --gin_file=gin/halfcheetah_100k.gin --seed=1 --tf_threads=1 '
      f'--root_dir={tmp_path}/full/offline/halfcheetah_100k/seed1',
      '  python launch/offline.py --gin_file=gin/hopper_100k.gin --seed=1 --tf_threads=1 '
      f'--root_dir={tmp_path}/full/offline/hopper_100k/seed1']
  assert not (tmp_path / 'lanes').exists()  # nothing started, no tree made


FAKE_PYTHON = textwrap.dedent('''\
    #!/usr/bin/env bash
    # A run that finishes at once (DONE in its --root_dir), any other command does nothing; both
    # recorded.
    dir=""
    for a in "$@"; do [[ $a == --root_dir=* ]] && dir="${a#--root_dir=}"; done
    if [[ -n $dir ]]; then
      echo "run $dir $(date +%s.%N)" >> "$RUNS_ROOT/record"
      mkdir -p "$dir" && touch "$dir/DONE"
    else
      echo "command $*" >> "$RUNS_ROOT/record"
    fi
''')
FAKE_COVERAGE = textwrap.dedent('''\
    #!/usr/bin/env bash
    # A coverage group that takes a while; records its start and end.
    echo "start $* $(date +%s.%N)" >> "$RUNS_ROOT/record"
    sleep "$(cat "$RUNS_ROOT/seconds_$1" 2> /dev/null || echo 0.3)"
    echo "end $* $(date +%s.%N)" >> "$RUNS_ROOT/record"
''')


def fake_lane_tree(root, python=FAKE_PYTHON, coverage=FAKE_COVERAGE):
  """A frozen tree whose coverage_runs.sh and a Python that fake the runs (above), the lanes'
  directories, and the environment a lane runs with."""
  frozen = root / 'tree'
  (frozen / 'launch').mkdir(parents=True)
  for path, text in ((root / 'python', python), (frozen / 'launch' / 'coverage_runs.sh', coverage)):
    path.write_text(text)
    path.chmod(0o755)
  (root / 'lanes' / 'claims').mkdir(parents=True)
  (root / 'logs').mkdir()
  return dict(FROZEN=str(frozen), COVERAGE_TREE=str(frozen), PYTHON=str(root / 'python'),
              RUNS_ROOT=str(root))


def test_free_lanes_share_the_coverage_groups_and_the_tables_wait_for_them(tmp_path):
  """Lane A's own runs and the full-budget runs are finished: each lane takes the next unclaimed shared entry, no entry
  runs twice, `tables` starts only after every group before it has ended (here the lane that
  ends the long `d4rl` group runs it, the other lane goes on to the guarded variant meanwhile),
  and a new start frees the claims again."""
  for name in (BREMEN, 'offline/halfcheetah_100k/seed0', 'sac/halfcheetah/seed0',
               'offline/hopper_100k/seed0', ME_TRPO):
    make_run(tmp_path, name, done=True)
  env = fake_lane_tree(tmp_path)
  (tmp_path / 'seconds_d4rl').write_text('3')
  lanes = [subprocess.Popen(['bash', SCRIPT, '_lane', lane], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, **env})
           for lane in 'AB']
  outputs = [lane.communicate(timeout=60)[0] for lane in lanes]
  assert [lane.returncode for lane in lanes] == [0, 0], outputs
  events = [line.split() for line in (tmp_path / 'record').read_text().splitlines()]
  starts = [e[1] for e in events if e[0] == 'start']
  assert sorted(starts) == sorted(SHARED_GROUPS + ['handreach'])  # each group once (HandReach: B's)
  time_of = {(e[0], e[1]): float(e[2]) for e in events if e[0] != 'run'}
  assert time_of['start', 'tables'] >= max(time_of['end', g] for g in SHARED_GROUPS[:-1])
  guard = tmp_path / 'guard' / 'halfcheetah_100k_data_box' / 'seed0'
  runs = [e for e in events if e[0] == 'run']
  seeds = [str(tmp_path / 'full' / 'offline' / f'{cell}_100k' / 'seed1')
           for cell in ('halfcheetah', 'hopper')]
  assert sorted(e[1] for e in runs) == sorted([str(guard)] + seeds)  # own runs: finished already
  assert float(runs[0][2]) < time_of['end', 'd4rl']  # the free lane did not wait for d4rl
  taken = {lane: sum(f'[lane {lane}]' in line and 'coverage groups' in line
                     for line in out.splitlines()) for lane, out in zip('AB', outputs)}
  assert min(taken.values()) >= 1 and sum(taken.values()) == len(SHARED_GROUPS) + 1, outputs
  status = long_runs(tmp_path, 'status', PYTHON=str(tmp_path / 'python')).stdout
  assert status.count(', finished)') == N_SHARED, status


def test_a_failed_entry_does_not_stop_its_lane(tmp_path):
  """A coverage group that fails and a run that exits without DONE: the lane says so and goes on
  with its next entry; status marks the failed group; the tables wait (not every group before
  them finished)."""
  for name in ('offline/halfcheetah_100k/seed0', BREMEN):
    (tmp_path / 'full' / name).mkdir(parents=True)  # lane A's own runs: they fail (below)
  failing_python = FAKE_PYTHON.replace('mkdir -p "$dir" && touch "$dir/DONE"',
                                       'mkdir -p "$dir"; [[ $dir == */full/* ]] && exit 1; '
                                       'touch "$dir/DONE"')
  failing_coverage = FAKE_COVERAGE.replace('echo "end $* $(date +%s.%N)"',
                                           '[[ $1 == ablation ]] && exit 3; echo "end $* $(date +%s.%N)"')
  env = fake_lane_tree(tmp_path, failing_python, failing_coverage)
  result = subprocess.run(['bash', SCRIPT, '_lane', 'A'], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **env})
  assert result.returncode == 0, result.stderr
  out = result.stdout
  assert 'offline/halfcheetah_100k/seed0 exited (1) without DONE: going on' in out
  assert f'{BREMEN} exited (1) without DONE: going on' in out
  assert 'coverage ablation failed: going on' in out and 'all done' in out
  starts = [l.split()[1] for l in (tmp_path / 'record').read_text().splitlines()
            if l.startswith('start')]
  assert starts == [g for g in SHARED_GROUPS if g != 'tables']  # the tables waited
  status = long_runs(tmp_path, 'status', PYTHON=str(tmp_path / 'python')).stdout
  assert '  coverage ablation (lane A, failed: see its log)\n' in status
  assert '  coverage fetchreach (lane A, finished)\n' in status
  assert '  coverage tables\n' in status


def test_a_start_frees_the_shared_entries_again(tmp_path):
  """Claims last one start: stale claims (all finished) are cleared, so each group runs again
  (finished runs inside are skipped by coverage_runs.sh itself). The real coverage_runs.sh, in a
  real worktree, with a Python that only records its command."""
  for name in (BREMEN, 'offline/halfcheetah_100k/seed0', 'sac/halfcheetah/seed0',
               'offline/hopper_100k/seed0', ME_TRPO, 'offline/halfcheetah_100k/seed1',
               'offline/hopper_100k/seed1'):
    make_run(tmp_path, name, done=True)
  (tmp_path / 'guard' / 'halfcheetah_100k_data_box' / 'seed0').mkdir(parents=True)
  (tmp_path / 'guard' / 'halfcheetah_100k_data_box' / 'seed0' / 'DONE').write_text('')
  claims = tmp_path / 'lanes' / 'claims'
  for i in range(N_SHARED):
    (claims / str(i)).mkdir(parents=True)
    (claims / str(i) / 'lane').write_text('A\n')
    (claims / str(i) / 'done').write_text('')
  python = tmp_path / 'python'
  python.write_text(FAKE_PYTHON)
  python.chmod(0o755)
  repo = os.path.dirname(os.path.dirname(SCRIPT))
  head = subprocess.run(['git', '-C', repo, 'rev-parse', 'HEAD'], capture_output=True, text=True,
                        check=True).stdout.strip()
  tree = tmp_path / 'tree'
  env = dict(RUNS_COMMIT=head, COVERAGE_COMMIT=head, FROZEN=str(tree), COVERAGE_TREE=str(tree),
             PYTHON=str(python))
  try:
    result = long_runs(tmp_path, 'start', **env)
    assert result.returncode == 0, result.stderr
    deadline = time.time() + 120
    while any(subprocess.run(['kill', '-0', (tmp_path / 'lanes' / f'{lane}.pid').read_text().strip()],
                             capture_output=True).returncode == 0 for lane in 'AB'):
      assert time.time() < deadline, (tmp_path / 'logs' / 'lanes.log').read_text()
      time.sleep(0.5)
    log = (tmp_path / 'logs' / 'lanes.log').read_text()
    assert log.count('all done') == 2 and 'going on' not in log, log
    record = (tmp_path / 'record').read_text()
    assert 'launch/make_d4rl_datasets.py' in record  # d4rl ran again, and the rest after it
    assert 'launch/tables.py' in record and 'launch/deployment_tables.py' in record
    assert sorted(os.listdir(claims), key=int) == [str(i) for i in range(N_SHARED)]
    assert all((claims / str(i) / 'done').exists() for i in range(N_SHARED))
    # before the lanes, the finished runs of earlier machines come back from the repo
    assert f'run_archive.py restore --runs_root={tmp_path}' in record
  finally:
    subprocess.run(['git', '-C', repo, 'worktree', 'remove', '--force', str(tree)],
                   capture_output=True)


def test_status_reads_each_run(tmp_path):
  make_run(tmp_path, 'offline/halfcheetah_100k/seed0', {'stage': 'trpo', 'iteration': 170})
  make_run(tmp_path, BREMEN, {'stage': 'trpo', 'deployment': 3, 'iteration': 17})
  make_run(tmp_path, 'offline/hopper_100k/seed0', {'stage': 'trpo_done'}, done=True)
  result = long_runs(tmp_path, 'status')
  assert result.returncode == 0, result.stderr
  assert result.stdout.splitlines()[:3] == [
      'lane A: stopped', '  offline/halfcheetah_100k/seed0: stage trpo iteration 170',
      f'  {BREMEN}: stage trpo deployment 3 iteration 17']
  assert '  offline/hopper_100k/seed0: finished' in result.stdout
  assert f'  {ME_TRPO}: not started' in result.stdout
  variant = tmp_path / 'guard' / 'halfcheetah_100k_data_box' / 'seed0'  # absolute, outside full/
  variant.mkdir(parents=True)
  (variant / 'train_state.json').write_text(json.dumps({'stage': 'trpo', 'iteration': 9}))
  assert f'  {variant}: stage trpo iteration 9' in long_runs(tmp_path, 'status').stdout


FAKE_RUN = textwrap.dedent('''
    import os, signal, sys, time
    run = sys.argv[1]
    def stop(*_):
      open(os.path.join(run, 'terminated'), 'w').write(repr(time.time()))
      sys.exit(130)
    signal.signal(signal.SIGTERM, stop)
    time.sleep(float(sys.argv[2]))  # then a checkpoint: train_state.json written last
    with open(os.path.join(run, 'train_state.json'), 'w') as f:
      f.write('{"stage": "dynamics_fit", "deployment": 1}')
    open(os.path.join(run, 'checkpointed'), 'w').write(repr(time.time()))
    time.sleep(60)
''')


def reaped(proc):
  """proc, waited for in a thread: the script checks processes with kill -0, which an unreaped
  (zombie) child would pass."""
  threading.Thread(target=proc.wait, daemon=True).start()
  return proc


def test_stop_waits_for_each_runs_next_checkpoint(tmp_path):
  """Both runs are watched side by side: each gets SIGTERM right after its own checkpoint, the
  lanes' loops first (so no next run starts)."""
  lanes = tmp_path / 'lanes'
  lanes.mkdir()
  procs, runs = [], {}
  for lane, name, delay in (('A', BREMEN, 2), ('B', ME_TRPO, 4)):
    if name in SHARED_INDEX:
      claim(tmp_path, name, lane)
    run = make_run(tmp_path, name, {'stage': 'collected', 'deployment': 1})
    os.utime(run / 'train_state.json', (time.time() - 100, time.time() - 100))
    loop = reaped(subprocess.Popen(['sleep', '120']))
    proc = reaped(subprocess.Popen([sys.executable, '-c', FAKE_RUN, str(run), str(delay)]))
    procs += [loop, proc]
    (lanes / f'{lane}.pid').write_text(f'{loop.pid}\n')
    (lanes / f'{lane}.run').write_text(f'{proc.pid} {run}\n')
    runs[lane] = (run, loop, proc)
  (tmp_path / 'logs').mkdir()
  (tmp_path / 'logs' / f'{BREMEN.replace("/", "_")}.log').write_text(
      '[dynamics] dynamics epoch 5/200: ... ETA 3h\nsome warning\n[dynamics] checkpointed\nnoise\n')
  try:
    status = long_runs(tmp_path, 'status')
    assert (f'  {BREMEN}: running, stage collected deployment 1\n'
            '      [dynamics] checkpointed\n') in status.stdout  # its latest progress line
    assert f'  {ME_TRPO}: running, stage collected deployment 1\n' in status.stdout
    assert 'lane B: running' in status.stdout
    start = time.time()
    result = long_runs(tmp_path, 'stop', STOP_WAIT_SECONDS='60')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith('stopped')
    for lane, (run, loop, proc) in runs.items():
      assert loop.wait(5) != 0  # the lane's loop was killed
      assert proc.wait(5) == 130
      checkpointed = float((run / 'checkpointed').read_text())
      assert checkpointed < float((run / 'terminated').read_text())
    # Side by side: the stop took about the later checkpoint's delay, not the sum.
    assert time.time() - start < 4 + 2 + 5 + 4
    assert long_runs(tmp_path, 'status').stdout.startswith('lane A: stopped')
  finally:
    for p in procs:
      p.kill()


def test_start_refuses_while_a_lane_runs_and_usage(tmp_path):
  lanes = tmp_path / 'lanes'
  lanes.mkdir()
  loop = subprocess.Popen(['sleep', '60'])
  try:
    (lanes / 'B.pid').write_text(f'{loop.pid}\n')
    result = long_runs(tmp_path, 'start')
    assert result.returncode == 2
    assert 'lane B is running already' in result.stderr
  finally:
    loop.kill()
  result = long_runs(tmp_path, 'restart')
  assert result.returncode == 2 and 'usage: launch/long_runs.sh start|status|stop' in result.stderr


def test_the_coverage_groups_may_run_a_newer_commit_in_their_own_tree(tmp_path):
  """The long runs stay on RUNS_COMMIT; the coverage groups (fresh runs) get COVERAGE_COMMIT's
  tree; both trees send runs/ to RUNS_ROOT/coverage; a tree at another commit is refused."""
  repo = os.path.dirname(os.path.dirname(SCRIPT))
  git = lambda *a: subprocess.run(['git', '-C', repo, *a], capture_output=True, text=True,
                                  check=True).stdout.strip()
  head, parent = git('rev-parse', 'HEAD'), git('rev-parse', 'HEAD~1')
  trees = {'FROZEN': tmp_path / 'long', 'COVERAGE_TREE': tmp_path / 'coverage'}
  env = dict(RUNS_COMMIT=parent, COVERAGE_COMMIT=head, **{k: str(v) for k, v in trees.items()})
  try:
    result = long_runs(tmp_path / 'root', 'start', DRY_RUN='1', **env)
    assert f'  launch/coverage_runs.sh d4rl (tree {trees["COVERAGE_TREE"]}, commit {head})' in (
        result.stdout.splitlines())
    result = long_runs(tmp_path / 'root', '_trees', **env)
    assert result.returncode == 0, result.stderr
    for key, commit in (('FROZEN', parent), ('COVERAGE_TREE', head)):
      tree = str(trees[key])
      assert subprocess.run(['git', '-C', tree, 'rev-parse', 'HEAD'], capture_output=True,
                            text=True).stdout.strip() == commit
      assert os.path.realpath(os.path.join(tree, 'runs')) == str(tmp_path / 'root' / 'coverage')
    result = long_runs(tmp_path / 'root', '_trees', **dict(env, COVERAGE_COMMIT=parent))
    assert result.returncode == 2 and f'is at {head}, not at {parent}' in result.stderr
    # The tables group writes results/ in its tree: still a tree the runs may use; code is not.
    with open(os.path.join(trees['COVERAGE_TREE'], 'results', 'deployment.md'), 'a') as f:
      f.write('regenerated\n')
    assert long_runs(tmp_path / 'root', '_trees', **env).returncode == 0
    with open(os.path.join(trees['COVERAGE_TREE'], 'launch', 'tables.py'), 'a') as f:
      f.write('# edited\n')
    result = long_runs(tmp_path / 'root', '_trees', **env)
    assert result.returncode == 2 and 'has edits to tracked files' in result.stderr
  finally:
    for tree in trees.values():
      subprocess.run(['git', '-C', repo, 'worktree', 'remove', '--force', str(tree)],
                     capture_output=True)


def test_status_of_a_run_that_has_logged_no_progress_line_yet(tmp_path):
  """A run just started: no train_state.json, a log without a progress line; status goes on to
  the runs after it (it stopped there once: grep's no-match status under set -e)."""
  lanes = tmp_path / 'lanes'
  lanes.mkdir()
  (tmp_path / 'logs').mkdir()
  hopper = tmp_path / 'full' / 'offline' / 'hopper_100k' / 'seed0'
  hopper.mkdir(parents=True)
  (tmp_path / 'logs' / 'offline_hopper_100k_seed0.log').write_text('Run directory: ...\n')
  proc = reaped(subprocess.Popen(['sleep', '60']))
  try:
    (lanes / 'B.run').write_text(f'{proc.pid} {hopper}\n')
    claim(tmp_path, 'offline/hopper_100k/seed0', 'B')
    result = long_runs(tmp_path, 'status')
    assert result.returncode == 0, result.stderr
    assert '  offline/hopper_100k/seed0: running, no stage saved yet (lane B)\n' in result.stdout
    assert ('  offline/halfcheetah_100k/seed1: not started\n'  # the entries after it
            '  offline/hopper_100k/seed1: not started\n') in result.stdout
  finally:
    proc.kill()


def test_status_counts_the_coverage_groups_finished_runs(tmp_path):
  """With coverage run directories here, each coverage entry says how many of its group's runs
  have finished (coverage_runs.sh PROGRESS=1, this checkout's grids) and which have started."""
  d4rl = tmp_path / 'coverage' / 'd4rl'
  (d4rl / 'd4rl-hopper_random+budget-table' / 'seed0').mkdir(parents=True)
  (d4rl / 'd4rl-hopper_random+budget-table' / 'seed0' / 'DONE').write_text('')
  (d4rl / 'd4rl-hopper_medium+budget-table' / 'seed1').mkdir(parents=True)
  (d4rl / 'd4rl-hopper_medium+budget-table' / 'seed1' / 'train_state.json').write_text('{}')
  result = long_runs(tmp_path, 'status')
  assert result.returncode == 0, result.stderr
  assert ('  coverage d4rl\n      d4rl: 1 of 24 runs finished; started, not finished: '
          'd4rl-hopper_medium+budget-table/seed1\n') in result.stdout
  assert '  coverage ablation\n      ablation: 0 of 6 runs finished\n' in result.stdout
  assert '  coverage tables\n  ' in result.stdout  # no runs of its own: nothing to count


def finish_the_later_full_budget_runs(root):
  """Lane A's offline cell and the shared full-budget runs after the coverage groups (SAC, offline
  Hopper, the guarded variant, the second seeds): finished."""
  for name in ('offline/halfcheetah_100k/seed0', 'sac/halfcheetah/seed0',
               'offline/hopper_100k/seed0', 'offline/halfcheetah_100k/seed1',
               'offline/hopper_100k/seed1'):
    make_run(root, name, done=True)
  guard = root / 'guard' / 'halfcheetah_100k_data_box' / 'seed0'
  guard.mkdir(parents=True)
  (guard / 'DONE').write_text('')


def test_the_tables_do_not_wait_for_a_deployment_run(tmp_path):
  """ME-TRPO's deployments are still running in lane B: lane A, its own runs finished, takes
  every shared entry, the tables after the coverage groups (they wait for those only), and never
  ME-TRPO (lane B's own)."""
  make_run(tmp_path, BREMEN, done=True)
  finish_the_later_full_budget_runs(tmp_path)
  env = fake_lane_tree(tmp_path)
  lane = subprocess.run(['bash', SCRIPT, '_lane', 'A'], capture_output=True, text=True, timeout=60,
                        env={**os.environ, **env})
  assert lane.returncode == 0, lane.stderr
  starts = [line.split()[1] for line in (tmp_path / 'record').read_text().splitlines()
            if line.startswith('start ')]
  assert starts == SHARED_GROUPS  # every shared group, the tables last; not HandReach (B's)
  assert not (tmp_path / 'full' / ME_TRPO / 'DONE').exists()  # lane B's: never run here


# The fake Python, but `python -c` (the lanes read train_state.json with it) is a real one.
FAKE_PYTHON_READING = FAKE_PYTHON.replace(
    'dir=""\n', f'[[ ${{1:-}} == -c ]] && exec {sys.executable} "$@"\ndir=""\n', 1)


def bremen_in_its_first_fit(root, stage='dynamics_fit'):
  """BREMEN's deployment run, running in lane A (a live pid) at `stage` of deployment 1; the other
  runs finished. Returns the live process (kill it when done)."""
  finish_the_later_full_budget_runs(root)
  bremen = make_run(root, BREMEN, {'stage': stage, 'deployment': 1})
  sleeper = subprocess.Popen(['sleep', '120'])
  (root / 'lanes').mkdir(exist_ok=True)
  (root / 'lanes' / 'A.run').write_text(f'{sleeper.pid} {bremen}\n')
  return sleeper


def lane_events(root):
  return [line.split() for line in (root / 'record').read_text().splitlines()]


def test_me_trpo_waits_for_bremens_deployment_1_fit_then_runs_before_the_shared_entries(tmp_path):
  """Lane B runs HandReach, then reaches ME-TRPO while BREMEN (running in lane A) is in its
  deployment-1 fit: it looks again until BREMEN's fit is done (and cached), runs ME-TRPO, and only
  then takes the shared entries (so issue 20's long groups never go before the comparison)."""
  sleeper = bremen_in_its_first_fit(tmp_path)
  try:
    env = fake_lane_tree(tmp_path, python=FAKE_PYTHON_READING)
    env = {**env, 'WAIT_SECONDS': '0.5'}
    lane = subprocess.Popen(['bash', SCRIPT, '_lane', 'B'], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, **env})
    deadline = time.time() + 60
    while not (tmp_path / 'record').exists() or not any(
        e[:2] == ['end', 'handreach'] for e in lane_events(tmp_path)):
      assert time.time() < deadline and lane.poll() is None
      time.sleep(0.2)
    time.sleep(1.5)  # the lane now waits for the fit
    assert lane.poll() is None
    assert [e[1] for e in lane_events(tmp_path) if e[0] == 'start'] == ['handreach']
    (tmp_path / 'full' / BREMEN / 'train_state.json').write_text(
        json.dumps({'stage': 'dynamics', 'deployment': 1}))  # the fit is done, and cached
    out = lane.communicate(timeout=30)[0]
  finally:
    sleeper.kill()
  assert lane.returncode == 0, out
  order = [e[1] if e[0] == 'start' else 'me_trpo' for e in lane_events(tmp_path)
           if e[0] in ('start', 'run')]
  assert order == ['handreach', 'me_trpo'] + SHARED_GROUPS  # ME-TRPO once, after the fit
  assert "ME-TRPO waits for BREMEN's deployment-1 fit" in out and 'all done' in out


def test_status_says_me_trpo_waits_for_bremens_fit(tmp_path):
  sleeper = bremen_in_its_first_fit(tmp_path)
  try:
    (tmp_path / 'full' / ME_TRPO).mkdir(parents=True)  # opened, nothing saved yet
    waiting = long_runs(tmp_path, 'status').stdout
    (tmp_path / 'full' / BREMEN / 'train_state.json').write_text(
        json.dumps({'stage': 'dynamics', 'deployment': 1}))  # the fit is done
    after = long_runs(tmp_path, 'status').stdout
  finally:
    sleeper.kill()
  assert f"  {ME_TRPO}: not started: waits for BREMEN's deployment-1 fit, which it reuses\n" in \
      waiting, waiting
  assert f'  {ME_TRPO}: not started\n' in after, after


@pytest.mark.parametrize('stage, bremen_running', [('dynamics', True), ('dynamics_fit', False)])
def test_me_trpo_goes_in_its_turn_once_the_fit_is_done_or_bremen_is_not_running(
    tmp_path, stage, bremen_running):
  sleeper = bremen_in_its_first_fit(tmp_path, stage)
  if not bremen_running:
    sleeper.kill()
    sleeper.wait()
  try:
    env = fake_lane_tree(tmp_path, python=FAKE_PYTHON_READING)
    lane = subprocess.run(['bash', SCRIPT, '_lane', 'B'], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **env, 'WAIT_SECONDS': '0.5'})
  finally:
    sleeper.kill()
  assert lane.returncode == 0, lane.stderr
  assert 'waits for' not in lane.stdout
  events = lane_events(tmp_path)
  order = [e[1] if e[0] == 'start' else 'me_trpo' for e in events if e[0] in ('start', 'run')]
  assert order == ['handreach', 'me_trpo'] + SHARED_GROUPS


def test_start_starts_no_lane_when_a_waypoint_cannot_be_restored(tmp_path):
  """`start` restores the waypoints of runs this machine lacks before the lanes; if one fails it
  starts no lane (the run would otherwise start from scratch beside its waypoint) and says why."""
  python = tmp_path / 'python'
  python.write_text(FAKE_PYTHON.replace(
      'dir=""\n', 'dir=""\n[[ "$*" == *"waypoint.py restore"* ]] && '
      '{ echo "command $*" >> "$RUNS_ROOT/record"; exit 2; }\n', 1))
  python.chmod(0o755)
  repo = os.path.dirname(os.path.dirname(SCRIPT))
  head = subprocess.run(['git', '-C', repo, 'rev-parse', 'HEAD'], capture_output=True, text=True,
                        check=True).stdout.strip()
  tree = tmp_path / 'tree'
  try:
    result = long_runs(tmp_path, 'start', RUNS_COMMIT=head, COVERAGE_COMMIT=head,
                       FROZEN=str(tree), COVERAGE_TREE=str(tree), PYTHON=str(python))
  finally:
    subprocess.run(['git', '-C', repo, 'worktree', 'remove', '--force', str(tree)],
                   capture_output=True)
  assert result.returncode == 2
  assert 'no lane started: a waypoint could not be restored' in result.stderr
  assert not (tmp_path / 'lanes' / 'A.pid').exists()
  record = (tmp_path / 'record').read_text()
  assert f'waypoint.py restore --runs_root={tmp_path} --archive={tmp_path}/waypoints' in record


def test_the_reports_script_lists_every_exported_policy_of_both_runs(tmp_path):
  """launch/full_budget_reports.sh (DRY_RUN): each run's exported deployments in order, BREMEN's
  then ME-TRPO's, in both episode reports; exit 2 and one line when there is none."""
  script = os.path.join(os.path.dirname(SCRIPT), 'full_budget_reports.sh')
  run = lambda: subprocess.run(['bash', script], capture_output=True, text=True, timeout=60,
                               env={**os.environ, 'RUNS_ROOT': str(tmp_path), 'DRY_RUN': '1'})
  none = run()
  assert none.returncode == 2 and none.stdout == '' and 'nothing to report' in none.stderr
  for name, deployments in ((BREMEN, 2), (ME_TRPO, 1)):
    for d in range(1, deployments + 1):
      (tmp_path / 'full' / name / 'policies' / f'deployment_{d}').mkdir(parents=True)
  done = run()
  assert done.returncode == 0, done.stderr
  policies = ' '.join(f'--policy_dir={tmp_path}/full/{name}/policies/deployment_{d}'
                      for name, d in ((BREMEN, 1), (BREMEN, 2), (ME_TRPO, 1)))
  lines = done.stdout.splitlines()
  assert lines == [
      f'+ python launch/episode_report.py {policies} --episodes=20 --tf_threads=1 '
      '--out=results/full_budget_episodes.md',
      f'+ python launch/episode_report.py {policies} --episodes=20 --noise_std=0.1 --tf_threads=1 '
      '--out=results/full_budget_episodes_noise.md',
      f'+ python launch/policy_moves.py --run_dir={tmp_path}/full/{BREMEN} --tf_threads=1 '
      '--out=results/full_budget_policy_moves.md',
      '+ python launch/full_budget.py']
  for name, deployments in ((BREMEN, 3), (ME_TRPO, 2)):  # batches: deployment 1's left out
    (tmp_path / 'full' / name / 'data').mkdir()
    for d in range(1, deployments + 1):
      (tmp_path / 'full' / name / 'data' / f'deployment_{d}.npz').write_text('')
  batches = ' '.join(f'--data={tmp_path}/full/{name}/data/deployment_{d}.npz'
                     for name, d in ((BREMEN, 2), (BREMEN, 3), (ME_TRPO, 2)))
  assert run().stdout.splitlines()[3:] == [
      f'+ python launch/batch_report.py {batches} --tf_threads=1 '
      '--out=results/full_budget_batches.md',
      '+ python launch/full_budget.py']
  (tmp_path / 'full' / BREMEN / 'metrics.csv').write_text('iteration\n')  # BREMEN has evaluated
  assert run().stdout.splitlines()[4:] == [
      f'+ python launch/attempt_match.py --run_dir={tmp_path}/full/{BREMEN} '
      '--attempt=results/full_budget_attempt2 --run_name=deployment/halfcheetah_200k/seed0 '
      '--out=results/full_budget_attempt_match.md',
      '+ python launch/full_budget.py']
