"""The D4RL MuJoCo recipe (Fu et al. 2020) regenerated on gymnasium v5, written as Minari datasets.

D4RL made its locomotion data with rlkit SAC on gym -v2, sampling the stochastic policy:
  random         a randomly initialised policy
  medium         SAC stopped at about 1/3 of the expert's return
  medium-replay  that run's replay buffer up to the stop
  expert         SAC trained to the end (1M steps)
  medium-expert  medium and expert concatenated
Here the SAC is ours (bremen_tf/sac_data_policies.py, BRAC's recipe, one env step per gradient step); the
medium stop is the first time 2 consecutive evaluations (20 deterministic episodes every 5k steps)
reach `ref_min + (ref_max − ref_min) / 3`, a third of the way to D4RL's expert return on D4RL's
scale. Reference scores are D4RL's own constants (d4rl/infos.py): gymnasium v5 HalfCheetah,
Hopper and Walker2d keep -v2's observation, reward and termination, so normalised scores are on
the scale papers report.

Datasets are written to `<root>/bremen-d4rl/<robot>/<name>-v0` (root: $MINARI_DATASETS_PATH) with
provenance in the metadata. Idempotent and resumable: an existing dataset is skipped, the SAC run
(`<work_dir>/<robot>/sac_seed<seed>`) resumes from its last checkpoint, and each dataset is
written atomically.
"""
import os

import numpy as np
import tensorflow as tf

from bremen_tf import envs, provenance, runs, sac_data_policies
from bremen_tf.agents.sac import Sac, TanhGaussianActor
from bremen_tf.data import shipped_policies
from bremen_tf.data import collection
from bremen_tf.data.d4rl_source import D4RL_ROBOTS
from bremen_tf.data.dataset import Dataset, episode_returns, return_stats
from bremen_tf.data.minari_source import GENERATED_NAMESPACE as NAMESPACE
from bremen_tf.data.minari_source import load_minari, minari_root, write_minari

DATASETS = ('random', 'medium', 'medium-replay', 'expert', 'medium-expert')
DEFAULT_DATASETS = ('random', 'medium', 'medium-replay')


def dataset_id(robot, name, version=0):
  return f'{NAMESPACE}/{robot}/{name}-v{version}'


def medium_threshold(robot):
  """A third of the way from D4RL's random to its expert return."""
  _, low, high = D4RL_ROBOTS[robot]
  return low + (high - low) / 3.0


def check_request(robots, names):
  for robot in robots:
    if robot not in D4RL_ROBOTS:
      raise ValueError(f'Unknown robot {robot!r}; expected some of {", ".join(D4RL_ROBOTS)} '
                       "(D4RL's ant is not served: its observation holds contact forces).")
  for name in names:
    if name not in DATASETS:
      raise ValueError(f'Unknown dataset {name!r}; expected some of {", ".join(DATASETS)}.')


def replay_dataset(path, env_id):
  """The SAC replay buffer (one env, in order) as a Dataset. An episode ends where the next
  transition does not start from this one's next observation (the env was reset): a terminal
  if its discount is 0, else a time-limit timeout. The last transition is a cut."""
  with np.load(path, allow_pickle=False) as f:
    size, next_index = int(f['size']), int(f['next_index'])
    data = {k: f[k][:size] for k in ('observations', 'actions', 'rewards', 'next_observations',
                                     'discounts')}
  if next_index != size or size == 0:
    raise ValueError(f'{path}: the replay buffer is full (it may have wrapped around) or empty; '
                     'medium-replay needs it whole, in order.')
  terminals = data['discounts'] == 0.0
  ends = np.append(np.any(data['next_observations'][:-1] != data['observations'][1:], axis=1),
                   True)
  timeouts = ends & ~terminals
  cut = [] if terminals[-1] else [size - 1]
  dataset = Dataset(data['observations'], data['actions'], data['rewards'],
                    data['next_observations'], terminals, timeouts,
                    metadata={'env_id': env_id, 'cut_indices': cut})
  return dataset


class Recipe:
  """Makes the requested datasets of one robot; every method skips what already exists."""

  def __init__(self, robot, work_dir, root=None, size=1_000_000, seed=0, expert_steps=1_000_000,
               n_envs=64, sac_kwargs=None, medium_return=None, log=print):
    check_request([robot], [])
    self.robot, self.env_id = robot, D4RL_ROBOTS[robot][0]
    self.root, self.size, self.seed = minari_root(root), size, seed
    self.n_envs, self.log = n_envs, log
    self.expert_steps, self.sac_kwargs = expert_steps, dict(sac_kwargs or {})
    self.medium_return = medium_threshold(robot) if medium_return is None else medium_return
    self.sac_dir = os.path.join(work_dir, robot, f'sac_seed{seed}')
    _, low, high = D4RL_ROBOTS[robot]
    self.refs = {'min': low, 'max': high}

  def exists(self, name):
    return os.path.exists(os.path.join(self.root, dataset_id(self.robot, name)))

  def make(self, names):
    check_request([self.robot], names)
    order = [n for n in DATASETS if n in names]  # medium-expert needs medium and expert first
    if 'medium-expert' in order:
      order = [n for n in DATASETS if n in set(order) | {'medium', 'expert'}]
    # medium-replay is read from the SAC run before training on to the expert can change it.
    for name in order:
      if self.exists(name):
        self.log(f'{dataset_id(self.robot, name)} exists; skipped.')
        continue
      dataset, recipe = getattr(self, '_' + name.replace('-', '_'))()
      self._write(name, dataset, recipe)

  # --- the SAC run: medium stop, then (on request) on to the expert ----------------------------
  def _sac(self, total_steps, stop_at_target):
    run = runs.RunDir(self.sac_dir)
    try:
      return sac_data_policies.train_behavior_policy(
          run, env_id=self.env_id, seed=self.seed, total_steps=total_steps,
          target_return=self.medium_return, stop_at_target=stop_at_target, log=self.log,
          **self.sac_kwargs)
    finally:
      run.close()

  def _medium_policy(self):
    meta = self._sac(self.expert_steps, stop_at_target=True)
    if meta is None:
      raise RuntimeError(f'SAC on {self.env_id} did not reach the medium return '
                         f'{self.medium_return:.1f} in {self.expert_steps} steps.')
    return shipped_policies.load_behavior_policy(self.env_id, os.path.join(self.sac_dir,
                                                                   'partial_policy'))

  def _collect(self, actor, seed_offset):
    return collection.collect(self.env_id, actor, 'pure', self.size, self.seed + seed_offset,
                              self.n_envs, self.log)

  def _random(self):
    spec = envs.get_spec(self.env_id)
    actor = TanhGaussianActor(spec.obs_dim, spec.act_dim, seed=self.seed)
    return self._collect(actor, 0), {'policy': 'randomly initialised SAC actor (seed '
                                               f'{self.seed}), sampled'}

  def _medium(self):
    actor, meta = self._medium_policy()
    return self._collect(actor, 1), {'policy': 'SAC stopped at the medium return, sampled',
                                     'behavior_policy': _policy_summary(meta)}

  def _medium_replay(self):
    _, meta = self._medium_policy()
    _, replay_file, step = sac_data_policies.last_save(self.sac_dir)
    if step != meta['sac_steps']:
      raise RuntimeError(f'{self.sac_dir} has trained past the medium stop (step '
                         f'{meta["sac_steps"]}), so its replay buffer is no longer the medium '
                         'run\'s; delete the directory to make medium-replay again.')
    dataset = replay_dataset(replay_file, self.env_id)
    return dataset, {'policy': 'the medium SAC run\'s replay buffer up to its stop (its first '
                               'transitions are uniform-random, as SAC starts)',
                     'behavior_policy': _policy_summary(meta)}

  def _expert(self):
    self._medium_policy()
    self._sac(self.expert_steps, stop_at_target=False)
    spec = envs.get_spec(self.env_id)
    agent = Sac(spec.obs_dim, spec.act_dim, seed=self.seed)
    checkpoint, _, _ = sac_data_policies.last_save(self.sac_dir)
    tf.train.Checkpoint(agent=agent).read(checkpoint).expect_partial()
    return self._collect(agent.actor, 2), {'policy': f'SAC after {self.expert_steps} steps, sampled',
                                           'sac_checkpoint': os.path.relpath(checkpoint,
                                                                             self.sac_dir)}

  def _medium_expert(self):
    parts = [load_minari(os.path.join(self.root, dataset_id(self.robot, n))) for n in
             ('medium', 'expert')]
    offset = len(parts[0])
    cuts = parts[0].metadata['cut_indices'] + [i + offset for i in parts[1].metadata['cut_indices']]
    arrays = {k: np.concatenate([getattr(p, k) for p in parts]) for k in (
        'observations', 'actions', 'rewards', 'next_observations', 'terminals', 'timeouts')}
    return (Dataset(**arrays, metadata={'env_id': self.env_id, 'cut_indices': cuts}),
            {'policy': 'medium then expert, concatenated',
             'parts': [dataset_id(self.robot, n) for n in ('medium', 'expert')]})

  def _write(self, name, dataset, recipe):
    dataset.metadata['env_id'] = self.env_id
    returns = return_stats(episode_returns(dataset))
    record = {'recipe': f'D4RL {name} regenerated on {self.env_id} (bremen_tf/d4rl_recipe.py)',
              **recipe, 'seed': self.seed, 'transitions': len(dataset),
              'episode_returns': returns,
              'reference_scores': {**self.refs, 'origin': 'D4RL constants (d4rl/infos.py)'},
              'medium_return_threshold': self.medium_return,
              'provenance': provenance.record()}
    description = (f'The D4RL {self.robot}-{name} recipe regenerated on gymnasium {self.env_id} '
                   'by bremen-tf (not the original D4RL data). Reference scores are D4RL\'s.')
    path = write_minari(dataset_id(self.robot, name), dataset, self.refs, description, record,
                        root=self.root)
    self.log(f'Wrote {dataset_id(self.robot, name)} ({len(dataset):,} transitions, episode '
             f'return {returns["mean"]}) -> {path}')


def _policy_summary(meta):
  return {k: meta.get(k) for k in ('env_id', 'algorithm', 'seed', 'sac_steps', 'env_steps',
                                   'threshold', 'eval_return_mean', 'eval_return_std')}
