"""The TRPO update as ME-TRPO/BREMEN ran it (reference/bremen.md §6), over a list of variables.

  step = trpo_step(surrogate_fn, kl_fn, variables, max_kl)

`surrogate_fn()` is the loss to minimise (−mean(ratio·Â)); `kl_fn()` the mean KL(old ‖ new) whose
Hessian at the current parameters is the Fisher matrix. Both close over the batch. Everything is
TF control flow, so a caller can wrap the whole update in one tf.function.

  direction  x = CG(F + damping·I, −g), `cg_iters` iterations
  scale      s = x·sqrt(max_kl / (½ xᵀ(F + damping·I)x))
  search     θ + 0.5^k·s, k = 0..backtracks−1: accept the first with actual improvement > 0 and
             actual / (−gᵀs·0.5^k) > accept_ratio; no KL check; none accepted -> θ unchanged.
"""
import tensorflow as tf

from bremen_tf.conjugate_gradient import conjugate_gradient


def flat_concat(tensors):
  return tf.concat([tf.reshape(t, [-1]) for t in tensors], axis=0)


def unflatten(variables, flat):
  """Splits a flat vector into tensors shaped like `variables`."""
  out, offset = [], 0
  for v in variables:
    size = v.shape.num_elements()  # static: works inside tf.function
    out.append(tf.reshape(flat[offset:offset + size], v.shape))
    offset += size
  return out


def assign_flat(variables, flat):
  for v, value in zip(variables, unflatten(variables, flat)):
    v.assign(value)


def fisher_vector_product(kl_fn, variables, vector, damping=0.0):
  """(F + damping·I)·vector, F the Hessian of kl_fn() w.r.t. `variables` (double backprop)."""
  with tf.GradientTape() as outer:
    with tf.GradientTape() as inner:
      kl = kl_fn()
    grads = flat_concat(inner.gradient(kl, variables))
    grad_dot_v = tf.reduce_sum(grads * tf.stop_gradient(vector))
  hvp = flat_concat(outer.gradient(grad_dot_v, variables))
  return hvp + damping * vector


def gaussian_fisher_vector_product(dist_fn, variables, vector, n_rows, damping=0.0):
  """(F + damping·I)·vector for F the Hessian of Σ_rows KL(old ‖ new) / n_rows at new = old,
  for a diagonal Gaussian `dist_fn() -> (mean, log_std)`.

  At new = old that Hessian is exactly Jᵀ M J (the KL's first derivatives vanish there), with J
  the Jacobian of (mean, log_std) and M = diag(1/σ², 2) per row and dimension. One forward-mode
  product (J v) and one backward pass (Jᵀ u) compute it, about twice as fast as
  double backprop through the KL (`fisher_vector_product`), which gives the same numbers.
  """
  variables = list(variables)
  with tf.GradientTape() as tape:
    with tf.autodiff.ForwardAccumulator(variables, unflatten(variables, vector)) as acc:
      mean, log_std = dist_fn()
    j_mean, j_log_std = acc.jvp(mean), acc.jvp(log_std)
  u_mean = tf.stop_gradient(j_mean * tf.exp(-2.0 * log_std)) / n_rows
  u_log_std = tf.stop_gradient(2.0 * j_log_std) / n_rows
  grads = tape.gradient([mean, log_std], variables, output_gradients=[u_mean, u_log_std],
                        unconnected_gradients=tf.UnconnectedGradients.ZERO)
  return flat_concat(grads) + damping * vector


def trpo_direction(surrogate_fn, kl_fn, variables, max_kl, damping=0.1, cg_iters=10,
                   cg_tolerance=1e-10, fvp_fn=None, loss_and_gradient=None):
  """Loss before the step, the scaled full step and its expected improvement −gᵀs.

  `fvp_fn(v)`, if given, is the undamped Fisher-vector product to use instead of double
  backprop through `kl_fn` (e.g. gaussian_fisher_vector_product). `loss_and_gradient`, if given,
  is (surrogate_fn() at the current parameters, its flat gradient), already computed (e.g. on the
  forward pass whose activations the Fisher product keeps).
  """
  variables = list(variables)
  if loss_and_gradient is None:
    with tf.GradientTape() as tape:
      loss_before = surrogate_fn()
    loss_and_gradient = loss_before, flat_concat(tape.gradient(loss_before, variables))
  loss_before, g = loss_and_gradient
  if fvp_fn is None:
    fvp = lambda v: fisher_vector_product(kl_fn, variables, v, damping)
  else:
    fvp = lambda v: fvp_fn(v) + damping * v
  x = conjugate_gradient(fvp, -g, cg_iters, cg_tolerance)
  shs = 0.5 * tf.reduce_sum(x * fvp(x))
  full_step = x * tf.sqrt(max_kl / tf.maximum(shs, 1e-30))
  return loss_before, full_step, -tf.reduce_sum(g * full_step)


def line_search(surrogate_fn, variables, loss_before, full_step, expected_full, backtracks=10,
                accept_ratio=0.1):
  """θ + 0.5^k·s for k = 0.. until improvement > 0 and improvement / expected > accept_ratio;
  no KL check; keeps θ when nothing passes. Returns (accepted, fraction, loss after)."""
  variables = list(variables)
  old = flat_concat(variables)

  def cond(k, accepted, frac, loss):
    return tf.logical_and(k < backtracks, tf.logical_not(accepted))

  def body(k, accepted, frac, loss):
    frac = tf.pow(0.5, tf.cast(k, tf.float32))
    assign_flat(variables, old + frac * full_step)
    new_loss = surrogate_fn()
    improve = loss_before - new_loss
    ok = tf.logical_and(improve > 0.0, improve / (expected_full * frac) > accept_ratio)
    return k + 1, ok, frac, new_loss

  _, accepted, frac, loss_after = tf.while_loop(
      cond, body, [tf.constant(0), tf.constant(False), tf.constant(0.0), loss_before])
  frac = tf.where(accepted, frac, 0.0)
  assign_flat(variables, old + frac * full_step)
  return accepted, frac, tf.where(accepted, loss_after, loss_before)


def trpo_step(surrogate_fn, kl_fn, variables, max_kl, damping=0.1, cg_iters=10,
              cg_tolerance=1e-10, backtracks=10, accept_ratio=0.1, fvp_fn=None,
              loss_and_gradient=None):
  """One TRPO update of `variables` in place; returns a dict of scalar diagnostics."""
  loss_before, full_step, expected_full = trpo_direction(
      surrogate_fn, kl_fn, variables, max_kl, damping, cg_iters, cg_tolerance, fvp_fn,
      loss_and_gradient)
  accepted, frac, loss_after = line_search(surrogate_fn, variables, loss_before, full_step,
                                           expected_full, backtracks, accept_ratio)
  return {'loss_before': loss_before, 'loss_after': loss_after, 'accepted': accepted,
          'step_fraction': frac, 'expected_improvement': expected_full, 'kl_after': kl_fn()}
