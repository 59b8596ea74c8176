"""SavedModel export of a GaussianPolicy, usable with nothing but TensorFlow.

    export_policy(policy, '<run>/policy', metadata)
    m = tf.saved_model.load('<run>/policy')
    actions = m.signatures['serving_default'](observations=obs)['actions']   # deterministic μ
    sample = m.signatures['sample'](observations=obs)                        # μ + g·ε exploration

Signatures take `observations` float32 [batch, obs_dim]; the observation normalisation is part of
the graph, so raw env observations go in and env actions come out. `bremen_policy.json` beside
the model records the env id, dimensions and run metadata.
"""
import os
import shutil

import tensorflow as tf

from bremen_tf import fileio
from bremen_tf.policies import GaussianPolicy

METADATA_FILE = 'bremen_policy.json'


def blank_like(policy):
  """A GaussianPolicy with `policy`'s architecture and sampling settings, variables of its own."""
  blank = GaussianPolicy(policy.obs_dim, policy.act_dim, hidden=policy.hidden, low=policy.low,
                         high=policy.high, sampling_std=policy.sampling_std,
                         const_sampling=policy.const_sampling)
  blank.fixed_log_std = policy.fixed_log_std
  return blank


class _ExportModule(tf.Module):

  def __init__(self, policy):
    super().__init__(name='exported_policy')
    # A private copy, so later training cannot change what was exported.
    self.policy = blank_like(policy)
    self.policy.copy_from(policy)
    spec = tf.TensorSpec([None, policy.obs_dim], tf.float32, name='observations')
    self.serve = tf.function(self._serve, input_signature=[spec], autograph=False)
    self.sample = tf.function(self._sample, input_signature=[spec], autograph=False)

  def _serve(self, observations):
    return {'actions': self.policy.mean_log_std(observations)[0]}

  def _sample(self, observations):
    mean, log_std = self.policy.mean_log_std(observations)
    noise = tf.random.normal(tf.shape(mean))
    return {'actions': self.policy.sample(observations, noise), 'mean': mean,
            'log_std': log_std}


def export_policy(policy, path, metadata=None):
  """Writes the SavedModel to `path` atomically (a previous export there is replaced)."""
  module = _ExportModule(policy)
  return _save(module, {'serving_default': module.serve, 'sample': module.sample}, path, {
      'obs_dim': policy.obs_dim, 'act_dim': policy.act_dim,
      'signatures': {'serving_default': 'observations -> actions (mean)',
                     'sample': 'observations -> actions, mean, log_std'},
      **(metadata or {})})


def export_test_policies(networks, policies, obs_dim, path, metadata):
  """Exports model-free test policies: `policies` name -> fn(obs) -> actions, the first served as
  `serving_default` and each also under its own name; `networks` are the tf.Modules they read."""
  module = tf.Module(name='exported_policies')
  module.networks = dict(networks)  # tracked, so their variables are saved
  spec = tf.TensorSpec([None, obs_dim], tf.float32, name='observations')
  signatures = {}
  for k, (name, fn) in enumerate(policies.items()):
    traced = tf.function(_serving(fn), input_signature=[spec], autograph=False)
    setattr(module, f'policy_{name}', traced)
    signatures[name] = traced
    if k == 0:
      signatures['serving_default'] = traced
  return _save(module, signatures, path, {
      'obs_dim': obs_dim, 'signatures': {name: 'observations -> actions' for name in signatures},
      **metadata})


def _serving(fn):
  def serve(observations):
    return {'actions': fn(observations)}
  return serve


def _save(module, signatures, path, meta):
  tmp = path.rstrip('/') + '.tmp'
  shutil.rmtree(tmp, ignore_errors=True)
  tf.saved_model.save(module, tmp, signatures=signatures)
  fileio.write_json(os.path.join(tmp, METADATA_FILE), meta)
  fileio.replace_directory(tmp, path)  # a kill at any instant leaves a whole policy
  return path


def load_policy(path):
  """(deterministic action function obs -> actions, metadata dict) of an exported policy."""
  meta_path = os.path.join(path, METADATA_FILE)
  if not os.path.exists(meta_path):
    raise FileNotFoundError(f'{path} is not an exported policy: {METADATA_FILE} is missing.')
  model = tf.saved_model.load(path)
  serve = model.signatures['serving_default']
  return (lambda obs: serve(observations=tf.constant(obs, tf.float32))['actions'].numpy(),
          fileio.read_json(meta_path))


def load_exported_gaussian(path, like):
  """(the GaussianPolicy that export_policy wrote to `path`, its metadata): `like`'s architecture
  and sampling settings (a policy of the same run) with the exported weights, so that it can
  sample as in training (the SavedModel's signatures draw their own noise)."""
  meta_path = os.path.join(path, METADATA_FILE)
  if not os.path.exists(meta_path):
    raise FileNotFoundError(f'{path} is not an exported policy: {METADATA_FILE} is missing.')
  meta = fileio.read_json(meta_path)
  if (meta.get('obs_dim'), meta.get('act_dim')) != (like.obs_dim, like.act_dim):
    raise ValueError(f'{path} holds a policy for {meta.get("obs_dim")}-dim observations and '
                     f'{meta.get("act_dim")}-dim actions, not {like.obs_dim} and {like.act_dim}.')
  policy = blank_like(like)
  tf.train.Checkpoint(policy=policy).read(
      os.path.join(path, 'variables', 'variables')).assert_existing_objects_matched()
  return policy, meta
