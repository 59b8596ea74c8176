"""What a run is, from the gin config: method, env, dataset and budget numbers.

Every value is the binding if the config binds it, else the configurable's own default read from
its signature, so no library default is written again here. A run writes its description into
run.json when it starts (launch_common.open_run); for runs written before that, the reader parses
their config.gin and calls the same `describe`.
"""
import contextlib
import hashlib
import importlib
import inspect
import sys

import gin

from bremen_tf import validation

# The launcher's entry configurable -> the kind of run it makes.
KIND_OF_ENTRY = {'train_offline': 'offline', 'train_deployment': 'deployment',
                 'train_behavior_policy': 'behavior'}

# The numbers that say how much training a run of each kind gets (gin names, as bound).
BUDGET_KEYS = {
    'offline': ('train_offline.outer_iterations', 'train_offline.updates_per_iteration',
                'train_offline.eval_min_steps', 'ImaginedTRPO.batch_size', 'ImaginedTRPO.alpha',
                'DynamicsEnsemble.max_epochs', 'DynamicsEnsemble.patience',
                'behavior_clone.steps', 'train_model_free.train_steps',
                'train_model_free.behavior_steps', 'train_model_free.eval_every',
                'train_model_free.eval_episodes'),
    'deployment': ('train_deployment.deployments', 'train_deployment.transitions_per_deployment',
                   'train_deployment.iterations_per_deployment',
                   'train_deployment.updates_per_iteration', 'train_deployment.bc_data',
                   'ImaginedTRPO.batch_size', 'ImaginedTRPO.alpha',
                   'DynamicsEnsemble.max_epochs', 'DynamicsEnsemble.patience',
                   'behavior_clone.steps', 'train_deployment_model_free.train_steps',
                   'train_deployment_model_free.behavior_steps'),
    'behavior': ('train_behavior_policy.total_steps', 'train_behavior_policy.initial_random_steps',
                 'train_behavior_policy.stop_at_target', 'train_behavior_policy.eval_every',
                 'train_behavior_policy.eval_episodes'),
}

# Opt-in options that change a run's results (README, "Deviations and options"), each with the
# words a result file names a non-default value by. A run with one is not the paper's method: the
# offline and D4RL tables leave it out and say so, the deployment tables give it its own row, and
# results/full_budget.md shows it as a variant beside its cell.
DEVIATIONS = {
    'ImaginedTRPO.data_box_margin': 'data box {:g}',
    'DynamicsEnsemble.fit_matmul_dtype': 'dynamics fit in {}',
    'ImaginedTRPO.fisher_subsample': 'Fisher products on {:.0%} of the batch',
    'get_dataset.subset_rule': "dataset subset rule '{}'",
    'train_deployment.bc_data': "BC on '{}' batches",
    'BCQAgent.vae_uses_policy_optimizer': "BCQ's VAE trained by the policy optimiser",
    'BCQAgent.freeze_target_perturber': "BCQ's target perturber frozen",
    'BRACAgent.copy_targets_at_init': "BRAC's targets copied at init",
    'Sac.copy_targets_at_init': "SAC's targets copied at init",
}

# BREMEN's policy initialisation -> the method it makes (offline tables' names).
OFFLINE_METHOD_OF_INIT = {'bc': 'bremen', 'bc_unit_std': 'bremen_unit_std', 'random': 'me_trpo'}


def config_digest(text):
  """The sha256 of a config.gin text: run.json records the one its description was made from."""
  return hashlib.sha256(text.encode()).hexdigest()


def register_configurables():
  """Imports every module that defines a configurable, so any run's config.gin parses."""
  for module in sorted(set(validation.CONFIGURABLES.values())):
    importlib.import_module(module)


def default(key):
  """The default of 'configurable.parameter' in the code (None for gin.REQUIRED or none)."""
  configurable, name = key.rsplit('.', 1)
  target = getattr(importlib.import_module(validation.CONFIGURABLES[configurable]), configurable)
  value = inspect.signature(target).parameters[name].default
  return None if value is gin.REQUIRED or value is inspect.Parameter.empty else value


def value(key):
  """What a call of the configurable outside any scope gets for the parameter: its binding (a
  macro resolved to its value), else its default. A binding inside a scope only does not count."""
  try:
    bound = gin.query_parameter(key)
  except ValueError:  # not bound (or bound in a scope only)
    return default(key)
  while (isinstance(bound, gin.config.ConfigurableReference) and bound.evaluate
         and bound.scoped_selector.endswith('gin.macro')):
    bound = gin.query_parameter(f'{bound.scoped_selector}.value')
  return bound


def kind_of_config():
  """The kind of run the live config describes (for runs without run.json): a deployment run's
  config also binds train_offline (the env's base gin file), so deployment is tried first."""
  for entry in ('train_deployment', 'train_behavior_policy'):
    try:
      if gin.get_bindings(entry):
        return KIND_OF_ENTRY[entry]
    except ValueError:  # not registered
      pass
  return 'offline'


def deployment_method(algorithm, policy_init, alpha):
  """The deployment figure's method names: BREMEN, ME-TRPO, BCQ, BRAC, BC, or the ablation's
  'KL penalty α=0.1 (no BC init)'."""
  if algorithm != 'bremen':
    return algorithm.upper()
  random_init = policy_init == 'random'
  if alpha:
    return f'KL penalty α={float(alpha):g}' + (' (no BC init)' if random_init else ' + BC init')
  return 'ME-TRPO' if random_init else 'BREMEN'


def deviations():
  """The live config's DEVIATIONS bound to other than their code defaults, as their words
  (e.g. ['data box 0.1']; [] for a run of the original methods). A configurable whose module
  this process never imported is skipped: gin cannot have parsed a binding of it, and importing
  it now would register a configurable after a launcher locked the config."""
  found = []
  for key, label in DEVIATIONS.items():
    if validation.CONFIGURABLES[key.split('.')[0]] in sys.modules:
      if (v := value(key)) != default(key):
        found.append(label.format(v))
  return found


def describe(kind, seed=None):
  """The description of a run of `kind` ('offline', 'deployment', 'behavior') under the live gin
  config: a JSON-able dict that table and plot scripts read instead of the gin text."""
  if kind not in BUDGET_KEYS:
    raise ValueError(f'kind must be one of {sorted(BUDGET_KEYS)}, got {kind!r}.')
  budget = {key: value(key) for key in BUDGET_KEYS[kind]}
  description = {'kind': kind, 'seed': seed, 'budget': budget, 'deviations': deviations()}
  if kind == 'offline':
    algorithm, policy_init = value('train_offline.algorithm'), value('train_offline.policy_init')
    description.update(
        algorithm=algorithm, policy_init=policy_init,
        method=OFFLINE_METHOD_OF_INIT[policy_init] if algorithm == 'bremen' else algorithm,
        env_id=value('train_offline.env_id'), dataset=value('train_offline.dataset'),
        dataset_size=value('train_offline.dataset_size'), noise=value('train_offline.noise'))
  elif kind == 'deployment':
    algorithm = value('train_deployment.algorithm')
    policy_init = value('train_deployment.policy_init')
    description.update(
        algorithm=algorithm, policy_init=policy_init,
        method=deployment_method(algorithm, policy_init, budget['ImaginedTRPO.alpha']),
        env_id=value('train_deployment.env_id'))
  else:
    description.update(algorithm='sac', method='sac',
                       env_id=value('train_behavior_policy.env_id'))
  return description


@contextlib.contextmanager
def parsed_config(text):
  """The gin config `text` (a run's config.gin) as the live config inside the block; the config
  that was live before is put back after."""
  register_configurables()
  saved = gin.config_str()
  with gin.unlock_config():
    gin.clear_config()
    try:
      gin.parse_config(text)
      yield
    finally:
      gin.clear_config()
      if saved.strip():
        gin.parse_config(saved)


def describe_config(text, kind=None, seed=None):
  """The description of the run whose config.gin holds `text` (`kind` guessed if None)."""
  with parsed_config(text):
    return describe(kind or kind_of_config(), seed=seed)


def config_deviations(text):
  """deviations() under the config.gin `text` of a run (for a run.json written before
  descriptions had them)."""
  with parsed_config(text):
    return deviations()
