"""Ray's overhead in launch/sweep.py against plain subprocesses (the old pool), on one command.

  python bench/bench_sweep_overhead.py

Runs a trivial command (`python -c pass`) 4 times as a subprocess, then starts a local Ray as the
sweep does and runs it 4 times as the sweep's task (launch/sweep_tasks.run_command). Prints the
seconds per run of each, and Ray's start-up once per sweep. A real run adds the same launcher start
(Python and TensorFlow imports, ~6 s) either way.
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'launch'))
import sweep_tasks  # noqa: E402

REPEATS = 4


def main():
  command = [sys.executable, '-c', 'pass']
  t0 = time.perf_counter()
  for _ in range(REPEATS):
    subprocess.run(command, check=True)
  plain = (time.perf_counter() - t0) / REPEATS
  import ray  # pylint: disable=g-import-not-at-top
  os.environ.setdefault('RAY_worker_niceness', '0')
  t0 = time.perf_counter()
  ray.cloudpickle.register_pickle_by_value(sweep_tasks)
  ray.init(address='local', num_cpus=2, include_dashboard=False, log_to_driver=False)
  start = time.perf_counter() - t0
  task = ray.remote(sweep_tasks.run_command)
  per_task = []
  with tempfile.TemporaryDirectory() as tmp:
    for _ in range(REPEATS):
      t0 = time.perf_counter()
      ray.get(task.options(num_cpus=1).remote(command, tmp, os.path.join(tmp, 'log'), None, 'x'))
      per_task.append(time.perf_counter() - t0)
  ray.shutdown()
  print(f'plain subprocess: {plain:.3f} s per run')
  print(f'Ray start-up: {start:.1f} s per sweep')
  print('Ray task: ' + ', '.join(f'{t:.3f}' for t in per_task) + ' s per run (the first '
        'includes starting the worker process)')


if __name__ == '__main__':
  main()
