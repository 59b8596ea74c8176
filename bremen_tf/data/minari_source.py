"""Minari datasets (Farama's successor of D4RL): read one as a Dataset, write one from a Dataset.

A local Minari dataset lives at `$MINARI_DATASETS_PATH/<namespace>/<env>/<name>-v<N>/data/`
(default root ~/.minari/datasets): `metadata.json` (spaces, env spec, reference scores, ...) and
`main_data.hdf5` with one group per episode (observations: T+1 rows, actions, rewards,
terminations, truncations: T rows). `load_minari` takes a dataset id or a directory and never
downloads. The env comes from the dataset's env spec (or an explicit `env_id` when it has none);
terminations become `terminals`, truncations `timeouts`. Image or dict spaces, non-MuJoCo envs
and env kwargs that change what the env computes are DatasetErrors naming the dataset.
"""
import inspect
import json
import os
import re
import shutil
import warnings
from importlib import metadata as package_metadata

import gymnasium
from gymnasium.envs.registration import load_env_creator
import numpy as np

from bremen_tf import envs
from bremen_tf.data.dataset import DatasetError
from bremen_tf.data.external import check_env, check_reference_scores, make_dataset

CUT_EPISODES_KEY = 'cut_episode_ids'  # episodes cut by the end of a collection, not by the env
IGNORED_ENV_KWARGS = ('render_mode',)  # kwargs that do not change the data
GENERATED_NAMESPACE = 'bremen-d4rl'  # where launch/make_d4rl_datasets.py writes (d4rl_recipe.py)


def _minari():
  import minari  # pylint: disable=g-import-not-at-top (only the Minari paths need it)
  return minari


def open_minari(name):
  """(MinariDataset, label) for a dataset id (looked up locally, never downloaded) or directory."""
  minari = _minari()
  where = f'minari:{name}'
  try:
    if os.path.isdir(name):
      data_dir = name if os.path.exists(os.path.join(name, 'metadata.json')) else os.path.join(
          name, 'data')
      if not os.path.exists(os.path.join(data_dir, 'metadata.json')):
        raise DatasetError(f'{where}: not a Minari dataset directory: no metadata.json in '
                           f'{name} or {data_dir}.')
      return minari.MinariDataset(data_dir), where
    return minari.load_dataset(name, download=False), where
  except FileNotFoundError as e:
    root = os.environ.get('MINARI_DATASETS_PATH', '~/.minari/datasets')
    ours = re.fullmatch(GENERATED_NAMESPACE + r'/(\w+)/([\w-]+)-v\d+', name)
    hint = (f' It is one of ours: make it with `python launch/make_d4rl_datasets.py '
            f'--envs={ours[1]} --datasets={ours[2]}`.' if ours else '')
    raise DatasetError(f'{where}: no local dataset with that id under {root} (set '
                       'MINARI_DATASETS_PATH, or give the dataset directory; nothing is '
                       f'downloaded): {e}{hint}') from e
  except (OSError, KeyError, ValueError, json.JSONDecodeError) as e:
    raise DatasetError(f'{where}: not a readable Minari dataset (truncated or corrupt?): '
                       f'{type(e).__name__}: {e}') from e


def resolve_env(where, ds, env_id=None):
  """Our env id for a Minari dataset: its env spec's id (which `env_id`, if given, must equal)."""
  for what, space in (('observation', ds.observation_space), ('action', ds.action_space)):
    if not (isinstance(space, gymnasium.spaces.Box) and len(space.shape) == 1):
      raise DatasetError(f'{where}: not served: its {what} space is {space}; only flat Box '
                         'spaces (MuJoCo locomotion state vectors) are, not images or dicts.')
  spec = ds.env_spec
  if spec is None:
    if env_id is None:
      raise DatasetError(f'{where}: the dataset has no env spec; bind train_offline.env_id to '
                         'the env it was collected on (one of '
                         f'{", ".join(envs.LOCOMOTION_ENV_IDS)}, or one registered with '
                         'bremen_tf.envs.register_env).')
    return env_id
  # Our id of the env it names: a locomotion env's is its gymnasium id; an env registered with
  # envs.register_env may have an id of its own over the gymnasium id the dataset records.
  ours = {e: e for e in envs.LOCOMOTION_ENV_IDS}
  ours.update({envs.get_spec(e).gym_id: e for e in envs.USER_ENV_IDS})
  if env_id is not None and env_id not in (spec.id, ours.get(spec.id)):
    raise DatasetError(f'{where}: the dataset was collected on {spec.id!r}, but env_id is '
                       f'{env_id!r}.')
  if spec.id not in ours:
    raise DatasetError(
        f'{where}: env {spec.id!r} is not served: only the MuJoCo locomotion envs '
        f'{", ".join(envs.LOCOMOTION_ENV_IDS)} have tested imagination reward and termination '
        'functions here (an env of your own: bremen_tf.envs.register_env).')
  for key, value in (spec.kwargs or {}).items():
    mine = _our_kwarg(ours[spec.id], key)
    if key not in IGNORED_ENV_KWARGS and not _same(value, mine):
      raise DatasetError(f'{where}: env {spec.id!r} was made with {key}={value!r}, which '
                         f'changes what it computes; ours uses {mine!r}.')
  return ours[spec.id]


def _our_kwarg(env_id, key):
  """The value our env uses for a make kwarg: ours, else the registration's, else the
  constructor's default (None if the constructor has no such argument)."""
  ours = envs.get_spec(env_id)
  registered = gymnasium.spec(ours.gym_id)
  if key in ours.make_kwargs:
    return ours.make_kwargs[key]
  if key in registered.kwargs:
    return registered.kwargs[key]
  creator = (registered.entry_point if callable(registered.entry_point)
             else load_env_creator(registered.entry_point))
  param = inspect.signature(creator).parameters.get(key)
  return None if param is None or param.default is inspect.Parameter.empty else param.default


def _same(a, b):
  """Equal values; sequences element-wise (an env spec stored as JSON turns tuples into lists)."""
  if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
    return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
  return a == b


def load_minari(name, env_id=None):
  """Reads and validates a Minari dataset as a Dataset (episodes concatenated in order)."""
  ds, where = open_minari(name)
  env_id = resolve_env(where, ds, env_id)
  check_env(where, env_id, ds.observation_space.shape[0], ds.action_space.shape[0])
  meta = ds.storage.metadata
  parts = {k: [] for k in ('observations', 'next_observations', 'actions', 'rewards',
                           'terminals', 'timeouts')}
  cut_ids, ends, total = set(meta.get(CUT_EPISODES_KEY) or []), [], 0
  try:
    for ep in ds.iterate_episodes():
      obs, n = np.asarray(ep.observations), len(ep.rewards)
      if obs.ndim != 2 or len(obs) != n + 1:
        raise DatasetError(f'{where}: episode {ep.id}: key \'observations\': expected shape '
                           f'({n + 1}, obs_dim) for {n} steps, found {obs.shape}.')
      parts['observations'].append(obs[:-1])
      parts['next_observations'].append(obs[1:])
      parts['actions'].append(np.asarray(ep.actions))
      parts['rewards'].append(np.asarray(ep.rewards))
      terminals, timeouts = np.asarray(ep.terminations), np.array(ep.truncations)
      total += n
      if ep.id in cut_ids or not (n and (terminals[-1] or timeouts[-1])):
        # An episode ending with neither flag (a buffer written without them) is cut there,
        # as a timeout: never merged with the next one into an episode that never happened.
        if n:  # (an empty episode ends nothing)
          timeouts[-1] = True
          ends.append(total - 1)
      parts['terminals'].append(terminals)
      parts['timeouts'].append(timeouts)
  except DatasetError:
    raise
  except (OSError, KeyError, ValueError) as e:
    raise DatasetError(f'{where}: episodes not readable (truncated or corrupt?): '
                       f'{type(e).__name__}: {e}') from e
  if not parts['rewards']:
    raise DatasetError(f'{where}: key \'rewards\': expected at least one episode, found none.')
  raw = {k: np.concatenate(v) for k, v in parts.items()}
  refs = check_reference_scores(where, meta.get('ref_min_score'), meta.get('ref_max_score'),
                                'Minari metadata (ref_min_score / ref_max_score)')
  provenance = meta.get('bremen_tf')
  return make_dataset(where, raw, env_id, reference_scores=refs, cut_indices=ends,
                      minari_dataset_id=meta.get('dataset_id'),
                      generator=json.loads(provenance) if provenance else None)


def episode_buffers(dataset):
  """Dataset (contiguous episodes, each ending in a terminal or timeout) -> (EpisodeBuffers,
  ids of the episodes cut by the end of a collection)."""
  from minari.data_collector import EpisodeBuffer  # pylint: disable=g-import-not-at-top
  ends = np.flatnonzero(dataset.terminals | dataset.timeouts)
  if len(ends) == 0 or ends[-1] != len(dataset) - 1:
    raise ValueError('The dataset must end with a terminal or a timeout (a cut episode is a '
                     'timeout listed in metadata cut_indices).')
  cuts = set(dataset.metadata.get('cut_indices', []))
  buffers, cut_ids, start = [], [], 0
  for i, end in enumerate(ends):
    sl = slice(start, end + 1)
    obs = np.concatenate([dataset.observations[sl], dataset.next_observations[end:end + 1]])
    buffers.append(EpisodeBuffer(id=i, observations=obs, actions=dataset.actions[sl],
                                 rewards=dataset.rewards[sl], terminations=dataset.terminals[sl],
                                 truncations=dataset.timeouts[sl]))
    if end in cuts:
      cut_ids.append(i)
    start = end + 1
  return buffers, cut_ids


def minari_root(root=None):
  """Where Minari keeps local datasets: `root`, else $MINARI_DATASETS_PATH, else Minari's
  default."""
  return root or os.environ.get('MINARI_DATASETS_PATH') or os.path.join(
      os.path.expanduser('~'), '.minari', 'datasets')


def write_minari(dataset_id, dataset, reference_scores, description, provenance, root=None,
                 author='bremen-tf', algorithm_name='SAC (bremen_tf/agents/sac.py)'):
  """Writes `dataset` as the Minari dataset `dataset_id` under `root` (default
  $MINARI_DATASETS_PATH) with Minari's own writer, atomically: it is made in a temporary root
  and renamed into place, so a crash leaves no half-written dataset. Returns its directory."""
  minari = _minari()
  root = minari_root(root)
  final = os.path.join(root, dataset_id)
  if os.path.exists(final):
    raise FileExistsError(f'Minari dataset {dataset_id} already exists at {final}.')
  tmp_root = os.path.join(root, f'.tmp-{os.getpid()}-{dataset_id.replace("/", "_")}')
  shutil.rmtree(tmp_root, ignore_errors=True)
  buffers, cut_ids = episode_buffers(dataset)
  env = envs.make(dataset.metadata['env_id'])
  before = os.environ.get('MINARI_DATASETS_PATH')
  os.environ['MINARI_DATASETS_PATH'] = tmp_root  # minari writes where this points
  try:
    with warnings.catch_warnings():
      warnings.simplefilter('ignore')
      made = minari.create_dataset_from_buffers(
          dataset_id, buffers, env=env, algorithm_name=algorithm_name, author=author,
          author_email='-', code_permalink=provenance.get('git_revision') or '-',
          ref_min_score=reference_scores['min'], ref_max_score=reference_scores['max'],
          description=description,
          requirements=[f'{p}=={package_metadata.version(p)}' for p in ('gymnasium', 'mujoco')])
      made.storage.update_metadata({CUT_EPISODES_KEY: cut_ids,
                                    'bremen_tf': json.dumps(provenance, default=str)})
  finally:
    env.close()
    if before is None:
      os.environ.pop('MINARI_DATASETS_PATH', None)
    else:
      os.environ['MINARI_DATASETS_PATH'] = before
  # Minari's namespace files for levels the real root does not have yet, then the dataset itself.
  for dirpath, _, files in os.walk(tmp_root):
    if 'namespace_metadata.json' in files:
      dest = os.path.join(root, os.path.relpath(dirpath, tmp_root), 'namespace_metadata.json')
      if not os.path.exists(dest):
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(os.path.join(dirpath, 'namespace_metadata.json'), dest)
  os.makedirs(os.path.dirname(final), exist_ok=True)
  os.replace(os.path.join(tmp_root, dataset_id), final)
  shutil.rmtree(tmp_root, ignore_errors=True)
  return final
