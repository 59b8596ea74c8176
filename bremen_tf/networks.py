"""Plain tf.Module networks: explicit variables, explicit initialisers, no Keras.

Keeping them framework-free makes initialisation match the original code exactly (Keras'
Glorot-uniform for the BRAC/SAC networks, "normc" for BREMEN's policy) and keeps checkpoints
readable across TF/Keras versions.
"""
import numpy as np
import tensorflow as tf


def glorot_uniform(rng, fan_in, fan_out):
  limit = np.sqrt(6.0 / (fan_in + fan_out))
  return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)


def normc(rng, fan_in, fan_out, std=1.0):
  """Gaussian matrix whose columns have norm `std` (OpenAI baselines' normc initialiser)."""
  w = rng.standard_normal((fan_in, fan_out)).astype(np.float32)
  return w * std / np.sqrt(np.square(w).sum(axis=0, keepdims=True))


class MLP(tf.Module):
  """x -> [Dense + activation] * len(hidden) -> Dense(out_dim)."""

  def __init__(self, in_dim, hidden, out_dim, activation=tf.nn.relu, seed=0, name=None):
    super().__init__(name=name)
    rng = np.random.default_rng(seed)
    sizes = [in_dim, *hidden, out_dim]
    self.kernels = [tf.Variable(glorot_uniform(rng, i, o), name=f'kernel_{k}')
                    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:]))]
    self.biases = [tf.Variable(tf.zeros([o]), name=f'bias_{k}') for k, o in enumerate(sizes[1:])]
    self._activation = activation

  def __call__(self, x):
    for k, (w, b) in enumerate(zip(self.kernels, self.biases)):
      x = tf.matmul(x, w) + b
      if k < len(self.kernels) - 1:
        x = self._activation(x)
    return x


class EnsembleMLP(tf.Module):
  """K MLPs evaluated as one batched op: weights [K, in, out], inputs [K, B, in] -> [K, B, out].

  Each member is initialised like a Keras Dense stack (Glorot-uniform kernels, zero biases), from
  its own draws, so members differ only in initialisation (reference/bremen.md §3).
  """

  def __init__(self, n_members, in_dim, hidden, out_dim, activation=tf.nn.relu, seed=0,
               name=None, batched=False):
    super().__init__(name=name)
    rng = np.random.default_rng(seed)
    sizes = [in_dim, *hidden, out_dim]
    self.n_members = n_members
    self.batched = batched  # True: batched_call (the implementation before) serves __call__
    self.kernels = [tf.Variable(np.stack([glorot_uniform(rng, i, o) for _ in range(n_members)]),
                                name=f'kernel_{k}')
                    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:]))]
    self.biases = [tf.Variable(tf.zeros([n_members, 1, o]), name=f'bias_{k}')
                   for k, o in enumerate(sizes[1:])]
    self._activation = activation

  def __call__(self, x):
    """x: [K, B, in] (each member its own batch) or [B, in] (the same batch for all).

    Each member's layer is its own 2-D matmul on its `members()` weights: faster than one
    batched matmul over the member axis (`batched_call`, the implementation before; equal to
    float32 round-off), because oneDNN's 2-D kernels beat its batched ones at these shapes
    (bench/bench_bremen.py, results/performance.md)."""
    if self.batched:
      return self.batched_call(x)
    xs = [x] * self.n_members if x.shape.rank == 2 else tf.unstack(x, self.n_members)
    return tf.stack([self.member_forward(xk, layers) for xk, layers in zip(xs, self.members())])

  def members(self):
    """Per member, its [(kernel [in, out], bias [1, out])] layers, unstacked from the [K, ...]
    variables (tf.unstack slices without copying; its gradient is one stack)."""
    per_layer = [(tf.unstack(w, self.n_members), tf.unstack(b, self.n_members))
                 for w, b in zip(self.kernels, self.biases)]
    return [[(ws[k], bs[k]) for ws, bs in per_layer] for k in range(self.n_members)]

  def member_forward(self, x, layers, matmul_dtype=tf.float32):
    """One member's MLP on x [B, in], given its `members()` layers. With matmul_dtype bfloat16
    each matmul's operands are cast to it and its product back to float32 (mixed precision, as
    Keras' mixed_bfloat16 policy: weights, biases and activations between layers stay float32)."""
    for i, (w, b) in enumerate(layers):
      if matmul_dtype == tf.float32:
        x = tf.matmul(x, w) + b
      else:
        x = tf.cast(tf.matmul(tf.cast(x, matmul_dtype), tf.cast(w, matmul_dtype)),
                    tf.float32) + b
      if i < len(layers) - 1:
        x = self._activation(x)
    return x

  def batched_call(self, x):
    """__call__ as first written: one batched matmul per layer over the member axis."""
    if x.shape.rank == 2:
      x = tf.tile(x[None], [self.n_members, 1, 1])
    for k, (w, b) in enumerate(zip(self.kernels, self.biases)):
      x = tf.matmul(x, w) + b
      if k < len(self.kernels) - 1:
        x = self._activation(x)
    return x
