"""Soft actor-critic as the BRAC code ran it (reference/brac_protocol.md §1-§2).

Used to train the partially trained behaviour policies the offline datasets come from.
One call of `Sac.train_and_act` does a whole update (target Polyak step -> Q -> policy ->
temperature, in BRAC's order) and then draws the next environment action from the updated
policy, so the training loop crosses into TF once per environment step.
"""
import gin
import numpy as np
import tensorflow as tf

from bremen_tf.agents.common import adam_step, noise_generator, polyak
from bremen_tf.networks import MLP
from bremen_tf.optim import Adam

LOG_STD_MIN, LOG_STD_MAX = -5.0, 0.0


class TanhGaussianActor(tf.Module):
  """BRAC's ActorNetwork: u ~ N(m, σ), a = tanh(u)·mag + center, log σ = -5 + 2.5·(tanh(l) + 1).

  The action bounds are [-1, 1] for every env here, but kept general for clarity.
  """

  def __init__(self, obs_dim, act_dim, hidden=(200, 200), low=-1.0, high=1.0, seed=0,
               name='actor'):
    super().__init__(name=name)
    self.obs_dim, self.act_dim, self.hidden = obs_dim, act_dim, tuple(hidden)
    self.net = MLP(obs_dim, hidden, 2 * act_dim, seed=seed)
    self.mag = tf.constant((high - low) / 2.0, tf.float32)
    self.center = tf.constant((high + low) / 2.0, tf.float32)

  def params(self, obs):
    """Pre-tanh mean m and std σ, each [B, act_dim]."""
    m, raw = tf.split(self.net(obs), 2, axis=-1)
    log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (tf.tanh(raw) + 1.0)
    return m, tf.exp(log_std)

  def mode(self, obs):
    m, _ = self.params(obs)
    return tf.tanh(m) * self.mag + self.center

  def sample(self, obs, rng):
    """A reparameterised sample and its log-density (tanh and scale Jacobians included); the
    noise comes from `rng`, a tf.random.Generator."""
    m, std = self.params(obs)
    return self.sample_from(m, std, rng.normal(tf.shape(m)))

  def sample_from(self, m, std, noise):
    """`sample` from given params (m, σ) and standard normal noise."""
    u = m + std * noise
    return self._squash(u), self._log_prob_u(u, m, std)

  def log_prob(self, obs, action):
    """log π(action | obs) for actions strictly inside the bounds."""
    m, std = self.params(obs)
    return self.log_prob_from(m, std, action)

  def log_prob_from(self, m, std, action):
    """`log_prob` from given params (m, σ)."""
    y = tf.clip_by_value((action - self.center) / self.mag, -1.0 + 1e-6, 1.0 - 1e-6)
    return self._log_prob_u(tf.atanh(y), m, std)

  def _squash(self, u):
    return tf.tanh(u) * self.mag + self.center

  def _log_prob_u(self, u, m, std):
    z = (u - m) / std
    log_normal = -0.5 * tf.square(z) - tf.math.log(std) - 0.5 * np.log(2.0 * np.pi)
    # log(1 - tanh(u)^2) in a form that is stable for large |u|.
    log_det = 2.0 * (np.log(2.0) - u - tf.nn.softplus(-2.0 * u)) + tf.math.log(self.mag)
    return tf.reduce_sum(log_normal - log_det, axis=-1)


class QNetwork(tf.Module):
  def __init__(self, obs_dim, act_dim, hidden, seed, name):
    super().__init__(name=name)
    self.net = MLP(obs_dim + act_dim, hidden, 1, seed=seed)

  def __call__(self, obs, act):
    return tf.squeeze(self.net(tf.concat([obs, act], axis=-1)), axis=-1)


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

  @tf.function(jit_compile=False)
  def train_and_act(self, obs, act, reward, next_obs, discount, act_obs):
    """`update` on the batch, then a stochastic action for `act_obs` [1, obs_dim]."""
    info = self.update(obs, act, reward, next_obs, discount)
    action, _ = self.actor.sample(act_obs, self.rng)
    return action, info

  @tf.function(reduce_retracing=True)
  def act_sample(self, obs):
    return self.actor.sample(obs, self.rng)[0]

  @tf.function(reduce_retracing=True)
  def act_mode(self, obs):
    return self.actor.mode(obs)
