"""Exported SavedModels (bremen_tf/export.py) compute what the policy they were exported from
computes, checked numerically after tf.saved_model.load against numpy forward passes:
  BREMEN's GaussianPolicy   serving_default = μ (normalisation inside the graph); `sample` returns
                            μ, log σ and actions = μ + 0.1·ε (ε standard normal; μ + σ·ε with the
                            paper text's unit-σ policy)
  model-free agents         `main` (= serving_default) the actor's mode; BRAC's `max_q` the best of
                            10 actor samples by Q_1, with the agent's generator state saved in the
                            model (so the export draws what the agent would draw); BCQ's policy.
"""
import os

import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import export
from bremen_tf.agents.bc import BCAgent
from bremen_tf.agents.bcq import BCQAgent
from bremen_tf.agents.brac import BRACAgent
from bremen_tf.agents.networks import TanhGaussianActor
from bremen_tf.policies import GaussianPolicy

OBS_DIM, ACT_DIM = 5, 3


def observations(n, seed=0, scale=3.0):
  return np.random.default_rng(seed).normal(size=(n, OBS_DIM)).astype(np.float32) * scale + 1.0


def np_mlp(kernels, biases, x):
  x = np.asarray(x, np.float64)
  for k, (w, b) in enumerate(zip(kernels, biases)):
    x = x @ w.numpy().astype(np.float64) + b.numpy()
    if k < len(kernels) - 1:
      x = np.maximum(x, 0.0)
  return x


def np_gaussian_policy(policy, obs):
  """GaussianPolicy in numpy (policies.py docstring): normalise with the running statistics
  (std = sqrt(max(var, 1e-2) + 1e-6)), ReLU layers, μ = tanh(m), log σ = −5 + 2.5·(tanh(l) + 1)."""
  n = policy.normalizer.count.numpy()
  mean = policy.normalizer.sum.numpy() / n
  std = np.sqrt(np.maximum(policy.normalizer.sum_sq.numpy() / n - mean ** 2, 1e-2) + 1e-6)
  m, l = np.split(np_mlp(policy.kernels, policy.biases, (obs - mean) / std), 2, axis=-1)
  return np.tanh(m), -5.0 + 2.5 * (np.tanh(l) + 1.0)


def trained_looking_policy(log_std_bias):
  """A GaussianPolicy with random weights, observation statistics from data, and its log σ
  pushed near −5 + 2.5·(tanh(log_std_bias) + 1)."""
  policy = GaussianPolicy(OBS_DIM, ACT_DIM, hidden=(16, 16))
  rng = np.random.default_rng(1)
  for v in policy.trainable_variables:
    v.assign(rng.normal(size=v.shape).astype(np.float32) * 0.4)
  bias = policy.biases[-1].numpy()
  bias[ACT_DIM:] = log_std_bias
  policy.biases[-1].assign(bias)
  policy.normalizer.update(observations(500, seed=2))
  return policy


def load(path):
  model = tf.saved_model.load(path)
  return lambda name, obs: {k: v.numpy() for k, v in model.signatures[name](
      observations=tf.constant(obs)).items()}


@pytest.mark.parametrize('log_std_bias', [-3.0, 0.0])  # σ ≈ e^-5 and σ ≈ e^-2.5
def test_gaussian_policy_export_serves_the_mean_and_samples_mean_plus_0_1_eps(tmp_path,
                                                                             log_std_bias):
  policy = trained_looking_policy(log_std_bias)
  path = export.export_policy(policy, str(tmp_path / 'policy'), {'env_id': 'test'})
  call = load(path)
  obs = observations(4000, seed=3)
  want_mean, want_log_std = np_gaussian_policy(policy, obs)
  assert np.abs(want_mean).max() > 0.3  # the policy's output is not trivially 0

  np.testing.assert_allclose(call('serving_default', obs)['actions'], want_mean, atol=1e-5)
  out = call('sample', obs)
  np.testing.assert_allclose(out['mean'], want_mean, atol=1e-5)
  np.testing.assert_allclose(out['log_std'], want_log_std, atol=1e-5)
  # actions = μ + 0.1·ε whatever σ is: ε = (actions − μ)/0.1 is standard normal, row by row and
  # dimension by dimension (12,000 draws: a wrong scale, σ·ε, or no noise all fail by far).
  eps = (out['actions'] - want_mean) / 0.1
  assert abs(eps.mean()) < 0.05 and abs(eps.std() - 1.0) < 0.04
  assert np.all(np.abs(eps.mean(axis=0)) < 0.1) and np.all(np.abs(eps.std(axis=0) - 1) < 0.07)
  assert np.abs(np.corrcoef(eps.T) - np.eye(ACT_DIM)).max() < 0.1  # independent dimensions
  # In process, with given noise, exactly μ + 0.1·ε.
  eps = np.random.default_rng(4).normal(size=(len(obs), ACT_DIM)).astype(np.float32)
  np.testing.assert_allclose(policy.sample(tf.constant(obs), tf.constant(eps)).numpy(),
                             want_mean + 0.1 * eps, atol=1e-5)


def test_the_export_is_a_copy_later_training_does_not_change_it(tmp_path):
  policy = trained_looking_policy(0.0)
  obs = observations(50)
  want, _ = np_gaussian_policy(policy, obs)
  path = export.export_policy(policy, str(tmp_path / 'policy'))
  for v in policy.trainable_variables:
    v.assign(v + 1.0)
  policy.normalizer.update(observations(100, seed=9) * 10)
  np.testing.assert_allclose(load(path)('serving_default', obs)['actions'], want, atol=1e-5)


def test_a_kill_while_a_policy_is_replaced_leaves_a_whole_one(tmp_path, monkeypatch):
  """A re-export (a resume redoes it) killed between its two renames: the old policy is aside,
  whole; the export done again puts the new one in place and leaves nothing behind."""
  policy, obs = trained_looking_policy(0.0), observations(20)
  old_actions, _ = np_gaussian_policy(policy, obs)
  path = export.export_policy(policy, str(tmp_path / 'policy'))
  for v in policy.trainable_variables:
    v.assign(v + 0.5)
  new_actions, _ = np_gaussian_policy(policy, obs)
  replace = os.replace

  def killed_before_the_new_one_is_in_place(src, dst):
    if dst == path:
      raise KeyboardInterrupt
    replace(src, dst)
  monkeypatch.setattr(os, 'replace', killed_before_the_new_one_is_in_place)
  with pytest.raises(KeyboardInterrupt):
    export.export_policy(policy, path)
  monkeypatch.setattr(os, 'replace', replace)
  assert not os.path.exists(path)
  np.testing.assert_allclose(load(path + '.old')('serving_default', obs)['actions'], old_actions,
                             atol=1e-5)
  export.export_policy(policy, path)
  np.testing.assert_allclose(load(path)('serving_default', obs)['actions'], new_actions, atol=1e-5)
  assert sorted(os.listdir(tmp_path)) == ['policy']


def test_an_exported_policy_loads_back_into_a_gaussian_policy(tmp_path):
  """load_exported_gaussian: the exported weights and observation statistics in a policy built
  like another of the run's, so it samples with given noise as in training; wrong dimensions and
  a directory that is no export are refused."""
  policy = trained_looking_policy(-3.0)
  path = export.export_policy(policy, str(tmp_path / 'policy'), {'env_id': 'test'})
  like = GaussianPolicy(OBS_DIM, ACT_DIM, hidden=(16, 16))  # fresh weights, no statistics
  loaded, meta = export.load_exported_gaussian(path, like)
  assert meta['env_id'] == 'test' and loaded is not like
  obs = observations(200, seed=6)
  eps = np.random.default_rng(7).normal(size=(200, ACT_DIM)).astype(np.float32)
  want_mean, _ = np_gaussian_policy(policy, obs)
  np.testing.assert_allclose(loaded.sample(tf.constant(obs), tf.constant(eps)).numpy(),
                             want_mean + 0.1 * eps, atol=1e-5)
  assert not np.allclose(like.kernels[0].numpy(), policy.kernels[0].numpy())  # `like` untouched
  with pytest.raises(ValueError, match='not 5 and 4'):
    export.load_exported_gaussian(path, GaussianPolicy(OBS_DIM, 4, hidden=(16, 16)))
  with pytest.raises(FileNotFoundError, match='is not an exported policy'):
    export.load_exported_gaussian(str(tmp_path), like)


def test_unit_std_policy_samples_mean_plus_sigma_eps(tmp_path):
  """The paper text's π_θ0 = Normal(π̂_β, 1) (policy_init 'bc_unit_std'): log σ = 0, actions =
  μ + 1·ε."""
  policy = trained_looking_policy(-3.0)
  policy.set_fixed_log_std(0.0)
  call = load(export.export_policy(policy, str(tmp_path / 'policy')))
  obs = observations(4000, seed=5)
  want_mean, _ = np_gaussian_policy(policy, obs)
  out = call('sample', obs)
  np.testing.assert_array_equal(out['log_std'], np.zeros_like(want_mean))
  eps = out['actions'] - want_mean
  assert abs(eps.mean()) < 0.05 and abs(eps.std() - 1.0) < 0.04


def np_actor_mode(actor, obs):
  m, _ = np.split(np_mlp(actor.net.kernels, actor.net.biases, obs), 2, axis=-1)
  return np.tanh(m)


def np_actor_sample(actor, obs, noise):
  m, raw = np.split(np_mlp(actor.net.kernels, actor.net.biases, obs), 2, axis=-1)
  return np.tanh(m + np.exp(-5.0 + 2.5 * (np.tanh(raw) + 1.0)) * noise)


def np_q(q, obs, act):
  return np_mlp(q.net.kernels, q.net.biases, np.concatenate([obs, act], axis=-1))[:, 0]


def export_agent(agent, path):
  return load(export.export_test_policies(agent.export_modules(), agent.test_policies(), OBS_DIM,
                                          path, {'env_id': 'test'}))


def randomise(module, seed, scale=0.5):
  rng = np.random.default_rng(seed)
  for v in module.trainable_variables:
    v.assign(rng.normal(size=v.shape).astype(np.float32) * scale)


def test_bc_export_serves_the_actor_mode(tmp_path):
  agent = BCAgent(OBS_DIM, ACT_DIM, hidden=(16, 16))
  randomise(agent.actor, 0)
  call = export_agent(agent, str(tmp_path / 'bc'))
  obs = observations(200)
  want = np_actor_mode(agent.actor, obs)
  assert np.abs(want).max() > 0.5
  np.testing.assert_allclose(call('main', obs)['actions'], want, atol=1e-5)
  np.testing.assert_allclose(call('serving_default', obs)['actions'], want, atol=1e-5)


def test_brac_export_main_and_max_q_equal_the_agent(tmp_path):
  behavior = TanhGaussianActor(OBS_DIM, ACT_DIM, (16, 16), seed=5)
  agent = BRACAgent(OBS_DIM, ACT_DIM, behavior, seed=3, actor_hidden=(16, 16), q_hidden=(16, 16))
  randomise(agent.actor, 1)
  randomise(agent.qs[0], 2)
  agent.rng.normal([7])  # a generator state other than the initial one is what gets saved
  state = agent.rng.state.numpy().copy()
  call = export_agent(agent, str(tmp_path / 'brac'))
  obs = observations(64)

  np.testing.assert_allclose(call('main', obs)['actions'], np_actor_mode(agent.actor, obs),
                             atol=1e-5)
  np.testing.assert_allclose(call('serving_default', obs)['actions'],
                             np_actor_mode(agent.actor, obs), atol=1e-5)

  # max-Q: the generator's next draws are the N = 10 candidates' noise, sample-major.
  n = agent.n_max_q_samples
  assert n == 10
  noise = tf.random.Generator.from_state(state, agent.rng.algorithm).normal(
      [n * len(obs), ACT_DIM]).numpy()
  tiled = np.tile(obs, [n, 1])
  candidates = np_actor_sample(agent.actor, tiled, noise)
  scores = np_q(agent.qs[0], tiled, candidates).reshape(n, len(obs))
  best = candidates.reshape(n, len(obs), ACT_DIM)[scores.argmax(axis=0), np.arange(len(obs))]
  assert len(set(scores.argmax(axis=0))) > 3  # the choice varies between rows
  got = call('max_q', obs)['actions']
  np.testing.assert_allclose(got, best, atol=1e-4)
  # ... and the agent in process draws the same (its generator is where the export's was).
  np.testing.assert_array_equal(agent.max_q_action(tf.constant(obs)).numpy(), got)
  # A second call continues the saved stream, as the agent's would.
  np.testing.assert_array_equal(call('max_q', obs)['actions'],
                                agent.max_q_action(tf.constant(obs)).numpy())


def test_bcq_export_equals_the_agent_policy(tmp_path):
  agent = BCQAgent(OBS_DIM, ACT_DIM, seed=0, q_hidden=(16, 16), perturber_hidden=(16, 16),
                   vae_hidden=(16, 16))
  for k, module in enumerate((agent.vae, agent.perturber, agent.qs[0])):
    randomise(module, 10 + k, 0.3)
  call = export_agent(agent, str(tmp_path / 'bcq'))
  obs = observations(64)
  got = call('main', obs)['actions']
  np.testing.assert_allclose(got, agent.act(tf.constant(obs)).numpy(), atol=1e-6)
  assert np.abs(got).max() <= 1.0 and np.std(got) > 0.05
