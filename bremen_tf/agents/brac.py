"""BRAC primal (reference/brac_protocol.md §4.2) with the KL value penalty, and its max-Q policy.

  D̂(s) = mean_i [log π(a_i|s) − log π_b(clip(a_i)|s)],  a_i ~ π(·|s), i = 1..N (reparameterised)
  Q target  y = r + γ·d·(E(Q̄(s′, a′)) − α_e·log π(a′|s′) − α·D̂(s′)),   a′ ~ π(·|s′)
  policy    mean(α_e·log π(ã|s) + α·D̂(s) − 1[step > warm_start]·E(Q(s, ã)))
  E(Q) = λ·min + (1 − λ)·max over the Q ensemble.

Defaults are the README/run_primal.sh settings (α = 0.1 fixed, policy lr 3e-4, KL, value penalty);
`value_penalty=False` gives the policy-regularisation variant. π_b is a fixed, separately cloned
TanhGaussianActor (BRAC trains it with the BC agent first). Test policies: `main` (mode) and
`max_q` (10 samples from π, the one with the highest Q_1).
"""
import gin
import tensorflow as tf

from bremen_tf.agents.common import (adam_step, argmax_rows, clip_inside, clip_pass_through,
                                     ensemble_q, noise_generator, polyak, relu_v2)
from bremen_tf.agents.networks import QNetwork, TanhGaussianActor
from bremen_tf.optim import Adam

DIVERGENCES = ('kl',)


@gin.configurable(denylist=['obs_dim', 'act_dim', 'behavior_actor', 'seed'])
class BRACAgent(tf.Module):

  def __init__(self, obs_dim, act_dim, behavior_actor, seed=0, actor_hidden=(200, 200),
               q_hidden=(300, 300), n_q=2, q_learning_rate=1e-3, policy_learning_rate=3e-4,
               alpha_learning_rate=1e-3, alpha=0.1, train_alpha=False, alpha_max=500.0,
               alpha_entropy=0.0, train_alpha_entropy=False, target_entropy=None,
               target_divergence=0.0, warm_start=20_000, n_div_samples=4,
               ensemble_q_lambda=1.0, value_penalty=True, divergence='kl', discount=0.99,
               tau=0.005, batch_size=256, n_max_q_samples=10, copy_targets_at_init=False,
               reference_update=False):
    super().__init__(name='brac')
    if divergence not in DIVERGENCES:
      raise ValueError(f'divergence must be one of {DIVERGENCES} (the primal forms ported here), '
                       f'got {divergence!r}.')
    self.obs_dim, self.act_dim, self.batch_size = obs_dim, act_dim, batch_size
    self.low, self.high = -1.0, 1.0
    self.behavior_actor = behavior_actor
    self.actor = TanhGaussianActor(obs_dim, act_dim, actor_hidden, seed=seed)
    self.rng = noise_generator(seed)
    self.qs = [QNetwork(obs_dim, act_dim, q_hidden, seed + 1 + k, f'q{k}') for k in range(n_q)]
    # Like BRAC, targets are initialised independently and only Polyak-averaged (quirk 3).
    self.q_targets = [QNetwork(obs_dim, act_dim, q_hidden, seed + 101 + k, f'q_target{k}')
                      for k in range(n_q)]
    self._q_vars = [v for q in self.qs for v in q.trainable_variables]
    self._q_target_vars = [v for q in self.q_targets for v in q.trainable_variables]
    if copy_targets_at_init:
      for v, tv in zip(self._q_vars, self._q_target_vars):
        tv.assign(v)
    self.alpha_var = tf.Variable(float(alpha), name='alpha')
    self.alpha_entropy_var = tf.Variable(float(alpha_entropy), name='alpha_entropy')
    self.train_alpha, self.train_alpha_entropy = train_alpha, train_alpha_entropy
    self.alpha_max, self.target_divergence = alpha_max, target_divergence
    self.target_entropy = float(-act_dim if target_entropy is None else target_entropy)
    self.warm_start, self.n_div_samples = warm_start, n_div_samples
    self.lam, self.value_penalty = ensemble_q_lambda, value_penalty
    self.discount, self.tau, self.n_max_q_samples = discount, tau, n_max_q_samples
    self.global_step = tf.Variable(0, dtype=tf.int64, name='global_step')
    # True: the step as first written (kept as the reference the faster one is tested against).
    self.reference_update = reference_update
    self.q_optimizer = Adam(self._q_vars, q_learning_rate, name='q_opt')
    self.actor_optimizer = Adam(self.actor.trainable_variables, policy_learning_rate,
                                name='actor_opt')
    self.alpha_optimizer = Adam([self.alpha_var], alpha_learning_rate, name='alpha_opt')
    self.alpha_entropy_optimizer = Adam([self.alpha_entropy_var], alpha_learning_rate,
                                        name='alpha_entropy_opt')

  @property
  def alpha(self):
    return clip_pass_through(self.alpha_var, 0.0, self.alpha_max)

  @property
  def alpha_entropy(self):
    return relu_v2(self.alpha_entropy_var)

  def divergence(self, obs):
    """D̂(s) [B] from N reparameterised samples of π (gradients flow into π)."""
    n, b = self.n_div_samples, tf.shape(obs)[0]
    tiled = tf.tile(obs, [n, 1])  # [N·B, obs_dim], sample-major
    act, logp = self.actor.sample(tiled, self.rng)
    logp_b = self.behavior_actor.log_prob(tiled, clip_inside(act, self.low, self.high))
    return tf.reduce_mean(tf.reshape(logp - logp_b, [n, b]), axis=0)

  def q_target(self, reward, next_obs, discount):
    next_act, next_logp = self.actor.sample(next_obs, self.rng)
    q_next = ensemble_q(tf.stack([q(next_obs, next_act) for q in self.q_targets]), self.lam)
    v_next = q_next - self.alpha_entropy * next_logp
    if self.value_penalty:
      v_next -= self.alpha * self.divergence(next_obs)
    return tf.stop_gradient(reward + self.discount * discount * v_next)

  def _divergence_from(self, m, std, obs):
    """`divergence(obs)` given π's params (m, σ) on obs: π and π_b each run once on the B states
    and their params are tiled for the N samples (the same numbers as N forward passes on the
    tiled states), with the same draws from the generator."""
    n, b = self.n_div_samples, tf.shape(obs)[0]
    m_b, std_b = self.behavior_actor.params(obs)
    tile = lambda x: tf.tile(x, [n, 1])  # sample-major, as `divergence`
    act, logp = self.actor.sample_from(tile(m), tile(std), self.rng.normal([n * b, self.act_dim]))
    logp_b = self.behavior_actor.log_prob_from(tile(m_b), tile(std_b),
                                               clip_inside(act, self.low, self.high))
    return tf.reduce_mean(tf.reshape(logp - logp_b, [n, b]), axis=0)

  def update(self, batch):
    """One BRAC step (targets → Q → policy → α → α_e) on a batch dict s1, a1, r, s2, discount:
    `update_reference`'s mathematics with each network run once per state set (π on s′ and on s
    serves the sample and the N divergence samples) and fused Adam steps."""
    if self.reference_update:
      return self.update_reference(batch)
    s1, a1, s2, discount = batch['s1'], batch['a1'], batch['s2'], batch['discount']
    polyak(self._q_vars, self._q_target_vars, self.tau, reference=False)
    m2, std2 = self.actor.params(s2)
    next_act, next_logp = self.actor.sample_from(m2, std2, self.rng.normal(tf.shape(m2)))
    q_next = ensemble_q(tf.stack([q(s2, next_act) for q in self.q_targets]), self.lam)
    v_next = q_next - self.alpha_entropy * next_logp
    if self.value_penalty:
      v_next -= self.alpha * self._divergence_from(m2, std2, s2)
    target = tf.stop_gradient(batch['r'] + self.discount * discount * v_next)
    with tf.GradientTape() as tape:
      q_loss = tf.add_n([tf.reduce_mean(tf.square(q(s1, a1) - target)) for q in self.qs])
    adam_step(self.q_optimizer, tape.gradient(q_loss, self._q_vars))

    use_q = tf.cast(self.global_step > self.warm_start, tf.float32)
    with tf.GradientTape() as tape:
      m1, std1 = self.actor.params(s1)
      act, logp = self.actor.sample_from(m1, std1, self.rng.normal(tf.shape(m1)))
      div = self._divergence_from(m1, std1, s1)
      q_pi = ensemble_q(tf.stack([q(s1, act) for q in self.qs]), self.lam)
      p_loss = tf.reduce_mean(tf.stop_gradient(self.alpha_entropy) * logp
                              + tf.stop_gradient(self.alpha) * div - use_q * q_pi)
    adam_step(self.actor_optimizer, tape.gradient(p_loss, self.actor.trainable_variables))
    return self._coefficient_steps(s1, p_loss, q_loss, div, q_pi, logp)

  def update_reference(self, batch):
    """`update` as first written: π run again on the N tiled copies of the states, Adam in
    elementwise ops (the bench's and the tests' reference)."""
    s1, a1, s2 = batch['s1'], batch['a1'], batch['s2']
    polyak(self._q_vars, self._q_target_vars, self.tau)
    target = self.q_target(batch['r'], s2, batch['discount'])
    with tf.GradientTape() as tape:
      # The ensemble's losses are summed, not averaged (quirk 6).
      q_loss = tf.add_n([tf.reduce_mean(tf.square(q(s1, a1) - target)) for q in self.qs])
    self.q_optimizer.apply(tape.gradient(q_loss, self._q_vars))

    use_q = tf.cast(self.global_step > self.warm_start, tf.float32)  # as BRAC: strictly after
    with tf.GradientTape() as tape:
      act, logp = self.actor.sample(s1, self.rng)
      div = self.divergence(s1)
      q_pi = ensemble_q(tf.stack([q(s1, act) for q in self.qs]), self.lam)
      p_loss = tf.reduce_mean(tf.stop_gradient(self.alpha_entropy) * logp
                              + tf.stop_gradient(self.alpha) * div - use_q * q_pi)
    self.actor_optimizer.apply(tape.gradient(p_loss, self.actor.trainable_variables))
    return self._coefficient_steps(s1, p_loss, q_loss, div, q_pi, logp)

  def _coefficient_steps(self, s1, p_loss, q_loss, div, q_pi, logp):
    """α and α_e steps (if trained) with the updated π; the step count; the diagnostics."""
    reference = self.reference_update
    if self.train_alpha:
      div = tf.stop_gradient(self.divergence(s1))
      with tf.GradientTape() as tape:
        a_loss = -tf.reduce_mean(self.alpha * (div - self.target_divergence))
      adam_step(self.alpha_optimizer, tape.gradient(a_loss, [self.alpha_var]), reference)
    if self.train_alpha_entropy:
      _, logp = self.actor.sample(s1, self.rng)
      with tf.GradientTape() as tape:
        e_loss = tf.reduce_mean(self.alpha_entropy * tf.stop_gradient(-logp
                                                                      - self.target_entropy))
      adam_step(self.alpha_entropy_optimizer,
                tape.gradient(e_loss, [self.alpha_entropy_var]), reference)
    self.global_step.assign_add(1)
    return {'q_loss': q_loss, 'p_loss': p_loss, 'divergence': tf.reduce_mean(div),
            'q_mean': tf.reduce_mean(q_pi), 'alpha': self.alpha,
            'entropy': -tf.reduce_mean(logp)}

  def max_q_action(self, obs):
    """BRAC's MaxQ policy: N samples from π, the one the first Q net rates highest."""
    n = self.n_max_q_samples
    tiled = tf.tile(obs, [n, 1])
    act, _ = self.actor.sample(tiled, self.rng)
    candidates = tf.reshape(act, [n, -1, self.act_dim])
    scores = tf.reshape(self.qs[0](tiled, act), [n, -1])
    return argmax_rows(candidates, scores)

  def test_policies(self):
    return {'main': self.actor.mode, 'max_q': self.max_q_action}

  def export_modules(self):
    return {'actor': self.actor, 'q0': self.qs[0], 'rng': self.rng}
