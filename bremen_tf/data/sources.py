"""One dataset binding for every source: `load_source(dataset, ...)` -> Dataset.

  None                      the BRAC-protocol dataset of (env_id, noise, dataset_size), made on
                            demand by our behaviour policies (the default; data/on_demand.py)
  'minari:<id or path>'     a local Minari dataset (bremen_tf/data/minari_source.py)
  'd4rl:<path to .hdf5>'    a D4RL file (bremen_tf/data/d4rl_source.py)

For Minari and D4RL the env comes from the dataset (`env_id`, if bound, must agree), `noise` and
`dataset_size` do not apply, and the metadata carries the reference scores that normalised scores
are computed from (None when the dataset has none).
"""
from bremen_tf.data.d4rl_source import load_d4rl
from bremen_tf.data.external import normalized_score
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


def load_source(dataset, env_id, noise, dataset_size, data_dir=None, log=print):
  """The Dataset named by `dataset` (see the module docstring); metadata['env_id'] is its env."""
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
