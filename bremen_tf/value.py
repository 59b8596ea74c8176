"""rllab's LinearFeatureBaseline, the value baseline BREMEN's TRPO uses (reference/bremen.md §6).

Features [o, o², t/100, (t/100)², (t/100)³, 1] with o = clip(normalised obs, ±10); fitted by
ridge least squares (XᵀX + c·I) w = Xᵀy with c = 1e-5, multiplied by 10 while the solution has
NaNs (at most 5 tries). The solve runs in float64 inside TF, so it can sit in a tf.function.
"""
import tensorflow as tf


class LinearFeatureBaseline(tf.Module):

  def __init__(self, obs_dim, reg_coeff=1e-5, max_tries=5, name='baseline'):
    super().__init__(name=name)
    self.n_features = 2 * obs_dim + 4
    self.reg_coeff, self.max_tries = reg_coeff, max_tries
    # Starts at zero (predicts 0) until the first fit, as in the original.
    self.coeffs = tf.Variable(tf.zeros([self.n_features], tf.float64), trainable=False)

  def features(self, obs, timesteps):
    """obs [N, obs_dim] (already normalised), timesteps [N] -> [N, n_features] float64."""
    o = tf.clip_by_value(tf.cast(obs, tf.float64), -10.0, 10.0)
    t = tf.cast(timesteps, tf.float64)[:, None] / 100.0
    return tf.concat([o, o * o, t, t * t, t * t * t, tf.ones_like(t)], axis=1)

  def predict(self, obs, timesteps):
    return tf.cast(tf.linalg.matvec(self.features(obs, timesteps), self.coeffs), tf.float32)

  def fit(self, obs, timesteps, targets, weights=None):
    """Ridge fit on rows (obs [N, d] normalised, timesteps [N], targets [N]); rows with weight 0
    (padding) drop out of XᵀX and Xᵀy."""
    x = self.features(obs, timesteps)
    y = tf.cast(targets, tf.float64)
    if weights is not None:
      w = tf.cast(weights, tf.float64)
      x, y = x * w[:, None], y * w
    xtx = tf.matmul(x, x, transpose_a=True)
    xty = tf.linalg.matvec(x, y, transpose_a=True)
    eye = tf.eye(self.n_features, dtype=tf.float64)

    def solve(reg):
      return tf.linalg.lstsq(xtx + reg * eye, xty[:, None], fast=False)[:, 0]

    def cond(i, reg, w):
      return tf.logical_and(i < self.max_tries, tf.reduce_any(tf.math.is_nan(w)))

    def body(i, reg, w):
      return i + 1, reg * 10.0, solve(reg * 10.0)

    reg0 = tf.constant(self.reg_coeff, tf.float64)
    _, _, w = tf.while_loop(cond, body, [tf.constant(1), reg0, solve(reg0)])
    self.coeffs.assign(w)
