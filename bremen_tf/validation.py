"""Every gin-bound budget, size, rate and choice checked before a run starts (launch_common.setup).

A binding's type must be its parameter's default's type (an int for an int, a number for a float,
a bool for a bool, a string for a string, positive ints for a layer-size tuple); parameters
defaulting to None take the type in OPTIONAL. Ranges and choices are by parameter name (RANGES,
CHOICES), or by 'configurable.parameter' where one name means different things. Integers must be
> 0 unless listed in RANGES. A bad binding raises ConfigError naming it, what was expected and what
was found, before any file is written.
"""
import importlib
import inspect
import math
import numbers

import gin

from bremen_tf.errors import ConfigError

# The configurables a launcher may call, by gin name: the module that defines each.
CONFIGURABLES = {
    'train_offline': 'bremen_tf.experiments',
    'train_deployment': 'bremen_tf.experiments',
    'train_model_free': 'bremen_tf.model_free',
    'train_deployment_model_free': 'bremen_tf.deployment_model_free',
    'train_behavior_policy': 'bremen_tf.sac_data_policies',
    'get_dataset': 'bremen_tf.data.on_demand',
    'DynamicsEnsemble': 'bremen_tf.dynamics',
    'ImaginedTRPO': 'bremen_tf.imagined_trpo',
    'GaussianPolicy': 'bremen_tf.policies',
    'behavior_clone': 'bremen_tf.policies',
    'BCAgent': 'bremen_tf.agents.bc',
    'BCQAgent': 'bremen_tf.agents.bcq',
    'BRACAgent': 'bremen_tf.agents.brac',
    'Sac': 'bremen_tf.agents.sac',
    'check_matches_env': 'bremen_tf.data.external',
}

POSITIVE = (lambda v: v > 0, '> 0')
NON_NEGATIVE = (lambda v: v >= 0, '>= 0')
UNIT = (lambda v: 0 <= v <= 1, 'in [0, 1]')
OPEN_UNIT = (lambda v: 0 < v < 1, 'in (0, 1)')
UNIT_ABOVE_ZERO = (lambda v: 0 < v <= 1, 'in (0, 1]')
ANY = (lambda v: True, '')

RANGES = {
    'seed': NON_NEGATIVE, 'initial_random_steps': NON_NEGATIVE, 'warm_start': NON_NEGATIVE,
    'checkpoint_seconds': NON_NEGATIVE,
    'validation_fraction': OPEN_UNIT, 'fisher_subsample': UNIT_ABOVE_ZERO, 'tau': UNIT_ABOVE_ZERO,
    'gamma': UNIT, 'gae_lambda': UNIT, 'discount': UNIT, 'accept_ratio': UNIT,
    'ensemble_q_lambda': UNIT,
    'learning_rate': POSITIVE, 'q_learning_rate': POSITIVE, 'policy_learning_rate': POSITIVE,
    'alpha_learning_rate': POSITIVE, 'vae_learning_rate': POSITIVE,
    'target_kl': POSITIVE, 'alpha_max': POSITIVE,
    'damping': NON_NEGATIVE, 'cg_tolerance': NON_NEGATIVE, 'alpha': NON_NEGATIVE,
    'alpha_entropy': NON_NEGATIVE, 'sampling_std': NON_NEGATIVE, 'exploration_std': NON_NEGATIVE,
    'phi': NON_NEGATIVE, 'data_box_margin': NON_NEGATIVE,
    'max_done_disagreement': UNIT, 'max_reward_error': POSITIVE,
    'low': ANY, 'high': ANY, 'target_divergence': ANY, 'target_entropy': ANY,
    'target_return': ANY,
}

# Parameters whose default is None (or gin.REQUIRED): the type a binding must have.
OPTIONAL = {'horizon': int, 'train_steps': int, 'block_rows': int, 'target_entropy': float,
            'target_return': float, 'data_dir': str, 'dynamics_cache_dir': str,
            'behavior_policy_dir': str, 'env_id': str, 'dataset': str, 'data_box_margin': float}

# Parameters that also take None although their default is a value (None has a meaning there).
NULLABLE = {'block_rows'}  # None: the whole batch as one block

# Checked by the parser the code itself uses ('module:function', raising ValueError).
PARSERS = {'dataset_size': ('bremen_tf.data.on_demand:parse_size',
                            'a dataset size > 0 such as 1m, 100k or 50000'),
           'dataset': ('bremen_tf.data.sources:parse_source',
                       "None, 'minari:<dataset id or path>' or 'd4rl:<path to .hdf5>'")}

# Allowed values: a tuple, or 'module:NAME' of the tuple that the code itself checks against.
CHOICES = {
    'noise': 'bremen_tf.data.noise:NOISES',
    'policy_init': 'bremen_tf.stages:POLICY_INITS',
    'fisher_product': 'bremen_tf.imagined_trpo:FISHER_PRODUCTS',
    'subset_rule': 'bremen_tf.data.on_demand:SUBSET_RULES',
    'divergence': 'bremen_tf.agents.brac:DIVERGENCES',
    'env_id': 'bremen_tf.envs:ENV_IDS',
    'bc_data': 'bremen_tf.deployment:BC_DATA',
    'algorithm': 'bremen_tf.experiments:ALGORITHMS',
}


def _named(spec):
  module, name = spec.split(':')
  return getattr(importlib.import_module(module), name)


def _choices(spec):
  return spec if isinstance(spec, tuple) else tuple(_named(spec))


def _is_int(v):
  return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v):
  return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _kind(default, name):
  """The type a binding of `name` must have: from its default, or OPTIONAL; None: unchecked."""
  if default is None or default is gin.REQUIRED or default is inspect.Parameter.empty:
    return OPTIONAL.get(name)
  if isinstance(default, bool):
    return bool
  if isinstance(default, int):
    return int
  if isinstance(default, float):
    return float
  if isinstance(default, str):
    return str
  if isinstance(default, (tuple, list)):
    return tuple
  return None  # objects and callables (e.g. log): not settings


def _problem(configurable, name, value, default):
  """What is wrong with `value` as (expected, found), or None."""
  kind = _kind(default, name)
  found = f'{type(value).__name__} {value!r}'
  if value is None:  # allowed where it is the default
    ok = default is None or default is gin.REQUIRED or kind is None or name in NULLABLE
    return None if ok else (f'a value of type {kind.__name__}', found)
  choices = CHOICES.get(f'{configurable}.{name}', CHOICES.get(name))
  if choices is not None:
    allowed = _choices(choices)
    return None if value in allowed else (f'one of {", ".join(map(repr, allowed))}', found)
  if name in PARSERS:
    parser, expected = PARSERS[name]
    try:
      _named(parser)(value)
    except ValueError:
      return (expected, found)
    return None
  if kind is bool:
    return None if isinstance(value, bool) else ('True or False', found)
  if kind is str:
    return None if isinstance(value, str) else ('a string', found)
  if kind is tuple:
    ok = (isinstance(value, (tuple, list)) and len(value) > 0
          and all(_is_int(v) and v > 0 for v in value))
    return None if ok else ('a non-empty tuple of positive integers, e.g. (200, 200)', found)
  if kind in (int, float):
    test, text = RANGES.get(f'{configurable}.{name}', RANGES.get(name,
                                                                 POSITIVE if kind is int else ANY))
    what = 'an integer' if kind is int else 'a finite number'
    ok = _is_int(value) if kind is int else _is_number(value)
    return None if ok and test(value) else (f'{what} {text}'.strip(), found)
  return None


def _defaults(configurable):
  target = getattr(importlib.import_module(CONFIGURABLES[configurable]), configurable)
  return {k: p.default for k, p in inspect.signature(target).parameters.items()}


def check_binding(configurable, name, value):
  """Raises ConfigError if `value` is not a valid `configurable.name`."""
  problem = _problem(configurable, name, value, _defaults(configurable).get(name))
  if problem:
    expected, found = problem
    raise ConfigError(f'gin binding {configurable}.{name}: expected {expected}, found {found}. '
                      'Fix it in your --gin_file or --gin_bindings.')


def validate_gin_config():
  """Checks every binding of the known configurables in the parsed gin config (those the process
  has not imported cannot have bindings: gin refuses a binding for an unknown configurable)."""
  for configurable in CONFIGURABLES:
    try:
      bindings = gin.get_bindings(configurable)
    except ValueError:  # not registered in this process
      continue
    for name, value in bindings.items():
      check_binding(configurable, name, value)


# The two run kinds and their launchers. A deployment gin file includes its env's offline base
# file (so it binds train_offline.env_id too); a config of one kind given to the other's launcher
# would otherwise run the wrong experiment, silently, for hours.
RUN_KINDS = {'train_offline': ('offline', 'an offline run', 'launch/offline.py'),
             'train_deployment': ('deployment', 'a deployment-efficient run',
                                  'launch/deployment.py')}


def check_run_kind(configurable):
  """Raises ConfigError if the config is one of the other run kind's (see RUN_KINDS)."""
  if configurable not in RUN_KINDS:
    return
  other = next(c for c in RUN_KINDS if c != configurable)
  other_bound = sorted(gin.get_bindings(other))
  own_env = gin.get_bindings(configurable).get('env_id')
  # An offline run must bind nothing of a deployment's; a deployment run may carry the offline
  # base file's bindings, but then it names its own env.
  if other_bound and (configurable == 'train_offline' or not own_env):
    kind, what, launcher = RUN_KINDS[other]
    names = ', '.join(f'{other}.{k}' for k in other_bound[:3]) + (', ...' if len(other_bound) > 3
                                                                  else '')
    raise ConfigError(
        f'this is the config of {what} (it binds {names}'
        + (', and no train_deployment.env_id' if configurable == 'train_deployment' else '')
        + f'), which {RUN_KINDS[configurable][2]} does not run: run it with {launcher} '
        f'(launch/sweep.py: --kind={kind}).')


def check_required(configurable):
  """Raises ConfigError if a parameter of `configurable` without a default has no binding, or the
  config is one of the other run kind's."""
  check_run_kind(configurable)
  bound = gin.get_bindings(configurable)
  missing = [k for k, v in _defaults(configurable).items() if v is gin.REQUIRED and k not in bound]
  if configurable == 'train_offline' and bound.get('dataset') is None and not bound.get('env_id'):
    missing.append('env_id')  # optional only when a Minari or D4RL dataset names the env
  if missing:
    example = ('gin/deployment/hopper_200k.gin' if configurable == 'train_deployment' else
               'gin/base/hopper.gin')
    raise ConfigError(f'{configurable} needs a binding for {", ".join(missing)} (e.g. '
                      f'`{configurable}.{missing[0]} = ...`, or include the env\'s gin file such '
                      f'as {example}).')


def check_flag(name, value, test=NON_NEGATIVE):
  """Raises ConfigError unless flag --name is an integer meeting `test`."""
  ok, text = test
  if not _is_int(value) or not ok(value):
    raise ConfigError(f'--{name}={value!r}: expected an integer {text}.')
