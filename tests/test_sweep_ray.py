"""launch/sweep.py on a real two-node Ray cluster on this machine (`ray start`, own ports): a grid
runs to completion; a run whose node dies is retried on another node and resumes from its
checkpoint; bad flags fail before Ray starts."""
import csv
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

import conftest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Node deaths are noticed in seconds, not the default half minute. A local test cluster needs no
# authentication token (the head and a joining node disagree on the default mode otherwise).
FAST_HEALTH = {'RAY_AUTH_MODE': 'disabled', 'RAY_worker_niceness': '0', 'RAY_health_check_initial_delay_ms': '0', 'RAY_health_check_period_ms': '1000',
               'RAY_health_check_failure_threshold': '3', 'RAY_health_check_timeout_ms': '1000'}


def free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def ray_start(*args):
  env = dict(os.environ, **FAST_HEALTH)
  env.pop('RAY_ADDRESS', None)
  subprocess.run(['ray', 'start', '--disable-usage-stats', *args], check=True, env=env,
                 capture_output=True, text=True, timeout=180)


def start_worker(address, cpus):
  """A worker node; returns its node-manager port (found again in its raylet's command line)."""
  port = free_port()
  ray_start(f'--address={address}', f'--num-cpus={cpus}', f'--node-manager-port={port}')
  return port


def kill_node(port):
  """The worker node is lost: SIGKILL to its raylet and to the Ray worker processes the raylet
  started (a run's launcher, their child, must then stop by itself: sweep_tasks.die_with_parent)."""
  out = subprocess.run(['pgrep', '-f', f'raylet.*--node_manager_port={port}'],
                       capture_output=True, text=True)
  raylets = [int(p) for p in out.stdout.split()]
  assert raylets, f'no raylet with node manager port {port}'
  workers = subprocess.run(['pgrep', '-P', ','.join(map(str, raylets))], capture_output=True,
                           text=True).stdout.split()
  for pid in raylets + [int(p) for p in workers]:
    os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope='module')
def cluster():
  """A head with no CPUs (nothing runs there) and one worker node with 2 CPUs."""
  port = free_port()
  ray_start('--head', f'--port={port}', '--num-cpus=0', '--include-dashboard=false')
  address = f'127.0.0.1:{port}'
  yield address, start_worker(address, 2)
  # Only this cluster's processes (`ray stop` would stop every Ray on the machine): all of them
  # name the head's port.
  out = subprocess.run(['pgrep', '-f', f'ray.*[:=]{port}( |$)'], capture_output=True, text=True)
  pids = out.stdout.split()
  children = subprocess.run(['pgrep', '-P', ','.join(pids)], capture_output=True, text=True)
  for pid in pids + children.stdout.split():  # their agents and workers too
    try:
      os.kill(int(pid), signal.SIGKILL)
    except ProcessLookupError:
      pass


def sweep_env():
  env = dict(os.environ, RAY_AUTH_MODE='disabled')
  env.pop('RAY_ADDRESS', None)
  return env


def sweep_command(tmp_path, address, *extra):
  return [sys.executable, 'launch/sweep.py', '--gin_files=gin/hopper_100k.gin',
          f'--runs_dir={tmp_path / "runs" / "offline"}',
          f'--gin_bindings=train_offline.data_dir="{tmp_path / "data"}"',
          f'--ray_address={address}', '--status_every=5', *extra]


def test_bad_flags_fail_before_ray_starts(tmp_path):
  for flags, message in ((['--max_concurrent=0'], '--max_concurrent=0: expected an integer >= 1'),
                         (['--cpus_per_run=0'], '--cpus_per_run=0.0: expected a number of CPUs'),
                         (['--seeds=0,x'], "--seeds=['0', 'x']: expected distinct integers"),
                         (['--algos=bremen,sac'], "--algos=['bremen', 'sac']: expected distinct "
                                                  'offline algorithms'),
                         (['--seed=1'], '--seed is a launcher flag the sweep does not pass on; use '
                                        '--seeds'),
                         (['--list_runs', '--dry_run'], 'give one of --list_runs (the run '
                                                        'directories only) and --dry_run'),
                         (['--gin_file=gin/budget/table.gin'], 'use --gin_files (cells) or '
                                                               '--extra_gin'),
                         # the configs, parsed and validated once before Ray, naming the cell
                         (['--gin_bindings=train_offline.outer_iterations = 0'],
                          'gin/hopper_100k.gin: gin binding train_offline.outer_iterations: '
                          'expected an integer > 0, found int 0'),
                         (['--gin_files=gin/hopper_100k.gin,gin/deployment/hopper_200k.gin',
                           '--dry_run'],
                          'gin/deployment/hopper_200k.gin: this is the config of a '
                          'deployment-efficient run (it binds train_deployment.')):
    out = conftest.run_launcher_noting_imports('sweep', '--gin_files=gin/hopper_100k.gin',
                                               f'--runs_dir={tmp_path}/runs', *flags)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    # Ray never imported (the gin checks import TF: the configurables live in bremen_tf)
    assert 'ray=False' in out.stdout and '[sweep ' not in out.stdout, out.stdout
    assert not (tmp_path / 'runs').exists()


def test_list_runs_prints_the_dry_run_s_run_directories_without_tensorflow(tmp_path):
  common = ['--gin_files=gin/hopper_100k.gin,gin/halfcheetah_100k.gin', '--algos=bremen,bc',
            '--seeds=0,1', '--extra_gin=gin/budget/table.gin', f'--runs_dir={tmp_path}/runs']
  listed = conftest.run_launcher_noting_imports('sweep', *common, '--list_runs')
  assert listed.returncode == 0, listed.stderr
  assert 'tensorflow=False ray=False' in listed.stdout
  dry = conftest.run_launcher_noting_imports('sweep', *common, '--dry_run')
  paths = [line.split()[0] for line in dry.stdout.splitlines() if line.startswith('/')]
  assert len(paths) == 8 and listed.stdout.splitlines()[:-1] == paths, listed.stdout
  assert not (tmp_path / 'runs').exists()


def test_a_run_whose_node_dies_is_retried_on_another_and_resumes(tmp_path, cluster):
  address, worker_port = cluster
  # One BREMEN smoke run, long enough to lose its node in the middle.
  cmd = sweep_command(tmp_path, address, '--algos=bremen', '--seeds=0',
                      '--extra_gin=gin/smoke/offline.gin',
                      '--gin_bindings=train_offline.outer_iterations=8')
  proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, env=sweep_env())
  name = 'hopper_100k+smoke-offline'
  log = tmp_path / 'runs' / 'sweep_logs' / f'{name}_seed0.log'
  deadline = time.time() + 400
  while time.time() < deadline:  # wait until the run has checkpointed its first iteration
    if log.exists() and '[trpo] iteration 1/8' in log.read_text():
      break
    assert proc.poll() is None, proc.stdout.read()
    time.sleep(1)
  else:
    pytest.fail('the run did not reach its first TRPO iteration')
  # The only node with CPUs dies; a new one joins, and the run must move there.
  attempts = log.read_text().count('=== sweep attempt')
  kill_node(worker_port)
  start_worker(address, 2)
  out, _ = proc.communicate(timeout=600)
  assert proc.returncode == 0, out
  assert f'retrying {name}/seed0 on ' in out and '(attempt 2)' in out, out
  text = log.read_text()
  assert text.count('=== sweep attempt') == attempts + 1
  assert '(resuming)' in text and 'Resuming from checkpoints/save-' in text
  with open(tmp_path / 'runs' / 'offline' / name / 'seed0' / 'metrics.csv') as f:
    assert [int(r['iteration']) for r in csv.DictReader(f)] == list(range(9))

  # Finished runs are skipped: the same command starts nothing.
  again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300,
                         env=sweep_env())
  assert again.returncode == 0 and '1 finished already, 0 to run' in again.stdout
