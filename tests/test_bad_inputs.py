"""Bad settings, run directories and checkpoints fail first and clearly.

Every case asserts the message (what was expected, what was found) and that nothing was written:
the launcher validates the flags and every gin binding before it makes the run directory.
The table of docs/interruptions.md lists these cases.
"""
import inspect
import json
import os
import shutil
import subprocess
import sys

import gin
import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import experiments, runs, validation  # pylint: disable=unused-import
from bremen_tf.agents import brac  # pylint: disable=unused-import (registers BRACAgent)
from bremen_tf.errors import CheckpointError, ConfigError
from bremen_tf.run_state import RunState
import conftest
from conftest import run_here

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = ['--gin_file=gin/hopper_100k.gin', '--gin_file=gin/smoke/offline.gin']

# (gin binding, what the message must say)
BAD_BINDINGS = [
    ("train_offline.outer_iterations = 'two'", "outer_iterations: expected an integer > 0, "
                                                "found str 'two'"),
    ('train_offline.outer_iterations = 0', 'outer_iterations: expected an integer > 0, found int 0'),
    ('train_offline.outer_iterations = -3', 'found int -3'),
    ('train_offline.outer_iterations = 2.5', 'found float 2.5'),
    ('train_offline.outer_iterations = True', 'found bool True'),
    ('train_offline.updates_per_iteration = 0', 'updates_per_iteration: expected an integer > 0'),
    ('train_offline.eval_min_steps = -1', 'eval_min_steps: expected an integer > 0'),
    ('train_offline.validation_fraction = 1.5', 'validation_fraction: expected a finite number in '
                                                '(0, 1), found float 1.5'),
    ("train_offline.policy_init = 'bcc'", "policy_init: expected one of 'bc', 'bc_unit_std', "
                                          "'random', found str 'bcc'"),
    ("train_offline.noise = 'eps9'", "noise: expected one of 'pure', 'eps1'"),
    ("train_offline.dataset_size = 'lots'", 'dataset_size: expected a dataset size > 0'),
    ("train_offline.dataset_size = '0k'", 'dataset_size: expected a dataset size > 0'),
    ("train_offline.env_id = 'bremen/Hopper-v9'", "env_id: expected one of 'bremen/Hopper-v0'"),
    ("train_offline.algorithm = 'sac'", "algorithm: expected one of 'bremen', 'bc', 'bcq', 'brac'"),
    ('train_offline.eval_model = 1', 'eval_model: expected True or False, found int 1'),
    ('train_offline.horizon = 0', 'horizon: expected an integer > 0, found int 0'),
    ('DynamicsEnsemble.hidden = (1024, 0)', 'hidden: expected a non-empty tuple of positive '
                                            'integers'),
    ('DynamicsEnsemble.learning_rate = -1e-3', 'learning_rate: expected a finite number > 0'),
    ('DynamicsEnsemble.max_epochs = 0', 'max_epochs: expected an integer > 0'),
    ("DynamicsEnsemble.patience = '20'", "patience: expected an integer > 0, found str '20'"),
    ('ImaginedTRPO.gamma = 1.5', 'gamma: expected a finite number in [0, 1]'),
    ('ImaginedTRPO.target_kl = 0.0', 'target_kl: expected a finite number > 0'),
    ('ImaginedTRPO.batch_size = None', 'batch_size: expected a value of type int'),
    ("ImaginedTRPO.fisher_product = 'exact'", "fisher_product: expected one of 'cached'"),
    ('ImaginedTRPO.block_rows = 0', 'block_rows: expected an integer > 0'),
    ('behavior_clone.steps = 0', 'behavior_clone.steps: expected an integer > 0'),
    ('train_deployment.deployments = 0', 'deployments: expected an integer > 0'),
    ("train_deployment.bc_data = 'oldest'", "bc_data: expected one of 'newest', 'all'"),
    ('BRACAgent.alpha = -1.0', 'alpha: expected a finite number >= 0'),
    ('BRACAgent.actor_hidden = []', 'actor_hidden: expected a non-empty tuple'),
]

GOOD_BINDINGS = ['train_offline.horizon = None', 'ImaginedTRPO.block_rows = None',
                 'DynamicsEnsemble.checkpoint_seconds = 0', "train_offline.dataset_size = '100k'",
                 'ImaginedTRPO.target_kl = 0.05', 'train_offline.outer_iterations = 1']


@pytest.fixture
def clean_gin():
  gin.clear_config()
  yield
  gin.clear_config()


@pytest.mark.parametrize('binding,message', BAD_BINDINGS, ids=[b for b, _ in BAD_BINDINGS])
def test_a_bad_binding_is_refused_naming_it(clean_gin, binding, message):
  gin.parse_config(binding)
  with pytest.raises(ConfigError) as e:
    validation.validate_gin_config()
  assert message in str(e.value)
  assert 'Fix it in your --gin_file or --gin_bindings' in str(e.value)


@pytest.mark.parametrize('binding', GOOD_BINDINGS)
def test_good_bindings_pass(clean_gin, binding):
  gin.parse_config(binding)
  validation.validate_gin_config()


def test_every_default_passes_its_own_rules():
  """Guards the rule tables: every configurable's defaults are valid settings."""
  for configurable in validation.CONFIGURABLES:
    for name, default in validation._defaults(configurable).items():  # pylint: disable=protected-access
      if default in (gin.REQUIRED, inspect.Parameter.empty):
        continue  # no default to check
      validation.check_binding(configurable, name, default)


def test_a_missing_required_binding_is_named(clean_gin):
  with pytest.raises(ConfigError, match='train_offline needs a binding for env_id'):
    validation.check_required('train_offline')
  gin.parse_config("train_offline.env_id = 'bremen/Hopper-v0'")
  validation.check_required('train_offline')


def test_a_config_of_the_other_run_kind_is_refused_naming_the_launcher(clean_gin):
  """A deployment gin file includes its env's offline base file; given to launch/offline.py it
  would otherwise run an offline experiment for hours (and the reverse)."""
  gin.add_config_file_search_path(REPO)
  gin.parse_config_file(os.path.join(REPO, 'gin/deployment/hopper_200k.gin'))
  with pytest.raises(ConfigError, match=r'this is the config of a deployment-efficient run \(it '
                                        r'binds '
                                        r'train_deployment\.deployments, .*\), which '
                                        r'launch/offline.py does not run: run it with '
                                        r'launch/deployment.py \(launch/sweep.py: '
                                        r'--kind=deployment\)'):
    validation.check_required('train_offline')
  validation.check_required('train_deployment')  # its own launcher's
  gin.clear_config()
  gin.parse_config_file(os.path.join(REPO, 'gin/hopper_100k.gin'))
  with pytest.raises(ConfigError, match=r'this is the config of an offline run \(it binds '
                                        r'train_offline\.dataset_size, train_offline\.env_id, '
                                        r'train_offline\.noise, and no train_deployment.env_id\), '
                                        r'which '
                                        r'launch/deployment.py does not run: run it with '
                                        r'launch/offline.py'):
    validation.check_required('train_deployment')
  gin.clear_config()
  with pytest.raises(ConfigError, match=r'train_deployment needs a binding for env_id .*such as '
                                        r'gin/deployment/hopper_200k.gin'):
    validation.check_required('train_deployment')


def test_bad_flags_are_refused():
  with pytest.raises(ConfigError, match=r'--seed=-1: expected an integer >= 0'):
    validation.check_flag('seed', -1)
  with pytest.raises(ConfigError, match=r"--tf_threads='2': expected an integer >= 0"):
    validation.check_flag('tf_threads', '2')


# The tools that read a run's own config.gin or a policy's metadata: a bad --seed, or gin flags
# they would ignore, refused before TensorFlow is imported.
TOOLS = {'flip_probe': ['--run_dir={d}'],
         'trpo_from_policy': ['--run_dir={d}', '--policy_dir={d}'],
         'imagination_probe': ['--run_dir={d}'],
         'fit_errors': ['--run_dir={d}'],
         'cache_dynamics_fit': ['--run_dir={d}', '--cache_dir={d}'],
         'render': ['--policy_dir={d}', '--out={d}/x.gif'],
         'released_policies': ['--bremen_repo={d}']}


@pytest.mark.parametrize('flag,message', [
    ('--seed=-1', '--seed=-1: expected an integer >= 0'),
    ('--gin_file=gin/hopper_100k.gin', '--gin_file: this tool takes no gin configuration'),
    ('--gin_bindings=train_offline.seed = 1', '--gin_bindings: this tool takes no gin')])
@pytest.mark.parametrize('tool', sorted(TOOLS))
def test_a_tool_refuses_a_bad_seed_and_gin_flags_before_tensorflow(tmp_path, tool, flag, message):
  out = conftest.run_launcher_noting_imports(tool, *[a.format(d=tmp_path) for a in TOOLS[tool]],
                                             flag)
  assert out.returncode == 2, out.stdout + out.stderr
  assert message in out.stderr
  assert conftest.NOTHING_IMPORTED in out.stdout
  assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('state,message', [
    ({'stage': 'trpo'}, 'is an offline run; launch/fit_errors.py reads deployment runs'),
    ({'stage': 'start', 'deployment': 0}, "has no fitted model yet (stage 'start', deployment 0)"),
    ({'stage': 'collected', 'deployment': 1}, "no fitted model yet (stage 'collected', deploym"),
    ({'stage': 'trained', 'deployment': 1, 'deployments': [{'deployment': 1}]},
     "records no dynamics fit of deployment 1 (stage 'trained'): a model-free deployment run")])
def test_fit_errors_refuses_a_run_without_a_deployment_fit_before_tensorflow(tmp_path, state,
                                                                              message):
  (tmp_path / 'config.gin').write_text('')
  (tmp_path / 'train_state.json').write_text(json.dumps(state))
  out = conftest.run_launcher_noting_imports('fit_errors', f'--run_dir={tmp_path}')
  assert out.returncode == 2 and message in out.stderr, out.stdout + out.stderr
  assert conftest.NOTHING_IMPORTED in out.stdout


# --- the launcher's boundary -----------------------------------------------------------------


def launch(root, *extra, data_dir=None):
  data = [f'--gin_bindings=train_offline.data_dir="{data_dir}"'] if data_dir else []
  return subprocess.run([sys.executable, os.path.join('launch', 'offline.py'), *SMOKE,
                         f'--root_dir={root}', *data, *extra], cwd=REPO, capture_output=True,
                        text=True, timeout=300)


def test_the_launcher_prints_one_line_exits_2_and_writes_nothing(tmp_path):
  root = tmp_path / 'run'
  out = launch(root, '--gin_bindings=train_offline.outer_iterations = 0')
  assert out.returncode == 2
  # One line: no traceback, and none of TensorFlow's start-up chatter (CUDA probing etc.).
  assert out.stderr.strip().splitlines() == [
      'error: gin binding train_offline.outer_iterations: expected an integer > 0, found int 0. '
      'Fix it in your --gin_file or --gin_bindings.']
  assert not root.exists()

  verbose = launch(root, '--seed=-1', '--verbose')
  assert verbose.returncode == 2 and 'Traceback' in verbose.stderr
  assert verbose.stderr.strip().splitlines()[-1] == 'error: --seed=-1: expected an integer >= 0.'
  assert not root.exists()

  # A binding gin does not know, in this process (the exit status and the one line are the same
  # path as above: launch_common.run prints any of our errors so).
  with pytest.raises(ConfigError, match="doesn't have a parameter named 'iterations'"):
    run_here('offline', *SMOKE, f'--root_dir={root}',
             '--gin_bindings=train_offline.iterations = 3')
  assert not root.exists()


# --- run directories and checkpoints ---------------------------------------------------------


def saved_run(path, rows=1, extra_rows=0):
  """A run directory with a RunState saved after `rows` metrics rows, then `extra_rows` more
  rows logged after the save (what a kill before the next save leaves)."""
  run = runs.RunDir(str(path))
  value, counter = tf.Variable(np.arange(10, dtype=np.float32)), tf.Variable(0, dtype=tf.int64)
  state = RunState(run, tf.train.Checkpoint(value=value, counter=counter), counter,
                   log=lambda m: None)
  for i in range(rows):
    run.log_metrics({'iteration': 0 if i == 0 else i, 'step': 0 if i == 0 else i}, step=i)
  state.save('trpo')
  for i in range(rows, rows + extra_rows):
    run.log_metrics({'iteration': i, 'step': i}, step=i)
  del run  # releases the lock, as the end of the process would
  return str(path)


def reopen(path):
  run = runs.RunDir(path)
  value, counter = tf.Variable(np.zeros(10, np.float32)), tf.Variable(0, dtype=tf.int64)
  state = RunState(run, tf.train.Checkpoint(value=value, counter=counter), counter,
                   log=lambda m: None)
  return run, state, value


def test_rows_logged_after_the_last_save_are_dropped_on_resume(tmp_path):
  # The first evaluation row (iteration 0) is logged before the save that records it: a kill in
  # between used to keep it at resume, and the resumed run logged iteration 0 again.
  path = saved_run(tmp_path / 'run', rows=1, extra_rows=2)
  run, _, _ = reopen(path)
  assert [r['iteration'] for r in run.read_metrics()] == ['0']


def test_a_moved_or_copied_run_resumes_from_its_own_checkpoint(tmp_path):
  original = saved_run(tmp_path / 'original')
  state = json.load(open(os.path.join(original, 'train_state.json')))
  assert not os.path.isabs(state['checkpoint'])
  moved = str(tmp_path / 'moved')
  shutil.copytree(original, moved)
  shutil.rmtree(original)
  _, resumed, value = reopen(moved)
  assert resumed.stage == 'trpo'
  np.testing.assert_array_equal(value.numpy(), np.arange(10))


def test_a_run_with_an_absolute_checkpoint_path_uses_its_own_copy(tmp_path):
  """States written before paths were relative named the checkpoint by its absolute path."""
  original = saved_run(tmp_path / 'original')
  state_path = os.path.join(original, 'train_state.json')
  state = json.load(open(state_path))
  state['checkpoint'] = os.path.join(original, state['checkpoint'])
  json.dump(state, open(state_path, 'w'))
  copy = str(tmp_path / 'copy')
  shutil.copytree(original, copy)
  os.remove(os.path.join(original, 'checkpoints', 'save-1.index'))  # the original is unusable
  _, _, value = reopen(copy)
  np.testing.assert_array_equal(value.numpy(), np.arange(10))


@pytest.mark.parametrize('damage,message', [
    ('{"stage": "trpo", "checkpoint": ', 'not a readable run state'),
    ('[1, 2]', 'not a readable run state'),
    ('{"checkpoint": "checkpoints/save-1"}', 'no "stage" in it'),
])
def test_a_damaged_state_file_is_named(tmp_path, damage, message):
  path = saved_run(tmp_path / 'run')
  with open(os.path.join(path, 'train_state.json'), 'w') as f:
    f.write(damage)
  with pytest.raises(CheckpointError) as e:
    reopen(path)
  assert 'train_state.json' in str(e.value) and message in str(e.value)
  assert 'start the run afresh in another --root_dir' in str(e.value)


@pytest.mark.parametrize('damage', ['missing', 'truncated'])
def test_a_damaged_checkpoint_is_named(tmp_path, damage):
  path = saved_run(tmp_path / 'run')
  data = os.path.join(path, 'checkpoints', 'save-1.data-00000-of-00001')
  if damage == 'missing':
    os.remove(os.path.join(path, 'checkpoints', 'save-1.index'))
  else:
    with open(data, 'r+b') as f:
      f.truncate(8)
  with pytest.raises(CheckpointError) as e:
    reopen(path)
  assert 'save-1: cannot restore the checkpoint that' in str(e.value)
  assert 'start it afresh in another --root_dir' in str(e.value)


def test_a_finished_run_is_refused_as_a_run_dir_error(tmp_path):
  run = runs.RunDir(str(tmp_path / 'run'))
  run.mark_done()
  del run
  with pytest.raises(runs.RunFinishedError, match='holds a finished run'):
    runs.RunDir(str(tmp_path / 'run'))


def test_a_run_stopped_before_any_work_starts_afresh(tmp_path):
  """A dataset setting that fails after the run directory was opened leaves only its description;
  the corrected command (another config) is not refused as "a different config"."""
  from bremen_tf.data.dataset import DatasetError  # pylint: disable=g-import-not-at-top
  root = tmp_path / 'run'
  for name in ('hopper_medium', 'hoper_medium'):  # a typo, then another missing file
    with pytest.raises(DatasetError, match=f'{name}.hdf5'):
      run_here('offline', *SMOKE, f'--root_dir={root}',
               f"--gin_bindings=train_offline.dataset = 'd4rl:{tmp_path}/{name}.hdf5'")
    assert sorted(os.listdir(root)) == ['.lock', 'config.gin', 'provenance.json', 'run.json']
  with open(root / 'config.gin') as f:
    assert 'hoper_medium' in f.read()
  with open(root / 'provenance.json') as f:
    assert len(json.load(f)['sessions']) == 1  # the attempt that did nothing is not kept

  (root / 'metrics.csv').write_text('step\n0\n')  # once it has done work, it is that run
  with pytest.raises(runs.RunDirError, match='holds an unfinished run with a different gin config'):
    run_here('offline', *SMOKE, f'--root_dir={root}',
             f"--gin_bindings=train_offline.dataset = 'd4rl:{tmp_path}/hopper_medium.hdf5'")


def test_a_directory_that_is_not_a_run_is_refused_and_left_alone(tmp_path):
  from conftest import run_here  # pylint: disable=g-import-not-at-top
  (tmp_path / 'checkpoints').mkdir()
  (tmp_path / 'notes.txt').write_text('mine')
  with pytest.raises(runs.RunDirError, match=f'{tmp_path} is not a run directory \\(no '
                                             'provenance.json\\) but holds checkpoints, notes.txt'):
    run_here('offline', *SMOKE, f'--root_dir={tmp_path}')
  assert sorted(os.listdir(tmp_path)) == ['checkpoints', 'notes.txt']


# Interruption (SIGTERM: one line, exit 130) and refused resumes (another --seed): the run in
# tests/test_kill_anywhere.py.
