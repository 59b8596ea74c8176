"""Flags and set-up shared by the launchers: the Dopamine-style trio plus seed and threads."""
import os
import re
import sys

from absl import flags
import gin

from bremen_tf import fileio, provenance

# The revision of the code this process runs, read before the launcher writes anything
# (provenance.git_revision keeps the first answer).
provenance.git_revision()

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

flags.DEFINE_multi_string('gin_file', [], 'Gin files, applied in order (repeatable).')
flags.DEFINE_multi_string('gin_bindings', [], 'Gin bindings, e.g. "f.x = 1" (repeatable).')
flags.DEFINE_integer('seed', 0, 'Seeds TF, NumPy and the environments.')
flags.DEFINE_integer('tf_threads', 0, 'TF intra-op threads (0: TF decides). Use 1 to run several '
                     'jobs side by side on a small machine.')
FLAGS = flags.FLAGS


def default_root_dir(gin_files, seed, kind='offline'):
  """runs/<kind>/hopper_100k/seed0; extra gin files are appended: hopper_100k+algos-me_trpo."""
  names = []
  for path in gin_files:
    stem = os.path.splitext(os.path.basename(path))[0]
    parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
    names.append(stem if parent == 'gin' else f'{parent}-{stem}')
  return os.path.join(REPO_ROOT, 'runs', kind, '+'.join(names) or 'default',
                      f'seed{seed}')


def gin_binding(config, name, default=None):
  """The value bound to `name` in a config.gin text (quotes stripped), or `default`."""
  m = re.search(rf'^{re.escape(name)}\s*=\s*(.+)$', config, re.M)
  return m.group(1).strip().strip("'\"") if m else default


def env_name(env_id):
  """'bremen/Hopper-v0' -> 'Hopper'."""
  return re.sub(r'-v\d+$', '', env_id.split('/')[-1])


def parse_gin():
  """Parses --gin_file/--gin_bindings; a missing file fails with its path named."""
  for path in FLAGS.gin_file:
    if not os.path.exists(path):
      sys.exit(f'error: --gin_file {path} does not exist.')
  gin.add_config_file_search_path(REPO_ROOT)  # so `include 'gin/base/...'` works from anywhere
  gin.parse_config_files_and_bindings(FLAGS.gin_file, FLAGS.gin_bindings)


def configure_tf():
  import tensorflow as tf  # imported here so --help stays fast
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
  """Exits with a clear error on positional arguments or when no --gin_file is given."""
  if len(argv) > 1:
    sys.exit(f'error: unexpected arguments {argv[1:]}; settings go in --gin_file/--gin_bindings.')
  if not FLAGS.gin_file:
    sys.exit(f'error: give at least one --gin_file, e.g. --gin_file={example}')


def open_run(root):
  """The RunDir at `root`, recorded as started; exits with a clear error if it is finished,
  busy, or holds an unfinished run with a different gin config (call after setup())."""
  import gin  # pylint: disable=g-import-not-at-top,redefined-outer-name
  from bremen_tf import runs  # pylint: disable=g-import-not-at-top (imports TF)
  try:
    run = runs.RunDir(root)
  except (runs.RunFinishedError, runs.RunBusyError) as e:
    sys.exit(f'error: {e}')
  config_path = run.file('config.gin')
  if run.resumed and os.path.exists(config_path):
    with open(config_path) as f:
      if f.read() != gin.config_str():
        sys.exit(f'error: {run.path} holds an unfinished run with a different gin config '
                 f'(see {config_path}). Resume it with the same --gin_file/--gin_bindings, or '
                 'choose another --root_dir.')
  run.start(seed=FLAGS.seed, flags=FLAGS.flag_values_dict())
  print(f'Run directory: {run.path}' + (' (resuming)' if run.resumed else ''), flush=True)
  return run


def finish_run(run, summary):
  """operative_config.gin, DONE and summary.json of a run that completed."""
  from bremen_tf import fileio  # pylint: disable=g-import-not-at-top
  run.write_operative_config()
  run.mark_done(**summary)
  fileio.write_json(run.file('summary.json'), summary)


def setup():
  """What every launcher does first: gin files and bindings, then TF threading."""
  quiet_logs()
  parse_gin()
  configure_tf()
