"""Flags and set-up shared by the launchers: the Dopamine-style trio plus seed and threads, and
the boundary where our errors become a line or two and exit status 2 (`run`)."""
import os
import signal
import sys
import traceback

from absl import app, flags
import gin

# A launcher runs the library of its own checkout, whatever `pip install -e` points at: a run
# started from a frozen worktree must not import the tree being edited (nor record its commit).
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
_imported = sys.modules.get('bremen_tf')
if _imported is not None and not os.path.realpath(_imported.__file__).startswith(
    os.path.join(os.path.realpath(REPO_ROOT), 'bremen_tf') + os.sep):
  raise ImportError(f'This launcher is in {REPO_ROOT}, but bremen_tf was already imported from '
                    f'{os.path.dirname(_imported.__file__)}: run it from its own checkout.')

from bremen_tf import errors, fileio, provenance  # pylint: disable=g-import-not-at-top

# The revision of the code this process runs, read before the launcher writes anything
# (provenance.git_revision keeps the first answer).
provenance.git_revision()

flags.DEFINE_multi_string('gin_file', [], 'Gin files, applied in order (repeatable).')
flags.DEFINE_multi_string('gin_bindings', [], 'Gin bindings, e.g. "f.x = 1" (repeatable).')
flags.DEFINE_integer('seed', 0, 'Seeds TF, NumPy and the environments.')
flags.DEFINE_integer('tf_threads', 0, 'TF intra-op threads (0: TF decides). Use 1 to run several '
                     'jobs side by side on a small machine.')
flags.DEFINE_boolean('verbose', False, 'On an error, print the full traceback too.')
FLAGS = flags.FLAGS

EXIT_USER_ERROR = 2  # a bad setting, dataset, run directory or checkpoint (errors.BremenError)
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM, as a shell reports SIGINT
_current_run = None  # the run directory opened by open_run, named when interrupted
_entry = None  # the configurable the launcher calls (setup's `entry`): says what kind of run


def quiet_tensorflow():
  """Imports TensorFlow with its start-up chatter discarded. On a CPU machine TF prints CUDA
  probing (an 'error' from cuInit among it), oneDNN and CPU-feature notes to stderr before its
  log settings apply, so TF_CPP_MIN_LOG_LEVEL alone cannot hide them; stderr (fd 2) goes to
  /dev/null for the import and the device set-up only. Call before importing bremen_tf's
  TF-using modules (not in a process that renders with MuJoCo: launch/render.py)."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  if 'tensorflow' in sys.modules:
    return
  sys.stderr.flush()
  saved = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  try:
    os.dup2(devnull, 2)
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.config.list_physical_devices()  # the CUDA probe happens here
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)


def run(main):
  """app.run(main), with our errors printed as `error: <message>` (exit status 2; the traceback
  too with --verbose) and an interruption (Ctrl-C, or SIGTERM from a scheduler) as one line saying
  how to resume (exit status 130)."""
  def guarded(argv):
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM as Ctrl-C
    try:
      return main(argv)
    except errors.BremenError as e:
      if FLAGS.verbose:
        traceback.print_exc()
      print(f'error: {e}', file=sys.stderr, flush=True)
      sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
      where = f' in {_current_run.path}' if _current_run is not None else ''
      print(f'\ninterrupted: the run{where} keeps everything up to its last checkpoint; run the '
            'same command again to resume.', file=sys.stderr, flush=True)
      sys.exit(EXIT_INTERRUPTED)
  app.run(guarded)


def default_root_dir(gin_files, seed, kind='offline'):
  """runs/<kind>/hopper_100k/seed0; extra gin files are appended: hopper_100k+algos-me_trpo."""
  names = []
  for path in gin_files:
    stem = os.path.splitext(os.path.basename(path))[0]
    parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
    names.append(stem if parent == 'gin' else f'{parent}-{stem}')
  return os.path.join(REPO_ROOT, 'runs', kind, '+'.join(names) or 'default',
                      f'seed{seed}')


def check_gin_files():
  """A --gin_file that does not exist fails with it named (no TensorFlow needed to say so)."""
  for path in FLAGS.gin_file:
    if not os.path.exists(path):
      raise errors.ConfigError(f'--gin_file {path} does not exist.')


def parse_gin(files=None, bindings=None):
  """Parses `files`/`bindings` (default --gin_file/--gin_bindings); a missing file or a bad line
  fails with it named."""
  if files is None:
    check_gin_files()
  gin.add_config_file_search_path(REPO_ROOT)  # so `include 'gin/base/...'` works from anywhere
  try:
    gin.parse_config_files_and_bindings(FLAGS.gin_file if files is None else files,
                                        FLAGS.gin_bindings if bindings is None else bindings)
  except (ValueError, SyntaxError, IOError) as e:  # gin's message names the file and line
    raise errors.ConfigError(f'gin config: {e}') from e


def check_flags():
  """--seed and --tf_threads (bremen_tf/validation.py, which does not import TensorFlow)."""
  from bremen_tf import validation  # pylint: disable=g-import-not-at-top
  validation.check_flag('seed', FLAGS.seed)
  validation.check_flag('tf_threads', FLAGS.tf_threads)


def check_tool_flags():
  """For a tool that reads a run's own config.gin or a policy's metadata instead of gin files:
  --seed and --tf_threads checked, --gin_file and --gin_bindings refused rather than ignored."""
  for name in ('gin_file', 'gin_bindings'):
    if FLAGS[name].present:
      raise errors.ConfigError(f'--{name}: this tool takes no gin configuration (it reads the '
                               "run's own config.gin or the policy's metadata).")
  check_flags()


def check_run_tool(run_dirs, positive=()):
  """Before TensorFlow, for a tool that reads run directories: check_tool_flags, each of
  `run_dirs` a run directory, the flags named in `positive` (None: unset) at least 1, and --out
  (if the tool has it) a .md file."""
  from bremen_tf.run_models import check_run_dir  # pylint: disable=g-import-not-at-top (no TF)
  check_tool_flags()
  for run_dir in [run_dirs] if isinstance(run_dirs, str) else run_dirs:
    check_run_dir(run_dir)
  for name in positive:
    value = getattr(FLAGS, name)
    if value is not None and value < 1:
      raise errors.ConfigError(f'--{name} must be at least 1, got {value}.')
  if 'out' in FLAGS and FLAGS.out and not FLAGS.out.endswith('.md'):
    raise errors.ConfigError(f'--out must end in .md, got {FLAGS.out!r}.')


def validate(entry=None):
  """Checks the flags and every gin binding (bremen_tf/validation.py), and that `entry`, the
  configurable the launcher calls, has its required bindings; before anything is written."""
  from bremen_tf import validation  # pylint: disable=g-import-not-at-top
  check_flags()
  validation.validate_gin_config()
  if entry:
    validation.check_required(entry)


def configure_tf():
  quiet_tensorflow()
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if FLAGS.tf_threads:
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.tf_threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.tf_threads)


def quiet_logs():
  """Keeps the console for progress lines: no TF C++ or absl INFO chatter."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  from absl import logging
  logging.set_verbosity(logging.WARNING)


def pyplot():
  """matplotlib.pyplot on the headless Agg backend (imported late: only plotting tools need it)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def save_png(plt, fig, path, dpi=100):
  """Writes `fig` to `path` atomically (creating its directory) and closes it."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with fileio.atomic_path(path) as tmp:
    fig.savefig(tmp, dpi=dpi, format='png')
  plt.close(fig)


def check_args(argv, example):
  """A clear error on positional arguments or when no --gin_file is given."""
  if len(argv) > 1:
    raise errors.ConfigError(f'unexpected arguments {argv[1:]}; settings go in '
                             '--gin_file/--gin_bindings.')
  if not FLAGS.gin_file:
    raise errors.ConfigError(f'give at least one --gin_file, e.g. --gin_file={example}')


def open_run(root):
  """The RunDir at `root`, recorded as started, with its self-description in run.json. RunDirError
  if it is finished, busy, or holds an unfinished run with a different gin config or seed (call
  after setup())."""
  global _current_run
  from bremen_tf import runs  # pylint: disable=g-import-not-at-top (imports TF)
  root = os.path.abspath(root)
  if os.path.isdir(root) and not os.path.exists(os.path.join(root, 'provenance.json')):
    others = sorted(set(os.listdir(root)) - {'.lock'})  # a run starts in a new or empty directory
    if others:
      raise errors.RunDirError(
          f'{root} is not a run directory (no provenance.json) but holds '
          f'{", ".join(others[:4])}{", ..." if len(others) > 4 else ""}; a run starts in a new or '
          'empty directory, so that nothing there is overwritten. Choose another --root_dir.')
  run = runs.RunDir(root)
  fresh = ('Resume it with the same --gin_file/--gin_bindings/--seed, or start a fresh run with '
           'another --root_dir (or delete that directory).')
  config_path = run.file('config.gin')
  if run.resumed and os.path.exists(config_path):
    with open(config_path) as f:
      if f.read() != gin.config_str():
        raise errors.RunDirError(f'{run.path} holds an unfinished run with a different gin '
                                 f'config (see {config_path}). {fresh}')
    seed = run.started_seed()
    if seed is not None and seed != FLAGS.seed:
      raise errors.RunDirError(f'{run.path} holds an unfinished run with --seed={seed}, not '
                               f'--seed={FLAGS.seed}. {fresh}')
  run.start(seed=FLAGS.seed, flags=FLAGS.flag_values_dict())
  write_description(run)
  _current_run = run
  print(f'Run directory: {run.path}' + (' (resuming)' if run.resumed else ''), flush=True)
  return run


def write_description(run):
  """run.json: what the run is (bremen_tf/reporting/describe.py), read by the table and plot
  scripts instead of its gin text. Written once, when the run (or, for a run started before
  run.json existed, its first resume) starts; the config cannot change on resume."""
  from bremen_tf.reporting import describe  # pylint: disable=g-import-not-at-top
  kind = describe.KIND_OF_ENTRY.get(_entry)
  path = run.file('run.json')
  if kind and not os.path.exists(path):
    with open(run.file('config.gin')) as f:  # written by run.start from the same config
      digest = describe.config_digest(f.read())
    fileio.write_json(path, {'description': describe.describe(kind, seed=FLAGS.seed),
                             'config_sha256': digest})


def finish_run(run, summary):
  """operative_config.gin, DONE and summary.json of a run that completed."""
  run.write_operative_config()
  run.mark_done(**summary)
  fileio.write_json(run.file('summary.json'), summary)


def precheck():
  """What can be checked before TensorFlow is imported: the --gin_file files exist and the flags
  are valid. A launcher that imports TF only after this (in main, via setup) refuses a bad flag or
  a missing gin file in well under a second instead of after TF's start-up."""
  check_gin_files()
  check_flags()


def import_configurables(entry=None):
  """Imports (TensorFlow quietly first) the module defining `entry`, so gin knows its
  configurables; each library module imports the others it configures."""
  quiet_tensorflow()
  if entry:
    import importlib  # pylint: disable=g-import-not-at-top
    from bremen_tf import validation  # pylint: disable=g-import-not-at-top
    importlib.import_module(validation.CONFIGURABLES[entry])


def setup(entry=None):
  """What every launcher does first: the flags and gin files' existence (before TF is imported),
  then TF threading (before the gin files: one may import a module that runs TF ops, e.g. an env
  of your own checked by envs.register_env, and threads cannot be set after TF's first op), then
  gin files and bindings, validated (`entry`: the configurable the launcher calls, whose required
  bindings must be there)."""
  global _entry
  _entry = entry
  quiet_logs()
  precheck()
  import_configurables(entry)
  configure_tf()
  parse_gin()
  validate(entry)
