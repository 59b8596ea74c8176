"""A BREMEN / ME-TRPO run's models, read back from its directory without opening the run (it may
be running): its config.gin, train_state.json, seed and latest checkpoint. Used by the tools that
look into a run (launch/imagination_probe.py) or reuse its fit (launch/cache_dynamics_fit.py).
"""
import collections
import os

import gin

from bremen_tf import errors, fileio  # no TensorFlow: check_run_dir runs before it loads

RunModels = collections.namedtuple(
    'RunModels',
    'kind env_id seed policy_init state checkpoint dynamics bc_policy policy trainer iteration')

# Stages at which the run's checkpoint holds no fitted model yet.
UNFITTED = ('start', 'collected', 'dynamics_fit')


def ensemble_fit(state):
  """(the deployment whose dynamics fit a deployment run's checkpoint holds, whether that fit
  has finished), from train_state.json's stage and deployment: the fit under way during
  'dynamics_fit'; the previous deployment's right after a batch is collected; (0, True) before
  any ('start' comes only before deployment 1). Through BC, TRPO and the next collection the
  ensemble stays as its fit left it."""
  stage, d = state.get('stage'), state.get('deployment', 0)
  if stage == 'dynamics_fit':
    return d, False
  return (max(d - 1, 0), True) if stage in ('start', 'collected') else (d, True)


def check_run_dir(path):
  for f in ('config.gin', 'train_state.json'):
    if not os.path.isfile(os.path.join(path, f)):
      raise errors.RunDirError(f'{path} has no {f}: not a run directory of launch/offline.py or '
                               'launch/deployment.py.')


def bound(name, default):
  """The run's gin binding `name`, or `default` if the config leaves it unbound."""
  try:
    return gin.query_parameter(name)
  except ValueError:
    return default


def setting(configurable, name):
  """The run's gin binding `configurable.name`, else the library's default for it (the run's
  config.gin lists only what it bound; the default is read from the function's signature, not
  written again here). `configurable`: train_offline, train_deployment or get_dataset."""
  import inspect  # pylint: disable=g-import-not-at-top
  from bremen_tf import data, experiments  # pylint: disable=g-import-not-at-top
  function = {'train_offline': experiments.train_offline,
              'train_deployment': experiments.train_deployment,
              'get_dataset': data.get_dataset}[configurable]
  return bound(f'{configurable}.{name}', inspect.signature(function).parameters[name].default)


def run_seed(run_dir):
  """The run's --seed, from provenance.json (runs.RunDir would open the run)."""
  provenance = os.path.join(run_dir, 'provenance.json')
  sessions = fileio.read_json(provenance)['sessions'] if os.path.exists(provenance) else []
  return (sessions[0].get('seed') if sessions else None) or 0


def load_run_models(run_dir, model_from_elsewhere=False):
  """RunModels of `run_dir` with the latest checkpoint read (the run's gin config stays parsed,
  so the caller sees its bindings). Raises RunDirError before its fit has ended, unless the
  caller brings the model from elsewhere (a dynamics cache entry): then the run may be in the
  middle of a fit, and its checkpoint gives the policies (those of the deployment before)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from bremen_tf import checkpoints  # pylint: disable=g-import-not-at-top
  from bremen_tf import experiments  # pylint: disable=g-import-not-at-top,unused-import
  from bremen_tf.stages import build_models  # pylint: disable=g-import-not-at-top
  check_run_dir(run_dir)
  gin.parse_config_file(os.path.join(run_dir, 'config.gin'))
  state = fileio.read_json(os.path.join(run_dir, 'train_state.json'))
  kind = 'train_deployment' if 'deployment' in state else 'train_offline'
  env_id = bound(f'{kind}.env_id', None) or state.get('dataset', {}).get('env_id')
  seed = run_seed(run_dir)
  policy_init = setting(kind, 'policy_init')
  dynamics, bc_policy, policy, trainer = build_models(
      env_id, seed, policy_init, setting(kind, 'reset_bank_size'), setting(kind, 'horizon'))
  # The checkpoint the state names, not the newest file: a running run writes its state first.
  checkpoint = checkpoints.named_in(run_dir, state)
  if checkpoint is None or (state.get('stage') in UNFITTED and not model_from_elsewhere):
    raise errors.RunDirError(f'{run_dir} has no fitted model yet (stage '
                             f'{state.get("stage")!r}).')
  iteration = tf.Variable(0, dtype=tf.int64, name='iteration')
  tf.train.Checkpoint(dynamics=dynamics, bc_policy=bc_policy, policy=policy, trainer=trainer,
                      iteration=iteration).read(checkpoint).expect_partial()
  return RunModels(kind, env_id, seed, policy_init, state, checkpoint, dynamics, bc_policy, policy,
                   trainer, iteration)


def load_policy_for_run(path, run):
  """The GaussianPolicy exported to `path` (launch/*: a deployment's policies/deployment_<d>, a
  released policy's export), built like `run`'s π_θ; ConfigError if it is for another env."""
  from bremen_tf import export  # pylint: disable=g-import-not-at-top (TensorFlow)
  policy, meta = export.load_exported_gaussian(path, run.policy)
  if meta.get('env_id') != run.env_id:
    raise errors.ConfigError(f'{path} is a policy for {meta.get("env_id")}, the run is on '
                             f'{run.env_id}.')
  return policy
