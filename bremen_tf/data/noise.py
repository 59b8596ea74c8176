"""BRAC's data-collection noise configurations (reference/brac_protocol.md §1, §3).

A noise config is a list of segments (name, action rule, weight), collected in this order:
  pure       100% π_p
  eps1/3     20% uniform random -> 40% π_p -> 40% π_p with prob. ε (0.1/0.3) replaced by uniform
  gaussian1/3  20% uniform random -> 40% π_p -> 40% π_p + N(0, σ²) (σ = 0.1/0.3), clipped 1e-3
             inside the bounds
  random     100% uniform random (not in BRAC; BREMEN's loader accepts it)
π_p always *samples* the SAC policy (BRAC's `none` wrapper is RandomSoft, not the mode).
Counts are int(n·w/10) for each segment but the last, which takes the remainder (BRAC's rule).
"""
import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Segment:
  name: str
  kind: str           # 'random' | 'policy' | 'eps' | 'gaussian'
  weight: int
  param: float = 0.0  # ε for 'eps', σ for 'gaussian'


def _mixture(kind, param):
  return (Segment('random', 'random', 2), Segment('policy', 'policy', 4),
          Segment(f'{kind}{param:g}', kind, 4, param))


NOISE_CONFIGS = {
    'pure': (Segment('policy', 'policy', 1),),
    'eps1': _mixture('eps', 0.1),
    'eps3': _mixture('eps', 0.3),
    'gaussian1': _mixture('gaussian', 0.1),
    'gaussian3': _mixture('gaussian', 0.3),
    'random': (Segment('random', 'random', 1),),
}
NOISES = tuple(NOISE_CONFIGS)


def get_segments(noise):
  if noise not in NOISE_CONFIGS:
    raise ValueError(f'Unknown noise {noise!r}; expected one of {", ".join(NOISES)}.')
  return NOISE_CONFIGS[noise]


def segment_counts(noise, n):
  """BRAC's split of n transitions over the segments: [int(n·0.2), int(n·0.4), rest]."""
  segments = get_segments(noise)
  total = sum(s.weight for s in segments)
  counts = [int(n * s.weight / total) for s in segments[:-1]]
  return counts + [n - sum(counts)]


def make_action_fn(segment, actor, low, high):
  """action_fn(obs float32 [B, obs_dim], rng) -> float32 [B, act_dim] for one segment."""
  low, high = np.asarray(low, np.float32), np.asarray(high, np.float32)
  params = (tf.function(actor.params, reduce_retracing=True, autograph=False)
            if actor is not None else None)

  def uniform(rng, batch):
    return rng.uniform(low, high, size=(batch, low.size)).astype(np.float32)

  def policy_sample(obs, rng):
    # The SAC policy's own sample: u ~ N(m, σ), a = tanh(u)·mag + center, noise drawn by `rng`
    # so a collection is reproducible from its seed.
    m, std = (t.numpy() for t in params(obs))
    u = m + std * rng.standard_normal(m.shape).astype(np.float32)
    return (np.tanh(u) * (high - low) / 2 + (high + low) / 2).astype(np.float32)

  if segment.kind == 'random':
    return lambda obs, rng: uniform(rng, len(obs))
  if segment.kind == 'policy':
    return policy_sample
  if segment.kind == 'eps':
    def eps_greedy(obs, rng):
      a = policy_sample(obs, rng)
      replace = rng.random(len(obs)) < segment.param
      return np.where(replace[:, None], uniform(rng, len(obs)), a)
    return eps_greedy
  if segment.kind == 'gaussian':
    def gaussian(obs, rng):
      a = policy_sample(obs, rng) + segment.param * rng.standard_normal(
          (len(obs), low.size)).astype(np.float32)
      return np.clip(a, low + 1e-3, high - 1e-3)
    return gaussian
  raise ValueError(f'Unknown segment kind {segment.kind!r}.')
