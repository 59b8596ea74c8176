"""The actor and critic networks of the model-free agents (BRAC's ActorNetwork and CriticNetwork),
shared by SAC, BC, BCQ and BRAC and by the shipped data-collecting policies."""
import numpy as np
import tensorflow as tf

from bremen_tf.networks import MLP

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
