"""Timing helpers shared by the benchmarks in bench/ (imported by them as a sibling module)."""
import time

import numpy as np


def median_times(fns, repeats):
  """{name: median seconds} for {name: fn}, warmed up, then timed alternately."""
  for fn in fns.values():
    fn()  # warm-up (tracing)
  times = {name: [] for name in fns}
  for _ in range(repeats):
    for name, fn in fns.items():
      t0 = time.perf_counter()
      fn()
      times[name].append(time.perf_counter() - t0)
  return {name: float(np.median(t)) for name, t in times.items()}


def matmul_rate(tf, repeats, n=2048):
  """FLOP/s of a chain of n x n float32 matmuls, the machine's practical peak."""
  a = tf.random.stateless_normal([n, n], seed=[0, 0])

  @tf.function
  def chain():
    x = a
    for _ in range(8):
      x = tf.matmul(x, a) * 1e-3
    return tf.reduce_sum(x)
  seconds = median_times({'chain': lambda: chain().numpy()}, repeats)['chain']
  return 8 * 2 * n ** 3 / seconds
