"""TRPO pieces on a tiny Gaussian policy: Fisher-vector product, trust region, line search."""
import numpy as np
import tensorflow as tf

from bremen_tf.networks import MLP
from bremen_tf.trpo import fisher_vector_product, flat_concat, trpo_direction, trpo_step

SIGMA = 0.3


def tiny_policy_problem():
  net = MLP(3, (5,), 2, activation=tf.tanh, seed=0)
  obs = tf.random.stateless_normal([64, 3], seed=[0, 1])
  old_mean = tf.constant(net(obs))
  actions = old_mean + SIGMA * tf.random.stateless_normal([64, 2], seed=[2, 3])
  adv = tf.random.stateless_normal([64], seed=[4, 5])

  def log_prob(mean):
    return -0.5 * tf.reduce_sum(tf.square((actions - mean) / SIGMA), axis=-1)

  def surrogate():
    return -tf.reduce_mean(tf.exp(log_prob(net(obs)) - log_prob(old_mean)) * adv)

  def kl():  # KL(old ‖ new) of Gaussians with the same fixed σ
    return tf.reduce_mean(tf.reduce_sum(tf.square(net(obs) - old_mean), -1)) / (2 * SIGMA ** 2)
  return net, obs, surrogate, kl


def test_fisher_vector_product_equals_explicit_fisher():
  net, obs, _, kl = tiny_policy_problem()
  variables = net.trainable_variables
  # Explicit Fisher of a fixed-σ Gaussian: F = mean_s J_sᵀ J_s / σ², J_s = dμ(s)/dθ.
  with tf.GradientTape() as tape:
    mean = net(obs)
  jac = tape.jacobian(mean, variables)  # list of [64, 2, *var.shape]
  j = tf.concat([tf.reshape(x, [64, 2, -1]) for x in jac], axis=-1).numpy()
  fisher = np.einsum('bki,bkj->ij', j, j) / 64 / SIGMA ** 2
  v = np.random.default_rng(0).standard_normal(fisher.shape[0]).astype(np.float32)
  fvp = fisher_vector_product(kl, variables, tf.constant(v), damping=0.1).numpy()
  np.testing.assert_allclose(fvp, fisher @ v + 0.1 * v, rtol=1e-3, atol=1e-4)


def test_full_step_is_scaled_to_the_bound_and_lands_just_inside_it():
  net, _, surrogate, kl = tiny_policy_problem()
  variables = net.trainable_variables
  # The scale: ½ sᵀ(F + λI)s = δ for the full step s (a wrong constant there fails this).
  _, step, _ = trpo_direction(surrogate, kl, variables, max_kl=0.01)
  quadratic = 0.5 * float(tf.reduce_sum(step * fisher_vector_product(kl, variables, step, 0.1)))
  assert abs(quadratic - 0.01) < 1e-5

  before = float(surrogate())
  info = tf.function(lambda: trpo_step(surrogate, kl, variables, max_kl=0.01))()
  assert bool(info['accepted']) and float(info['step_fraction']) == 1.0  # the full step
  assert float(surrogate()) < before
  # The true KL of the full step: just inside δ (damping shortens it; here 0.0091).
  assert 0.8 * 0.01 <= float(info['kl_after']) <= 0.01


def test_line_search_keeps_old_parameters_when_nothing_improves():
  net, _, surrogate, kl = tiny_policy_problem()
  old = flat_concat(net.trainable_variables).numpy()
  # A loss whose gradient says "go this way" but whose value always gets worse off θ_old.
  flat_old = tf.constant(old)
  def deceptive():
    d = flat_concat(net.trainable_variables) - flat_old
    return surrogate() + 1e3 * tf.reduce_sum(tf.square(d))
  info = trpo_step(deceptive, kl, net.trainable_variables, max_kl=0.5)
  assert not bool(info['accepted'])
  np.testing.assert_array_equal(flat_concat(net.trainable_variables).numpy(), old)


def test_assign_flat_round_trips_inside_tf_function():
  from bremen_tf.trpo import assign_flat
  variables = [tf.Variable(tf.zeros([3, 4])), tf.Variable(tf.zeros([5]))]
  flat = tf.range(17, dtype=tf.float32)
  tf.function(lambda: assign_flat(variables, flat))()
  np.testing.assert_array_equal(flat_concat(variables).numpy(), flat.numpy())


def test_gauss_newton_fisher_product_equals_explicit_fisher_of_a_gaussian_policy():
  from bremen_tf.policies import GaussianPolicy
  from bremen_tf.trpo import gaussian_fisher_vector_product
  policy = GaussianPolicy(3, 2, hidden=(5, 4))
  rng = np.random.default_rng(1)
  for v in policy.trainable_variables:  # away from the tiny normc output scale
    v.assign(rng.normal(size=v.shape).astype(np.float32) * 0.5)
  obs = tf.constant(rng.normal(size=(32, 3)).astype(np.float32))
  variables = policy.trainable_variables
  with tf.GradientTape(persistent=True) as tape:
    mean, log_std = policy.mean_log_std(obs)
  jm = tf.concat([tf.reshape(x, [32, 2, -1]) for x in tape.jacobian(mean, variables)], -1).numpy()
  js = tf.concat([tf.reshape(x, [32, 2, -1]) for x in tape.jacobian(log_std, variables)],
                 -1).numpy()
  inv_var = np.exp(-2 * log_std.numpy())
  # Fisher of N(μ, σ²) in (μ, log σ): diag(1/σ², 2).
  fisher = (np.einsum('bk,bki,bkj->ij', inv_var, jm, jm) + 2 * np.einsum('bki,bkj->ij', js, js)) / 32
  v = rng.standard_normal(fisher.shape[0]).astype(np.float32)
  fvp = gaussian_fisher_vector_product(lambda: policy.mean_log_std(obs), variables,
                                       tf.constant(v), 32.0, damping=0.1).numpy()
  np.testing.assert_allclose(fvp, fisher @ v + 0.1 * v, rtol=2e-3, atol=1e-4 * np.abs(fisher @ v).max())
