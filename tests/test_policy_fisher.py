"""The cached Fisher-vector product (bremen_tf/policy_fisher.py) against the explicit Fisher, the
forward-mode product it replaces, and backprop."""
import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import trpo
from bremen_tf.imagined_trpo import ImaginedTRPO
from bremen_tf.policies import GaussianPolicy, gaussian_log_prob
from bremen_tf.policy_fisher import PolicyFisher


def random_policy(obs_dim, act_dim, hidden, scale, seed, fixed_log_std=None):
  policy = GaussianPolicy(obs_dim, act_dim, hidden=hidden)
  rng = np.random.default_rng(seed)
  for v in policy.trainable_variables:  # away from the tiny normc output scale
    v.assign(rng.normal(size=v.shape).astype(np.float32) * scale)
  if fixed_log_std is not None:
    policy.set_fixed_log_std(fixed_log_std)
  return policy, rng


def explicit_fisher(policy, obs):
  """Σ_rows Jᵀ diag(1/σ², 2) J / n from TF's Jacobians of (μ, log σ), in float64."""
  n = obs.shape[0]
  variables = policy.trainable_variables
  with tf.GradientTape(persistent=True) as tape:
    mean, log_std = policy.mean_log_std(obs)
  jac = lambda y: np.concatenate(
      [np.zeros((n, y.shape[1], v.shape.num_elements())) if j is None else
       tf.reshape(j, [n, y.shape[1], -1]).numpy() for j, v in
       zip(tape.jacobian(y, variables), variables)], -1).astype(np.float64)
  jm, js = jac(mean), jac(log_std)
  inv_var = np.exp(-2 * log_std.numpy().astype(np.float64))
  return (np.einsum('bk,bki,bkj->ij', inv_var, jm, jm)
          + 2 * np.einsum('bki,bkj->ij', js, js)) / n


@pytest.mark.parametrize('fixed_log_std,block_rows,blocks', [(None, 8, 5), (-1.0, 8, 5),
                                                               (None, None, 1)])
def test_product_equals_the_explicit_fisher_with_rows_not_a_multiple_of_the_block(
    fixed_log_std, block_rows, blocks):
  policy, rng = random_policy(3, 2, (5, 4), 0.5, seed=1, fixed_log_std=fixed_log_std)
  obs = tf.constant(rng.normal(size=(37, 3)).astype(np.float32))  # 37 rows: blocks of 8, padded
  fisher = explicit_fisher(policy, obs)
  cached = PolicyFisher(policy, obs, 37.0, block_rows=block_rows)
  assert int(cached.blocks.count) == blocks
  for _ in range(3):
    v = rng.standard_normal(fisher.shape[0]).astype(np.float32)
    expected = fisher @ v
    np.testing.assert_allclose(cached.product(tf.constant(v)).numpy(), expected,
                               rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_vjp_equals_backprop_of_a_loss_on_the_policy_outputs():
  policy, rng = random_policy(4, 3, (6, 5), 0.5, seed=2)
  obs = tf.constant(rng.normal(size=(23, 4)).astype(np.float32))
  actions = tf.constant(rng.normal(size=(23, 3)).astype(np.float32))
  with tf.GradientTape() as tape:
    loss = tf.reduce_mean(gaussian_log_prob(*policy.mean_log_std(obs), actions) ** 2)
  expected = trpo.flat_concat(tape.gradient(loss, policy.trainable_variables)).numpy()
  cached = PolicyFisher(policy, obs, 23.0, block_rows=10)
  z = cached.z
  with tf.GradientTape() as tape:
    tape.watch(z)
    loss = tf.reduce_mean(gaussian_log_prob(*policy.heads(z), actions) ** 2)
  got = cached.vjp(tape.gradient(loss, z)).numpy()
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize('obs_dim,act_dim', [(17, 6), (11, 3)])
def test_product_equals_the_forward_mode_product_at_the_real_shapes(obs_dim, act_dim):
  """HalfCheetah and Hopper policies (200-200 ReLU) on a 50,000-row batch, with BC's log σ ≈ −5
  in some rows (the mean block then weighs e¹⁰): equal to float32 round-off."""
  policy = GaussianPolicy(obs_dim, act_dim)
  rng = np.random.default_rng(3)
  for v in policy.kernels[-1:]:
    v.assign(rng.normal(size=v.shape).astype(np.float32) * 0.3)
  obs = tf.constant(rng.normal(size=(50_000, obs_dim)).astype(np.float32))
  policy.normalizer.update(obs.numpy() * 2.0 + 1.0)
  n = sum(v.shape.num_elements() for v in policy.trainable_variables)
  v = tf.constant(rng.standard_normal(n).astype(np.float32))
  reference = tf.function(lambda v: trpo.gaussian_fisher_vector_product(
      lambda: policy.mean_log_std(obs), policy.trainable_variables, v, 50_000.0))(v).numpy()
  cached = tf.function(lambda v: PolicyFisher(policy, obs, 50_000.0).product(v))(v).numpy()
  assert np.linalg.norm(cached - reference) / np.linalg.norm(reference) < 1e-5
  np.testing.assert_allclose(cached, reference, rtol=1e-3, atol=1e-5 * np.abs(reference).max())


def test_cached_update_matches_the_reference_update_at_the_real_policy_shape():
  """One whole ImaginedTRPO update from the same state (a well-posed problem: a model whose
  steps are small, a 200-200 HalfCheetah policy), the default ('cached' products, forward passes
  in row blocks) against 731004b's ('gauss_newton', no blocks) and the original's
  'double_backprop': the same new parameters to float32
  round-off (measured 1e-6 relative; a change of matmul kernels alone moves a BC-initialised
  step far more)."""
  from bremen_tf import envs
  from bremen_tf.dynamics import DynamicsEnsemble
  spec = envs.get_spec('bremen/HalfCheetah-v0')
  env = envs.make('bremen/HalfCheetah-v0')
  starts = np.stack([env.reset(seed=i)[0] for i in range(16)])
  rng = np.random.default_rng(0)
  obs = rng.normal(size=(500, spec.obs_dim)).astype(np.float32)
  act = rng.normal(size=(500, spec.act_dim)).astype(np.float32)
  next_obs = obs + 0.01 * rng.normal(size=obs.shape).astype(np.float32)
  results = {}
  for fisher in ('gauss_newton', 'double_backprop', 'cached'):
    dynamics = DynamicsEnsemble(spec.obs_dim, spec.act_dim, n_models=2, hidden=(32, 32))
    dynamics.set_normalization(obs, act, next_obs)
    policy = GaussianPolicy(spec.obs_dim, spec.act_dim)
    policy.normalizer.update(starts)
    before = trpo.flat_concat(policy.trainable_variables).numpy()
    blocks = {'block_rows': None} if fisher != 'cached' else {}  # the references: no blocks
    trainer = ImaginedTRPO(policy, None, dynamics, spec.reward_fn, spec.done_fn, starts,
                           horizon=100, batch_size=5000, target_kl=0.05,
                           fisher_product=fisher, **blocks)
    info = {k: v.numpy() for k, v in trainer.update().items()}
    results[fisher] = trpo.flat_concat(policy.trainable_variables).numpy() - before, info
  step, got = results['cached']
  assert got['accepted'] and 0.04 < got['kl_after'] <= 0.05 * 1.01
  for reference in ('gauss_newton', 'double_backprop'):
    step_ref, ref = results[reference]
    assert ref['step_fraction'] == got['step_fraction']
    assert np.linalg.norm(step - step_ref) / np.linalg.norm(step_ref) < 1e-4
    assert got['imagined_return_mean'] == ref['imagined_return_mean']  # the same rollouts
    for key in ('loss_after', 'expected_improvement', 'kl_after'):
      np.testing.assert_allclose(got[key], ref[key], rtol=1e-4)
