"""An environment of your own (examples/point_mass.py, envs.register_env): a deployment run on it
end to end from a gin `import`, its data read as a D4RL file and as a Minari dataset, and the
mistakes register_env refuses before any work."""
import csv
import json
import os
import subprocess
import sys
import types

import gymnasium
import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import envs, evaluation
from bremen_tf.data import d4rl_source, minari_source
from bremen_tf.data.dataset import DatasetError
from test_external_datasets import episodes, flat, write_d4rl, write_minari

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, 'examples')
POINT_MASS = 'example/PointMass-v0'


@pytest.fixture
def registry(monkeypatch):
  """envs' and gymnasium's registries as they are now, restored after the test."""
  monkeypatch.setattr(envs, '_SPECS', dict(envs._SPECS))  # pylint: disable=protected-access
  monkeypatch.setattr(envs, 'ENV_IDS', envs.ENV_IDS)
  monkeypatch.setattr(envs, 'USER_ENV_IDS', envs.USER_ENV_IDS)
  monkeypatch.setattr(gymnasium.envs.registration, 'registry',
                      dict(gymnasium.envs.registration.registry))
  monkeypatch.setattr(gymnasium, 'registry', gymnasium.envs.registration.registry)
  monkeypatch.syspath_prepend(EXAMPLES)
  monkeypatch.delitem(sys.modules, 'point_mass', raising=False)
  yield


def point_mass():
  import point_mass as module  # pylint: disable=g-import-not-at-top (registers on import)
  return module


def test_the_imagination_functions_equal_the_env_step(registry):
  module = point_mass()
  env = envs.make(POINT_MASS)
  obs, _ = env.reset(seed=3)
  for u in (0.7, -2.0, 0.1):
    a = np.array([u], np.float32)
    nxt, reward, terminated, _, _ = env.step(a)
    s, act, s2 = (tf.constant(v[None], tf.float32) for v in (obs, a, nxt))
    assert float(module.reward(s, act, s2)[0]) == pytest.approx(reward, rel=1e-5, abs=1e-6)
    assert bool(module.done(s2)[0]) == terminated
    obs = nxt
  spec = envs.get_spec(POINT_MASS)
  assert (spec.obs_dim, spec.act_dim, spec.horizon) == (2, 1, 100)
  assert POINT_MASS in envs.ENV_IDS and POINT_MASS in envs.USER_ENV_IDS


def test_register_env_refuses_mistakes_before_any_work(registry):
  module = point_mass()
  same = envs.register_env(POINT_MASS, module.reward, module.done, horizon=100)  # a re-import
  assert same is envs.get_spec(POINT_MASS)
  never_done = module.done
  cases = [  # (env_id, reward_fn, done_fn, horizon, gym_id), what the error says
      ((POINT_MASS, module.reward, never_done, 50, None), 'registered already with other settings'),
      (('bremen/Hopper-v0', module.reward, never_done, 50, None), 'one of the built-in envs'),
      (('example/Nope-v0', module.reward, never_done, 50, None),
       "gymnasium has no env 'example/Nope-v0'"),
      (('example/X-v0', module.reward, 'done', 50, POINT_MASS), 'must be callables'),
      (('example/X-v0', module.reward, never_done, 0, POINT_MASS),
       'must be an integer > 0, found 0'),
      (('example/R-v0', lambda s, a, s2: s2[:, :1], never_done, 100, POINT_MASS),
       r'reward_fn\(s, a, s_next\) must return a float32 tensor of shape \[B\] \(here \[3\]\), '
       r'found float32 of shape \[3, 1\]'),
      (('example/D-v0', module.reward, lambda s2: s2[:, 0], 100, POINT_MASS),
       r'done_fn\(s_next\) must return a bool tensor of shape \[B\]'),
      (('example/F-v0', lambda s, a, s2: s[:, 5], never_done, 100, POINT_MASS),
       r'reward_fn\(s, a, s_next\) failed on float32 tensors of shape \[3, 2\] / \[3, 1\]'),
  ]

  class Wide(module.PointMass):
    action_space = gymnasium.spaces.Box(-2.0, 2.0, (1,), np.float32)

  gymnasium.register('example/Wide-v0', entry_point=Wide, max_episode_steps=100)
  cases.append((('example/Wide-v0', module.reward, never_done, 100, None),
                r'actions must lie in \[-1, 1\].*RescaleAction'))
  for (env_id, reward_fn, done_fn, horizon, gym_id), message in cases:
    with pytest.raises(ValueError, match=message):
      envs.register_env(env_id, reward_fn, done_fn, horizon, gym_id=gym_id)
  assert envs.USER_ENV_IDS == (POINT_MASS,)  # nothing half-registered
  assert len(envs.ENV_IDS) == len(set(envs.ENV_IDS))


def test_an_offline_run_on_your_own_d4rl_file(registry, tmp_path, capsys):
  from conftest import run_here  # pylint: disable=g-import-not-at-top
  point_mass()
  path = write_d4rl(tmp_path / 'point_mass_random.hdf5', flat(episodes(POINT_MASS, 1500)))
  data = d4rl_source.load_d4rl(path, POINT_MASS)
  assert data.observations.shape == (1500, 2) and data.metadata['reference_scores'] is None
  with pytest.raises(DatasetError, match=r"env_id 'Pendulum-v1' is not served"):
    d4rl_source.load_d4rl(path, 'Pendulum-v1')
  root = str(tmp_path / 'run')  # the documented command, at the smoke settings
  run_here('offline', '--gin_file=examples/point_mass_offline.gin',
           f"--gin_bindings=train_offline.dataset = 'd4rl:{path}'",
           '--gin_file=gin/smoke/offline.gin', f'--root_dir={root}')
  assert os.path.exists(os.path.join(root, 'DONE'))
  with open(os.path.join(root, 'run.json')) as f:
    assert json.load(f)['description']['env_id'] == POINT_MASS
  policy = tf.saved_model.load(os.path.join(root, 'policy'))
  actions = policy.signatures['serving_default'](observations=tf.zeros([4, 2]))['actions']
  assert actions.shape == (4, 1) and np.all(np.abs(actions.numpy()) <= 1.0)


def test_a_dataset_too_small_for_one_dynamics_batch_is_refused_before_any_stage(registry,
                                                                                 tmp_path):
  from conftest import run_here  # pylint: disable=g-import-not-at-top
  point_mass()
  path = write_d4rl(tmp_path / 'tiny.hdf5', flat(episodes(POINT_MASS, 500)))
  root = tmp_path / 'run'
  with pytest.raises(DatasetError, match=r'the dataset has 500 transitions; the dynamics fit '
                                         r'trains on the first 85% \(425\), fewer than one batch '
                                         r'of 1,000\. Use more data'):
    run_here('offline', '--gin_file=examples/point_mass_offline.gin',
             f"--gin_bindings=train_offline.dataset = 'd4rl:{path}'", f'--root_dir={root}')
  assert not (root / 'train_state.json').exists()


@pytest.mark.parametrize('algo', ['bc', 'bcq', 'brac'])
def test_the_model_free_baselines_on_your_own_d4rl_file(registry, tmp_path, algo):
  """BC, BCQ and BRAC read the same file through the same launcher, evaluate on the env and
  export a policy of its shape that returns, on the env, what the run's last evaluation says."""
  from conftest import run_here  # pylint: disable=g-import-not-at-top
  point_mass()
  path = write_d4rl(tmp_path / 'point_mass_random.hdf5', flat(episodes(POINT_MASS, 1500)))
  root = str(tmp_path / algo)
  run_here('offline', '--gin_file=examples/point_mass_offline.gin',
           f"--gin_bindings=train_offline.dataset = 'd4rl:{path}'",
           f'--gin_file=gin/algos/{algo}.gin', '--gin_file=gin/smoke/model_free.gin',
           f'--root_dir={root}')
  assert os.path.exists(os.path.join(root, 'DONE'))
  with open(os.path.join(root, 'summary.json')) as f:
    summary = json.load(f)
  # Every reward is -(x'² + 0.1·u²) < 0 and |x| <= 1 + 0.01·(1 + ... + 100) = 51.5 in 100 steps.
  assert -100 * (51.5 ** 2 + 0.1) <= summary['final_eval_return_mean'] < 0
  policy = tf.saved_model.load(os.path.join(root, 'policy'))
  serve = policy.signatures['serving_default']
  actions = serve(observations=tf.zeros([4, 2]))['actions']
  assert actions.shape == (4, 1) and np.all(np.abs(actions.numpy()) <= 1.0)
  # The exported policy on the env, with the seeds of the last evaluation (model_free.py: 100 per
  # evaluation so far), returns what that evaluation logged (BCQ's samples its candidate actions
  # from its own generator, which has moved on since: the same policy, other draws).
  with open(os.path.join(root, 'metrics.csv')) as f:
    rows = list(csv.DictReader(f))
  evals_done = int(rows[-1]['step']) // 100  # gin/smoke/model_free.gin: eval_every = 100
  returns, _ = evaluation.run_episodes(
      POINT_MASS, lambda o: serve(observations=tf.constant(o, tf.float32))['actions'].numpy(),
      int(rows[-1]['eval_episodes']), seed=10_000 + 100 * evals_done)
  assert summary['final_eval_return_mean'] == float(rows[-1]['eval_return_mean'])
  if algo != 'bcq':
    assert returns.mean() == pytest.approx(summary['final_eval_return_mean'], rel=1e-5)


def test_the_documented_deployment_command_runs_on_the_example_env(tmp_path):
  """examples/point_mass_deployment.gin as its header says (PYTHONPATH=examples), at the smoke
  settings: a fresh process imports the env from the gin file and runs every stage."""
  root = str(tmp_path / 'run')
  env = dict(os.environ, PYTHONPATH=EXAMPLES)
  out = subprocess.run([sys.executable, 'launch/deployment.py',
                        '--gin_file=examples/point_mass_deployment.gin',
                        '--gin_file=gin/smoke/deployment.gin', f'--root_dir={root}'],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
  assert os.path.exists(os.path.join(root, 'DONE'))
  assert '[deployment 2/2] done: real return' in out.stdout
  assert os.path.isdir(os.path.join(root, 'policies', 'deployment_2'))


def test_a_minari_dataset_of_your_own_env(registry, tmp_path, monkeypatch):
  point_mass()
  monkeypatch.setenv('MINARI_DATASETS_PATH', str(tmp_path / 'minari'))
  eps = episodes(POINT_MASS, 300)  # 3 episodes of 100 steps, each ending in a truncation
  write_minari('example/pointmass/random-v0', eps, env=POINT_MASS, refs=None)
  data = minari_source.load_minari('example/pointmass/random-v0')
  assert data.metadata['env_id'] == POINT_MASS
  np.testing.assert_allclose(data.observations, flat(eps)['observations'], rtol=1e-6)
  assert data.timeouts.sum() == 3 and not data.terminals.any()
  with pytest.raises(DatasetError, match=r"collected on 'example/PointMass-v0', but env_id is "
                                         r"'Hopper-v5'"):
    minari_source.load_minari('example/pointmass/random-v0', 'Hopper-v5')


def test_a_minari_env_spec_is_checked_against_a_class_entry_point(registry):
  """An env registered with its class (not 'module:Class'): a dataset recorded with other
  constructor arguments is refused, naming both values; the constructor's default matches."""
  module = point_mass()

  class Stepped(module.PointMass):
    def __init__(self, dt=0.1):
      self.dt = dt

  gymnasium.register('example/Stepped-v0', entry_point=Stepped, max_episode_steps=100)
  envs.register_env('example/Stepped-v0', module.reward, module.done, horizon=100)
  env = gymnasium.make('example/Stepped-v0')

  def dataset(**kwargs):  # what resolve_env reads of a Minari dataset
    spec = gymnasium.envs.registration.EnvSpec('example/Stepped-v0', entry_point=Stepped,
                                               kwargs=kwargs)
    return types.SimpleNamespace(observation_space=env.observation_space,
                                 action_space=env.action_space, env_spec=spec)

  assert minari_source.resolve_env('m', dataset(dt=0.1)) == 'example/Stepped-v0'
  with pytest.raises(DatasetError, match=r"made with dt=0.2, which changes what it computes; "
                                         r"ours uses 0.1"):
    minari_source.resolve_env('m', dataset(dt=0.2))
  with pytest.raises(DatasetError, match=r"made with mass=2.0.*ours uses None"):
    minari_source.resolve_env('m', dataset(mass=2.0))
