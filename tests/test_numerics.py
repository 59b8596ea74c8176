"""Numerical building blocks: conjugate gradient, the batched ensemble MLP."""
import numpy as np
import tensorflow as tf

from bremen_tf.conjugate_gradient import conjugate_gradient
from bremen_tf.networks import MLP, EnsembleMLP, normc


def test_conjugate_gradient_solves_an_spd_system():
  rng = np.random.default_rng(0)
  m = rng.standard_normal((8, 8))
  a = m @ m.T + 0.1 * np.eye(8)
  b = rng.standard_normal(8)
  a_tf = tf.constant(a, tf.float64)
  x = tf.function(lambda b: conjugate_gradient(lambda v: tf.linalg.matvec(a_tf, v), b,
                                               iterations=50))(tf.constant(b))
  np.testing.assert_allclose(x.numpy(), np.linalg.solve(a, b), rtol=1e-6, atol=1e-8)


def test_conjugate_gradient_is_exact_in_n_steps_and_limited_by_iterations():
  a = np.diag([1.0, 2.0, 3.0])
  matvec = lambda v: tf.linalg.matvec(tf.constant(a), v)
  b = tf.constant([1.0, 1.0, 1.0], tf.float64)
  np.testing.assert_allclose(conjugate_gradient(matvec, b, iterations=3), [1, 0.5, 1 / 3],
                             rtol=1e-10)
  one_step = conjugate_gradient(matvec, b, iterations=1).numpy()
  assert not np.allclose(one_step, [1, 0.5, 1 / 3])  # one step is the steepest-descent point
  np.testing.assert_allclose(one_step, b.numpy() * 3 / 6)


def test_ensemble_members_equal_separate_networks():
  ens = EnsembleMLP(3, 4, (16, 16), 2, seed=1)
  x = tf.random.stateless_normal([3, 5, 4], seed=[0, 1])
  out = ens(x)
  assert out.shape == (3, 5, 2)
  for k in range(3):
    single = MLP(4, (16, 16), 2)
    for dst, src in zip(single.kernels, ens.kernels):
      dst.assign(src[k])
    for dst, src in zip(single.biases, ens.biases):
      dst.assign(src[k, 0])
    np.testing.assert_allclose(out[k], single(x[k]), rtol=1e-5, atol=1e-5)
  assert not np.allclose(ens.kernels[0][0], ens.kernels[0][1])  # members differ
  np.testing.assert_allclose(ens(x[0])[2], ens(tf.stack([x[0]] * 3))[2], atol=1e-6)


def test_normc_columns_have_the_requested_norm():
  w = normc(np.random.default_rng(0), 30, 7, std=0.01)
  np.testing.assert_allclose(np.linalg.norm(w, axis=0), 0.01, rtol=1e-5)


def test_linear_baseline_matches_ridge_solution_and_starts_at_zero():
  from bremen_tf.value import LinearFeatureBaseline
  rng = np.random.default_rng(0)
  obs = rng.standard_normal((500, 3)) * 2  # inside the ±10 feature clip
  t = np.tile(np.arange(100), 5)
  y = obs[:, 0] - 0.5 * obs[:, 1] ** 2 + 0.03 * t + rng.standard_normal(500) * 0.01
  base = LinearFeatureBaseline(3)
  assert np.all(base.predict(tf.constant(obs, tf.float32), t).numpy() == 0)
  base.fit(tf.constant(obs, tf.float32), t, tf.constant(y, tf.float32))
  o = np.clip(obs.astype(np.float32).astype(np.float64), -10, 10)
  tt = t[:, None] / 100.0
  x = np.concatenate([o, o ** 2, tt, tt ** 2, tt ** 3, np.ones_like(tt)], axis=1)
  w = np.linalg.solve(x.T @ x + 1e-5 * np.eye(10), x.T @ y.astype(np.float32))
  np.testing.assert_allclose(base.coeffs.numpy(), w, rtol=1e-4, atol=1e-6)
  pred = base.predict(tf.constant(obs, tf.float32), t).numpy()
  assert np.abs(pred - y).max() < 0.1


def test_gae_equals_hand_computation_with_padding():
  from bremen_tf.advantages import gae
  gamma, lam = 0.9, 0.8
  rewards = np.array([[1.0, 2.0, 3.0, 0.0], [0.5, -1.0, 2.0, 4.0]], np.float32)
  values = np.array([[0.2, 0.4, 0.6, 9.9], [1.0, 0.0, -1.0, 0.5]], np.float32)
  mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], np.float32)  # path 0 has 3 steps, then a pad
  adv, targets = gae(rewards, values, mask, gamma, lam)
  expected = np.zeros((2, 4))
  for p in range(2):
    length = int(mask[p].sum())
    b = list(values[p, :length]) + [0.0]  # terminal (or truncated) after the last step
    deltas = [rewards[p, t] + gamma * b[t + 1] - b[t] for t in range(length)]
    for t in range(length):
      expected[p, t] = sum((gamma * lam) ** k * deltas[t + k] for k in range(length - t))
  np.testing.assert_allclose(adv, expected, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(targets, (expected + values * mask) * mask, rtol=1e-5, atol=1e-6)
  # λ = 1 gives Monte-Carlo returns as targets.
  _, mc = gae(rewards, values, mask, gamma, 1.0)
  np.testing.assert_allclose(mc[0, :3], [1 + 0.9 * 2 + 0.81 * 3, 2 + 0.9 * 3, 3], rtol=1e-5)
