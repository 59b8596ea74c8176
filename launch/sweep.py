"""Runs a grid of runs (gin files x algorithms x seeds), each as its own launch/offline.py (or,
with --kind=deployment, launch/deployment.py) process, several at once.

  python launch/sweep.py --gin_files=gin/halfcheetah_100k.gin,gin/hopper_100k.gin \
      --algos=bremen,bc,bcq,brac,me_trpo --seeds=0,1,2 --extra_gin=gin/budget/table.gin

  python launch/sweep.py --kind=deployment --gin_files=gin/deployment/halfcheetah_200k.gin \
      --algos=bremen,me_trpo,brac --seeds=0,1

--gin_bindings are passed to every run (they are part of its config, so keep them the same when
resuming).
Finished runs (DONE in the run directory) are skipped, unfinished ones resume where they stopped,
and runs in use by another process are reported as busy. Each run writes its output to
<runs_dir>/../sweep_logs/<run name>_seed<seed>.log. By default as many runs go at once as the
machine has cores, each with one TF thread. Stopping the sweep (Ctrl-C) stops its runs; start the
same command again to continue. The progress block lists one line per run.
"""
import os
import signal
import subprocess
import sys
import time

from absl import app, flags

import launch_common

# Per kind of run: its launcher and the gin file that selects each algorithm.
KINDS = {
    'offline': ('offline.py', {'bremen': None, 'me_trpo': 'gin/algos/me_trpo.gin',
                               'bc': 'gin/algos/bc.gin', 'bcq': 'gin/algos/bcq.gin',
                               'brac': 'gin/algos/brac.gin'}),
    'deployment': ('deployment.py', {'bremen': None, 'me_trpo': 'gin/deployment/me_trpo.gin',
                                     'bcq': 'gin/deployment/bcq.gin',
                                     'brac': 'gin/deployment/brac.gin',
                                     'alpha_0.1': 'gin/deployment/ablation/alpha_0.1.gin',
                                     'alpha_1.0': 'gin/deployment/ablation/alpha_1.0.gin'}),
}

flags.DEFINE_enum('kind', 'offline', list(KINDS), 'launch/offline.py or launch/deployment.py runs.')
flags.DEFINE_list('gin_files', None, 'Experiment gin files, e.g. gin/hopper_100k.gin or '
                  'gin/deployment/halfcheetah_200k.gin.')
flags.DEFINE_list('algos', ['bremen'], 'Algorithms: offline ' + ', '.join(KINDS['offline'][1])
                  + '; deployment ' + ', '.join(KINDS['deployment'][1]) + '.')
flags.DEFINE_list('seeds', ['0', '1', '2'], 'Seeds.')
flags.DEFINE_multi_string('extra_gin', [], 'Gin files added after the algorithm (e.g. a budget).')
flags.DEFINE_integer('parallel', os.cpu_count() or 1, 'Runs at once.')
flags.DEFINE_integer('threads_per_run', 1, 'TF threads per run.')
flags.DEFINE_string('runs_dir', None, 'Parent of the run directories (default runs/<kind>).')
flags.DEFINE_integer('status_every', 60, 'Seconds between progress blocks (also on any change).')
flags.DEFINE_bool('dry_run', False, 'Print the runs and their commands, start nothing.')
FLAGS = flags.FLAGS


class Run:

  def __init__(self, gin_files, seed, runs_dir):
    self.gin_files, self.seed = gin_files, seed
    # The same naming as launch/offline.py's default, under --runs_dir.
    default = launch_common.default_root_dir(gin_files, seed, kind=FLAGS.kind)
    self.name = os.path.basename(os.path.dirname(default))
    self.path = os.path.join(runs_dir, self.name, f'seed{seed}')
    self.log_path = os.path.join(os.path.dirname(os.path.abspath(runs_dir)), 'sweep_logs',
                                 f'{self.name}_seed{seed}.log')
    self.proc, self.status, self.started = None, 'waiting', None

  def command(self, threads):
    script = os.path.join(launch_common.REPO_ROOT, 'launch', KINDS[FLAGS.kind][0])
    return ([sys.executable, script, f'--root_dir={self.path}', f'--seed={self.seed}',
             f'--tf_threads={threads}'] + [f'--gin_file={g}' for g in self.gin_files]
            + [f'--gin_bindings={b}' for b in FLAGS.gin_bindings])

  def last_line(self):
    try:
      with open(self.log_path, 'rb') as f:
        f.seek(max(0, os.path.getsize(self.log_path) - 4096))
        lines = [l for l in f.read().decode(errors='replace').splitlines() if l.strip()]
      return lines[-1][:150] if lines else ''
    except OSError:
      return ''


def build_grid():
  algo_gin = KINDS[FLAGS.kind][1]
  runs_dir = FLAGS.runs_dir or os.path.join('runs', FLAGS.kind)
  for algo in FLAGS.algos:
    if algo not in algo_gin:
      sys.exit(f'error: unknown {FLAGS.kind} algorithm {algo!r}; choose from {sorted(algo_gin)}.')
  gin_files = FLAGS.gin_files or sys.exit('error: give --gin_files, e.g. gin/hopper_100k.gin')
  for path in gin_files + FLAGS.extra_gin + [g for a in FLAGS.algos if (g := algo_gin[a])]:
    full = path if os.path.isabs(path) else os.path.join(launch_common.REPO_ROOT, path)
    if not os.path.exists(full):
      sys.exit(f'error: gin file {path} does not exist.')
  runs = []
  # Seed-major, so each pass over the seeds completes a table; within a seed algorithm-major, so
  # BREMEN's dynamics fits are cached before ME-TRPO (listed last) asks for them.
  for seed in FLAGS.seeds:
    for algo in FLAGS.algos:
      for cell in gin_files:
        files = [cell] + ([algo_gin[algo]] if algo_gin[algo] else []) + FLAGS.extra_gin
        files = [f if os.path.isabs(f) else os.path.join(launch_common.REPO_ROOT, f)
                 for f in files]
        runs.append(Run(files, int(seed), runs_dir))
  return runs


def print_status(runs, t0):
  counts = {s: sum(r.status == s for r in runs) for s in ('done', 'running', 'waiting', 'failed',
                                                          'busy')}
  print(f'--- {time.strftime("%H:%M:%S")} sweep {time.time() - t0:.0f}s: ' +
        ', '.join(f'{v} {k}' for k, v in counts.items() if v), flush=True)
  for r in runs:
    extra = ''
    if r.status == 'running':
      extra = f'{time.time() - r.started:6.0f}s  {r.last_line()}'
    elif r.status in ('failed', 'busy'):
      extra = f'see {r.log_path}'
    print(f'  {r.status:8s} {r.name}/seed{r.seed}  {extra}', flush=True)


def main(argv):
  del argv
  runs = build_grid()
  if FLAGS.dry_run:
    for r in runs:
      print(r.path, '\n   ', ' '.join(r.command(FLAGS.threads_per_run)))
    return
  for r in runs:
    if os.path.exists(os.path.join(r.path, 'DONE')):
      r.status = 'done'
  env = dict(os.environ, PYTHONPATH=launch_common.REPO_ROOT + os.pathsep +
             os.environ.get('PYTHONPATH', ''))  # the children use this checkout's bremen_tf
  stopping = []
  signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
  t0, last_print = time.time(), 0.0
  try:
    while not stopping:
      changed = False
      for r in runs:
        if r.status == 'running' and r.proc.poll() is not None:
          finished = os.path.exists(os.path.join(r.path, 'DONE'))
          busy = 'in use by another process' in r.last_line()
          r.status = 'done' if finished else ('busy' if busy else 'failed')
          r.log_file.close()
          changed = True
      for r in runs:
        if sum(x.status == 'running' for x in runs) >= FLAGS.parallel:
          break
        if r.status == 'waiting':
          os.makedirs(os.path.dirname(r.log_path), exist_ok=True)
          r.log_file = open(r.log_path, 'a')
          r.log_file.write(f'\n=== sweep start {time.strftime("%Y-%m-%d %H:%M:%S")}: '
                           f'{" ".join(r.command(FLAGS.threads_per_run))}\n')
          r.log_file.flush()
          r.proc = subprocess.Popen(r.command(FLAGS.threads_per_run), stdout=r.log_file,
                                    stderr=subprocess.STDOUT, env=env)
          r.status, r.started, changed = 'running', time.time(), True
      if changed or time.time() - last_print >= FLAGS.status_every:
        print_status(runs, t0)
        last_print = time.time()
      if not any(r.status in ('running', 'waiting') for r in runs):
        break
      time.sleep(2)
  except KeyboardInterrupt:
    stopping.append(True)
  if stopping:
    for r in runs:
      if r.status == 'running':
        r.proc.send_signal(signal.SIGINT)  # runs resume from their last checkpoint
    for r in runs:
      if r.status == 'running':
        r.proc.wait()
    print('Stopped; start the same command again to continue.', flush=True)
    sys.exit(1)
  print_status(runs, t0)
  failed = [r for r in runs if r.status in ('failed', 'busy')]
  sys.exit(1 if failed else 0)


if __name__ == '__main__':
  app.run(main)
