"""Environments: paper-faithful variants (`bremen/*-v0`) and plain gymnasium v5, one spec each.

    from bremen_tf import envs
    env = envs.make('bremen/Hopper-v0')          # a gymnasium env
    spec = envs.get_spec('bremen/Hopper-v0')     # dims, horizon, reward/done functions for imagination

`bremen/*-v0` ids are registered with gymnasium when this module is imported, so
`gymnasium.make('bremen/Hopper-v0')` works too. `register_env` adds an environment of your own
(docs/environments.md, "Your own environment").
"""
import dataclasses
from typing import Any, Callable, Mapping

import gymnasium
import numpy as np

from bremen_tf.envs import imagination_fns as fns

MAX_EPISODE_STEPS = 1000


@dataclasses.dataclass(frozen=True)
class EnvSpec:
  """What the library needs to know about one environment variant."""
  env_id: str                        # the id users pass around (gin, dataset metadata)
  gym_id: str                        # what gymnasium.make receives
  make_kwargs: Mapping[str, Any]     # extra gymnasium.make kwargs
  obs_dim: int
  act_dim: int
  paper_faithful: bool
  reward_fn: Callable                # TF: (s, a, s') -> reward [B]
  done_fn: Callable                  # TF: s' -> bool [B]
  horizon: int                       # imagination horizon H (reference/bremen.md §6)
  behavior_threshold: float          # SAC eval return that makes a policy "partially trained"


_SPECS = {}


def _add(spec):
  _SPECS[spec.env_id] = spec


_add(EnvSpec('bremen/Hopper-v0', 'bremen/Hopper-v0', {}, 11, 3, True,
             fns.hopper_paper_reward, fns.hopper_paper_done, 1000, 1000.0))
_add(EnvSpec('bremen/Walker2d-v0', 'bremen/Walker2d-v0', {}, 17, 6, True,
             fns.walker2d_paper_reward, fns.walker2d_paper_done, 1000, 1000.0))
_add(EnvSpec('bremen/HalfCheetah-v0', 'bremen/HalfCheetah-v0', {}, 17, 6, True,
             fns.halfcheetah_paper_reward, fns.halfcheetah_paper_done, 250, 4000.0))
_add(EnvSpec('bremen/Ant-v0', 'bremen/Ant-v0', {}, 27, 8, True,
             fns.ant_paper_reward, fns.ant_paper_done, 250, 1000.0))
_add(EnvSpec('Hopper-v5', 'Hopper-v5', {}, 11, 3, False,
             fns.hopper_v5_reward, fns.hopper_v5_done, 1000, 1000.0))
_add(EnvSpec('Walker2d-v5', 'Walker2d-v5', {}, 17, 6, False,
             fns.walker2d_v5_reward, fns.walker2d_v5_done, 1000, 1000.0))
_add(EnvSpec('HalfCheetah-v5', 'HalfCheetah-v5', {}, 17, 6, False,
             fns.halfcheetah_v5_reward, fns.halfcheetah_v5_done, 250, 4000.0))
_add(EnvSpec('Ant-v5', 'Ant-v5', {'include_cfrc_ext_in_observation': False}, 27, 8, False,
             fns.ant_v5_reward, fns.ant_v5_done, 250, 1000.0))

# Manipulation (gymnasium-robotics, dense reward, 50-step episodes; envs/manipulation.py).
_add(EnvSpec('bremen/FetchReach-v0', 'bremen/FetchReach-v0', {}, 13, 4, True,
             fns.fetch_reach_reward, fns.fetch_reach_done, 50, 0.0))
_add(EnvSpec('bremen/HandReach-v0', 'bremen/HandReach-v0', {}, 78, 20, True,
             fns.hand_reach_reward, fns.hand_reach_done, 50, 0.0))

ENV_IDS = tuple(_SPECS)  # grows with register_env (read it as envs.ENV_IDS, not a copy)
USER_ENV_IDS = ()  # the envs register_env added
MANIPULATION_ENV_IDS = ('bremen/FetchReach-v0', 'bremen/HandReach-v0')
LOCOMOTION_ENV_IDS = tuple(k for k in ENV_IDS if k not in MANIPULATION_ENV_IDS)
# The paper-faithful locomotion envs (the BRAC-protocol datasets and behaviour policies).
PAPER_ENV_IDS = tuple(k for k in LOCOMOTION_ENV_IDS if _SPECS[k].paper_faithful)


def _register():
  for name in ('Hopper', 'Walker2d', 'HalfCheetah', 'Ant'):
    gym_id = f'bremen/{name}-v0'
    if gym_id not in gymnasium.registry:
      gymnasium.register(gym_id, entry_point=f'bremen_tf.envs.paper:make_paper_{name.lower()}',
                         max_episode_steps=MAX_EPISODE_STEPS)
  for name, maker in (('FetchReach', 'make_fetch_reach'), ('HandReach', 'make_hand_reach')):
    gym_id = f'bremen/{name}-v0'
    if gym_id not in gymnasium.registry:  # the inner env already stops episodes at 50 steps
      gymnasium.register(gym_id, entry_point=f'bremen_tf.envs.manipulation:{maker}')


_register()


def register_env(env_id, reward_fn, done_fn, horizon, gym_id=None, make_kwargs=None):
  """Adds a gymnasium env of your own, so that BREMEN's launchers (launch/deployment.py,
  launch/offline.py) take `env_id`: deployment runs collect their own data, offline runs read
  yours (train_offline.dataset = 'd4rl:<HDF5 file>' or 'minari:<dataset>'); tests/test_user_env.py.
  `gym_id` (default `env_id`) must be registered with gymnasium; its observations and actions
  flat Boxes, its actions in [-1, 1] as BREMEN's policies act (the original's envs all were;
  wrap yours in gymnasium.wrappers.RescaleAction otherwise). reward_fn(s, a, s')
  and done_fn(s') are batched TF functions of float32 [B, dim] tensors returning [B] (float32
  reward, bool done) that must equal what the env's step returns: imagination has nothing else.
  The env is made once and both functions called on a small batch here, so a mistake fails now,
  naming the env and what is wrong. Registering the same id again with the same arguments does
  nothing (a module imported twice); with others, it is an error. Returns the EnvSpec."""
  global ENV_IDS, USER_ENV_IDS  # pylint: disable=global-statement
  gym_id = gym_id or env_id
  make_kwargs = dict(make_kwargs or {})
  where = f'register_env({env_id!r})'
  if not isinstance(env_id, str) or not env_id:
    raise ValueError(f'{where}: env_id must be a non-empty string.')
  if not (callable(reward_fn) and callable(done_fn)):
    raise ValueError(f'{where}: reward_fn and done_fn must be callables (TF functions of batched '
                     'tensors).')
  if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon <= 0:
    raise ValueError(f'{where}: horizon (imagined path length) must be an integer > 0, found '
                     f'{horizon!r}.')
  if env_id in _SPECS:
    old = _SPECS[env_id]
    if (env_id in USER_ENV_IDS and (old.gym_id, dict(old.make_kwargs), old.reward_fn,
                                    old.done_fn, old.horizon)
        == (gym_id, make_kwargs, reward_fn, done_fn, horizon)):
      return old
    raise ValueError(f'{where}: {env_id!r} is registered already'
                     + ('' if env_id in USER_ENV_IDS else ' (one of the built-in envs)')
                     + ' with other settings; choose another id.')
  if gym_id not in gymnasium.registry:
    raise ValueError(f'{where}: gymnasium has no env {gym_id!r}; register it with '
                     'gymnasium.register(...) before register_env.')
  env = gymnasium.make(gym_id, **make_kwargs)
  try:
    obs_space, act_space = env.observation_space, env.action_space
  finally:
    env.close()
  for what, space in (('observation', obs_space), ('action', act_space)):
    if not isinstance(space, gymnasium.spaces.Box) or len(space.shape) != 1:
      raise ValueError(f'{where}: its {what} space must be a flat Box, found {space}.')
  if not (np.all(act_space.low == -1.0) and np.all(act_space.high == 1.0)):
    raise ValueError(f'{where}: its actions must lie in [-1, 1] (BREMEN\'s policies act there), '
                     f'found [{act_space.low}, {act_space.high}]; wrap the env in '
                     'gymnasium.wrappers.RescaleAction(env, -1.0, 1.0).')
  obs_dim, act_dim = obs_space.shape[0], act_space.shape[0]
  fns.check_imagination_fns(where, reward_fn, done_fn, obs_dim, act_dim)
  spec = EnvSpec(env_id, gym_id, make_kwargs, obs_dim, act_dim, False, reward_fn, done_fn,
                 horizon, 0.0)
  _add(spec)
  ENV_IDS, USER_ENV_IDS = tuple(_SPECS), USER_ENV_IDS + (env_id,)
  return spec


def get_spec(env_id):
  """The EnvSpec of `env_id`; raises ValueError naming the known ids otherwise."""
  if env_id not in _SPECS:
    raise ValueError(f'Unknown env_id {env_id!r}; expected one of {", ".join(ENV_IDS)}.')
  return _SPECS[env_id]


def make(env_id, **kwargs):
  """A gymnasium env for `env_id` (1000-step time limit, float64 observations)."""
  spec = get_spec(env_id)
  return gymnasium.make(spec.gym_id, **{**spec.make_kwargs, **kwargs})


def slug(env_id):
  """A file-system name for `env_id`: 'bremen/Hopper-v0' -> 'bremen_Hopper-v0'."""
  return env_id.replace('/', '_')
