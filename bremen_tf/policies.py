"""BREMEN's Gaussian policy and behaviour cloning (reference/bremen.md §4-§5).

GaussianPolicy: obs -> normalise -> 200 -> 200 (ReLU) -> 2·|A| linear, split (m, l);
  μ = tanh(m)·(high − low)/2 + (high + low)/2,  log σ = −5 + 2.5·(tanh(l) + 1) ∈ [−5, 0].
Initialisation is normc (hidden columns norm 1, output 0.01, zero biases) with the numpy seed
fixed at 1234 for every layer, so it is the same for every experiment seed, as in the original.

Exploration (`sample`) is a = μ + 0.1·ε (the README runs' `--const_sampling --gaussian 0.1`),
while log-probabilities and KL use the network's own σ; that mismatch is the algorithm's
"implicit KL control" and is kept (§5, gotcha 1).

Behaviour cloning fits MSE(a_data, μ(s) + ε·σ(s)) — a *sampled* action — which drives log σ to
its floor of −5 (§4).
"""
import gin
import numpy as np
import tensorflow as tf

from bremen_tf.networks import normc
from bremen_tf.optim import Adam

INIT_SEED = 1234
LOG_STD_MIN, LOG_STD_MAX = -5.0, 0.0


class ObsNormalizer(tf.Module):
  """Running mean/std over every batch seen; std = sqrt(max(var, 1e-2) + 1e-6), no clipping."""

  def __init__(self, obs_dim, name='obs_normalizer'):
    super().__init__(name=name)
    self.count = tf.Variable(0.0, dtype=tf.float64, trainable=False)
    self.sum = tf.Variable(tf.zeros([obs_dim], tf.float64), trainable=False)
    self.sum_sq = tf.Variable(tf.zeros([obs_dim], tf.float64), trainable=False)

  def update(self, obs):
    obs = tf.cast(obs, tf.float64)
    self.count.assign_add(tf.cast(tf.shape(obs)[0], tf.float64))
    self.sum.assign_add(tf.reduce_sum(obs, axis=0))
    self.sum_sq.assign_add(tf.reduce_sum(tf.square(obs), axis=0))

  def mean_std(self):
    """Identity (0, 1) until the first update, like the TRPO policy without BC init."""
    n = tf.maximum(self.count, 1.0)
    mean = self.sum / n
    var = tf.maximum(self.sum_sq / n - tf.square(mean), 1e-2)
    std = tf.sqrt(var + 1e-6)
    seen = self.count > 0
    return (tf.cast(tf.where(seen, mean, 0.0), tf.float32),
            tf.cast(tf.where(seen, std, 1.0), tf.float32))

  def __call__(self, obs):
    mean, std = self.mean_std()
    return (obs - mean) / std


@gin.configurable(denylist=['obs_dim', 'act_dim'])
class GaussianPolicy(tf.Module):

  def __init__(self, obs_dim, act_dim, hidden=(200, 200), low=-1.0, high=1.0,
               sampling_std=0.1, const_sampling=True, name='policy'):
    super().__init__(name=name)
    self.obs_dim, self.act_dim = obs_dim, act_dim
    self.normalizer = ObsNormalizer(obs_dim)
    sizes = [obs_dim, *hidden, 2 * act_dim]
    self.kernels, self.biases = [], []
    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
      std = 0.01 if k == len(sizes) - 2 else 1.0
      w = normc(np.random.RandomState(INIT_SEED), i, o, std)
      self.kernels.append(tf.Variable(w, name=f'kernel_{k}'))
      self.biases.append(tf.Variable(tf.zeros([o]), name=f'bias_{k}'))
    self.hidden, self.low, self.high = tuple(hidden), low, high
    self._mag = (high - low) / 2.0
    self._center = (high + low) / 2.0
    self.sampling_std, self.const_sampling = sampling_std, const_sampling
    self.fixed_log_std = None

  def set_fixed_log_std(self, value):
    """Replaces the state-dependent log σ by a constant for probabilities, KL and sampling (the
    paper text's π_θ0 = Normal(π̂_β, 1) is value 0.0 with sampling a = μ + σ·ε)."""
    self.fixed_log_std = float(value)
    self.const_sampling = False
    self.sampling_std = 1.0

  def mean_log_std(self, obs):
    return self.heads(self.layers(obs)[1])

  def layers(self, obs):
    """(the input of every dense layer: normalised obs, then each ReLU output; the output
    layer's pre-activations z = [m, l]). policy_fisher.py keeps these for its products."""
    x = self.normalizer(obs)
    inputs = []
    for k, (w, b) in enumerate(zip(self.kernels, self.biases)):
      inputs.append(x)
      x = tf.matmul(x, w) + b
      if k < len(self.kernels) - 1:
        x = tf.nn.relu(x)
    return inputs, x

  def heads(self, z):
    """(μ, log σ) from the output layer's pre-activations z = [m, l]."""
    m, l = tf.split(z, 2, axis=-1)
    mean = tf.tanh(m) * self._mag + self._center
    log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (tf.tanh(l) + 1.0)
    if self.fixed_log_std is not None:
      log_std = tf.fill(tf.shape(mean), self.fixed_log_std)
    return mean, log_std

  def sample(self, obs, noise):
    """Exploration action for standard-normal `noise`: μ + g·ε, or μ + g·σ·ε without const."""
    mean, log_std = self.mean_log_std(obs)
    scale = self.sampling_std if self.const_sampling else self.sampling_std * tf.exp(log_std)
    return mean + scale * noise

  def log_prob(self, obs, actions):
    """log N(actions; μ, σ²) under the network's σ (what TRPO's ratio uses)."""
    return gaussian_log_prob(*self.mean_log_std(obs), actions)

  def copy_from(self, other):
    """Every variable, both heads and the observation statistics (BC -> TRPO initialisation)."""
    for dst, src in zip(self.variables, other.variables):
      dst.assign(src)


def gaussian_log_prob(mean, log_std, actions):
  """log N(actions; mean, exp(log_std)²) of a diagonal Gaussian, summed over dimensions."""
  z = (actions - mean) * tf.exp(-log_std)
  return tf.reduce_sum(-0.5 * tf.square(z) - log_std - 0.5 * np.log(2.0 * np.pi), axis=-1)


def gaussian_kl(mean0, log_std0, mean1, log_std1):
  """KL(N0 ‖ N1) of diagonal Gaussians, summed over action dimensions."""
  var0, var1 = tf.exp(2.0 * log_std0), tf.exp(2.0 * log_std1)
  return tf.reduce_sum(log_std1 - log_std0 + (var0 + tf.square(mean0 - mean1)) / (2.0 * var1)
                       - 0.5, axis=-1)


def bc_loss(policy, obs, actions, noise):
  """MSE between data actions and a reparameterised policy sample μ + ε·σ."""
  mean, log_std = policy.mean_log_std(obs)
  return tf.reduce_mean(tf.square(actions - (mean + noise * tf.exp(log_std))))


def mean_action_fn(policy):
  """obs -> the policy's mean action (how a policy is evaluated), one tf.function traced without
  autograph (nothing to convert)."""
  return tf.function(lambda obs: policy.mean_log_std(obs)[0], autograph=False)


BC_LEARNING_RATE = 5e-4


def make_bc_optimizer(policy):
  """The Adam `behavior_clone` makes (at its gin-bound learning rate), made ahead so that a caller
  can keep it, and checkpoint it, across BC runs (the deployment loop keeps Adam's moments)."""
  learning_rate = gin.get_bindings('behavior_clone').get('learning_rate', BC_LEARNING_RATE)
  return Adam(policy.trainable_variables, learning_rate, epsilon=1e-8)


@gin.configurable(denylist=['policy', 'observations', 'actions'])
def behavior_clone(policy, observations, actions, steps=300_000, batch_size=256,
                   learning_rate=BC_LEARNING_RATE, seed=0, optimizer=None, log_every=10_000,
                   log=None):
  """BC as the original: update the running obs statistics with the data, then `steps` Adam
  steps on uniformly sampled minibatches. Returns (optimizer, list of (step, loss))."""
  policy.normalizer.update(observations)
  optimizer = optimizer or Adam(policy.trainable_variables, learning_rate, epsilon=1e-8)
  obs = tf.constant(observations, tf.float32)
  act = tf.constant(actions, tf.float32)
  n = obs.shape[0]
  rng = tf.random.Generator.from_seed(seed)

  def step(total):
    idx = rng.uniform([batch_size], 0, n, dtype=tf.int32)
    noise = rng.normal([batch_size, policy.act_dim])
    with tf.GradientTape() as tape:
      loss = bc_loss(policy, tf.gather(obs, idx), tf.gather(act, idx), noise)
    optimizer.apply(tape.gradient(loss, policy.trainable_variables))
    return total + loss

  @tf.function(autograph=False)  # an explicit tf.while_loop: tracing reads no source
  def run(n_steps):
    _, total = tf.while_loop(lambda i, total: i < n_steps, lambda i, total: (i + 1, step(total)),
                             [tf.constant(0), tf.constant(0.0)])
    return total / tf.cast(n_steps, tf.float32)

  history, done = [], 0
  while done < steps:
    chunk = min(log_every, steps - done)
    loss = float(run(tf.constant(chunk)))
    done += chunk
    history.append((done, loss))
    if log:
      log(f'BC step {done}/{steps}: loss {loss:.5f}')
  return optimizer, history
