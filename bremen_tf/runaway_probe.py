"""Which ensemble members let imagined paths run away, and under which policy.

Imagination draws one member per step for the whole batch (as the original), so a path runs away
(its state reaches the model's ±1e5 output clip, then earns rewards of that order per step) if any
member it meets diverges there. `probe` imagines batches with each member alone predicting every
step, and with the usual random member, and reports for each policy the fraction of paths at the
clip and the median path return. Used by launch/imagination_probe.py on a run's checkpoint.
"""
import numpy as np
import tensorflow as tf

from bremen_tf.imagined_trpo import clipped_path_fraction, median


class FixedMember:
  """`dynamics` with member `member` predicting every step (the draw still happens, unused)."""

  def __init__(self, dynamics, member):
    self.n_models, self._dynamics, self._member = dynamics.n_models, dynamics, member

  def member_predictor(self):
    predict, member = self._dynamics.member_predictor(), tf.constant(self._member)
    return lambda obs, act, unused_member: predict(obs, act, member)


def probe(trainer, policies, batches=1):
  """Rows {'policy', 'member' ('random' or k), 'clipped_path_fraction', 'median_return', 'paths'}
  for each of `policies` ({name: GaussianPolicy}) and member, `batches` imagined batches each
  (fractions pooled over paths, medians over the batches' medians). `trainer` (an ImaginedTRPO)
  is left as it was, but its random generator advances."""
  dynamics, policy = trainer.dynamics, trainer.policy
  members = ['random'] + list(range(dynamics.n_models))
  rows = []
  try:
    for name, candidate in policies.items():
      trainer.policy = candidate
      for member in members:
        trainer.dynamics = dynamics if member == 'random' else FixedMember(dynamics, member)
        imagine = tf.function(trainer.imagine, autograph=False)
        clipped, medians, n_paths = [], [], []  # paths at the clip, per batch
        for _ in range(batches):
          paths = imagine()
          returns = tf.reduce_sum(paths.rewards * paths.mask, axis=1)
          n_paths.append(int(tf.shape(returns)[0]))
          clipped.append(float(clipped_path_fraction(paths.obs, paths.mask)) * n_paths[-1])
          medians.append(float(median(returns)))
        rows.append({'policy': name, 'member': member,
                     'clipped_path_fraction': sum(clipped) / sum(n_paths),
                     'median_return': float(np.median(medians)), 'paths': sum(n_paths)})
  finally:
    trainer.dynamics, trainer.policy = dynamics, policy
  return rows
