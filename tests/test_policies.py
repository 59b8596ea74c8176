"""BREMEN's Gaussian policy, observation statistics and behaviour cloning."""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from bremen_tf.policies import GaussianPolicy, ObsNormalizer, behavior_clone, gaussian_kl


def test_fixed_normc_initialisation():
  tf.random.set_seed(1)
  a = GaussianPolicy(11, 3)
  tf.random.set_seed(2)
  b = GaussianPolicy(11, 3)
  for va, vb in zip(a.trainable_variables, b.trainable_variables):
    np.testing.assert_array_equal(va.numpy(), vb.numpy())  # independent of the experiment seed
  np.testing.assert_allclose(np.linalg.norm(a.kernels[-1].numpy(), axis=0), 0.01, rtol=1e-5)
  np.testing.assert_allclose(np.linalg.norm(a.kernels[0].numpy(), axis=0), 1.0, rtol=1e-5)
  mean, log_std = a.mean_log_std(tf.random.stateless_normal([100, 11], seed=[0, 0]))
  assert np.abs(mean.numpy()).max() < 0.1                   # ≈ centre of [-1, 1]
  assert np.abs(log_std.numpy() + 2.5).max() < 0.2           # ≈ -2.5


def test_normalizer_accumulates_with_variance_floor():
  norm = ObsNormalizer(2)
  np.testing.assert_array_equal(norm(tf.ones([1, 2])).numpy(), [[1.0, 1.0]])  # identity at first
  rng = np.random.default_rng(0)
  x1 = rng.standard_normal((100, 2)) * [3.0, 0.01]
  x2 = rng.standard_normal((50, 2)) * [3.0, 0.01] + 1.0
  norm.update(x1)
  norm.update(x2)
  both = np.concatenate([x1, x2])
  mean, std = norm.mean_std()
  np.testing.assert_allclose(mean, both.mean(0), rtol=1e-5)
  np.testing.assert_allclose(std, np.sqrt(np.maximum(both.var(0), 1e-2) + 1e-6), rtol=1e-5)


def test_sampling_uses_fixed_std_but_log_prob_uses_network_std():
  pol = GaussianPolicy(3, 2)
  obs = tf.zeros([1, 3])
  noise = tf.ones([1, 2])
  mean, log_std = pol.mean_log_std(obs)
  np.testing.assert_allclose(pol.sample(obs, noise), mean + 0.1, atol=1e-6)
  expected = tfp.distributions.MultivariateNormalDiag(mean, tf.exp(log_std)).log_prob(mean + 0.1)
  np.testing.assert_allclose(pol.log_prob(obs, mean + 0.1), expected, rtol=1e-5)


def test_gaussian_kl_matches_tfp():
  rng = np.random.default_rng(0)
  m0, m1 = rng.standard_normal((2, 5, 3)).astype(np.float32)
  s0, s1 = (rng.uniform(-3, 0, (2, 5, 3))).astype(np.float32)
  d = tfp.distributions.MultivariateNormalDiag
  np.testing.assert_allclose(gaussian_kl(m0, s0, m1, s1),
                             d(m0, np.exp(s0)).kl_divergence(d(m1, np.exp(s1))), rtol=1e-4)


def test_behavior_cloning_fits_and_collapses_log_std():
  rng = np.random.default_rng(0)
  obs = rng.standard_normal((2000, 4)).astype(np.float32) * 5 + 2
  actions = np.tanh(obs[:, :2] / 5 - 0.4).astype(np.float32)
  pol = GaussianPolicy(4, 2, hidden=(64, 64))
  _, history = behavior_clone(pol, obs, actions, steps=3000, log_every=1000)
  assert history[-1][1] < 0.1 * history[0][1] or history[-1][1] < 1e-3
  mean, log_std = pol.mean_log_std(tf.constant(obs[:200]))
  assert np.abs(mean.numpy() - actions[:200]).mean() < 0.05
  assert log_std.numpy().mean() < -4.0  # σ driven to its floor by the sampled-action loss
  np.testing.assert_allclose(pol.normalizer.mean_std()[0], obs.mean(0), rtol=1e-4)
  copy = GaussianPolicy(4, 2, hidden=(64, 64))
  copy.copy_from(pol)
  np.testing.assert_array_equal(copy.mean_log_std(obs[:5])[0], pol.mean_log_std(obs[:5])[0])
  np.testing.assert_array_equal(copy.normalizer.mean_std()[1], pol.normalizer.mean_std()[1])


def test_fixed_unit_log_std_variant_samples_and_scores_with_sigma_one():
  policy = GaussianPolicy(4, 2)
  obs = tf.random.stateless_normal([5, 4], seed=[0, 0])
  mean, _ = policy.mean_log_std(obs)
  policy.set_fixed_log_std(0.0)  # the paper text's Normal(π̂_β, 1)
  mean2, log_std = policy.mean_log_std(obs)
  np.testing.assert_array_equal(log_std.numpy(), np.zeros((5, 2)))
  np.testing.assert_allclose(mean2.numpy(), mean.numpy())
  noise = tf.ones([5, 2])
  np.testing.assert_allclose(policy.sample(obs, noise).numpy(), mean.numpy() + 1.0, rtol=1e-6)


def test_bc_traced_without_autograph_is_the_autograph_loop_bit_for_bit():
  """behavior_clone's loop is an explicit tf.while_loop traced without autograph; the loop it
  replaced (`for _ in tf.range(n)`, converted by autograph) reaches the same weights and losses
  exactly."""
  from bremen_tf.optim import Adam  # pylint: disable=g-import-not-at-top
  from bremen_tf.policies import bc_loss  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(3)
  obs = rng.standard_normal((300, 5)).astype(np.float32)
  act = np.tanh(rng.standard_normal((300, 2))).astype(np.float32)
  ours = GaussianPolicy(5, 2, hidden=(16, 16))
  _, history = behavior_clone(ours, obs, act, steps=60, batch_size=32, seed=4, log_every=25)

  reference = GaussianPolicy(5, 2, hidden=(16, 16))
  reference.normalizer.update(obs)
  optimizer = Adam(reference.trainable_variables, 5e-4, epsilon=1e-8)
  generator = tf.random.Generator.from_seed(4)

  @tf.function
  def run(n_steps):  # the loop as it was written before, autograph on
    total = tf.constant(0.0)
    for _ in tf.range(n_steps):
      idx = generator.uniform([32], 0, 300, dtype=tf.int32)
      noise = generator.normal([32, 2])
      with tf.GradientTape() as tape:
        loss = bc_loss(reference, tf.gather(obs, idx), tf.gather(act, idx), noise)
      optimizer.apply(tape.gradient(loss, reference.trainable_variables))
      total += loss
    return total / tf.cast(n_steps, tf.float32)
  expected = [(done, float(run(tf.constant(chunk)))) for done, chunk in ((25, 25), (50, 25),
                                                                         (60, 10))]
  assert history == expected
  for a, b in zip(ours.variables, reference.variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.name)
