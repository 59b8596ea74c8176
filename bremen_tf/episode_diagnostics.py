"""What a policy's real episodes look like, beyond their return: did the agent run, stand still
or end on its back? For a bimodal evaluation (some episodes ~2,700, others ~0), this says which
failure it is.

Locomotion observations here are qpos[1:] (or qpos[2:] for Ant) then qvel, in the
paper-faithful and the v5 envs alike, so the body's pitch and forward velocity are fixed indices.
"""
import math

import numpy as np

from bremen_tf import evaluation

# robot -> (index of the root pitch in the observation or None, index of the forward velocity)
BODY_INDICES = {'HalfCheetah': (1, 8), 'Hopper': (1, 5), 'Walker2d': (1, 8), 'Ant': (None, 13)}
STILL_SPEED = 0.1  # m/s: below this over the last 100 steps, the agent is standing still
COLUMNS = ['episode', 'reset_seed', 'return', 'length', 'mean_abs_action_first_100',
           'mean_abs_action_last_100', 'mean_forward_velocity_last_100', 'final_pitch', 'outcome']


def robot_of(env_id):
  """'bremen/HalfCheetah-v0' or 'HalfCheetah-v5' -> 'HalfCheetah'; a clear error otherwise."""
  name = env_id.split('/')[-1].split('-')[0]
  if name not in BODY_INDICES:
    raise ValueError(f'{env_id}: episode diagnostics know the locomotion robots '
                     f'{", ".join(BODY_INDICES)} only.')
  return name


# What an episode's end looks like. A body that turned a full circle is upright again, but its
# observed pitch is not wrapped (qpos), so the policy and the model see it near ±2π, not 0.
OUTCOMES = ('moving', 'still', 'flipped', 'turned over, moving', 'turned over, still')


def outcome(final_pitch, speed_last_100):
  """'flipped' (on its back at the end: the pitch, taken modulo a full turn, past ±90°), 'still'
  (|forward speed| < STILL_SPEED over the last 100 steps) or 'moving'; prefixed 'turned over, '
  when the agent is upright at the end after one or more full turns (unwrapped pitch past
  ±270°)."""
  turned = False
  if final_pitch is not None:
    upright_pitch = math.atan2(math.sin(final_pitch), math.cos(final_pitch))  # in (−π, π]
    if abs(upright_pitch) > math.pi / 2:
      return 'flipped'
    turned = abs(final_pitch - upright_pitch) > math.pi  # a multiple of 2π away: >= one turn
  motion = 'still' if abs(speed_last_100) < STILL_SPEED else 'moving'
  return f'turned over, {motion}' if turned else motion


def summary(outcomes):
  """'7 moving, 0 still, 9 flipped, 4 turned over (1 moving, 3 still)' (turned over only if any)."""
  text = ', '.join(f'{outcomes.count(k)} {k}' for k in OUTCOMES[:3])
  turned = [o.split(', ')[1] for o in outcomes if o.startswith('turned over')]
  if turned:
    text += (f', {len(turned)} turned over ({turned.count("moving")} moving, '
             f'{turned.count("still")} still)')
  return text


def episode_row(env_id, k, reset_seed, episode_return, length, trajectory):
  """The COLUMNS row of one recorded episode (trajectory: 'obs' [T+1, obs_dim], 'actions')."""
  pitch_index, velocity_index = BODY_INDICES[robot_of(env_id)]
  obs, actions = np.asarray(trajectory['obs']), np.abs(np.asarray(trajectory['actions']))
  speed = float(np.mean(obs[-100:, velocity_index]))
  pitch = None if pitch_index is None else float(obs[-1, pitch_index])
  return [k, reset_seed, float(episode_return), int(length), float(actions[:100].mean()),
          float(actions[-100:].mean()), speed, pitch, outcome(pitch, speed)]


def batch_rows(env_id, dataset):
  """One COLUMNS row per whole episode of a data batch (a Dataset of recorded transitions, e.g.
  a deployment's data/deployment_<d>.npz): what the policy that collected it did, episode by
  episode; reset_seed is None (not recorded in a batch)."""
  from bremen_tf.data.dataset import episode_bounds  # pylint: disable=g-import-not-at-top
  rows = []
  for k, (start, end, complete) in enumerate(episode_bounds(dataset)):
    if not complete:
      continue
    trajectory = {'obs': np.concatenate([dataset.observations[start:end + 1],
                                         dataset.next_observations[end:end + 1]]),
                  'actions': dataset.actions[start:end + 1]}
    rows.append(episode_row(env_id, k, None, float(np.sum(dataset.rewards[start:end + 1],
                                                          dtype=np.float64)),
                            end + 1 - start, trajectory))
  return rows


def with_noise(policy_fn, noise_std, seed=0):
  """policy_fn's actions plus noise_std·ε (ε standard normal, from its own generator seeded by
  `seed`): the deployments' exploration μ + sampling_std·ε (bremen_policy.json's sampling_std,
  0.1 as the original). noise_std 0 returns policy_fn itself."""
  if noise_std < 0:
    raise ValueError(f'noise_std must be >= 0, got {noise_std}.')
  if noise_std == 0:
    return policy_fn
  rng = np.random.default_rng(seed)

  def noisy(obs):
    actions = np.asarray(policy_fn(obs))
    return actions + noise_std * rng.standard_normal(actions.shape).astype(actions.dtype)
  return noisy


def episode_rows(env_id, policy_fn, n_episodes, seed=0):
  """One row (COLUMNS) per episode of `policy_fn` (deterministic actions, clipped to the bounds as
  in evaluation.run_episodes), episode k reset with seed + k."""
  robot_of(env_id)
  returns, lengths, trajectories = evaluation.run_episodes(env_id, policy_fn, n_episodes, seed,
                                                           record=True)
  return [episode_row(env_id, k, seed + k, returns[k], lengths[k], t)
          for k, t in enumerate(trajectories)]
