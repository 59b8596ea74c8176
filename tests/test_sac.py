"""SAC pieces: the BRAC actor's density, Adam, an update that learns, behaviour-policy I/O."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from bremen_tf import sac_data_policies
from bremen_tf.data import shipped_policies
from bremen_tf.agents.networks import TanhGaussianActor
from bremen_tf.agents.sac import Sac
from bremen_tf.optim import Adam
from conftest import write_untrained_policy

tfd, tfb = tfp.distributions, tfp.bijectors


def test_actor_log_prob_equals_tfp_transformed_distribution():
  actor = TanhGaussianActor(5, 3, low=-2.0, high=2.0, seed=3)
  obs = tf.random.stateless_normal([64, 5], seed=[1, 2])
  action, logp = actor.sample(obs, tf.random.Generator.from_seed(0))
  m, std = actor.params(obs)
  dist = tfd.TransformedDistribution(
      tfd.Independent(tfd.Normal(m, std), 1),
      tfb.Chain([tfb.Scale(2.0), tfb.Tanh()]))
  np.testing.assert_allclose(logp, dist.log_prob(action), rtol=1e-3, atol=1e-3)
  np.testing.assert_allclose(actor.log_prob(obs, action), logp, rtol=1e-3, atol=1e-3)
  assert np.all(np.abs(action) <= 2.0)
  log_std = np.log(std.numpy())
  assert log_std.min() >= -5.0 - 1e-5 and log_std.max() <= 1e-5


def test_adam_matches_the_textbook_update():
  v = tf.Variable([1.0, -2.0])
  opt = Adam([v], learning_rate=0.1, epsilon=1e-7)
  m = s = np.zeros(2); x = np.array([1.0, -2.0])
  for t in range(1, 4):
    g = 2 * x  # gradient of |x|^2
    opt.apply([tf.constant(g, tf.float32)])
    m = 0.9 * m + 0.1 * g; s = 0.999 * s + 0.001 * g * g
    lr_t = 0.1 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)  # Keras' form of bias correction
    x = x - lr_t * m / (np.sqrt(s) + 1e-7)
  np.testing.assert_allclose(v.numpy(), x, rtol=1e-4)


def test_sac_learns_a_one_step_bandit():
  """Reward -|a - 0.5|^2 with terminal transitions: Q fits it and the policy mode moves to 0.5."""
  tf.random.set_seed(0)
  agent = Sac(2, 1, seed=0, learning_rate=3e-3)
  rng = np.random.default_rng(0)
  obs = np.zeros((256, 2), np.float32)
  first = None
  for i in range(600):
    act = rng.uniform(-1, 1, (256, 1)).astype(np.float32)
    rew = -np.square(act[:, 0] - 0.5).astype(np.float32)
    _, info = agent.train_and_act(obs, act, rew, obs, np.zeros(256, np.float32), obs[:1])
    first = float(info['q_loss']) if first is None else first
  assert float(info['q_loss']) < 0.1 * first
  assert abs(float(agent.act_mode(obs[:1])[0, 0]) - 0.5) < 0.15
  assert float(tf.exp(agent.log_alpha)) < 1.0  # temperature fell toward the entropy target


def test_targets_follow_polyak_and_are_not_copied_by_default():
  agent = Sac(3, 2, seed=0)
  q, qt = agent.qs[0].net.kernels[0], agent.q_targets[0].net.kernels[0]
  assert not np.allclose(q.numpy(), qt.numpy())  # BRAC quirk: independent initialisation
  before_q, before_t = q.numpy().copy(), qt.numpy().copy()
  z = np.zeros((4, 3), np.float32)
  agent.update(z, np.zeros((4, 2), np.float32), np.zeros(4, np.float32), z,
               np.ones(4, np.float32))
  np.testing.assert_allclose(qt.numpy(), 0.005 * before_q + 0.995 * before_t, atol=1e-6)
  copied = Sac(3, 2, seed=0, copy_targets_at_init=True)
  np.testing.assert_array_equal(copied.qs[0].net.kernels[0].numpy(),
                                copied.q_targets[0].net.kernels[0].numpy())


def test_behavior_policy_round_trip_and_errors(tmp_path):
  actor = write_untrained_policy(str(tmp_path / 'p'), 'bremen/Hopper-v0', seed=7)
  loaded, meta = shipped_policies.load_behavior_policy('bremen/Hopper-v0', str(tmp_path / 'p'))
  obs = tf.ones([4, 11])
  np.testing.assert_array_equal(loaded.mode(obs), actor.mode(obs))
  with pytest.raises(ValueError, match="policy for 'bremen/Hopper-v0', not 'bremen/Ant-v0'"):
    shipped_policies.load_behavior_policy('bremen/Ant-v0', str(tmp_path / 'p'))
  with pytest.raises(FileNotFoundError, match='No behaviour policy'):
    shipped_policies.load_behavior_policy('bremen/Ant-v0', str(tmp_path / 'missing'))


@pytest.mark.parametrize('env_id', ['bremen/Hopper-v0', 'bremen/Walker2d-v0',
                                    'bremen/HalfCheetah-v0', 'bremen/Ant-v0'])
def test_shipped_policies_load_and_are_small(env_id):
  import os
  directory = os.path.join(shipped_policies.SHIPPED_DIR, env_id.replace('/', '_'))
  assert os.path.exists(directory), f'no shipped policy for {env_id}'  # package data: a failure
  size = sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory))
  assert size < 1_000_000
  actor, meta = shipped_policies.load_behavior_policy(env_id)
  assert meta['eval_return_mean'] >= meta['threshold']
  assert actor.mode(tf.zeros([1, actor.obs_dim])).shape == (1, actor.act_dim)


def test_rerun_after_partial_found_returns_it_without_training(tmp_path):
  import gin
  from bremen_tf import runs
  gin.clear_config()
  gin.bind_parameter('Sac.q_hidden', (16, 16))
  gin.bind_parameter('Sac.actor_hidden', (16, 16))
  try:
    kw = dict(env_id='bremen/Hopper-v0', initial_random_steps=100, eval_every=50,
              eval_episodes=1, target_return=-1e9, total_steps=500)
    logs = []
    first = sac_data_policies.train_behavior_policy(runs.RunDir(str(tmp_path)), log=logs.append, **kw)
    assert first['sac_steps'] == 100  # evals at 50 and 100 both pass
    again = sac_data_policies.train_behavior_policy(runs.RunDir(str(tmp_path)), log=logs.append, **kw)
    assert again == first and 'already found at step 100' in logs[-1]
  finally:
    gin.clear_config()
