"""A dynamics fit shared between runs with the same data, seed and ensemble settings (e.g. BREMEN
and ME-TRPO on one dataset): the fit is deterministic given those, so the cache only saves time.
Bound by `train_offline.dynamics_cache_dir`."""
import hashlib
import json
import os
import re
import shutil

import numpy as np
import tensorflow as tf

from bremen_tf import fileio

DATA_KEYS = ('observations', 'actions', 'rewards', 'next_observations', 'terminals', 'timeouts')


def data_digest(datasets):
  """The transitions of `datasets` (in order) as 16 hex digits of their sha1: the cache key's
  identity of the data, so that a fit is never reused for other data under the same names (another
  subset rule, behaviour policy or file)."""
  digest = hashlib.sha1()
  for dataset in datasets:
    for key in DATA_KEYS:
      digest.update(np.ascontiguousarray(getattr(dataset, key)).tobytes())
  return digest.hexdigest()[:16]


def dynamics_cache_key(env_id, noise, dataset_size, n, validation_fraction, seed, dynamics):
  """Everything the fitted ensemble depends on (the fit is deterministic given these). `noise`
  names the data with its data_digest ('pure-<digest>'; a Minari or D4RL dataset: its binding,
  'minari:...-<digest>', and `dataset_size` its length)."""
  key = dict(env_id=env_id, noise=noise, dataset_size=dataset_size, n=n, seed=seed,
             validation_fraction=validation_fraction, n_models=dynamics.n_models,
             hidden=list(dynamics.net_sizes), learning_rate=dynamics.optimizer.learning_rate,
             **dynamics.fit_defaults)
  if dynamics.fit_matmul_dtype != 'float32':  # only then: float32 fits keep their cache entries
    key['fit_matmul_dtype'] = dynamics.fit_matmul_dtype
  digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
  name = re.sub(r'[^\w.+-]', '_', f'{env_id}_{noise}_{dataset_size}_seed{seed}_{digest}')
  return name, key


def load_cached_dynamics(cache_dir, name, dynamics):
  """The cached fit summary (and `dynamics` restored), or None if the cache has no entry."""
  entry = os.path.join(cache_dir, name)
  info_path = os.path.join(entry, 'fit.json')
  if not os.path.exists(info_path):
    return None
  info = fileio.read_json(info_path)
  tf.train.Checkpoint(dynamics=dynamics).read(
      os.path.join(entry, 'dynamics')).assert_existing_objects_matched()
  return info


def save_cached_dynamics(cache_dir, name, key, dynamics, fit):
  """Writes the entry atomically (a directory renamed into place; a concurrent writer loses)."""
  entry = os.path.join(cache_dir, name)
  tmp = f'{entry}.tmp{os.getpid()}'
  shutil.rmtree(tmp, ignore_errors=True)
  tf.train.Checkpoint(dynamics=dynamics).write(os.path.join(tmp, 'dynamics'))
  fileio.write_json(os.path.join(tmp, 'fit.json'), {**fit, 'key': key})
  try:
    os.replace(tmp, entry)
  except OSError:  # another run cached the same fit first
    shutil.rmtree(tmp, ignore_errors=True)
