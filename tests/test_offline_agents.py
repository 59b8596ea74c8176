"""The model-free offline agents (BC, BRAC primal, BCQ): updates learn on tiny data, targets are
computed as specified, the max-Q policies pick the argmax, the BRAC-code bug switches work."""
import numpy as np
import pytest
import tensorflow as tf

from bremen_tf.agents.bc import BCAgent
from bremen_tf.agents.bcq import BCQAgent
from bremen_tf.agents.brac import BRACAgent
from bremen_tf.agents.common import argmax_rows, ensemble_q, relu_v2

OBS, ACT = 4, 2


def tiny_batch(rng, n=256):
  """Actions are a smooth function of the state, so they can be cloned; r = -|a|^2."""
  s1 = rng.standard_normal((n, OBS)).astype(np.float32)
  a1 = np.tanh(s1[:, :ACT] * 0.8).astype(np.float32) * 0.9
  return {'s1': tf.constant(s1), 'a1': tf.constant(a1),
          'r': tf.constant(-np.square(a1).sum(1)),
          's2': tf.constant(rng.standard_normal((n, OBS)).astype(np.float32)),
          'discount': tf.constant((rng.random(n) > 0.1).astype(np.float32))}


def run_steps(agent, batch, n):
  step = tf.function(agent.update)
  return [{k: float(v) for k, v in step(batch).items()} for _ in range(n)]


def test_common_pieces():
  x = tf.Variable([-1.0, 2.0])
  with tf.GradientTape(persistent=True) as tape:
    y = relu_v2(x)
    up, down = -tf.reduce_sum(y), tf.reduce_sum(y)  # descent on `up` pushes x up
  np.testing.assert_allclose(y, [0.0, 2.0])
  np.testing.assert_allclose(tape.gradient(up, x), [-1.0, -1.0])  # passes at x < 0
  np.testing.assert_allclose(tape.gradient(down, x), [0.0, 1.0])  # blocked at x < 0
  q = tf.constant([[1.0, 5.0], [3.0, 2.0]])
  np.testing.assert_allclose(ensemble_q(q, 0.75), [0.75 * 1 + 0.25 * 3, 0.75 * 2 + 0.25 * 5])
  candidates = tf.reshape(tf.range(3 * 2 * 2, dtype=tf.float32), [3, 2, 2])
  scores = tf.constant([[0.0, 9.0], [5.0, 1.0], [1.0, 2.0]])
  np.testing.assert_allclose(argmax_rows(candidates, scores), [[4.0, 5.0], [2.0, 3.0]])


def test_bc_fits_the_data_and_tunes_the_entropy_coefficient():
  tf.random.set_seed(0)
  agent = BCAgent(OBS, ACT, seed=0, hidden=(64, 64), learning_rate=3e-3)
  infos = run_steps(agent, tiny_batch(np.random.default_rng(0)), 400)
  assert infos[-1]['nll'] < infos[0]['nll'] - 3.0
  assert infos[-1]['alpha_entropy'] != pytest.approx(1.0)
  mode = agent.actor.mode(tiny_batch(np.random.default_rng(0))['s1'])
  np.testing.assert_allclose(mode, tiny_batch(np.random.default_rng(0))['a1'], atol=0.15)


def make_brac(**kw):
  tf.random.set_seed(0)
  behavior = BCAgent(OBS, ACT, seed=5, hidden=(32, 32), name='behavior')
  return BRACAgent(OBS, ACT, behavior.actor, seed=0, actor_hidden=(32, 32), q_hidden=(32, 32),
                   **kw)


def test_brac_divergence_is_zero_when_the_policy_is_the_behavior_policy():
  agent = make_brac()
  obs = tiny_batch(np.random.default_rng(1))['s1']
  assert float(tf.reduce_mean(agent.divergence(obs))) > 0.1  # different random nets
  for v, b in zip(agent.actor.trainable_variables, agent.behavior_actor.trainable_variables):
    v.assign(b)
  np.testing.assert_allclose(agent.divergence(obs), 0.0, atol=0.02)


def test_brac_q_target_is_the_value_penalised_backup(monkeypatch):
  agent = make_brac(alpha=0.5)
  batch = tiny_batch(np.random.default_rng(2), n=8)
  fixed_act = tf.fill([8, ACT], 0.2)
  monkeypatch.setattr(agent.actor, 'sample', lambda obs, rng: (fixed_act, tf.fill([8], -1.0)))
  monkeypatch.setattr(agent, 'divergence', lambda obs: tf.fill([8], 3.0))
  q_next = np.min([q(batch['s2'], fixed_act).numpy() for q in agent.q_targets], axis=0)
  expected = batch['r'] + 0.99 * batch['discount'] * (q_next - 0.5 * 3.0)  # α_e = 0
  np.testing.assert_allclose(agent.q_target(batch['r'], batch['s2'], batch['discount']),
                             expected, rtol=1e-5)
  no_vp = make_brac(alpha=0.5, value_penalty=False)
  monkeypatch.setattr(no_vp.actor, 'sample', lambda obs, rng: (fixed_act, tf.fill([8], -1.0)))
  q_next = np.min([q(batch['s2'], fixed_act).numpy() for q in no_vp.q_targets], axis=0)
  np.testing.assert_allclose(no_vp.q_target(batch['r'], batch['s2'], batch['discount']),
                             batch['r'] + 0.99 * batch['discount'] * q_next, rtol=1e-5)


def test_brac_update_fits_q_and_respects_the_warm_start():
  agent = make_brac(warm_start=150)
  infos = run_steps(agent, tiny_batch(np.random.default_rng(3)), 300)
  assert np.mean([i['q_loss'] for i in infos[-20:]]) < 0.5 * infos[0]['q_loss']
  assert int(agent.global_step) == 300
  # Before the warm start the policy loss is only the divergence (α_e = 0): p_loss = α·D̂.
  for info in infos[:100]:
    assert info['p_loss'] == pytest.approx(0.1 * info['divergence'], rel=1e-4, abs=1e-5)
  assert any(abs(i['p_loss'] - 0.1 * i['divergence']) > 1e-3 for i in infos[200:])
  assert np.mean([i['divergence'] for i in infos[-20:]]) < infos[0]['divergence']


class _Scores(tf.Module):
  """A stand-in Q_1: higher for actions closer to (0.3, ..., 0.3)."""

  def __call__(self, obs, act):
    return -tf.reduce_sum(tf.square(act - 0.3), axis=-1)


def test_brac_max_q_policy_picks_the_best_sample(monkeypatch):
  agent = make_brac()
  obs = tiny_batch(np.random.default_rng(4), n=5)['s1']
  candidates = np.linspace(-1, 1, 10 * 5 * ACT).astype(np.float32).reshape(10 * 5, ACT)
  monkeypatch.setattr(agent.actor, 'sample', lambda o, rng: (tf.constant(candidates), None))
  agent.qs[0] = _Scores()
  chosen = agent.max_q_action(obs).numpy()
  per_state = candidates.reshape(10, 5, ACT)  # sample-major tiling
  best = per_state[np.argmax(-np.square(per_state - 0.3).sum(-1), axis=0), np.arange(5)]
  np.testing.assert_allclose(chosen, best)


def make_bcq(**kw):
  tf.random.set_seed(0)
  return BCQAgent(OBS, ACT, seed=0, q_hidden=(32, 32), perturber_hidden=(32, 32),
                  vae_hidden=(64, 64), **kw)


def test_bcq_q_target_is_the_max_over_perturbed_samples(monkeypatch):
  agent = make_bcq()
  batch = tiny_batch(np.random.default_rng(5), n=6)
  decoded = tf.constant(np.random.default_rng(6).uniform(-1, 1, (60, ACT)), tf.float32)
  monkeypatch.setattr(agent.vae, 'sample', lambda obs, rng: decoded)
  tiled = tf.tile(batch['s2'], [10, 1])
  act = agent.perturber_target(tiled, decoded)
  qs = np.stack([q(tiled, act).numpy() for q in agent.q_targets])
  e = 0.75 * qs.min(0) + 0.25 * qs.max(0)
  expected = batch['r'] + 0.99 * batch['discount'] * e.reshape(10, 6).max(0)
  np.testing.assert_allclose(agent.q_target(batch['r'], batch['s2'], batch['discount']),
                             expected, rtol=1e-5)


def test_bcq_update_learns_and_the_policy_picks_the_argmax(monkeypatch):
  agent = make_bcq(policy_learning_rate=1e-3)
  target_before = [v.numpy() for v in agent.perturber_target.trainable_variables]
  infos = run_steps(agent, tiny_batch(np.random.default_rng(7)), 200)
  assert infos[-1]['vae_loss'] < 0.5 * infos[0]['vae_loss']
  assert np.mean([i['q_loss'] for i in infos[-20:]]) < 0.5 * infos[0]['q_loss']
  s1 = tiny_batch(np.random.default_rng(7))['s1']
  sampled = agent.vae.sample(s1, agent.rng)
  gain = agent.qs[0](s1, agent.perturber(s1, sampled)) - agent.qs[0](s1, sampled)
  assert float(tf.reduce_mean(gain)) > 0.0  # the perturbation climbs Q_1
  moved = [np.abs(v.numpy() - b).max() for v, b in
           zip(agent.perturber_target.trainable_variables, target_before)]
  assert max(moved) > 1e-4  # Polyak-averaged towards ξ (the BRAC code's bug would freeze it)
  obs = tiny_batch(np.random.default_rng(8), n=5)['s1']
  decoded = tf.constant(np.random.default_rng(9).uniform(-1, 1, (50, ACT)), tf.float32)
  monkeypatch.setattr(agent.vae, 'sample', lambda o, rng: decoded)
  agent.qs[0] = _Scores()
  perturbed = agent.perturber(tf.tile(obs, [10, 1]), decoded).numpy().reshape(10, 5, ACT)
  best = perturbed[np.argmax(-np.square(perturbed - 0.3).sum(-1), axis=0), np.arange(5)]
  np.testing.assert_allclose(agent.act(obs), best, rtol=1e-6)


def test_bcq_brac_code_bugs_are_reachable():
  agent = make_bcq(freeze_target_perturber=True, vae_uses_policy_optimizer=True)
  before = [v.numpy() for v in agent.perturber_target.trainable_variables]
  run_steps(agent, tiny_batch(np.random.default_rng(10)), 3)
  for v, b in zip(agent.perturber_target.trainable_variables, before):
    np.testing.assert_array_equal(v.numpy(), b)
  assert agent.vae_optimizer.learning_rate == agent.policy_optimizer.learning_rate == 3e-5
  assert make_bcq().vae_optimizer.learning_rate == 1e-3


def make_bc_default_width():
  tf.random.set_seed(0)
  return BCAgent(OBS, ACT, seed=5)  # 200 x 200: tiny nets hid a round-off difference


@pytest.mark.parametrize('make_agent', [make_brac, make_bc_default_width])
def test_the_training_loop_traced_without_autograph_gives_the_converted_loops_numbers(make_agent):
  """agent_stages.make_trainer is an explicit loop traced without autograph; an agent trained by
  it equals, bit for bit, one trained by the autograph loop it replaced (loop and agent step
  converted), from the same weights and draws; zero steps is refused. (A first version that ran
  the first step before the loop gave equal diagnostics but BC weights apart in round-off.)"""
  from bremen_tf.agent_stages import make_trainer  # pylint: disable=g-import-not-at-top
  data = tiny_batch(np.random.default_rng(2), n=1000)
  agents = [make_agent() for _ in range(2)]
  ours = make_trainer(agents[0], data, tf.random.Generator.from_seed(5))(30)
  rng = tf.random.Generator.from_seed(5)

  @tf.function  # the loop as it was: autograph converts agent.update as well
  def converted(n_steps):
    totals = None
    for _ in tf.range(n_steps):
      idx = rng.uniform([agents[1].batch_size], 0, 1000, dtype=tf.int32)
      info = agents[1].update({k: tf.gather(v, idx) for k, v in data.items()})
      totals = info if totals is None else {k: totals[k] + v for k, v in info.items()}
    return {k: v / tf.cast(n_steps, tf.float32) for k, v in totals.items()}
  assert ours == {k: float(v) for k, v in converted(tf.constant(30)).items()}
  assert len(agents[0].variables) == len(agents[1].variables) > 6
  for a, b in zip(agents[0].variables, agents[1].variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.name)
  with pytest.raises(ValueError, match='at least one step, not 0'):
    make_trainer(agents[0], data, rng)(0)
