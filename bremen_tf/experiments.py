"""The two experiments the launchers run, `train_offline` (launch/offline.py) and
`train_deployment` (launch/deployment.py), and the registry of algorithms they dispatch on.

  ALGORITHMS    what `train_offline.algorithm` / `train_deployment.algorithm` select: the
                offline and the deployment recipe of each

The names launch/sweep.py's --algos take (an algorithm plus the gin file that configures it) are
in sweep_algos.py, which imports no TensorFlow, so that the sweep checks its flags before TF.

Both entries keep BREMEN's settings as their own gin bindings (`train_offline.outer_iterations`,
...), as they always were; they apply to BREMEN/ME-TRPO only. The model-free baselines take
theirs from `train_model_free` / `train_deployment_model_free`.
"""
import collections
import os

import gin

from bremen_tf import (bremen, deployment, deployment_model_free, dynamics_cache, model_free,
                       runs)
from bremen_tf.data import sources

Algorithm = collections.namedtuple('Algorithm', ['offline', 'deployment'])


def _bremen_offline(run, data, record, seed, log, bremen_settings):
  return bremen.offline(run, data, record, seed=seed, log=log, **bremen_settings)


def _bremen_deployment(run, seed, log, shared, bremen_settings):
  return deployment.deployment(run, seed=seed, log=log, **shared, **bremen_settings)


def _model_free(algorithm):
  """The recipes of a model-free baseline (BREMEN's settings do not apply to it)."""
  def offline(run, data, record, seed, log, bremen_settings):
    del bremen_settings
    return model_free.train_model_free(run, data, record, seed, algorithm, log=log)

  def deployment_run(run, seed, log, shared, bremen_settings):
    del bremen_settings
    return deployment_model_free.train_deployment_model_free(run, seed, algorithm=algorithm,
                                                             log=log, **shared)
  return Algorithm(offline, deployment_run)


ALGORITHMS = {'bremen': Algorithm(_bremen_offline, _bremen_deployment),
              **{name: _model_free(name) for name in model_free.DEFAULT_TRAIN_STEPS}}


def get_algorithm(name):
  if name not in ALGORITHMS:
    raise ValueError(f'algorithm must be one of {tuple(ALGORITHMS)}, got {name!r}.')
  return ALGORITHMS[name]


def offline_data_name(dataset, noise, dataset_size, data):
  """The dataset's names in the dynamics cache key: a BRAC-protocol dataset by its noise and size
  bindings, a Minari/D4RL dataset by its binding and length, each with the digest of its
  transitions (dynamics_cache.data_digest)."""
  digest = dynamics_cache.data_digest([data])
  return ((f'{dataset}-{digest}', len(data)) if dataset is not None else
          (f'{noise}-{digest}', dataset_size))


@gin.configurable(denylist=['run', 'seed', 'log'])
def train_offline(run, seed=0, env_id=None, noise='pure', dataset_size='1m',
                  data_dir=None, dataset=None, validation_fraction=0.15, policy_init='bc',
                  outer_iterations=250, updates_per_iteration=25, eval_min_steps=3000,
                  checkpoint_every=1, reset_bank_size=10_000, horizon=None, eval_model=False,
                  dynamics_cache_dir=None, algorithm='bremen', reference_scores=None,
                  log=print):
  """Runs (or resumes) one offline run in `run` (a runs.RunDir). Returns a summary.

  `algorithm`: a key of ALGORITHMS. `dataset` None is the BRAC-protocol dataset of (`env_id`,
  `noise`, `dataset_size`); 'minari:<id or path>' and 'd4rl:<path>' read those datasets, whose
  env is theirs (`env_id`, if bound, must agree) and whose reference scores give
  `eval_normalized_score` (x100) beside every evaluation return (bremen_tf/data/sources.py).
  `dynamics_cache_dir`, if set, shares one dynamics fit between runs with the same data, seed and
  ensemble settings (e.g. BREMEN and ME-TRPO; bremen_tf/dynamics_cache.py). `reference_scores`
  gives the normalised score's (min, max) to a dataset without them (or replaces its own): a pair,
  or 'd4rl' for D4RL's constants of the dataset's env (HalfCheetah-, Hopper-, Walker2d-v5).
  """
  recipe = get_algorithm(algorithm).offline
  # The data first: its env decides the models, and a bad dataset fails before any work.
  data = sources.load_source(dataset, env_id, noise, dataset_size, data_dir, log=log,
                             reference_scores=reference_scores)
  data_name = offline_data_name(dataset, noise, dataset_size, data)
  return recipe(run, data, sources.run_record(data, noise), seed, log, dict(
      data_name=data_name, policy_init=policy_init, validation_fraction=validation_fraction,
      outer_iterations=outer_iterations, updates_per_iteration=updates_per_iteration,
      eval_min_steps=eval_min_steps, checkpoint_every=checkpoint_every,
      reset_bank_size=reset_bank_size, horizon=horizon, eval_model=eval_model,
      dynamics_cache_dir=dynamics_cache_dir))


@gin.configurable(denylist=['run', 'seed', 'log'])
def train_deployment(run, seed=0, env_id=gin.REQUIRED, algorithm='bremen', policy_init='bc',
                     deployments=5, transitions_per_deployment=200_000,
                     iterations_per_deployment=80, updates_per_iteration=25, bc_data='newest',
                     validation_fraction=0.15, eval_min_steps=3000, reset_bank_size=10_000,
                     horizon=None, collect_envs=16, dynamics_cache_dir=None, log=print):
  """Runs (or resumes) one deployment-efficient run in `run` (a runs.RunDir); returns a summary.

  `algorithm`: a key of ALGORITHMS. `bc_data`: 'newest' (the original) or 'all' (its --all_bc).
  `dynamics_cache_dir` (else $BREMEN_TF_DYNAMICS_CACHE_DIR, else none): dynamics fits shared
  between runs that collected the same batches (speed only; bremen_tf/deployment.py fit_cache).
  Defaults are HalfCheetah/Ant's (5 deployments of 200K, 80 x 25 = 2,000 TRPO updates each); see
  gin/deployment/.
  """
  recipe = get_algorithm(algorithm).deployment
  runs.require_positive(deployments=deployments,
                        transitions_per_deployment=transitions_per_deployment)
  shared = dict(env_id=env_id, deployments=deployments,
                transitions_per_deployment=transitions_per_deployment, collect_envs=collect_envs)
  return recipe(run, seed, log, shared, dict(
      policy_init=policy_init, iterations_per_deployment=iterations_per_deployment,
      updates_per_iteration=updates_per_iteration, bc_data=bc_data,
      validation_fraction=validation_fraction, eval_min_steps=eval_min_steps,
      reset_bank_size=reset_bank_size, horizon=horizon,
      dynamics_cache_dir=dynamics_cache_dir or os.environ.get('BREMEN_TF_DYNAMICS_CACHE_DIR')))
