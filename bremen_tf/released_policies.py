"""The authors' released BREMEN policies (matsuolab/BREMEN, `weights/<Env>/policy.ckpt`: the
deployment-efficient runs with 200K transitions per deployment, the paper's Figure 2, top row)
loaded into our GaussianPolicy, so they can be run in our paper-faithful envs: what a policy that
BREMEN trained on MuJoCo 1.31 scores on today's MuJoCo.

The checkpoints hold the network only ('policy/layer_k/w' and '/b', a [200, 200] ReLU MLP whose
output is [m, l], the same heads as ours). The observation statistics the policy normalises with
are not in them: the authors' save_video.py recomputes them from the offline data (BRAC's pure
data, which is not public). We compute them from a dataset of ours, which makes every number an
approximation whose quality the caller must state (launch/released_policies.py does).
"""
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from bremen_tf.policies import GaussianPolicy

# weights/<name> in the authors' repository -> our paper-faithful env
RELEASED_ENVS = {'HalfCheetah': 'bremen/HalfCheetah-v0', 'Hopper': 'bremen/Hopper-v0',
                 'Walker2d': 'bremen/Walker2d-v0', 'Ant': 'bremen/Ant-v0'}
N_LAYERS = 3  # two hidden layers and the output layer
DATA_SUFFIX = '.data-00000-of-00001'


class ReleasedPolicyError(ValueError):
  """A released checkpoint that is missing, incomplete or does not fit the env."""


def checkpoint_files(repo_dir, name):
  """(index file, data file) of weights/<name>/ in a checkout of the authors' repository. The
  data file is `policy.ckpt.data-...` except for HalfCheetah, released as `policy.data-...`."""
  if name not in RELEASED_ENVS:
    raise ReleasedPolicyError(f'No released BREMEN policy is called {name!r}; the repository has '
                              f'{", ".join(RELEASED_ENVS)}.')
  folder = os.path.join(repo_dir, 'weights', name)
  index = os.path.join(folder, 'policy.ckpt.index')
  data = [os.path.join(folder, f) for f in (f'policy.ckpt{DATA_SUFFIX}', f'policy{DATA_SUFFIX}')
          if os.path.exists(os.path.join(folder, f))]
  if not os.path.exists(index) or not data:
    raise ReleasedPolicyError(
        f'{folder} does not hold a released policy (policy.ckpt.index and policy[.ckpt]'
        f'{DATA_SUFFIX} expected): pass a checkout of github.com/matsuolab/BREMEN.')
  return index, data[0]


def read_weights(index, data):
  """{'w0', 'b0', ...} numpy arrays of the checkpoint (copied beside each other under one prefix
  first, since TF finds the data file by the index file's name)."""
  with tempfile.TemporaryDirectory() as tmp:
    prefix = os.path.join(tmp, 'policy.ckpt')
    shutil.copyfile(index, prefix + '.index')
    shutil.copyfile(data, prefix + DATA_SUFFIX)
    try:
      reader = tf.train.load_checkpoint(prefix)
      names = reader.get_variable_to_shape_map()
      keys = {f'{kind}{k}': f'policy/layer_{k}/{kind}'  # w0: policy/layer_0/w, ...
              for k in range(N_LAYERS) for kind in ('w', 'b')}
      missing = [key for key in keys.values() if key not in names]
      if missing:
        raise ReleasedPolicyError(f'{index}: variable {missing[0]} is missing (found '
                                  f'{", ".join(sorted(names))}).')
      return {short: reader.get_tensor(key) for short, key in keys.items()}
    except ReleasedPolicyError:
      raise
    except Exception as e:  # pylint: disable=broad-except  (TF raises several kinds here)
      raise ReleasedPolicyError(f'{index}: not a readable TF checkpoint ({e}).') from e


def load_released_policy(repo_dir, name, env, observations):
  """The released policy `name` as a GaussianPolicy for `env` (its spaces give the dimensions
  and action bounds), normalising observations with the statistics of `observations` [N, obs_dim]
  (the authors' running statistics: mean, std = sqrt(max(var, 1e-2) + 1e-6))."""
  obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
  weights = read_weights(*checkpoint_files(repo_dir, name))
  if weights['w0'].shape[0] != obs_dim or weights[f'w{N_LAYERS - 1}'].shape[1] != 2 * act_dim:
    raise ReleasedPolicyError(
        f'The released {name} policy takes {weights["w0"].shape[0]}-dim observations and gives '
        f'{weights[f"w{N_LAYERS - 1}"].shape[1] // 2}-dim actions; {env.spec.id} has {obs_dim} '
        f'and {act_dim}.')
  observations = np.asarray(observations)
  if observations.ndim != 2 or observations.shape[1] != obs_dim or not len(observations):
    raise ReleasedPolicyError(f'The observations for the statistics must be [N, {obs_dim}], got '
                              f'{list(observations.shape)}.')
  hidden = tuple(weights[f'w{k}'].shape[1] for k in range(N_LAYERS - 1))
  policy = GaussianPolicy(obs_dim, act_dim, hidden=hidden, low=env.action_space.low,
                          high=env.action_space.high, name=f'released_{name}')
  for k in range(N_LAYERS):
    policy.kernels[k].assign(weights[f'w{k}'])
    policy.biases[k].assign(weights[f'b{k}'])
  policy.normalizer.update(tf.constant(observations))
  return policy
