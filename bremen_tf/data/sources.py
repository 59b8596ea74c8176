"""One dataset binding for every source: `load_source(dataset, ...)` -> Dataset.

  None                      the BRAC-protocol dataset of (env_id, noise, dataset_size), made on
                            demand by our behaviour policies (the default; data/on_demand.py)
  'minari:<id or path>'     a local Minari dataset (bremen_tf/data/minari_source.py)
  'd4rl:<path to .hdf5>'    a D4RL file (bremen_tf/data/d4rl_source.py)

For Minari and D4RL the env comes from the dataset (`env_id`, if bound, must agree), `noise` and
`dataset_size` do not apply, and the metadata carries the reference scores that normalised scores
are computed from (None when the dataset has none). `reference_scores` (train_offline's binding)
gives them to a dataset that has none (Farama's `mujoco/*` sets) or replaces its own: a
(min, max) pair, or 'd4rl' for D4RL's constants of the dataset's env.
"""
from bremen_tf.data.d4rl_source import D4RL_ROBOTS, load_d4rl
from bremen_tf.data.external import check_reference_scores, normalized_score
from bremen_tf.data.minari_source import load_minari
from bremen_tf.data.on_demand import get_dataset
from bremen_tf.errors import ConfigError

PREFIXES = ('minari:', 'd4rl:')


def parse_source(dataset):
  """None -> ('brac', None); 'minari:x' -> ('minari', 'x'); 'd4rl:x' -> ('d4rl', 'x')."""
  if dataset is None:
    return 'brac', None
  for prefix in PREFIXES:
    if isinstance(dataset, str) and dataset.startswith(prefix) and dataset[len(prefix):]:
      return prefix[:-1], dataset[len(prefix):]
  raise ConfigError(f'train_offline.dataset must be None (the BRAC-protocol dataset of env_id, '
                   f"noise and dataset_size), 'minari:<dataset id or path>' or "
                   f"'d4rl:<path to .hdf5>'; got {dataset!r}.")


def parse_reference_scores(reference_scores):
  """None, 'd4rl' or a (min, max) pair of numbers ({'min', 'max', 'origin'}), checked before any
  work."""
  if reference_scores is None or reference_scores == 'd4rl':
    return reference_scores
  try:
    low, high = (float(v) for v in reference_scores)
  except (TypeError, ValueError):
    raise ConfigError("train_offline.reference_scores must be None, 'd4rl' or a (min, max) pair "
                      f'of numbers; got {reference_scores!r}.') from None
  return check_reference_scores('train_offline.reference_scores', low, high,
                                'train_offline.reference_scores')


def with_reference_scores(data, reference_scores, log=print):
  """`data` with the reference scores that `reference_scores` (parsed) names, if any."""
  if reference_scores is None:
    return data
  env_id, own = data.metadata['env_id'], data.metadata.get('reference_scores')
  refs = reference_scores
  if reference_scores == 'd4rl':
    by_env = {v[0]: (k, v[1], v[2]) for k, v in D4RL_ROBOTS.items()}
    if env_id not in by_env:
      raise ConfigError(f"train_offline.reference_scores = 'd4rl': D4RL has reference scores for "
                        f'{", ".join(by_env)} only, and this dataset\'s env is {env_id!r}.')
    robot, low, high = by_env[env_id]
    refs = {'min': low, 'max': high, 'origin': f'D4RL constants for {robot} (d4rl/infos.py), by '
                                               'train_offline.reference_scores'}
  if own and (own['min'], own['max']) != (refs['min'], refs['max']):
    log(f'Reference scores {refs["min"]:g} / {refs["max"]:g} ({refs["origin"]}) replace the '
        f'dataset\'s own {own["min"]:g} / {own["max"]:g} ({own["origin"]}).')
  data.metadata['reference_scores'] = refs
  return data


def load_source(dataset, env_id, noise, dataset_size, data_dir=None, log=print,
                reference_scores=None):
  """The Dataset named by `dataset` (see the module docstring); metadata['env_id'] is its env and
  metadata['reference_scores'] its reference scores (`reference_scores` gives or replaces them)."""
  reference_scores = parse_reference_scores(reference_scores)
  kind, name = parse_source(dataset)
  if kind == 'brac':
    if env_id is None:
      raise ConfigError('train_offline.env_id is required for the BRAC-protocol dataset '
                       "(or bind train_offline.dataset to 'minari:...' or 'd4rl:...').")
    data = get_dataset(env_id, noise, dataset_size, data_dir=data_dir, log=log)
    data.metadata.setdefault('env_id', env_id)
    label = f'{env_id} {noise}'
  else:
    data = (load_minari if kind == 'minari' else load_d4rl)(name, env_id)
    label = f'{data.metadata["env_id"]} from {dataset}'
  data = with_reference_scores(data, reference_scores, log)
  behavior = data.metadata.get('behavior_returns') or {}
  refs = data.metadata.get('reference_scores')
  score = ''
  if refs and behavior.get('mean') is not None:
    score = (f' (normalised {normalized_score(behavior["mean"], refs):.1f}; reference scores '
             f'{refs["min"]:g} / {refs["max"]:g}, {refs["origin"]})')
  log(f'Dataset: {len(data):,} transitions of {label}, behaviour return '
      f'{behavior.get("mean") if behavior.get("mean") is not None else float("nan"):.1f}{score}')
  return data


def run_record(dataset, noise):
  """What a run's train_state.json keeps about its dataset (tables and plots read it)."""
  meta = dataset.metadata
  record = {'size': len(dataset), 'noise': noise,
            'behavior_returns': meta.get('behavior_returns') or None,
            'env_id': meta.get('env_id')}
  if meta.get('dataset'):  # minari:... / d4rl:...
    record.update(dataset=meta['dataset'], noise=None,
                  reference_scores=meta.get('reference_scores'))
  return record
