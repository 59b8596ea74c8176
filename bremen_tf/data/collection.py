"""Fast BRAC-protocol data collection: one batched policy call per step over a vector of envs.

Each noise segment is collected in turn, starting fresh episodes. Episodes are stored
contiguously (in order of completion), so terminals/timeouts delimit them as in D4RL. Like
BRAC's sequential collector, each segment ends with at most one cut episode (its last
transition flagged `timeouts` and listed in metadata['cut_indices']).
"""
import time

import numpy as np

from bremen_tf import envs
from bremen_tf.data import noise as noise_lib
from bremen_tf.data.dataset import Dataset, episode_returns, return_stats


def _collect_segment(env_id, action_fn, count, n_envs, rng, seed, progress, cut=True):
  """`count` transitions from whole episodes in order of completion, the last one cut (with
  `cut=False`: every finished episode, so at least `count` transitions and no cut).

  Running episodes are discarded as soon as enough whole ones are done, also when other envs
  finish one on the same step: parallel envs never leave many half episodes (that would
  over-weight early-episode states), and with `cut=False` the overshoot stays below one episode.
  With `cut=True` only the segment's final transition can cut an episode. Both as in BRAC's
  sequential collection.
  """
  env_list = [envs.make(env_id) for _ in range(n_envs)]
  obs = np.stack([e.reset(seed=seed + k)[0] for k, e in enumerate(env_list)]).astype(np.float32)
  running = [[] for _ in range(n_envs)]   # per env: list of (s, a, r, s', terminal, timeout)
  finished, n_finished = [], 0
  while n_finished < count:
    actions = action_fn(obs, rng)
    for k, env in enumerate(env_list):
      next_obs, reward, terminated, truncated, _ = env.step(actions[k])
      next_obs = next_obs.astype(np.float32)
      running[k].append((obs[k].copy(), actions[k], reward, next_obs, terminated,
                         truncated and not terminated))
      if terminated or truncated:
        finished.append(running[k])
        n_finished += len(running[k])
        running[k] = []
        if n_finished >= count:
          break  # enough: episodes ending on this same step in later envs are not needed
        next_obs = env.reset()[0].astype(np.float32)
      obs[k] = next_obs
    progress(n_finished)
  for env in env_list:
    env.close()

  rows = [t for ep in finished for t in ep]
  if cut:
    rows = rows[:count]
  s, a, r, s2, term, tout = (np.array(x) for x in zip(*rows))
  cut = [] if (term[-1] or tout[-1]) else [len(rows) - 1]
  tout[cut] = True
  return Dataset(observations=s, actions=a.astype(np.float32), rewards=r.astype(np.float32),
                 next_observations=s2, terminals=term.astype(bool), timeouts=tout.astype(bool),
                 metadata={'cut_indices': cut})


def _next_actions(dataset, action_fn, rng):
  """BRAC's a2: the next executed action inside an episode, a fresh draw at episode ends."""
  ends = dataset.terminals | dataset.timeouts
  next_actions = np.empty_like(dataset.actions)
  next_actions[:-1] = dataset.actions[1:]
  idx = np.flatnonzero(ends)
  next_actions[idx] = action_fn(dataset.next_observations[idx], rng)
  return next_actions


def collect_episodes(env_id, action_fn, min_transitions, seed=0, n_envs=16, log=print):
  """Whole episodes of `action_fn(obs [B, obs_dim], rng) -> actions` until they hold at least
  `min_transitions` (a deployment, reference/bremen.md §7: it may overshoot by < one episode)."""
  rng = np.random.default_rng(seed)
  t0, last_print = time.time(), [time.time()]

  def progress(done):
    if time.time() - last_print[0] > 10:
      last_print[0] = time.time()
      log(f'  [{env_id}] {min(done, min_transitions):,}/{min_transitions:,} transitions, '
          f'{done / max(time.time() - t0, 1e-9):,.0f}/s')

  dataset = _collect_segment(env_id, action_fn, min_transitions, n_envs, rng, seed, progress,
                             cut=False)
  dataset.metadata.update({'env_id': env_id, 'size': len(dataset), 'seed': seed,
                           'behavior_returns': return_stats(episode_returns(dataset)),
                           'collection_seconds': time.time() - t0})
  return dataset


def collect(env_id, actor, noise, n, seed=0, n_envs=64, log=print):
  """Collects an n-transition dataset of `noise` (see noise.NOISE_CONFIGS) with `actor`.

  `actor` is the SAC TanhGaussianActor (unused for pure-random data). Returns a Dataset whose
  metadata holds per-segment and overall return statistics of the complete episodes.
  """
  spec = envs.get_spec(env_id)
  probe = envs.make(env_id)
  low, high = probe.action_space.low, probe.action_space.high
  probe.close()
  rng = np.random.default_rng(seed)
  parts, segment_meta, offset = [], [], 0
  start = time.time()
  for i, (segment, count) in enumerate(zip(noise_lib.get_segments(noise),
                                           noise_lib.segment_counts(noise, n))):
    if count == 0:
      continue
    action_fn = noise_lib.make_action_fn(segment, actor, low, high)
    t0, last_print = time.time(), [0.0]

    def progress(done, name=segment.name, count=count, t0=t0):
      if time.time() - last_print[0] > 10:
        last_print[0] = time.time()
        rate = done / max(time.time() - t0, 1e-9)
        log(f'  [{env_id} {noise} {name}] {min(done, count)}/{count} transitions, '
            f'{rate:,.0f}/s')

    # >= ~4 episodes per env: the running episodes discarded at the end (about half an episode
    # per env) then cost at most ~12% extra stepping.
    seg_envs = int(min(n_envs, max(1, count // (4 * envs.MAX_EPISODE_STEPS))))
    part = _collect_segment(env_id, action_fn, count, seg_envs, rng,
                            seed=seed * 1_000_003 + 10_000 * i, progress=progress)
    part.next_actions = _next_actions(part, action_fn, rng)
    stats = return_stats(episode_returns(part))
    segment_meta.append({'name': segment.name, 'kind': segment.kind, 'param': segment.param,
                         'start': offset, 'count': count, 'returns': stats})
    log(f'  [{env_id} {noise} {segment.name}] {count} transitions in '
        f'{time.time() - t0:.1f}s; episode return {stats["mean"]} over {stats["episodes"]} '
        f'episodes')
    part.metadata['cut_indices'] = [offset + c for c in part.metadata['cut_indices']]
    parts.append(part)
    offset += count

  arrays = {k: np.concatenate([getattr(p, k) for p in parts]) for k in parts[0].arrays()}
  cuts = [c for p in parts for c in p.metadata['cut_indices']]
  dataset = Dataset(**arrays, metadata={'cut_indices': cuts})
  elapsed = time.time() - start
  dataset.metadata.update({
      'env_id': env_id, 'obs_dim': spec.obs_dim, 'act_dim': spec.act_dim, 'noise': noise,
      'size': n, 'seed': seed, 'segments': segment_meta,
      'behavior_returns': return_stats(episode_returns(dataset)),
      'collection_seconds': elapsed, 'transitions_per_second': n / max(elapsed, 1e-9),
  })
  return dataset
