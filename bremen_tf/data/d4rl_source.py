"""D4RL HDF5 files (Fu et al. 2020): `load_d4rl(path, env_id=None)` -> Dataset.

A D4RL file holds flat arrays `observations, actions, rewards, terminals, timeouts,
next_observations` (plus `infos/*` and `metadata/*`, not needed here). Its env comes from the
file name (`hopper_medium-v2.hdf5`, `halfcheetah-random-v2.hdf5`, ...) or an explicit `env_id`.
D4RL's gym -v2 HalfCheetah, Hopper and Walker2d have the observation layout, reward and
termination of gymnasium's -v5 (but for the healthy reward gym v3's Hopper and Walker2d also pay
on the step that falls), so the data are served on those. D4RL's ant is not: its
observation holds 111 values (contact forces included), ours 27. A file of an env registered with
envs.register_env is read as that env's (bind train_offline.env_id), with no reference scores.

Normalised scores use D4RL's reference returns (d4rl/infos.py, the same for every dataset
version): a random policy's and an expert SAC policy's average returns on the -v2 envs.
"""
import os
import re

import h5py
import numpy as np

from bremen_tf import envs
from bremen_tf.data.dataset import REQUIRED_KEYS, DatasetError
from bremen_tf.data.external import check_env, check_reference_scores, make_dataset

# robot -> (env served on, D4RL REF_MIN_SCORE, REF_MAX_SCORE)
D4RL_ROBOTS = {
    'halfcheetah': ('HalfCheetah-v5', -280.178953, 12135.0),
    'hopper': ('Hopper-v5', -20.272305, 3234.3),
    'walker2d': ('Walker2d-v5', 1.629008, 4592.3),
}
ANT_REASON = ("D4RL's ant observations hold 111 values (qpos, qvel and contact forces); our "
              'Ant-v5 leaves contact forces out (27) and its imagination reward cannot use them')


def robot_of(path):
  """'hopper' for '.../hopper_medium-v2.hdf5'; None if the name names no MuJoCo robot we know."""
  m = re.match(r'(halfcheetah|hopper|walker2d|ant)(?=[-_.])', os.path.basename(path).lower())
  return m.group(1) if m else None


def resolve_env(path, env_id=None):
  """(env id, robot) for a D4RL file: from its name, or the explicit `env_id` (which must agree);
  an env registered with envs.register_env is served as named, with robot None."""
  if env_id is not None and env_id in envs.USER_ENV_IDS:
    return env_id, None
  robot = robot_of(path)
  if robot == 'ant':
    raise DatasetError(f'd4rl:{path}: not served: {ANT_REASON}.')
  served = {v[0]: k for k, v in D4RL_ROBOTS.items()}
  if env_id is not None:
    if env_id not in served:
      raise DatasetError(f'd4rl:{path}: env_id {env_id!r} is not served for D4RL data: expected '
                         f'one of {", ".join(served)} (the gymnasium v5 versions of D4RL\'s envs).')
    if robot is not None and served[env_id] != robot:
      raise DatasetError(f'd4rl:{path}: the file name says {robot}, but env_id is {env_id!r}.')
    return env_id, served[env_id]
  if robot is None:
    raise DatasetError(
        f'd4rl:{path}: cannot tell the env from the file name: expected it to start with one of '
        f'{", ".join(D4RL_ROBOTS)} (e.g. hopper_medium-v2.hdf5; D4RL\'s other tasks are not '
        'MuJoCo locomotion and are not served), or bind train_offline.env_id to one of '
        f'{", ".join(served)}.')
  return D4RL_ROBOTS[robot][0], robot


def episode_jumps(raw):
  """Rows i with neither flag set whose next observation is not row i + 1's observation: where an
  episode ended unflagged (a file written without timeouts). Empty if the arrays' shapes are not
  those of a dataset (validation names what is wrong)."""
  obs, nxt = raw['observations'], raw['next_observations']
  flags = [np.asarray(raw[k]) for k in ('terminals', 'timeouts')]
  if (obs.ndim != 2 or nxt.shape != obs.shape or len(obs) < 2
      or any(f.shape != (len(obs),) for f in flags)):
    return np.zeros(0, int)
  ended = (flags[0] != 0) | (flags[1] != 0)
  return np.flatnonzero(~ended[:-1] & np.any(nxt[:-1] != obs[1:], axis=1))


def flagged(flags, rows):
  """A copy of `flags` with `rows` set, in the file's own dtype: the other values are validated
  afterwards as they were written (a float 0.5 is refused, not cast to True)."""
  flags = np.array(flags)
  flags[rows] = 1
  return flags


def load_d4rl(path, env_id=None):
  """Reads and validates a D4RL-layout HDF5 file; DatasetError names the file, key and reason."""
  where = f'd4rl:{path}'
  if not os.path.exists(path):
    raise DatasetError(f'{where}: the file does not exist.')
  env_id, robot = resolve_env(path, env_id)
  try:
    with h5py.File(path, 'r') as f:
      missing = [k for k in REQUIRED_KEYS if k not in f]
      if missing:
        raise DatasetError(f'{where}: key {missing[0]!r}: expected keys {list(REQUIRED_KEYS)}, '
                           f'found keys {sorted(f.keys())} (missing {missing}).')
      raw = {k: f[k][()] for k in REQUIRED_KEYS}
  except OSError as e:  # h5py's error for a truncated or non-HDF5 file
    raise DatasetError(f'{where}: not a readable HDF5 file (truncated or corrupt?): {e}') from e
  obs, act = raw['observations'], raw['actions']
  if obs.ndim == 2 and obs.shape[1] == 111:
    raise DatasetError(f'{where}: not served: {ANT_REASON}.')
  check_env(where, env_id, obs.shape[1] if obs.ndim == 2 else None,
            act.shape[1] if act.ndim == 2 else None)
  # A file that ends mid-episode: its last transition is a cut, not a whole episode's end.
  flags_end = [np.ravel(raw[k])[-1:] for k in ('terminals', 'timeouts')]
  cut = [] if any(f.size == 0 or f.any() for f in flags_end) else [len(raw['rewards']) - 1]
  if cut and np.ndim(raw['timeouts']) == 1:
    raw['timeouts'] = flagged(raw['timeouts'], [-1])
  jumps = episode_jumps(raw)
  if len(jumps):  # an episode that ends with neither flag: cut there, never merged with the next
    raw['timeouts'] = flagged(raw['timeouts'], jumps)
    cut = sorted(set(cut) | set(int(i) for i in jumps))
  refs = None  # an env of your own has no D4RL reference scores
  if robot is not None:
    _, low, high = D4RL_ROBOTS[robot]
    refs = check_reference_scores(where, low, high, 'D4RL (d4rl/infos.py REF_MIN/MAX_SCORE)')
  return make_dataset(where, raw, env_id, reference_scores=refs, cut_indices=cut,
                      d4rl_file=os.path.abspath(path))
