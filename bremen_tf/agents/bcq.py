"""BCQ as the BRAC code runs it (reference/brac_protocol.md §4.5, run_bcq.sh settings).

  VAE     [s, a] → (750, 750) → μ, log σ ∈ [−4, 15], z ∈ R^{2|A|};  [s, z] → (750, 750) → tanh·mag
          loss = MSE reconstruction + 0.5·mean KL(N(μ, σ) ‖ N(0, 1)); sampling z ~ N(0, 1) clipped ±0.5
  ξ(s, a) = clip(a + φ·mag·tanh(h([s, a])), bounds),  h: (300, 300)
  target  y = r + γ·d·max_{10 samples} E(Q̄(s′, ξ̄(s′, vae(s′)))),  E = 0.75·min + 0.25·max
  actor   −mean Q_1(s, ξ(s, vae(s)))
  policy  10 VAE samples, perturbed by ξ, the one with the highest Q_1.

Two bugs of the BRAC code are fixed by default (the paper's BCQ) and reachable by bindings:
`vae_uses_policy_optimizer=True` trains the VAE with the policy's optimiser (lr 3e-5, quirk 1),
`freeze_target_perturber=True` never moves the target ξ̄ from its initialisation (quirk 2).
"""
import gin
import tensorflow as tf

from bremen_tf.agents.common import adam_step, argmax_rows, ensemble_q, noise_generator, polyak
from bremen_tf.agents.networks import QNetwork
from bremen_tf.networks import MLP
from bremen_tf.optim import Adam


class VAE(tf.Module):

  def __init__(self, obs_dim, act_dim, hidden=(750, 750), seed=0, low=-1.0, high=1.0,
               name='vae'):
    super().__init__(name=name)
    self.latent_dim = 2 * act_dim
    self.encoder = MLP(obs_dim + act_dim, hidden, 2 * self.latent_dim, seed=seed)
    self.decoder = MLP(obs_dim + self.latent_dim, hidden, act_dim, seed=seed + 1)
    self.mag, self.center = (high - low) / 2.0, (high + low) / 2.0

  def encode(self, obs, act):
    mean, log_std = tf.split(self.encoder(tf.concat([obs, act], -1)), 2, axis=-1)
    return mean, tf.clip_by_value(log_std, -4.0, 15.0)

  def decode(self, obs, z):
    return tf.tanh(self.decoder(tf.concat([obs, z], -1))) * self.mag + self.center

  def sample(self, obs, rng):
    """Decoded actions for latents z ~ N(0, 1) clipped to ±0.5, drawn from the generator `rng`."""
    z = tf.clip_by_value(rng.normal([tf.shape(obs)[0], self.latent_dim]), -0.5, 0.5)
    return self.decode(obs, z)

  def loss(self, obs, act, rng):
    mean, log_std = self.encode(obs, act)
    z = mean + tf.exp(log_std) * rng.normal(tf.shape(mean))
    recon = tf.reduce_mean(tf.square(self.decode(obs, z) - act))
    kl = -0.5 * tf.reduce_mean(1.0 + 2.0 * log_std - tf.square(mean) - tf.exp(2.0 * log_std))
    return recon + 0.5 * kl, recon, kl


class Perturber(tf.Module):

  def __init__(self, obs_dim, act_dim, hidden=(300, 300), phi=0.15, seed=0, low=-1.0, high=1.0,
               name='perturber'):
    super().__init__(name=name)
    self.net = MLP(obs_dim + act_dim, hidden, act_dim, seed=seed)
    self.phi, self.low, self.high = phi, low, high
    self.mag = (high - low) / 2.0

  def __call__(self, obs, act):
    h = self.net(tf.concat([obs, act], -1))
    return tf.clip_by_value(act + self.phi * self.mag * tf.tanh(h), self.low, self.high)


@gin.configurable(denylist=['obs_dim', 'act_dim', 'seed'])
class BCQAgent(tf.Module):

  def __init__(self, obs_dim, act_dim, seed=0, q_hidden=(300, 300), perturber_hidden=(300, 300),
               vae_hidden=(750, 750), n_q=2, phi=0.15, q_learning_rate=1e-3,
               policy_learning_rate=3e-5, vae_learning_rate=1e-3, ensemble_q_lambda=0.75,
               n_action_samples=10, discount=0.99, tau=0.005, batch_size=100,
               vae_uses_policy_optimizer=False, freeze_target_perturber=False,
               reference_update=False):
    super().__init__(name='bcq')
    # True: Adam in elementwise ops, as first written (the reference of the tests and the bench).
    self.reference_update = reference_update
    self.obs_dim, self.act_dim, self.batch_size = obs_dim, act_dim, batch_size
    self.qs = [QNetwork(obs_dim, act_dim, q_hidden, seed + 1 + k, f'q{k}') for k in range(n_q)]
    self.q_targets = [QNetwork(obs_dim, act_dim, q_hidden, seed + 101 + k, f'q_target{k}')
                      for k in range(n_q)]
    self.perturber = Perturber(obs_dim, act_dim, perturber_hidden, phi, seed=seed + 201)
    self.perturber_target = Perturber(obs_dim, act_dim, perturber_hidden, phi, seed=seed + 301,
                                      name='perturber_target')
    self.vae = VAE(obs_dim, act_dim, vae_hidden, seed=seed + 401)
    self.rng = noise_generator(seed)
    self._q_vars = [v for q in self.qs for v in q.trainable_variables]
    self._q_target_vars = [v for q in self.q_targets for v in q.trainable_variables]
    self.lam, self.n_samples = ensemble_q_lambda, n_action_samples
    self.discount, self.tau = discount, tau
    self.freeze_target_perturber = freeze_target_perturber
    self.q_optimizer = Adam(self._q_vars, q_learning_rate, name='q_opt')
    self.policy_optimizer = Adam(self.perturber.trainable_variables, policy_learning_rate,
                                 name='policy_opt')
    self.vae_optimizer = Adam(self.vae.trainable_variables,
                              policy_learning_rate if vae_uses_policy_optimizer
                              else vae_learning_rate, name='vae_opt')

  def _candidates(self, obs, perturber):
    """N perturbed VAE samples per state: (tiled obs [N·B, obs_dim], actions [N·B, act_dim])."""
    tiled = tf.tile(obs, [self.n_samples, 1])  # sample-major
    return tiled, perturber(tiled, self.vae.sample(tiled, self.rng))

  def q_target(self, reward, next_obs, discount):
    tiled, act = self._candidates(next_obs, self.perturber_target)
    q = ensemble_q(tf.stack([qt(tiled, act) for qt in self.q_targets]), self.lam)
    q_max = tf.reduce_max(tf.reshape(q, [self.n_samples, -1]), axis=0)
    return tf.stop_gradient(reward + self.discount * discount * q_max)

  def update(self, batch):
    """One step (targets → Q → ξ → VAE) on a batch dict s1, a1, r, s2, discount."""
    s1, a1 = batch['s1'], batch['a1']
    polyak(self._q_vars, self._q_target_vars, self.tau, self.reference_update)
    if not self.freeze_target_perturber:
      polyak(self.perturber.trainable_variables, self.perturber_target.trainable_variables,
             self.tau, self.reference_update)
    target = self.q_target(batch['r'], batch['s2'], batch['discount'])
    with tf.GradientTape() as tape:
      q_loss = tf.add_n([tf.reduce_mean(tf.square(q(s1, a1) - target)) for q in self.qs])
    adam_step(self.q_optimizer, tape.gradient(q_loss, self._q_vars), self.reference_update)

    sampled = tf.stop_gradient(self.vae.sample(s1, self.rng))
    with tf.GradientTape() as tape:
      q_pi = self.qs[0](s1, self.perturber(s1, sampled))
      p_loss = -tf.reduce_mean(q_pi)
    adam_step(self.policy_optimizer, tape.gradient(p_loss, self.perturber.trainable_variables),
              self.reference_update)

    with tf.GradientTape() as tape:
      vae_loss, recon, kl = self.vae.loss(s1, a1, self.rng)
    adam_step(self.vae_optimizer, tape.gradient(vae_loss, self.vae.trainable_variables),
              self.reference_update)
    return {'q_loss': q_loss, 'p_loss': p_loss, 'vae_loss': vae_loss, 'vae_recon': recon,
            'vae_kl': kl, 'q_mean': tf.reduce_mean(q_pi)}

  def act(self, obs):
    """BCQ's policy: the best of N perturbed VAE samples by Q_1."""
    tiled, act = self._candidates(obs, self.perturber)
    scores = tf.reshape(self.qs[0](tiled, act), [self.n_samples, -1])
    return argmax_rows(tf.reshape(act, [self.n_samples, -1, self.act_dim]), scores)

  def test_policies(self):
    return {'main': self.act}

  def export_modules(self):
    return {'vae': self.vae, 'perturber': self.perturber, 'q0': self.qs[0], 'rng': self.rng}
