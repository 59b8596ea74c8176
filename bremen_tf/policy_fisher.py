"""TRPO's Fisher-vector product for the GaussianPolicy from one cached forward pass
(reference/bremen.md §6; the default `ImaginedTRPO.fisher_product = 'cached'`).

At θ = θ_old the Hessian of Σ_rows KL(old ‖ new) / n is the Gauss-Newton matrix F = Jᵀ C J, with
J the Jacobian of the output layer's pre-activations z = [m, l] and C a per-row, per-output weight:
the Gaussian's Fisher M = diag(1/σ², 2) in (μ, log σ), chained through the tanh heads
  μ dims:      (mag·(1 − tanh² m))² / σ² / n
  log σ dims:  (2.5·(1 − tanh² l))² · 2 / n        (0 when log σ is fixed)
One forward pass stores every dense layer's input; a product is then J v forward through the
stored layers and Jᵀ(C ⊙ J v) back: per hidden layer four matmuls of the batch's size, nothing
recomputed (the forward-mode product in trpo.gaussian_fisher_vector_product runs the forward pass
again and a third matmul per layer). The same matrix; float32 round-off apart, the same numbers.
"""
import tensorflow as tf

from bremen_tf import trpo
from bremen_tf.policies import LOG_STD_MAX, LOG_STD_MIN
from bremen_tf.row_blocks import RowBlocks

_relu_grad = tf.raw_ops.ReluGrad  # dy · (features > 0), the kernel of ReLU's own gradient


class PolicyFisher:
  """F v for `policy` on `obs` ([n, obs_dim]). Build it inside the tf.function of the update (it
  runs the forward pass, whose outputs `z`, `mean`, `log_std` it keeps); `vjp` turns a loss's
  gradient on z into the parameters' gradient from the same stored activations.

  Products run over blocks of `block_rows` rows (None: all rows) one after another
  (bremen_tf/row_blocks.py; on a busy core 1000-row blocks made 11 products 1.3x faster, on an
  idle one about as fast as the whole batch). Each layer's stored input carries a column of
  ones, so one matmul applies a kernel and its bias together; padding rows have weight 0.
  """

  def __init__(self, policy, obs, n_rows, block_rows=1000):
    self.variables = list(policy.trainable_variables)
    self.kernels = policy.kernels
    position = {v.ref(): i for i, v in enumerate(self.variables)}
    self._slots = [(position[w.ref()], position[b.ref()])
                   for w, b in zip(policy.kernels, policy.biases)]
    inputs, self.z = policy.layers(obs)
    self.mean, self.log_std = policy.heads(self.z)
    m, l = tf.split(self.z, 2, axis=-1)
    d_mean = policy._mag * (1.0 - tf.square(tf.tanh(m)))
    mean_weight = tf.square(d_mean) * tf.exp(-2.0 * self.log_std)
    if policy.fixed_log_std is None:
      d_log_std = 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (1.0 - tf.square(tf.tanh(l)))
      log_std_weight = 2.0 * tf.square(d_log_std)
    else:
      log_std_weight = tf.zeros_like(l)
    weights = tf.concat([mean_weight, log_std_weight], -1) / n_rows

    rows = tf.shape(obs)[0]
    self.blocks = RowBlocks(rows, block_rows)
    blocks = lambda x: self.blocks.split(tf.stop_gradient(x))
    ones = tf.ones([rows, 1])
    self.inputs = [blocks(tf.concat([x, ones], -1)) for x in inputs]  # [x, 1] per layer
    self.relu_outputs = [None] + [blocks(x) for x in inputs[1:]]
    self.weights = blocks(weights)

  def _backward(self, i, g, grads):
    """grads + Jᵀg for block i, g [chunk, 2·|A|] on z: [gW_k; gb_k] += [x_k, 1]ᵀ·g_k."""
    new = [None] * len(grads)
    for k in reversed(range(len(self.kernels))):
      x = self.inputs[k][i]
      new[k] = grads[k] + tf.matmul(x, g, transpose_a=True)
      if k > 0:
        g = _relu_grad(gradients=tf.matmul(g, self.kernels[k], transpose_b=True),
                       features=self.relu_outputs[k][i])
    return new

  def _accumulate(self, block_fn):
    """Σ over blocks of block_fn(i, grads) -> grads, as the flat vector of the variables."""
    zeros = [tf.zeros([w.shape[0] + 1, w.shape[1]]) for w in self.kernels]  # [W; b]
    grads = self.blocks.loop(lambda i, *grads: block_fn(i, grads), zeros)
    flat = [None] * len(self.variables)
    for (w, b), g in zip(self._slots, grads):
      flat[w], flat[b] = g[:-1], g[-1]
    return trpo.flat_concat(flat)

  def vjp(self, output_gradient):
    """Jᵀu (flat) for u = ∂loss/∂z on the rows given ([n, 2·|A|]): a loss's gradient from the
    stored activations, the backward pass of backprop without its forward."""
    u = self.blocks.split(output_gradient)
    return self._accumulate(lambda i, grads: self._backward(i, u[i], grads))

  def product(self, vector):
    """Undamped F·vector (flat, like `vector`)."""
    parts = trpo.unflatten(self.variables, vector)
    directions = [tf.concat([parts[w], parts[b][None]], 0) for w, b in self._slots]  # [dW; db]

    def block(i, grads):
      # J v through the layers: dz_k = [x_k, 1]·[dW_k; db_k] + ReLU'·dz_{k−1}·W_k.
      dz = None
      for k, (w, direction) in enumerate(zip(self.kernels, directions)):
        out = tf.matmul(self.inputs[k][i], direction)
        if dz is not None:
          out += tf.matmul(_relu_grad(gradients=dz, features=self.relu_outputs[k][i]), w)
        dz = out
      return self._backward(i, self.weights[i] * dz, grads)
    return self._accumulate(block)
