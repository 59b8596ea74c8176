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


def fastest(fn, repeats=3):
  """The least seconds of `repeats` calls of fn, after one warm-up call (tracing)."""
  fn()
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t0)
  return min(times)


def matmul_rate(tf, repeats, n=2048, dtype=None):
  """FLOP/s of a chain of n x n matmuls (float32 unless `dtype`), the machine's practical peak."""
  dtype = dtype or tf.float32
  a = tf.cast(tf.random.stateless_normal([n, n], seed=[0, 0]), dtype)

  @tf.function
  def chain():
    x = a
    for _ in range(8):
      x = tf.matmul(x, a) * tf.cast(1e-3, dtype)
    return tf.reduce_sum(tf.cast(x, tf.float32))
  seconds = median_times({'chain': lambda: chain().numpy()}, repeats)['chain']
  return 8 * 2 * n ** 3 / seconds
