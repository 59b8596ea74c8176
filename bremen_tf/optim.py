"""Adam as a tf.Module: checkpointable with its model, usable inside tf.function."""
import tensorflow as tf


class Adam(tf.Module):
  """Kingma & Ba Adam with bias correction; epsilon defaults to Keras' 1e-7."""

  def __init__(self, variables, learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-7, name=None):
    super().__init__(name=name)
    self._vars = list(variables)
    self.learning_rate = learning_rate
    self._b1, self._b2, self._eps = beta1, beta2, epsilon
    self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
    self.m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self._vars]
    self.v = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self._vars]

  def apply(self, grads):
    self.step.assign_add(1)
    t = tf.cast(self.step, tf.float32)
    lr = self.learning_rate * tf.sqrt(1.0 - self._b2 ** t) / (1.0 - self._b1 ** t)
    for var, g, m, v in zip(self._vars, grads, self.m, self.v):
      m.assign(self._b1 * m + (1.0 - self._b1) * g)
      v.assign(self._b2 * v + (1.0 - self._b2) * tf.square(g))
      var.assign_sub(lr * m / (tf.sqrt(v) + self._eps))

  def apply_fused(self, grads):
    """The same update as `apply` (to float32 round-off: m += (1 − β1)(g − m) is the same sum
    in another order) in one pass over each variable: TF's ApplyAdam kernel, one op per
    variable where `apply` runs about fourteen elementwise passes."""
    self.step.assign_add(1)
    t = tf.cast(self.step, tf.float32)
    b1, b2 = tf.constant(self._b1, tf.float32), tf.constant(self._b2, tf.float32)
    b1_power, b2_power = b1 ** t, b2 ** t
    lr, eps = tf.constant(self.learning_rate, tf.float32), tf.constant(self._eps, tf.float32)
    for var, g, m, v in zip(self._vars, grads, self.m, self.v):
      tf.raw_ops.ResourceApplyAdam(var=var.handle, m=m.handle, v=v.handle,
                                   beta1_power=b1_power, beta2_power=b2_power, lr=lr, beta1=b1,
                                   beta2=b2, epsilon=eps, grad=g)


class EnsembleAdam(tf.Module):
  """Adam over ensemble variables (leading axis = member) with a per-member on/off mask.

  Equivalent to K independent Adam optimisers: each member has its own step count, and a
  member that is switched off (early-stopped) keeps its weights *and* moments untouched.
  """

  def __init__(self, variables, n_members, learning_rate, beta1=0.9, beta2=0.999,
               epsilon=1e-8, name=None):
    super().__init__(name=name)
    self._vars = list(variables)
    self.learning_rate = learning_rate
    self._b1, self._b2, self._eps = beta1, beta2, epsilon
    self.steps = tf.Variable(tf.zeros([n_members]), trainable=False, name='steps')
    self.m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self._vars]
    self.v = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self._vars]

  def apply(self, grads, active):
    """`active`: bool [K]; members that are off are left exactly as they are."""
    on = tf.cast(active, tf.float32)
    self.steps.assign_add(on)
    t = tf.maximum(self.steps, 1.0)
    lr = self.learning_rate * tf.sqrt(1.0 - self._b2 ** t) / (1.0 - self._b1 ** t)
    for var, g, m, v in zip(self._vars, grads, self.m, self.v):
      shape = [-1] + [1] * (var.shape.rank - 1)
      mask = tf.reshape(on, shape)
      m.assign(m + mask * (1.0 - self._b1) * (g - m))
      v.assign(v + mask * (1.0 - self._b2) * (tf.square(g) - v))
      var.assign_sub(mask * tf.reshape(lr, shape) * m / (tf.sqrt(v) + self._eps))

  @tf.function(jit_compile=True, autograph=False)  # Python loops over variables only
  def apply_fused(self, grads, active):
    """`apply` compiled by XLA: the same update to float32 round-off, fused into one pass over
    each variable where `apply` runs about a dozen elementwise TF ops (timed in
    bench/bench_bremen.py, results/performance.md). Members that are off stay bit-exact."""
    self.apply(grads, active)
