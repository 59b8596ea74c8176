"""An opt-in guard against imagined paths that run away in the model (a deviation, off by
default; `ImaginedTRPO.data_box_margin`).

With it, an imagined path also ends (as a termination, like a fall) at the first predicted state
outside the box of the observations the model was fitted on, widened on each side by `margin`
times the box's width per dimension. The original ends paths only at the horizon or the env's
termination, and clips predictions at ±1e5 only: in the full-budget offline HalfCheetah 100K run,
TRPO learned to drive the model into states where some members diverge (joint velocities in the
hundreds against data within ±27) until the clip, with rewards of that order per step, and the
real return collapsed (docs/full_budget.md, "Runaway imagined paths"). Ending such paths removes
those rewards; leaving the data costs a path its remaining steps.

The box is derived from the data on every start (resume included), so it is never checkpointed:
a run's checkpoints are the same with the guard on or off.
"""
import numpy as np
import tensorflow as tf


class DataBox:
  """The per-dimension range of the model's data, widened by `margin` x its width on each side.

  A plain object, not a tf.Module: its variables stay out of the checkpoints that hold the
  trainer. `outside(obs)` is a TF op, read inside the trainer's tf.function; `set_from` may be
  called again (the deployment loop's data grow) without retracing."""

  def __init__(self, obs_dim, margin):
    margin = float(margin)
    if not margin >= 0.0:
      raise ValueError(f'data_box_margin must be >= 0 (or None: no guard), got {margin}.')
    self.margin, self.obs_dim = margin, int(obs_dim)
    self.low = tf.Variable(tf.fill([self.obs_dim], -np.inf), trainable=False, name='data_low')
    self.high = tf.Variable(tf.fill([self.obs_dim], np.inf), trainable=False, name='data_high')
    self.is_set = False

  def set_from(self, *observations):
    """The box of every row of the given [N, obs_dim] arrays (e.g. observations and next
    observations of the fitted data)."""
    arrays = [a for a in (np.asarray(o).reshape(-1, self.obs_dim) for o in observations)
              if len(a)]  # per array, without a copy of all the data
    if not arrays:
      raise ValueError('the data box needs at least one observation')
    low = np.min([a.min(axis=0) for a in arrays], axis=0).astype(np.float64)
    high = np.max([a.max(axis=0) for a in arrays], axis=0).astype(np.float64)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
      raise ValueError('the data box needs finite observations (the data hold inf or nan)')
    width = high - low
    self.low.assign((low - self.margin * width).astype(np.float32))
    self.high.assign((high + self.margin * width).astype(np.float32))
    self.is_set = True

  def outside(self, obs):
    """[..., obs_dim] -> [...] bool: some dimension lies outside the box."""
    return tf.reduce_any((obs < self.low) | (obs > self.high), axis=-1)
