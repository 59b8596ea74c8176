"""The gin files that define the paper's runs give, per env, the authors' settings: each offline
cell (gin/<env>_<size>.gin) and each deployment run (gin/deployment/<env>_<size>.gin) is parsed with
gin, and every value that defines the algorithm (trust region δ, GAE λ, γ, horizon, batch, TRPO
step constants, updates per iteration, iterations, deployments, BC and dynamics budgets) is checked
against the numbers of /work/shared/reference/bremen.md, written here with the line they come from.
A value taken from a library default counts the same as a bound one: the check reads what the run
would use (the gin binding if any, else the default of the configurable)."""
import inspect
import os

import gin
import numpy as np
import pytest

from bremen_tf import envs, experiments  # noqa: F401 (gin)
from bremen_tf.dynamics import DynamicsEnsemble
from bremen_tf.imagined_trpo import ImaginedTRPO
from bremen_tf.policies import GaussianPolicy, behavior_clone

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV_IDS = {'hopper': 'bremen/Hopper-v0', 'walker2d': 'bremen/Walker2d-v0',
           'halfcheetah': 'bremen/HalfCheetah-v0', 'ant': 'bremen/Ant-v0'}
ENVS = tuple(ENV_IDS)

# bremen.md:83 "δ (--target_kl). 0.05 for Ant, Hopper and Walker2d; 0.1 for HalfCheetah".
TARGET_KL = {'hopper': 0.05, 'walker2d': 0.05, 'halfcheetah': 0.1, 'ant': 0.05}
# bremen.md:66 "γ = 0.99. λ = 0.95, or 0.97 for Ant and the robot configs."
GAE_LAMBDA = {'hopper': 0.95, 'walker2d': 0.95, 'halfcheetah': 0.95, 'ant': 0.97}
GAMMA = 0.99
# bremen.md:63 "Horizon H (max_path_length). 250 for Ant, HalfCheetah ...; 1000 for Hopper and
# Walker2d."
HORIZON = {'hopper': 1000, 'walker2d': 1000, 'halfcheetah': 250, 'ant': 250}
# bremen.md:60-61 "50,000 imagined steps per update"; "Parallel rollouts: min(1000, 50000/H), i.e.
# 200 for H = 250 and 50 for H = 1000."
BATCH_SIZE = 50_000
PARALLEL = {'hopper': 50, 'walker2d': 50, 'halfcheetah': 200, 'ant': 200}
# bremen.md:80-82 "Conjugate gradient: 10 iterations (tolerance 1e-10) on (F + 0.1·I)x = −g";
# "Line search over fractions 0.5^k, k = 0..9. Accept when ... actual/expected > 0.1".
TRPO_STEP = {'damping': 0.1, 'cg_iters': 10, 'cg_tolerance': 1e-10, 'backtracks': 10,
             'accept_ratio': 0.1}
# bremen.md:70 "--alpha (default 0)"; bremen.md:69 "Â = (A − mean)/(std + 1e-8) over the batch".
ALPHA = 0.0
# bremen.md:84 "25 updates per outer iteration. Offline README runs use 250 outer iterations".
UPDATES_PER_ITERATION, OFFLINE_ITERATIONS = 25, 250
# bremen.md:155 "run the deterministic μ in the real env, whole episodes, until ≥ 3000 steps".
EVAL_MIN_STEPS = 3000
# bremen.md:16 "The first 85% of each new batch trains and the last 15% validates".
VALIDATION_FRACTION = 0.15
# bremen.md:43 "Adam, lr 5e-4, batch 256, 300,000 steps (total_train_steps)".
BC = {'steps': 300_000, 'batch_size': 256, 'learning_rate': 5e-4}
# bremen.md:28 "K = 5 models ... 2×1024 ReLU"; bremen.md:31 "Adam, lr 1e-3, batch 1000, ... at most
# 200 epochs"; bremen.md:32 "Validation MSE (no decay) at epochs 0, 5, 10, …; stop once
# epoch − best_epoch ≥ 20".
DYNAMICS = {'n_models': 5, 'hidden': (1024, 1024), 'learning_rate': 1e-3, 'batch_size': 1000,
            'max_epochs': 200, 'eval_every': 5, 'patience': 20}
# bremen.md:97-100, the recursive configs: (deployments, outer iterations per deployment =
# interval); Ant, HalfCheetah: 5 deployments, interval 80; Hopper: 10, 240; Walker2d: 10, 80
# (x 25 updates: 2,000 TRPO updates per deployment, 6,000 for Hopper).
DEPLOYMENTS = {'hopper': (10, 240), 'walker2d': (10, 80), 'halfcheetah': (5, 80), 'ant': (5, 80)}
# bremen.md:191 "BC uses the newest batch"; bremen.md:44 "trained on the latest deployment only".
BC_DATA = 'newest'
# bremen.md:98 "n_train·interval/(onpol_iters·1000)" paths = 1M·80/400 = 200K per deployment, and
# bremen.md:102 "100K per deployment: halve num_paths".
PER_DEPLOYMENT = {'200k': 200_000, '100k': 100_000}


@pytest.fixture
def parsed():
  """Parses one gin file (relative to the repo) into a clean gin config; cleared afterwards."""
  def parse(path):
    gin.clear_config()
    gin.add_config_file_search_path(REPO_ROOT)
    gin.parse_config_files_and_bindings([os.path.join(REPO_ROOT, path)], [])
  yield parse
  gin.clear_config()


def effective(configurable, name, param):
  """What a run would use for `name.param`: the gin binding, else the configurable's default."""
  try:
    return gin.query_parameter(f'{name}.{param}')
  except ValueError:
    default = inspect.signature(configurable).parameters[param].default
    assert default is not inspect.Parameter.empty, f'{name}.{param} has no default'
    return default


def check_trpo(env):
  """The ImaginedTRPO the run builds (constructed under the parsed config) and its horizon."""
  spec = envs.get_spec(ENV_IDS[env])
  assert spec.horizon == HORIZON[env]
  small = GaussianPolicy(spec.obs_dim, spec.act_dim, hidden=(4,))
  trainer = ImaginedTRPO(small, small, None, spec.reward_fn, spec.done_fn,
                         np.zeros((1, spec.obs_dim)), horizon=spec.horizon)
  assert trainer.target_kl == TARGET_KL[env]
  assert trainer.gae_lambda == GAE_LAMBDA[env]
  assert trainer.gamma == GAMMA
  assert trainer.batch_size == BATCH_SIZE
  assert trainer.n_parallel == PARALLEL[env]
  assert trainer.step_kwargs == TRPO_STEP
  assert trainer.alpha == ALPHA and trainer.center_advantages is True
  assert trainer.fisher_rows == BATCH_SIZE  # no subsampling of the Fisher rows
  return spec


def check_bc_and_dynamics():
  assert {k: effective(behavior_clone, 'behavior_clone', k) for k in BC} == BC
  assert {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in (
      (k, effective(DynamicsEnsemble, 'DynamicsEnsemble', k)) for k in DYNAMICS)} == DYNAMICS


@pytest.mark.parametrize('env', ENVS)
@pytest.mark.parametrize('size', ['1m', '100k', '50k'])
def test_offline_cell_uses_the_authors_settings(parsed, env, size):
  parsed(f'gin/{env}_{size}.gin')
  spec = check_trpo(env)
  run = lambda p: effective(experiments.train_offline, 'train_offline', p)
  assert run('env_id') == spec.env_id
  assert run('dataset_size') == size and run('noise') == 'pure'
  assert run('horizon') is None  # None: the env's horizon (checked above)
  assert run('policy_init') == 'bc'  # BREMEN: π_θ initialised from BC (bremen.md:45)
  assert run('updates_per_iteration') == UPDATES_PER_ITERATION
  assert run('outer_iterations') == OFFLINE_ITERATIONS
  assert run('eval_min_steps') == EVAL_MIN_STEPS
  assert run('validation_fraction') == VALIDATION_FRACTION
  check_bc_and_dynamics()


@pytest.mark.parametrize('env', ENVS)
@pytest.mark.parametrize('size', ['200k', '100k'])
def test_deployment_run_uses_the_authors_settings(parsed, env, size):
  parsed(f'gin/deployment/{env}_{size}.gin')
  spec = check_trpo(env)
  run = lambda p: effective(experiments.train_deployment, 'train_deployment', p)
  assert run('env_id') == spec.env_id
  assert (run('deployments'), run('iterations_per_deployment')) == DEPLOYMENTS[env]
  assert run('transitions_per_deployment') == PER_DEPLOYMENT[size]
  assert run('updates_per_iteration') == UPDATES_PER_ITERATION
  assert run('algorithm') == 'bremen' and run('policy_init') == 'bc'
  assert run('bc_data') == BC_DATA
  assert run('horizon') is None
  assert run('eval_min_steps') == EVAL_MIN_STEPS
  assert run('validation_fraction') == VALIDATION_FRACTION
  check_bc_and_dynamics()
