"""Generalised advantage estimation over padded paths (reference/bremen.md §6).

Paths are rows of [P, H] arrays with a validity mask (1 for real steps, then 0 padding). Every
path end counts as terminal, truncation at H included: b(s_{t+1}) = 0 after a path's last step.
  δ_t = r_t + γ·b(s_{t+1}) − b(s_t),  A_t = Σ_k (γλ)^k δ_{t+k},  targets = A + b (λ-returns).
BREMEN's explicit KL value penalty (α·KL_t) is a reward term: pass r − α·KL as `rewards`.
"""
import tensorflow as tf


def gae(rewards, values, mask, gamma, lam):
  """rewards, values, mask: [P, H] float32. Returns (advantages, targets), zero on padding."""
  mask = tf.cast(mask, tf.float32)
  values = values * mask
  next_values = tf.concat([values[:, 1:], tf.zeros_like(values[:, :1])], axis=1)
  next_mask = tf.concat([mask[:, 1:], tf.zeros_like(mask[:, :1])], axis=1)
  deltas = (rewards + gamma * next_values * next_mask - values) * mask

  # Backwards discounted cumulative sum over time, as one scan over the H axis.
  def step(carry, delta_and_mask):
    delta, m = delta_and_mask
    return delta + gamma * lam * carry * m

  adv_reversed = tf.scan(step, (tf.reverse(tf.transpose(deltas), [0]),
                                tf.reverse(tf.transpose(next_mask), [0])),
                         initializer=tf.zeros_like(deltas[:, 0]))
  advantages = tf.transpose(tf.reverse(adv_reversed, [0])) * mask
  return advantages, (advantages + values) * mask
