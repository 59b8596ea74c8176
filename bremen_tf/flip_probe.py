"""Does imagination see the way a policy fails in the real env?

For robots with a body pitch (HalfCheetah, Hopper, Walker2d), the share of paths that tip past
±90° of pitch or end early (the env's termination, or the trainer's data box if it has one), and
the forward speed: in real episodes of a policy (deterministic, as the runs evaluate, over the first
`horizon` steps so that they compare with imagined paths) and in the imagined batches TRPO trains
on (the run's own imagination: random member per step, the training's action noise); plus the
model's one-step pitch error along the real paths while upright; the torso's height and pitch
(also in the last state before an early end) and the imagined (discounted) returns. A policy that flips in the real
env while none of its imagined paths does exploits a blind spot of the model's closed loop, where
a one-step error says nothing. Used by launch/flip_probe.py on a run's checkpoint.
"""
import math

import numpy as np
import tensorflow as tf

from bremen_tf import envs, evaluation, imagination
from bremen_tf.dynamics import OUTPUT_CLIP
from bremen_tf.episode_diagnostics import BODY_INDICES, robot_of

# |pitch| past this at any step: the body went over (a full somersault passes it too, and counts;
# episode_diagnostics.outcome, at an episode's end, takes the pitch modulo a full turn).
FLIP = math.pi / 2
HEIGHT = 0  # the torso height (rootz) in the planar robots' observations


def body_indices(env_id):
  """(pitch index, forward-velocity index) of `env_id`'s observation; ValueError without a
  pitch (Ant) or for a robot we do not know."""
  pitch, velocity = BODY_INDICES[robot_of(env_id)]
  if pitch is None:
    raise ValueError(f'{env_id} has no body pitch in its observation: nothing to flip.')
  return pitch, velocity


def runaway_and_tipped(obs, mask, pitch):
  """Per path ([P, L, obs_dim] states, [P, L] bool mask): (reached the model's output clip on a
  valid step, had |pitch| > π/2 on a valid step without running away)."""
  ran_away = ((np.abs(obs) >= OUTPUT_CLIP).any(axis=2) & mask).any(axis=1)
  return ran_away, ((np.abs(obs[..., pitch]) > FLIP) & mask).any(axis=1) & ~ran_away


def mean_or_nan(x):
  """The mean of an array as a float, NaN for an empty one (no path kept, none ended early)."""
  return float(x.mean()) if x.size else float('nan')


def path_stats(obs, mask, lengths, horizon, pitch, velocity):
  """Imagined paths ([P, L, obs_dim] states s_t, [P, L] mask, [P] lengths) -> {'paths',
  'ran_away' (share that reached the model's output clip), 'flipped' (share of all paths that did
  not run away and had |pitch| > π/2 at a step), 'ended_early' (share shorter than `horizon`),
  'speed', 'height' and 'abs_pitch' (means of the forward velocity, the torso height obs[HEIGHT]
  and |pitch| over the valid steps of the paths that did not run away; nan if all did),
  'speed_steps' (how many steps those means are over), 'end_height' and 'end_abs_pitch' (means
  over the last state before the end of the paths that ended early without running away: what
  the model's termination saw one step ahead), 'ends' (how many such paths)}."""
  obs, mask, lengths = np.asarray(obs), np.asarray(mask) > 0, np.asarray(lengths)
  ran_away, tipped = runaway_and_tipped(obs, mask, pitch)
  kept = mask & ~ran_away[:, None]
  ended = (lengths < horizon) & ~ran_away
  last = obs[np.flatnonzero(ended), lengths[ended] - 1]
  return {'paths': int(len(lengths)), 'ran_away': float(ran_away.mean()),
          'flipped': float(tipped.mean()), 'ended_early': float((lengths < horizon).mean()),
          'speed': mean_or_nan(obs[..., velocity][kept]),
          'height': mean_or_nan(obs[..., HEIGHT][kept]),
          'abs_pitch': mean_or_nan(np.abs(obs[..., pitch][kept])), 'speed_steps': int(kept.sum()),
          'end_height': mean_or_nan(last[:, HEIGHT]),
          'end_abs_pitch': mean_or_nan(np.abs(last[:, pitch])),
          'ends': int(ended.sum())}


# pool: each mean of path_stats and the count it is taken over
POOLED_MEANS = {'speed': 'speed_steps', 'height': 'speed_steps', 'abs_pitch': 'speed_steps',
                'end_height': 'ends', 'end_abs_pitch': 'ends'}


def pool(batch_stats):
  """path_stats of several batches as one: shares weighted by paths, each mean by its count."""
  n = sum(s['paths'] for s in batch_stats)
  pooled = {'paths': n}
  for count in set(POOLED_MEANS.values()):
    pooled[count] = sum(s[count] for s in batch_stats)
  for key, count in POOLED_MEANS.items():
    total = pooled[count]
    pooled[key] = (sum(s[key] * s[count] for s in batch_stats if s[count]) / total
                   if total else float('nan'))
  pooled.update({k: sum(s[k] * s['paths'] for s in batch_stats) / n
                 for k in ('ran_away', 'flipped', 'ended_early')})
  return pooled


def path_returns(rewards, mask, gamma=1.0):
  """[P] return of each imagined path ([P, L] rewards and mask): its valid steps' rewards summed,
  step t weighted by gamma**t (gamma < 1: the discounted return, what TRPO's advantages value)."""
  rewards = np.asarray(rewards) * (np.asarray(mask) > 0)
  return (rewards * gamma ** np.arange(rewards.shape[1])).sum(axis=1)


def trajectory_stats(trajectories, horizon, pitch, velocity):
  """Recorded real episodes (evaluation.run_episodes' 'obs' [T+1, obs_dim]) -> path_stats' keys
  over each episode's first `horizon` steps (the last state before the end: of the episodes that
  ended before `horizon`), plus 'flipped_by_end' over the whole episode."""
  flipped, flipped_end, early, within, last = [], [], [], [], []
  for t in trajectories:
    obs = np.asarray(t['obs'])
    states = obs[1:]  # the states after each step
    within.append(states[:horizon])
    flipped.append(bool((np.abs(within[-1][:, pitch]) > FLIP).any()))
    flipped_end.append(bool((np.abs(states[:, pitch]) > FLIP).any()))
    early.append(len(states) < horizon)
    if early[-1]:
      last.append(obs[-2])  # the state the terminating step started from
  first = np.concatenate(within)
  last = np.array(last).reshape(-1, first.shape[1])
  return {'paths': len(trajectories), 'flipped': float(np.mean(flipped)),
          'ended_early': float(np.mean(early)), 'speed': mean_or_nan(first[:, velocity]),
          'height': mean_or_nan(first[:, HEIGHT]),
          'abs_pitch': mean_or_nan(np.abs(first[:, pitch])),
          'end_height': mean_or_nan(last[:, HEIGHT]),
          'end_abs_pitch': mean_or_nan(np.abs(last[:, pitch])),
          'flipped_by_end': float(np.mean(flipped_end))}


def one_step_pitch_error(dynamics, trajectories, pitch):
  """The median |pitch error| of the ensemble's mean one-step prediction along the real paths,
  over the steps taken while upright (|pitch| <= π/2)."""
  errors = []
  for t in trajectories:
    obs, actions = np.asarray(t['obs'], np.float32), np.asarray(t['actions'], np.float32)
    predicted = dynamics.predict_all(tf.constant(obs[:-1]), tf.constant(actions)).numpy()
    error = np.abs(predicted[..., pitch].mean(axis=0) - obs[1:, pitch])
    errors.append(error[np.abs(obs[:-1, pitch]) <= FLIP])
  return float(np.median(np.concatenate(errors)))


def data_pitch(observations, pitch):
  """(the largest |pitch| among a dataset's states, the share of them past ±90°): a model fitted on
  data that never flips has no flip to learn."""
  angles = np.abs(np.asarray(observations)[:, pitch])
  return float(angles.max()), float((angles > FLIP).mean())


FORESIGHT_STEPS = (10, 25, 50, 100, 200)  # k: imagined paths start k steps before a real failure


def failure_steps(trajectories, done_fn, pitch):
  """Per real episode, the step t (1-based: the state s_t after t actions) at which it failed: its
  first state that the env's termination test `done_fn` flags (a fall) or that is past ±90° of
  pitch (a flip); None for an episode that did neither."""
  steps = []
  for t in trajectories:
    states = np.asarray(t['obs'], np.float32)[1:]
    failed = done_fn(tf.constant(states)).numpy() | (np.abs(states[:, pitch]) > FLIP)
    steps.append(int(np.argmax(failed)) + 1 if failed.any() else None)
  return steps


def foresight_starts(trajectories, failures, k, every=50):
  """(states k steps before each real failure, control states): the controls are states s_t on a
  grid of `every` steps whose episode goes on without failing for 2k more steps."""
  before, control = [], []
  for t, fail in zip(trajectories, failures):
    obs = np.asarray(t['obs'], np.float32)
    if fail is not None and fail >= k:
      before.append(obs[fail - k])
    # the last start whose next 2k states are all real and none fails
    last_safe = fail - 2 * k - 1 if fail is not None else len(obs) - 1 - 2 * k
    control += [obs[i] for i in range(0, last_safe + 1, every)]
  return np.array(before, np.float32), np.array(control, np.float32)


def failed_paths(paths, horizon, pitch):
  """[n_paths] bool: an imagined path that ended before `horizon` (the termination test held) or
  went past ±90° of pitch on a valid step without running away to the model's clip."""
  tipped = runaway_and_tipped(paths.obs.numpy(), paths.mask.numpy() > 0, pitch)[1]
  return (paths.lengths.numpy() < horizon) | tipped


def real_failures(env_id, policy, starts, horizon, repeats, rng):
  """The real env's answer from the same start states: per start, `repeats` rollouts of `horizon`
  steps with the policy's training noise (policy.sample, actions clipped to the bounds), all in
  lockstep; the share that fail (terminate, or pass ±90° of pitch). None for an env whose state an
  observation does not fix (only the paper-faithful envs can be set from one)."""
  pitch = body_indices(env_id)[0]
  n = len(starts) * repeats
  env_list = [envs.make(env_id) for _ in range(n)]
  try:
    set_state = [e.get_wrapper_attr('set_state_from_obs') for e in env_list]
  except AttributeError:
    return None
  low, high = env_list[0].action_space.low, env_list[0].action_space.high
  obs = np.zeros((n, starts.shape[1]), np.float32)
  for i, e in enumerate(env_list):
    e.reset(seed=i)
    obs[i] = set_state[i](starts[i // repeats])
  failed, running = np.zeros(n, bool), np.ones(n, bool)
  for _ in range(horizon):
    idx = np.flatnonzero(running)
    if not len(idx):
      break
    noise = rng.normal(size=(len(idx), policy.act_dim)).astype(np.float32)
    actions = np.clip(policy.sample(tf.constant(obs[idx]), tf.constant(noise)).numpy(), low, high)
    for j, i in enumerate(idx):
      o, _, terminated, _, _ = env_list[i].step(actions[j])
      obs[i] = o
      if terminated or abs(o[pitch]) > FLIP:
        failed[i], running[i] = True, False
  for e in env_list:
    e.close()
  return float(failed.mean())


def foresight(trainer, trajectories, pitch, steps=FORESIGHT_STEPS, n_parallel=200, env_id=None,
              repeats=10, max_starts=40, seed=0):
  """Does the model see a real failure coming? For each k in `steps`: the share of imagined paths
  (the trainer's policy, noise and random member per step; horizon 2k) that fail, started from
  the real states k steps before the real episodes' failures ('before'), and from control states
  after which the real episode did not fail for 2k steps ('control': false alarms). {k: {'before',
  'n_before', 'control', 'n_control'}} (shares nan where no start state qualifies). With `env_id`,
  also 'real_before' and 'real_control': the same question put to the real env (real_failures,
  `repeats` rollouts from each of at most `max_starts` of the starts), how far ahead a failure is
  decided at all under the policy's noise: the most a model could foresee."""
  failures = failure_steps(trajectories, trainer.done_fn, pitch)
  rng = np.random.default_rng(seed)
  out = {}
  for k in steps:
    horizon, row = 2 * k, {}
    run = tf.function(lambda starts, horizon=horizon: imagination.assemble_paths(
        imagination.rollout(trainer.policy, trainer.dynamics, trainer.reward_fn, trainer.done_fn,
                            starts, trainer.rng, n_parallel, horizon, n_parallel * horizon)),
                      autograph=False)
    for name, starts in zip(('before', 'control'), foresight_starts(trajectories, failures, k)):
      row[f'n_{name}'] = len(starts)
      row[name] = (float(failed_paths(run(tf.constant(starts)), horizon, pitch).mean())
                   if len(starts) else float('nan'))
      if env_id is not None:
        real = (real_failures(env_id, trainer.policy, starts[:max_starts], horizon, repeats, rng)
                if len(starts) else float('nan'))
        row[f'real_{name}'] = float('nan') if real is None else real
    out[k] = row
  return out


def probe(env_id, trainer, policies, episodes=10, seed=0, batches=1,
          foresight_steps=FORESIGHT_STEPS):
  """Rows {'policy', 'real': trajectory_stats + 'return', 'imagined': path_stats +
  'return_median' (the median path's return over every batch) + 'discounted_return_mean' (the
  mean path's return discounted by the trainer's gamma: the objective TRPO raises),
  'one_step_pitch_error', 'foresight'} for each of `policies` ({name: GaussianPolicy}).
  `trainer` (the run's ImaginedTRPO) is left as it was, but its random generator advances."""
  pitch, velocity = body_indices(env_id)
  horizon, own = trainer.horizon, trainer.policy
  rows = []
  try:
    for name, policy in policies.items():
      act = lambda obs, policy=policy: policy.mean_log_std(tf.constant(obs))[0].numpy()
      returns, _, trajectories = evaluation.run_episodes(env_id, act, episodes, seed, record=True)
      real = dict(trajectory_stats(trajectories, horizon, pitch, velocity),
                  **{'return': float(np.mean(returns))})
      trainer.policy = policy
      imagine = tf.function(trainer.imagine, autograph=False)
      paths = [imagine() for _ in range(batches)]
      imagined = pool([path_stats(p.obs, p.mask, p.lengths, horizon, pitch, velocity)
                       for p in paths])
      imagined['return_median'] = float(np.median(np.concatenate(
          [path_returns(p.rewards, p.mask) for p in paths])))
      imagined['discounted_return_mean'] = float(np.mean(np.concatenate(
          [path_returns(p.rewards, p.mask, trainer.gamma) for p in paths])))
      rows.append({'policy': name, 'real': real, 'imagined': imagined,
                   'one_step_pitch_error': one_step_pitch_error(trainer.dynamics, trajectories,
                                                                pitch),
                   'foresight': foresight(trainer, trajectories, pitch, foresight_steps,
                                          env_id=env_id, seed=seed)})
  finally:
    trainer.policy = own
  return rows
