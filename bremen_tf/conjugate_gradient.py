"""Conjugate gradient for A x = b with A given only as a product v -> A v (TRPO's Fisher)."""
import tensorflow as tf


def conjugate_gradient(matvec, b, iterations=10, tolerance=1e-10):
  """Solves matvec(x) = b for symmetric positive-definite A, starting from x = 0.

  The loop is a tf.while_loop, so inside a tf.function the whole solve is one graph. Stops early
  once the squared residual norm falls below `tolerance` (the rllab/ME-TRPO rule).
  """
  x = tf.zeros_like(b)
  r = tf.identity(b)
  p = tf.identity(b)
  rr = tf.reduce_sum(r * r)

  def cond(i, x, r, p, rr):
    return tf.logical_and(i < iterations, rr >= tolerance)

  def body(i, x, r, p, rr):
    ap = matvec(p)
    alpha = rr / tf.reduce_sum(p * ap)
    x = x + alpha * p
    r = r - alpha * ap
    new_rr = tf.reduce_sum(r * r)
    p = r + (new_rr / rr) * p
    return i + 1, x, r, p, new_rr

  _, x, _, _, _ = tf.while_loop(cond, body, [tf.constant(0), x, r, p, rr])
  return x
