"""Datasets on demand: `get_dataset(env_id, noise, size, seed)` loads a cached file or makes it.

Files live in `<data_dir>/<env slug>/<noise>_<size>_seed<seed>[_first].npz`, with data_dir from
the argument, else $BREMEN_TF_DATA_DIR, else ~/.cache/bremen_tf/datasets. They are collected
with the shipped behaviour policy the first time they are asked for.

Subsets (`subset_rule`), the one choice the BRAC protocol leaves open for n < 1M:
  'mixture'  (default) collect n transitions directly with the noise config's 20/40/40 mix, so
             an `eps1` dataset of 100K is eps1 data like the 1M one.
  'first_n'  the authors' code: the first n transitions of the 1M dataset. Because the uniform
             random segment comes first, eps*/gaussian* subsets of n <= 200K are then purely
             random data. For `pure` the two rules give data of the same distribution.
"""
import os

import gin

from bremen_tf import envs, fileio, provenance
from bremen_tf.data import collection, noise as noise_lib, shipped_policies
from bremen_tf.data.dataset import (Dataset, DatasetError, episode_returns, load_dataset,
                                    return_stats, save_dataset)

FULL_SIZE = 1_000_000
SUBSET_RULES = ('mixture', 'first_n')
_SIZE_NAMES = {1_000_000: '1m', 100_000: '100k', 50_000: '50k'}


def default_data_dir():
  return os.environ.get('BREMEN_TF_DATA_DIR',
                        os.path.join(os.path.expanduser('~'), '.cache', 'bremen_tf', 'datasets'))


def parse_size(text):
  """'1m' / '100K' / '50000' -> int."""
  t = str(text).strip().lower().replace('_', '')
  scale = {'k': 1_000, 'm': 1_000_000}.get(t[-1:], 1)
  try:
    value = int(float(t[:-1] if scale > 1 else t) * scale)
  except ValueError:
    raise ValueError(f'Bad dataset size {text!r}: use e.g. 1m, 100k, 50k or 50000.') from None
  if value <= 0:
    raise ValueError(f'Dataset size must be positive, got {text!r}.')
  return value


def dataset_path(env_id, noise, size, seed=0, data_dir=None, subset_rule='mixture'):
  name = f'{noise}_{_SIZE_NAMES.get(size, str(size))}_seed{seed}'
  if subset_rule == 'first_n' and size != FULL_SIZE:
    name += '_first'
  return os.path.join(data_dir or default_data_dir(), envs.slug(env_id), name + '.npz')


@gin.configurable(denylist=['env_id', 'noise', 'size', 'seed'])
def get_dataset(env_id, noise, size, seed=0, data_dir=None, subset_rule='mixture',
                n_envs=64, behavior_policy_dir=None, log=print):
  """The (env_id, noise, size, seed) dataset, collected and cached the first time it is asked for.

  `size` is an int or a string like '100k'. See the module docstring for `subset_rule`.
  """
  envs.get_spec(env_id)
  noise_lib.get_segments(noise)
  size = parse_size(size) if isinstance(size, str) else int(size)
  if subset_rule not in SUBSET_RULES:
    raise ValueError(f'Unknown subset_rule {subset_rule!r}; expected one of {SUBSET_RULES}.')
  path = dataset_path(env_id, noise, size, seed, data_dir, subset_rule)
  if os.path.exists(path):
    try:
      dataset = load_dataset(path, env_id)
    except DatasetError as e:
      raise DatasetError(f'{e} Delete the cached file to collect it again.') from e
    _check_matches(path, dataset, env_id=env_id, noise=noise, size=size, seed=seed)
    if noise != 'random':  # uniform actions: the policy collected nothing
      _check_behavior_policy(path, dataset, env_id, behavior_policy_dir)
    return dataset

  if subset_rule == 'first_n' and size < FULL_SIZE:
    full = get_dataset(env_id, noise, FULL_SIZE, seed, data_dir, 'mixture', n_envs,
                       behavior_policy_dir, log)
    dataset = full.prefix(size)
    dataset.metadata['behavior_returns'] = return_stats(episode_returns(dataset))
    dataset.metadata['subset_rule'] = 'first_n'
    dataset.metadata['source'] = os.path.basename(
        dataset_path(env_id, noise, FULL_SIZE, seed, data_dir))
  else:
    actor, policy_meta = shipped_policies.load_behavior_policy(env_id, behavior_policy_dir)
    log(f'Collecting {env_id} {noise} {size:,} transitions (seed {seed}) -> {path}')
    dataset = collection.collect(env_id, actor, noise, size, seed, n_envs, log)
    dataset.metadata.update({
        'subset_rule': subset_rule,
        'behavior_policy': {k: policy_meta[k] for k in (
            'env_id', 'algorithm', 'seed', 'sac_steps', 'env_steps', 'eval_return_mean',
            'eval_return_std', 'threshold')},
        'provenance': provenance.record(),
    })
    log(f'Collected in {dataset.metadata["collection_seconds"]:.0f}s '
        f'({dataset.metadata["transitions_per_second"]:,.0f} transitions/s); '
        f'behaviour return {dataset.metadata["behavior_returns"]["mean"]}')
  save_dataset(path, dataset)
  return load_dataset(path, env_id)


POLICY_IDENTITY = ('env_id', 'algorithm', 'seed', 'sac_steps', 'eval_return_mean')


def _check_behavior_policy(path, dataset, env_id, behavior_policy_dir):
  """A cached file made by another behaviour policy than the one that would collect it now (a
  policy re-shipped, or get_dataset.behavior_policy_dir bound) is refused, not silently used."""
  recorded = dataset.metadata.get('behavior_policy')
  policy_json = os.path.join(behavior_policy_dir or os.path.join(
      shipped_policies.SHIPPED_DIR, envs.slug(env_id)), 'policy.json')
  if not recorded or not os.path.exists(policy_json):
    return  # a random-data file, or no policy to compare with (collecting would say so)
  meta = fileio.read_json(policy_json)
  differ = [k for k in POLICY_IDENTITY if k in recorded and recorded[k] != meta.get(k)]
  if differ:
    raise DatasetError(
        f'{path}: collected by another behaviour policy than {os.path.dirname(policy_json)} '
        f'(' + ', '.join(f'{k} {recorded[k]!r} there, {meta.get(k)!r} here' for k in differ)
        + '). Delete the file to collect it with this policy, or give another '
        'get_dataset.data_dir.')


def _check_matches(path, dataset, **expected):
  for key, value in expected.items():
    found = dataset.metadata.get(key)
    if found != value:
      raise DatasetError(f'{path}: metadata {key!r}: expected {value!r}, found {found!r}. '
                         'The cached file does not match its name; delete it to recollect.')


__all__ = ['Dataset', 'get_dataset', 'dataset_path', 'default_data_dir', 'parse_size']
