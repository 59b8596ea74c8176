"""Pieces the BRAC-protocol offline agents share (reference/brac_protocol.md §1, §4)."""
import tensorflow as tf

NOISE_STREAM = 1  # Philox key of the agents' noise; the model-free loop's batch sampler uses key 0


def noise_generator(seed):
  """An agent's own random stream, checkpointed with the agent (so a resume is exact): Philox
  with key NOISE_STREAM and counter `seed`, independent of the batch sampler's stream."""
  return tf.random.Generator.from_seed([seed, NOISE_STREAM])


@tf.custom_gradient
def relu_v2(x):
  """ReLU whose gradient also passes where x <= 0 if it would push x up (BRAC's utils.relu_v2),
  so a coefficient clamped at 0 can recover."""
  def grad(dy):
    return dy * tf.cast((x > 0.0) | (dy < 0.0), dy.dtype)
  return tf.nn.relu(x), grad


def clip_pass_through(x, low, high):
  """clip(x) forward, identity gradient (BRAC's clip_v2 for the penalty coefficient α)."""
  return x + tf.stop_gradient(tf.clip_by_value(x, low, high) - x)


def ensemble_q(q_values, lam):
  """E(Q) = λ·min + (1 − λ)·max over the ensemble axis 0."""
  return lam * tf.reduce_min(q_values, axis=0) + (1.0 - lam) * tf.reduce_max(q_values, axis=0)


def adam_step(optimizer, grads, reference=False):
  """optimizer.apply_fused(grads), or the elementwise `apply` of the reference implementations."""
  if reference:
    optimizer.apply(grads)
  else:
    optimizer.apply_fused(grads)


def polyak(source_vars, target_vars, tau, reference=True):
  """target ← τ·source + (1 − τ)·target; `reference=False`: the same as target −= τ·(target −
  source) in two passes (a subtraction and TF's fused in-place update) instead of four."""
  for v, tv in zip(source_vars, target_vars):
    if reference:
      tv.assign(tau * v + (1.0 - tau) * tv)
    else:
      tf.raw_ops.ResourceApplyGradientDescent(var=tv.handle, alpha=tf.constant(tau, tv.dtype),
                                              delta=tv - v)


def clip_inside(action, low, high, margin=1e-3):
  """Actions pulled `margin` inside the bounds, where a tanh policy's log-density is finite."""
  return tf.clip_by_value(action, low + margin, high - margin)


def argmax_rows(candidates, scores):
  """candidates [N, B, A], scores [N, B] -> the candidate with the highest score per row, [B, A]."""
  best = tf.argmax(scores, axis=0, output_type=tf.int32)  # [B]
  batch = tf.range(tf.shape(best)[0])
  return tf.gather_nd(tf.transpose(candidates, [1, 0, 2]), tf.stack([batch, best], axis=1))
