import contextlib
import importlib
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import flags
import gin
import numpy as np
import pytest

from bremen_tf import envs
from bremen_tf.data import shipped_policies
from bremen_tf.agents.networks import TanhGaussianActor

LAUNCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'launch')


def write_untrained_policy(directory, env_id, seed=0):
  """A behaviour-policy directory holding an untrained actor (fast stand-in for tests)."""
  spec = envs.get_spec(env_id)
  actor = TanhGaussianActor(spec.obs_dim, spec.act_dim, seed=seed)
  shipped_policies.write_policy(directory, actor, {
      'env_id': env_id, 'algorithm': 'untrained (test)', 'seed': seed, 'sac_steps': 0,
      'env_steps': 0, 'eval_return_mean': 0.0, 'eval_return_std': 0.0, 'threshold': 0.0})
  return actor


class RunStub:
  """The part of runs.RunDir that RunState uses, without the lock (so a test can reopen it)."""

  def __init__(self, path):
    self.path = str(path)

  def file(self, *parts):
    return os.path.join(self.path, *parts)

  def truncate_metrics(self, step):
    pass

  def read_metrics(self):
    return []

  def keep_metrics_rows(self, n):
    pass


@pytest.fixture
def rng():
  return np.random.default_rng(0)


@pytest.fixture(scope='session')
def hopper_3k_data_dir(tmp_path_factory):
  """A data_dir holding the smoke settings' dataset (gin/smoke/offline.gin, model_free.gin:
  bremen/Hopper-v0, 'pure', 3k, seed 0, the shipped behaviour policy, 8 envs), collected once per
  test process for the launcher tests that train on it (pass it as train_offline.data_dir). Tests
  that check the collection itself make their own."""
  from bremen_tf.data import get_dataset  # pylint: disable=g-import-not-at-top
  data_dir = str(tmp_path_factory.mktemp('hopper_3k_data'))
  get_dataset('bremen/Hopper-v0', 'pure', '3k', seed=0, data_dir=data_dir, subset_rule='mixture',
              n_envs=8, behavior_policy_dir=None, log=lambda m: None)
  return data_dir


# --- Running launch/ scripts in this process ------------------------------------------------------
# For a test that checks what a script writes (not how its process behaves: exit status, signals,
# the stderr of a fresh process), which saves a process start and a TensorFlow import per call.
# The scripts share flag names (--runs, --out, --env_id), so two of them cannot be imported into
# one process as they are. `script` imports one for the duration of a call and then removes it and
# its flags; a script another test imported for good keeps its module, and its flags are set aside
# meanwhile.
SCRIPTS = ('tables', 'deployment_tables', 'plot_offline', 'plot_model_free', 'full_budget',
           'reward_match', 'behavior_report', 'collect_data', 'offline', 'deployment',
           'd4rl_table', 'flip_probe', 'imagination_probe', 'cache_dynamics_fit',
           'trpo_from_policy', 'policy_moves', 'attempt_match', 'fit_errors', 'batch_report')
_KEPT_FLAGS = {}  # script imported outside this helper -> {flag name: Flag} it defined


def _kept(name):
  if name not in _KEPT_FLAGS:  # recorded while they are all installed
    _KEPT_FLAGS[name] = {f.name: f for f in flags.FLAGS.flags_by_module_dict().get(name, [])}
  return _KEPT_FLAGS[name]


@contextlib.contextmanager
def script(name, *argv):
  """Yields launch/<name>.py as a module with `argv` parsed into its flags."""
  FLAGS = flags.FLAGS  # pylint: disable=invalid-name
  parked, imported = {}, name not in sys.modules
  if imported:
    for other in SCRIPTS:
      if other in sys.modules:
        for flag_name, flag in _kept(other).items():
          if FLAGS._flags().get(flag_name) is flag:  # pylint: disable=protected-access
            parked[flag_name] = flag
            delattr(FLAGS, flag_name)
    sys.path.insert(0, LAUNCH)
    try:
      module = importlib.import_module(name)
    finally:
      sys.path.remove(LAUNCH)
  else:
    module = sys.modules[name]
  FLAGS.unparse_flags()
  try:
    FLAGS([name, *argv])
    yield module
  finally:
    FLAGS.unparse_flags()
    if imported:
      for flag in list(FLAGS.flags_by_module_dict().get(name, [])):
        delattr(FLAGS, flag.name)
      del sys.modules[name]
    for flag_name, flag in parked.items():
      FLAGS[flag_name] = flag


def run_launcher_noting_imports(name, *argv, timeout=120):
  """Runs `python launch/<name>.py *argv` in a child process that prints, as it exits, which of
  TensorFlow and Ray it ever imported ('imported: tensorflow=False ray=False' on stdout): a
  refusal meant to come before any work must leave both False (stderr cannot say: launch_common
  silences TF's import). Returns the CompletedProcess."""
  import subprocess  # pylint: disable=g-import-not-at-top
  code = ('import runpy, sys\n'
          f'sys.path.insert(0, {LAUNCH!r}); sys.argv = [{name + ".py"!r}, *sys.argv[1:]]\n'
          'try:\n'
          f'  runpy.run_path({os.path.join(LAUNCH, name + ".py")!r}, run_name="__main__")\n'
          'finally:\n'
          '  print("imported:", *(f"{m}={m in sys.modules}" for m in ("tensorflow", "ray")),\n'
          '        flush=True)\n')
  return subprocess.run([sys.executable, '-c', code, *argv], cwd=os.path.dirname(LAUNCH),
                        capture_output=True, text=True, timeout=timeout)


NOTHING_IMPORTED = 'imported: tensorflow=False ray=False'


def run_here(name, *argv):
  """Runs launch/<name>.py's main in this process as `python launch/<name>.py *argv` would from
  the repository root, for a test that checks what the script writes and prints (capsys) rather
  than how its process behaves; an error propagates as the exception (launch_common.run is not in
  the way). Clears the gin config before and after, and releases the run directory it opened."""
  cwd = os.getcwd()
  gin.clear_config()
  os.chdir(os.path.dirname(LAUNCH))
  try:
    with script(name, *argv) as module:
      module.main([name])
  finally:
    os.chdir(cwd)
    gin.clear_config()
    launch_common = sys.modules.get('launch_common')
    if launch_common is not None and launch_common._current_run is not None:  # pylint: disable=protected-access
      launch_common._current_run.close()  # pylint: disable=protected-access
      launch_common._current_run = None  # pylint: disable=protected-access
