"""Soft actor-critic as the BRAC code ran it (reference/brac_protocol.md §1-§2).

Used to train the partially trained behaviour policies the offline datasets come from.
One call of `Sac.train_and_act` does a whole update (target Polyak step -> Q -> policy ->
temperature, in BRAC's order) and then draws the next environment action from the updated
policy, so the training loop crosses into TF once per environment step.
"""
import gin
import tensorflow as tf

from bremen_tf.agents.common import adam_step, noise_generator, polyak
from bremen_tf.agents.networks import QNetwork, TanhGaussianActor
from bremen_tf.optim import Adam

@gin.configurable(denylist=['obs_dim', 'act_dim', 'seed'])
class Sac(tf.Module):
  """SAC with BRAC's train_online hyperparameters as defaults."""

  def __init__(self, obs_dim, act_dim, seed=0, actor_hidden=(200, 200), q_hidden=(300, 300),
               n_q=2, learning_rate=5e-4, discount=0.99, tau=0.005, target_entropy=None,
               copy_targets_at_init=False, reference_update=False):
    super().__init__(name='sac')
    # True: Adam in elementwise ops, as first written (the reference of the tests and the bench).
    self.reference_update = reference_update
    self.actor = TanhGaussianActor(obs_dim, act_dim, actor_hidden, seed=seed)
    self.qs = [QNetwork(obs_dim, act_dim, q_hidden, seed + 1 + k, f'q{k}') for k in range(n_q)]
    # BRAC initialises the target nets independently and never hard-copies them (quirk 3);
    # `copy_targets_at_init=True` gives the textbook variant.
    self.q_targets = [QNetwork(obs_dim, act_dim, q_hidden, seed + 101 + k, f'q_target{k}')
                      for k in range(n_q)]
    if copy_targets_at_init:
      for q, qt in zip(self.qs, self.q_targets):
        for v, tv in zip(q.trainable_variables, qt.trainable_variables):
          tv.assign(v)
    self.log_alpha = tf.Variable(0.0, name='log_alpha')
    self.rng = noise_generator(seed)
    self.target_entropy = float(-act_dim if target_entropy is None else target_entropy)
    self.discount, self.tau = discount, tau
    self._q_vars = [v for q in self.qs for v in q.trainable_variables]
    self._q_target_vars = [v for q in self.q_targets for v in q.trainable_variables]
    self.q_optimizer = Adam(self._q_vars, learning_rate, name='q_opt')
    self.actor_optimizer = Adam(self.actor.trainable_variables, learning_rate, name='actor_opt')
    self.alpha_optimizer = Adam([self.log_alpha], learning_rate, name='alpha_opt')

  def _min_q(self, qs, obs, act):
    return tf.reduce_min(tf.stack([q(obs, act) for q in qs], axis=0), axis=0)

  def update(self, obs, act, reward, next_obs, discount):
    """One BRAC SAC step on a batch; returns a dict of scalar diagnostics."""
    polyak(self._q_vars, self._q_target_vars, self.tau, self.reference_update)
    alpha = tf.exp(self.log_alpha)

    next_act, next_logp = self.actor.sample(next_obs, self.rng)
    next_v = self._min_q(self.q_targets, next_obs, next_act) - alpha * next_logp
    target = tf.stop_gradient(reward + self.discount * discount * next_v)
    with tf.GradientTape() as tape:
      q_loss = tf.add_n([tf.reduce_mean(tf.square(q(obs, act) - target)) for q in self.qs])
    adam_step(self.q_optimizer, tape.gradient(q_loss, self._q_vars), self.reference_update)

    with tf.GradientTape() as tape:
      new_act, logp = self.actor.sample(obs, self.rng)
      p_loss = tf.reduce_mean(alpha * logp - self._min_q(self.qs, obs, new_act))
    adam_step(self.actor_optimizer, tape.gradient(p_loss, self.actor.trainable_variables),
              self.reference_update)

    _, logp = self.actor.sample(obs, self.rng)
    with tf.GradientTape() as tape:
      a_loss = tf.reduce_mean(tf.exp(self.log_alpha)
                              * tf.stop_gradient(-logp - self.target_entropy))
    adam_step(self.alpha_optimizer, tape.gradient(a_loss, [self.log_alpha]),
              self.reference_update)
    return {'q_loss': q_loss, 'p_loss': p_loss, 'alpha': alpha,
            'entropy': -tf.reduce_mean(logp)}

  @tf.function(jit_compile=False, autograph=False)  # no loops: nothing to convert
  def train_and_act(self, obs, act, reward, next_obs, discount, act_obs):
    """`update` on the batch, then a stochastic action for `act_obs` [1, obs_dim]."""
    info = self.update(obs, act, reward, next_obs, discount)
    action, _ = self.actor.sample(act_obs, self.rng)
    return action, info

  @tf.function(reduce_retracing=True, autograph=False)
  def act_sample(self, obs):
    return self.actor.sample(obs, self.rng)[0]

  @tf.function(reduce_retracing=True, autograph=False)
  def act_mode(self, obs):
    return self.actor.mode(obs)
