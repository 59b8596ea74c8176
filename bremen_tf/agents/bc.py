"""BRAC's BC agent (reference/brac_protocol.md §4.1): maximum likelihood plus an entropy bonus.

Loss: mean(α_e·log π(ã|s) − log π(clip(a)|s)) with ã ~ π(·|s); α_e starts at 1, passes through
relu_v2 and is trained towards the target entropy −|A|. The test policy is the mode. BRAC-primal
uses a BC agent's actor as its fixed behaviour policy π_b.
"""
import gin
import tensorflow as tf

from bremen_tf.agents.common import adam_step, clip_inside, noise_generator, relu_v2
from bremen_tf.agents.networks import TanhGaussianActor
from bremen_tf.optim import Adam


@gin.configurable(denylist=['obs_dim', 'act_dim', 'seed', 'name'])
class BCAgent(tf.Module):

  def __init__(self, obs_dim, act_dim, seed=0, hidden=(200, 200), learning_rate=5e-4,
               alpha_entropy=1.0, train_alpha_entropy=True, target_entropy=None,
               batch_size=256, reference_update=False, name='bc'):
    super().__init__(name=name)
    self.obs_dim, self.act_dim, self.batch_size = obs_dim, act_dim, batch_size
    self.actor = TanhGaussianActor(obs_dim, act_dim, hidden, seed=seed)
    self.rng = noise_generator(seed)
    self.alpha_entropy_var = tf.Variable(float(alpha_entropy), name='alpha_entropy')
    self.train_alpha_entropy = train_alpha_entropy
    self.target_entropy = float(-act_dim if target_entropy is None else target_entropy)
    self.actor_optimizer = Adam(self.actor.trainable_variables, learning_rate, name='actor_opt')
    # BRAC's single optimiser entry also sets the entropy coefficient's learning rate.
    self.alpha_optimizer = Adam([self.alpha_entropy_var], learning_rate, name='alpha_opt')
    self.low, self.high = -1.0, 1.0
    # True: the step as first written (kept as the reference the faster one is tested against).
    self.reference_update = reference_update

  @property
  def alpha_entropy(self):
    return relu_v2(self.alpha_entropy_var)

  def losses(self, obs, act):
    """(policy loss, negative log-likelihood of the data, log π of a sample)."""
    _, logp_sample = self.actor.sample(obs, self.rng)
    nll = -self.actor.log_prob(obs, clip_inside(act, self.low, self.high))
    alpha_e = tf.stop_gradient(self.alpha_entropy)
    return tf.reduce_mean(alpha_e * logp_sample + nll), tf.reduce_mean(nll), logp_sample

  def update(self, batch):
    """One step on a batch dict (s1, a1, ...): policy, then α_e. Returns scalar diagnostics."""
    if self.reference_update:
      return self.update_reference(batch)
    obs = batch['s1']
    with tf.GradientTape() as tape:
      m, std = self.actor.params(obs)  # one forward pass for the sample and the likelihood
      _, logp_sample = self.actor.sample_from(m, std, self.rng.normal(tf.shape(m)))
      nll = -self.actor.log_prob_from(m, std, clip_inside(batch['a1'], self.low, self.high))
      p_loss = tf.reduce_mean(tf.stop_gradient(self.alpha_entropy) * logp_sample + nll)
    self.actor_optimizer.apply_fused(tape.gradient(p_loss, self.actor.trainable_variables))
    return self._alpha_step(obs, p_loss, tf.reduce_mean(nll))

  def update_reference(self, batch):
    """`update` as first written: the likelihood on a forward pass of its own, Adam in
    elementwise ops (same mathematics; the bench's and the tests' reference)."""
    with tf.GradientTape() as tape:
      p_loss, nll, _ = self.losses(batch['s1'], batch['a1'])
    self.actor_optimizer.apply(tape.gradient(p_loss, self.actor.trainable_variables))
    return self._alpha_step(batch['s1'], p_loss, nll)

  def _alpha_step(self, obs, p_loss, nll):
    _, logp = self.actor.sample(obs, self.rng)  # the updated policy's entropy
    if self.train_alpha_entropy:
      with tf.GradientTape() as tape:
        a_loss = tf.reduce_mean(self.alpha_entropy * tf.stop_gradient(-logp
                                                                      - self.target_entropy))
      adam_step(self.alpha_optimizer, tape.gradient(a_loss, [self.alpha_entropy_var]),
                self.reference_update)
    return {'p_loss': p_loss, 'nll': nll, 'alpha_entropy': self.alpha_entropy,
            'entropy': -tf.reduce_mean(logp)}

  def test_policies(self):
    """name -> obs [B, obs_dim] -> actions [B, act_dim]; the first is the main one."""
    return {'main': self.actor.mode}

  def export_modules(self):
    """The networks the test policies read (what a SavedModel export needs to track)."""
    return {'actor': self.actor}
