"""Runs a grid of runs (gin files x algorithms x seeds) as Ray tasks, on this machine or a cluster.

  python launch/sweep.py --gin_files=gin/halfcheetah_100k.gin,gin/hopper_100k.gin \
      --algos=bremen,bc,bcq,brac,me_trpo --seeds=0,1,2 --extra_gin=gin/budget/table.gin

  python launch/sweep.py --kind=deployment --gin_files=gin/deployment/halfcheetah_200k.gin \
      --algos=bremen,me_trpo,brac --seeds=0,1 --ray_address=auto     # on a running Ray cluster

Each run is the same resumable command as launching it by hand (launch/offline.py, or with
--kind=deployment launch/deployment.py), executed by a Ray task that holds --cpus_per_run CPUs and
gives the run --threads_per_run TF threads. Without --ray_address (or RAY_ADDRESS) the sweep starts
a Ray of its own on this machine with --num_cpus CPUs (default: all) and stops it at the end, so
there is nothing to set up; --max_concurrent caps the runs at once.

Every run's config (its gin files and --gin_bindings) is parsed and validated before Ray starts,
as its launcher would, so a bad setting fails once, naming the cell, not in every run.
Finished runs (DONE in the run directory) are skipped and unfinished ones resume where they
stopped. A run whose node dies is retried on another node (--max_retries) and resumes from its last
checkpoint; a run held by a live process is reported busy; a run that fails (a bad setting: exit
status 2, or a crash) is not retried. One line per run when it starts, is retried, ends or fails,
a progress block every --status_every seconds, and a summary at the end. Ctrl-C or SIGTERM cancels
the runs (each stops at once and keeps its last checkpoint); the same command continues.

On a cluster the checkout (at the same path) and --runs_dir must be on storage that every node
sees (NFS or similar): each run writes its directory and its log (<runs_dir>/../sweep_logs/) there.
The sweep checks at the start that every node can write --runs_dir and that this machine sees what
each node wrote, and stops with an error otherwise.
"""
import os
import signal
import socket
import sys
import time
import uuid

from absl import flags

import launch_common
import sweep_tasks
from bremen_tf import errors
from bremen_tf.sweep_algos import SWEEP_ALGOS  # no TF: the flags are checked before TF's start-up

# Per kind of run: its launcher; the algorithms and the gin file selecting each: the registry's.
LAUNCHERS = {'offline': 'offline.py', 'deployment': 'deployment.py'}
EXIT_FAILED, EXIT_INTERRUPTED = 1, launch_common.EXIT_INTERRUPTED

flags.DEFINE_enum('kind', 'offline', list(LAUNCHERS), 'launch/offline.py or launch/deployment.py runs.')
flags.DEFINE_list('gin_files', None, 'Experiment gin files, e.g. gin/hopper_100k.gin or '
                  'gin/deployment/halfcheetah_200k.gin.')
flags.DEFINE_list('algos', ['bremen'], 'Algorithms: offline ' + ', '.join(SWEEP_ALGOS['offline'])
                  + '; deployment ' + ', '.join(SWEEP_ALGOS['deployment']) + '.')
flags.DEFINE_list('seeds', ['0', '1', '2'], 'Seeds (integers >= 0).')
flags.DEFINE_multi_string('extra_gin', [], 'Gin files added after the algorithm (e.g. a budget).')
flags.DEFINE_string('runs_dir', None, 'Parent of the run directories (default runs/<kind>); on a '
                    'cluster, on storage every node sees.')
flags.DEFINE_string('ray_address', None, 'A running Ray cluster to join ("auto" or HOST:PORT; '
                    'default: $RAY_ADDRESS, else a Ray started here for this sweep).')
flags.DEFINE_integer('num_cpus', None, 'CPUs of the Ray this sweep starts (default: all of this '
                     "machine's); not used with --ray_address.")
flags.DEFINE_float('cpus_per_run', 1.0, 'CPUs Ray reserves for each run.')
flags.DEFINE_integer('threads_per_run', 1, 'TF threads of each run (--tf_threads).')
flags.DEFINE_integer('max_concurrent', None, 'At most this many runs at once (default: as many as '
                     'the CPUs allow).')
flags.DEFINE_integer('max_retries', 3, 'Retries of a run whose node dies (not of a run that fails).')
flags.DEFINE_integer('status_every', 60, 'Seconds between progress blocks.')
flags.DEFINE_bool('dry_run', False, 'Print the runs and their commands, start nothing.')
flags.DEFINE_bool('list_runs', False, 'Print the run directories only, one per line, start nothing '
                  'and check no gin file: quick (no TensorFlow), for scripts that count runs.')
FLAGS = flags.FLAGS


class Run:
  """One cell x algorithm x seed: its directory, log, command and what the sweep knows of it."""

  def __init__(self, gin_files, seed, runs_dir):
    self.gin_files, self.seed = gin_files, seed
    # The same naming as launch/offline.py's default, under --runs_dir.
    default = launch_common.default_root_dir(gin_files, seed, kind=FLAGS.kind)
    self.name = f'{os.path.basename(os.path.dirname(default))}/seed{seed}'
    self.path = os.path.join(runs_dir, self.name)
    self.log_path = os.path.join(os.path.dirname(os.path.abspath(runs_dir)), 'sweep_logs',
                                 self.name.replace('/', '_') + '.log')
    self.status, self.detail, self.attempts, self.host = 'waiting', '', 0, None
    self.started = None
    self._log_offset, self.last_line = None, ''

  def command(self):
    script = os.path.join(launch_common.REPO_ROOT, 'launch', LAUNCHERS[FLAGS.kind])
    return ([sys.executable, script, f'--root_dir={self.path}', f'--seed={self.seed}',
             f'--tf_threads={FLAGS.threads_per_run}'] + [f'--gin_file={g}' for g in self.gin_files]
            + [f'--gin_bindings={b}' for b in FLAGS.gin_bindings])

  def finished(self):
    return os.path.exists(os.path.join(self.path, run_dirs().DONE_FILE))

  def read_log(self, sweep_id):
    """Scans what the log gained since the last call: this sweep's attempts (count, host) and
    the last line. Returns True if a new attempt started."""
    if self._log_offset is None:  # what was there before this sweep is not ours
      self._log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
    try:
      with open(self.log_path, 'rb') as f:
        f.seek(self._log_offset)
        new = f.read()
    except OSError:
      return False
    self._log_offset += len(new)
    attempts = self.attempts
    for line in new.decode(errors='replace').splitlines():
      if line.startswith(f'{sweep_tasks.ATTEMPT_MARK} {sweep_id} '):
        self.attempts += 1
        self.host = line.split(' on ', 1)[1].split('):', 1)[0] + ')'  # 'host (node <id>)' 
      elif line.strip():
        self.last_line = line.strip()[:150]
    return self.attempts > attempts


def validate_flags():
  """Every flag checked before Ray starts: ConfigError naming it otherwise."""
  def bad(flag, expected):
    raise errors.ConfigError(f'--{flag}={getattr(FLAGS, flag)!r}: expected {expected}.')
  if not FLAGS.gin_files:
    raise errors.ConfigError('give --gin_files, e.g. --gin_files=gin/hopper_100k.gin')
  if FLAGS.list_runs and FLAGS.dry_run:
    raise errors.ConfigError('give one of --list_runs (the run directories only) and --dry_run '
                             '(the configs checked, and each run\'s command).')
  if not FLAGS.cpus_per_run > 0:
    bad('cpus_per_run', 'a number of CPUs > 0')
  for flag, low in (('threads_per_run', 1), ('max_concurrent', 1), ('max_retries', 0),
                    ('num_cpus', 1), ('status_every', 1)):
    value = getattr(FLAGS, flag)
    if value is not None and value < low:
      bad(flag, f'an integer >= {low}')
  if FLAGS.num_cpus is not None and FLAGS.num_cpus < FLAGS.cpus_per_run:
    bad('num_cpus', f'at least --cpus_per_run={FLAGS.cpus_per_run:g}')
  try:
    seeds = [int(s) for s in FLAGS.seeds]
  except ValueError:
    seeds = [-1]
  if not seeds or min(seeds) < 0 or len(set(seeds)) < len(seeds):
    bad('seeds', 'distinct integers >= 0, e.g. 0,1,2')
  algo_gin = SWEEP_ALGOS[FLAGS.kind]
  unknown = [a for a in FLAGS.algos if a not in algo_gin]
  if unknown or not FLAGS.algos or len(set(FLAGS.algos)) < len(FLAGS.algos):
    bad('algos', f'distinct {FLAGS.kind} algorithms from {", ".join(algo_gin)}')
  for path in FLAGS.gin_files + FLAGS.extra_gin:
    if not os.path.exists(absolute(path)):
      raise errors.ConfigError(f'gin file {path} does not exist.')
  # The launchers' own flags are defined here too (launch_common), but each run gets its seed,
  # threads and gin files from the sweep's: refuse them rather than ignore them.
  for flag, instead in (('seed', '--seeds'), ('tf_threads', '--threads_per_run'),
                        ('gin_file', '--gin_files (cells) or --extra_gin (added to every run)')):
    if FLAGS[flag].present:
      raise errors.ConfigError(f'--{flag} is a launcher flag the sweep does not pass on; use '
                               f'{instead}.')
  return seeds


ENTRIES = {'offline': 'train_offline', 'deployment': 'train_deployment'}


def check_configs(grid):
  """Each distinct config of the grid parsed and validated as its launcher will (gin files,
  --gin_bindings, required bindings, run kind), before Ray starts: ConfigError naming the run."""
  import gin  # pylint: disable=g-import-not-at-top
  from bremen_tf import validation  # pylint: disable=g-import-not-at-top
  entry = ENTRIES[FLAGS.kind]
  launch_common.import_configurables(entry)
  for files in dict.fromkeys(tuple(r.gin_files) for r in grid):
    name = ' + '.join(os.path.relpath(f, launch_common.REPO_ROOT) for f in files)
    gin.clear_config()
    try:
      launch_common.parse_gin(list(files), FLAGS.gin_bindings)
      validation.validate_gin_config()
      validation.check_required(entry)
    except errors.ConfigError as e:
      raise errors.ConfigError(f'{name}: {e}') from e
    finally:
      gin.clear_config()


def run_dirs():
  """bremen_tf.runs, imported (TF with it, quietly) once the flags have been checked."""
  launch_common.quiet_tensorflow()
  from bremen_tf import runs  # pylint: disable=g-import-not-at-top
  return runs


def absolute(path):
  return path if os.path.isabs(path) else os.path.join(launch_common.REPO_ROOT, path)


def build_grid(seeds):
  algo_gin = SWEEP_ALGOS[FLAGS.kind]
  runs_dir = os.path.abspath(FLAGS.runs_dir or os.path.join(launch_common.REPO_ROOT, 'runs',
                                                            FLAGS.kind))  # as the launchers'
  grid = []
  # Seed-major, so each pass over the seeds completes a table; within a seed algorithm-major, so
  # BREMEN's dynamics fits are cached before ME-TRPO (listed last) asks for them.
  for seed in seeds:
    for algo in FLAGS.algos:
      for cell in FLAGS.gin_files:
        files = [cell] + ([algo_gin[algo]] if algo_gin[algo] else []) + FLAGS.extra_gin
        grid.append(Run([absolute(f) for f in files], seed, runs_dir))
  return grid, runs_dir


def start_ray():
  """Joins --ray_address / $RAY_ADDRESS, or starts a Ray on this machine. Returns the module."""
  import ray  # pylint: disable=g-import-not-at-top (slow; not needed for --dry_run)
  ray.cloudpickle.register_pickle_by_value(sweep_tasks)  # workers need not import it
  address = FLAGS.ray_address or os.environ.get('RAY_ADDRESS')
  # Ray runs its workers at niceness +15 by default; the runs are the work here, so a Ray started
  # by the sweep keeps them at the sweep's own priority (on a cluster: RAY_worker_niceness=0 at
  # `ray start`).
  os.environ.setdefault('RAY_worker_niceness', '0')
  if address:
    ray.init(address=address, log_to_driver=False)
  else:
    # 'local': a new Ray of our own, never a cluster someone started on this machine.
    ray.init(address='local', num_cpus=FLAGS.num_cpus or os.cpu_count(),
             include_dashboard=False, log_to_driver=False)
  signal.signal(signal.SIGTERM, signal.default_int_handler)  # ray.init installed its own
  cpus = ray.cluster_resources().get('CPU', 0)
  if cpus < FLAGS.cpus_per_run:
    raise errors.ConfigError(f'--cpus_per_run={FLAGS.cpus_per_run:g} but the Ray cluster has '
                             f'{cpus:g} CPUs: no run could start.')
  return ray


def check_shared_storage(ray, runs_dir):
  """Every alive node writes a file in runs_dir, and this machine must see each one."""
  from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # pylint: disable=g-import-not-at-top
  probe_dir = os.path.join(runs_dir, '.sweep_probe')
  try:
    os.makedirs(probe_dir, exist_ok=True)
  except OSError as e:
    raise errors.ConfigError(f'--runs_dir {runs_dir} is not writable here: {e}') from None

  def probe(path):
    try:
      with open(path, 'w') as f:
        f.write(socket.gethostname())
      return None
    except OSError as e:
      return f'{type(e).__name__}: {e}'
  remote = ray.remote(num_cpus=0)(probe)
  nodes = [n for n in ray.nodes() if n['Alive']]
  refs = [(n, os.path.join(probe_dir, n['NodeID']), remote.options(
      scheduling_strategy=NodeAffinitySchedulingStrategy(n['NodeID'], soft=False)).remote(
          os.path.join(probe_dir, n['NodeID']))) for n in nodes]
  try:
    for node, path, ref in refs:
      where = f'node {node["NodeManagerAddress"]} ({node["NodeID"][:8]})'
      problem = ray.get(ref, timeout=300)
      if problem:
        raise errors.ConfigError(
            f'--runs_dir {runs_dir} is not writable from {where}: {problem}. Every node must '
            'write the run directories: put --runs_dir on storage all nodes share.')
      if not os.path.exists(path):
        raise errors.ConfigError(
            f'{where} wrote {path}, but this machine does not see it: --runs_dir is not on '
            'storage all nodes share (NFS or similar, at the same path everywhere).')
  finally:
    for _, path, _ in refs:
      if os.path.exists(path):
        os.remove(path)


def say(message):
  print(f'[sweep {time.strftime("%H:%M:%S")}] {message}', flush=True)


def print_block(grid, t0):
  counts = {}
  for r in grid:
    counts[r.status] = counts.get(r.status, 0) + 1
  order = ('done', 'running', 'queued', 'failed', 'busy', 'cancelled')
  say(f'{run_dirs().format_duration(time.time() - t0)}: ' +
      ', '.join(f'{counts[s]} {s}' for s in order if counts.get(s)))
  for r in grid:
    if r.status == 'running':
      print(f'    running  {r.name} on {r.host} (attempt {r.attempts}, '
            f'{run_dirs().format_duration(time.time() - r.started)})  {r.last_line}', flush=True)


def classify(r, code):
  """The run's status after its command exited with `code`."""
  r.read_log(r.sweep_id)
  if r.finished():  # also when a lost attempt finished it before the retry started
    return 'done', ''
  if code == launch_common.EXIT_USER_ERROR and 'in use by another process' in r.last_line:
    return 'busy', f'held by another process; see {r.log_path}'
  return 'failed', f'exit status {code}: {r.last_line}  (log: {r.log_path})'


def run_grid(ray, grid, sweep_id):
  """Submits every unfinished run, reports progress, returns when all have ended."""
  env = dict(os.environ, PYTHONPATH=launch_common.REPO_ROOT + os.pathsep +
             os.environ.get('PYTHONPATH', ''))  # the runs use this checkout's bremen_tf
  env.pop('RAY_ADDRESS', None)
  task = ray.remote(sweep_tasks.run_command)
  queue = [r for r in grid if r.status == 'waiting']
  limit = FLAGS.max_concurrent or len(queue)
  in_flight = {}
  t0 = last_block = time.time()
  try:
    while queue or in_flight:
      while queue and len(in_flight) < limit:
        r = queue.pop(0)
        r.sweep_id = sweep_id
        r.read_log(sweep_id)  # marks where this sweep's part of the log begins
        ref = task.options(num_cpus=FLAGS.cpus_per_run, max_retries=FLAGS.max_retries,
                           retry_exceptions=False).remote(r.command(), r.path, r.log_path, env,
                                                          sweep_id)
        in_flight[ref] = r
        r.status = 'queued'
      ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=2.0)
      for ref in ready:
        r = in_flight.pop(ref)
        try:
          code, _ = ray.get(ref)
          r.status, r.detail = classify(r, code)
        except ray.exceptions.RayError as e:  # e.g. its node died more than max_retries times
          r.read_log(sweep_id)
          r.status, r.detail = 'failed', (f'{type(e).__name__} after {r.attempts} attempt(s): '
                                          f'{str(e).splitlines()[0][:200]}  (log: {r.log_path})')
        took = run_dirs().format_duration(time.time() - (r.started or t0))
        say(f'{r.status} {r.name}' + (f' in {took}' if r.status == 'done' else f': {r.detail}'))
      for r in in_flight.values():
        if r.read_log(sweep_id):
          if r.attempts == 1:
            r.status, r.started = 'running', time.time()
            say(f'started {r.name} on {r.host}')
          else:
            say(f'retrying {r.name} on {r.host} (attempt {r.attempts}): its node was lost; it '
                'resumes from its last checkpoint')
      if time.time() - last_block >= FLAGS.status_every:
        print_block(grid, t0)
        last_block = time.time()
  except KeyboardInterrupt:
    say(f'stopping: cancelling {len(in_flight)} run(s); each keeps its last checkpoint')
    for ref in in_flight:
      ray.cancel(ref)
    for ref, r in in_flight.items():
      try:
        ray.get(ref, timeout=300)
      except Exception:  # pylint: disable=broad-except (cancelled: TaskCancelledError)
        pass
      r.status = 'cancelled'
    print_block(grid, t0)
    say('stopped; run the same command again to continue.')
    sys.exit(EXIT_INTERRUPTED)
  print_block(grid, t0)


def main(argv):
  if len(argv) > 1:
    raise errors.ConfigError(f'unexpected arguments {argv[1:]}.')
  seeds = validate_flags()
  grid, runs_dir = build_grid(seeds)
  if FLAGS.list_runs:
    for r in grid:
      print(r.path)
    return
  check_configs(grid)
  if FLAGS.dry_run:
    for r in grid:
      print(r.path, '\n   ', ' '.join(r.command()))
    return
  skipped = [r for r in grid if r.finished()]
  for r in skipped:
    r.status = 'done'
  say(f'{len(grid)} runs in {runs_dir}: {len(skipped)} finished already, '
      f'{len(grid) - len(skipped)} to run')
  if len(skipped) < len(grid):
    ray = start_ray()
    try:
      check_shared_storage(ray, runs_dir)
      resources = ray.cluster_resources()
      say(f'Ray: {len(ray.nodes())} node(s), {resources.get("CPU", 0):g} CPUs; '
          f'{FLAGS.cpus_per_run:g} CPU(s) and {FLAGS.threads_per_run} TF thread(s) per run')
      run_grid(ray, grid, uuid.uuid4().hex[:8])
    finally:
      ray.shutdown()
  failed = [r for r in grid if r.status in ('failed', 'busy')]
  for r in failed:
    print(f'  {r.status}: {r.name}: {r.detail}', flush=True)
  say(f'{sum(r.status == "done" for r in grid)}/{len(grid)} runs done' +
      (f', {len(failed)} failed or busy' if failed else ''))
  sys.exit(EXIT_FAILED if failed else 0)


if __name__ == '__main__':
  launch_common.run(main)
