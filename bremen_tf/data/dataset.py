"""The on-disk dataset format: one .npz (no pickle), D4RL-style keys plus JSON metadata.

Keys, N rows each:
  observations       float32 [N, obs_dim]
  actions            float32 [N, act_dim]   the executed (noisy) actions
  rewards            float32 [N]
  next_observations  float32 [N, obs_dim]   the true next observation, also at episode ends
  terminals          bool    [N]            true termination (no bootstrap)
  timeouts           bool    [N]            episode cut without termination: time limit, or
                                            the end of a collection segment / of a subset
  next_actions       float32 [N, act_dim]   optional: BRAC's a2, the same noisy policy's action
                                            at next_observations
  metadata           0-d unicode            JSON: env id, noise, size, seed, behaviour policy,
                                            return statistics, code revision, ...

`load_dataset` validates everything and raises DatasetError naming the file, the key, what was
expected and what was found.
"""
import dataclasses
import json
import os
import zipfile

import numpy as np

from bremen_tf import envs, fileio
from bremen_tf.errors import BremenError

FORMAT_VERSION = 1
FLOAT_KEYS = ('observations', 'actions', 'rewards', 'next_observations')
FLAG_KEYS = ('terminals', 'timeouts')
OPTIONAL_KEYS = ('next_actions',)
REQUIRED_KEYS = FLOAT_KEYS + FLAG_KEYS


class DatasetError(BremenError, ValueError):
  """A dataset file that cannot be used; the message says which file, key and why."""


@dataclasses.dataclass
class Dataset:
  observations: np.ndarray
  actions: np.ndarray
  rewards: np.ndarray
  next_observations: np.ndarray
  terminals: np.ndarray
  timeouts: np.ndarray
  next_actions: np.ndarray = None
  metadata: dict = dataclasses.field(default_factory=dict)

  def __len__(self):
    return len(self.rewards)

  def arrays(self):
    keys = REQUIRED_KEYS + tuple(k for k in OPTIONAL_KEYS if getattr(self, k) is not None)
    return {k: getattr(self, k) for k in keys}

  def prefix(self, n):
    """The first `n` transitions; a transition cut mid-episode is flagged as a timeout."""
    if n > len(self):
      raise ValueError(f'Asked for the first {n} transitions of a dataset of {len(self)}.')
    arrays = {k: v[:n].copy() for k, v in self.arrays().items()}
    cuts = [i for i in self.metadata.get('cut_indices', []) if i < n]
    if not (arrays['terminals'][-1] or arrays['timeouts'][-1]):
      arrays['timeouts'][-1] = True
      cuts.append(n - 1)
    return Dataset(**arrays, metadata={**self.metadata, 'cut_indices': cuts, 'size': n})


def episode_bounds(dataset):
  """(start, end, complete) of each episode: a contiguous run of transitions ending at a
  terminal or timeout (end inclusive). A run cut by the end of a collection segment (or of a
  prefix) is not a whole episode (complete False): such cuts are listed in
  metadata['cut_indices']. Transitions after the last end belong to no episode."""
  cuts = set(dataset.metadata.get('cut_indices', []))
  bounds, start = [], 0
  for end in np.flatnonzero(dataset.terminals | dataset.timeouts):
    bounds.append((start, int(end), int(end) not in cuts))
    start = int(end) + 1
  return bounds


def episode_returns(dataset):
  """Returns of the complete episodes (ending in a terminal or a time-limit timeout; see
  `episode_bounds`)."""
  csum = np.concatenate([[0.0], np.cumsum(dataset.rewards, dtype=np.float64)])
  return np.asarray([csum[end + 1] - csum[start]
                     for start, end, complete in episode_bounds(dataset) if complete])


def return_stats(returns):
  returns = np.asarray(returns, np.float64)
  if returns.size == 0:
    return {'episodes': 0, 'mean': None, 'std': None, 'min': None, 'max': None}
  return {'episodes': int(returns.size), 'mean': float(returns.mean()),
          'std': float(returns.std()), 'min': float(returns.min()), 'max': float(returns.max())}


def save_dataset(path, dataset):
  """Writes `dataset` to `path` atomically (a crash leaves no partial file)."""
  meta = {'format_version': FORMAT_VERSION, **dataset.metadata}
  fileio.write_npz(path, metadata=np.array(json.dumps(meta, default=str)), **dataset.arrays())


def _fail(path, key, expected, found):
  where = f'key {key!r}' if key else 'file'
  raise DatasetError(f'{path}: {where}: expected {expected}, found {found}.')


def load_dataset(path, env_id=None):
  """Loads and validates a dataset file; with `env_id`, also checks it was made for that env."""
  if not os.path.exists(path):
    raise DatasetError(f'Dataset file {path} does not exist.')
  try:
    with np.load(path, allow_pickle=False) as f:
      raw = {k: f[k] for k in f.files}
  except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
    raise DatasetError(f'{path}: not a readable dataset .npz (truncated or corrupt?): '
                       f'{type(e).__name__}: {e}') from e

  missing = [k for k in REQUIRED_KEYS + ('metadata',) if k not in raw]
  if missing:
    _fail(path, missing[0], f'keys {list(REQUIRED_KEYS) + ["metadata"]}',
          f'keys {sorted(raw)} (missing {missing})')
  try:
    meta = json.loads(str(raw.pop('metadata')))
  except ValueError as e:
    _fail(path, 'metadata', 'a JSON object', f'unparsable text ({e})')
  if not isinstance(meta, dict):
    _fail(path, 'metadata', 'a JSON object', f'unparsable text (a JSON {type(meta).__name__})')

  if env_id is not None:
    if meta.get('env_id') not in (None, env_id):
      _fail(path, 'metadata', f"env_id {env_id!r}", f"env_id {meta.get('env_id')!r}")
    spec = envs.get_spec(env_id)
    arrays = check_arrays(path, raw, spec.obs_dim, spec.act_dim)
  else:
    arrays = check_arrays(path, raw)
  n = len(arrays['rewards'])
  if 'size' in meta and not (isinstance(meta['size'], int) and not isinstance(meta['size'], bool)):
    _fail(path, 'metadata', f"an integer 'size' (the file has {n} rows)",
          f"size {meta['size']!r}")
  if 'size' in meta and meta['size'] != n:
    _fail(path, None, f"{meta['size']} transitions (metadata 'size')", f'{n} rows')
  return Dataset(**arrays, metadata=meta)


def check_arrays(where, raw, obs_dim=None, act_dim=None):
  """Validated float32 / bool arrays from `raw` (key -> array) of any source: dtypes, shapes
  (with `obs_dim` / `act_dim`, also the widths), at least one row, finite values. `where` names
  the file or dataset in the DatasetError."""
  missing = [k for k in REQUIRED_KEYS if k not in raw]
  if missing:
    _fail(where, missing[0], f'keys {list(REQUIRED_KEYS)}',
          f'keys {sorted(raw)} (missing {missing})')
  n = len(raw['rewards']) if np.ndim(raw['rewards']) else 0
  arrays = {}
  for key in FLOAT_KEYS + tuple(k for k in OPTIONAL_KEYS if k in raw):
    a = np.asarray(raw[key])
    if not np.issubdtype(a.dtype, np.floating):
      _fail(where, key, 'a floating-point array', f'dtype {a.dtype}')
    arrays[key] = a.astype(np.float32, copy=False)
  for key in FLAG_KEYS:
    a = np.asarray(raw[key])
    if a.dtype != np.bool_:
      if not (np.issubdtype(a.dtype, np.number) and np.isin(a, (0, 1)).all()):
        _fail(where, key, 'a bool array (or 0/1 numbers)', f'dtype {a.dtype}')
      a = a.astype(bool)
    arrays[key] = a

  if obs_dim is None and arrays['observations'].ndim == 2:
    obs_dim = arrays['observations'].shape[-1]
  if act_dim is None and arrays['actions'].ndim == 2:
    act_dim = arrays['actions'].shape[-1]
  expected_shapes = {'observations': (n, obs_dim), 'next_observations': (n, obs_dim),
                     'actions': (n, act_dim), 'next_actions': (n, act_dim), 'rewards': (n,),
                     'terminals': (n,), 'timeouts': (n,)}
  for key, a in arrays.items():
    if a.shape != expected_shapes[key]:
      _fail(where, key, f'shape {expected_shapes[key]}', f'shape {a.shape}')
  if n == 0:
    _fail(where, 'rewards', 'at least one transition', '0 rows')

  for key in FLOAT_KEYS + tuple(k for k in OPTIONAL_KEYS if k in arrays):
    bad = ~np.isfinite(arrays[key])
    if bad.any():
      rows = np.flatnonzero(bad.reshape(n, -1).any(axis=1))
      _fail(where, key, 'finite values', f'{int(bad.sum())} non-finite values '
            f'(first at row {int(rows[0])})')
  return arrays
