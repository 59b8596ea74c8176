"""The faster model-free steps (fused Adam and Polyak, one forward pass per network and state set)
equal the reference steps (`reference_update=True`, the step as first written) to float32
round-off: same parameters, optimiser moments and diagnostics after a few steps from the same
state, with the same random draws."""
import numpy as np
import pytest
import tensorflow as tf

from bremen_tf.agents.bc import BCAgent
from bremen_tf.agents.bcq import BCQAgent
from bremen_tf.agents.brac import BRACAgent
from bremen_tf.agents.sac import Sac
from bremen_tf.optim import Adam

OBS, ACT, B = 5, 3, 64


def make(name, reference):
  if name == 'bc':
    return BCAgent(OBS, ACT, seed=1, hidden=(48, 40), reference_update=reference)
  if name == 'bcq':
    return BCQAgent(OBS, ACT, seed=1, q_hidden=(40, 32), perturber_hidden=(32, 32),
                    vae_hidden=(48, 40), reference_update=reference)
  if name == 'brac':  # α and α_e trained too, the Q term on after 2 steps
    behavior = BCAgent(OBS, ACT, seed=7, hidden=(32, 40), name='behavior')
    return BRACAgent(OBS, ACT, behavior.actor, seed=1, actor_hidden=(48, 40),
                     q_hidden=(40, 32), warm_start=2, train_alpha=True,
                     train_alpha_entropy=True, alpha_entropy=0.2, ensemble_q_lambda=0.75,
                     reference_update=reference)
  return Sac(OBS, ACT, seed=1, actor_hidden=(48, 40), q_hidden=(40, 32),
             reference_update=reference)


def batches(n):
  rng = np.random.default_rng(5)
  for _ in range(n):
    yield {'s1': tf.constant(rng.standard_normal((B, OBS)), tf.float32),
           'a1': tf.constant(rng.uniform(-1, 1, (B, ACT)), tf.float32),
           'r': tf.constant(rng.standard_normal(B), tf.float32),
           's2': tf.constant(rng.standard_normal((B, OBS)), tf.float32),
           'discount': tf.constant((rng.random(B) > 0.2).astype(np.float32))}


def stepper(name, agent):
  if name == 'sac':
    return tf.function(lambda b: agent.update(b['s1'], b['a1'], b['r'], b['s2'], b['discount']))
  return tf.function(agent.update)


@pytest.mark.parametrize('name', ['sac', 'bc', 'bcq', 'brac'])
def test_fast_step_equals_the_reference_step(name):
  """Six steps; before each, our agent is set to the reference agent's state (weights, moments,
  counters, generator), so each step is compared from the same state: over many steps float32
  round-off grows chaotically, as it would between any two machines."""
  ref, ours = make(name, reference=True), make(name, reference=False)
  ref_step, our_step = stepper(name, ref), stepper(name, ours)
  initial = [v.numpy() for v in ref.trainable_variables]
  assert len(ours.variables) == len(ref.variables) > 10
  for batch in batches(6):
    for v, r in zip(ours.variables, ref.variables):
      v.assign(r)
    ours.rng.state.assign(ref.rng.state)
    ref_info, our_info = ref_step(batch), our_step(batch)
    for v, r in zip(ours.variables, ref.variables):
      assert v.name == r.name
      if v.dtype == tf.float32:
        # float32 round-off relative to the variable's scale (moments span many magnitudes)
        scale = np.abs(r.numpy()).max()
        np.testing.assert_allclose(v.numpy(), r.numpy(), rtol=1e-4, atol=1e-5 * scale + 1e-7,
                                   err_msg=v.name)
      else:  # step counters
        np.testing.assert_array_equal(v.numpy(), r.numpy(), err_msg=v.name)
    np.testing.assert_array_equal(ours.rng.state.numpy(), ref.rng.state.numpy())  # same draws
    assert our_info.keys() == ref_info.keys()
    for k in ref_info:
      assert float(our_info[k]) == pytest.approx(float(ref_info[k]), rel=1e-4, abs=1e-5), k
  # The steps did something: most parameters moved from their initial values.
  moved = sum(not np.allclose(v.numpy(), i, rtol=0, atol=1e-5)
              for v, i in zip(ref.trainable_variables, initial))
  assert moved >= len(initial) // 2


def test_fused_adam_equals_the_elementwise_adam():
  rng = np.random.default_rng(0)
  start = rng.standard_normal((30, 20)).astype(np.float32)
  a, b = tf.Variable(start), tf.Variable(start)
  opt_a, opt_b = Adam([a], 1e-2), Adam([b], 1e-2)
  for _ in range(10):
    g = tf.constant(rng.standard_normal((30, 20)), tf.float32)
    opt_a.apply([g])
    opt_b.apply_fused([g])
  assert int(opt_a.step) == int(opt_b.step) == 10
  np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(opt_b.m[0].numpy(), opt_a.m[0].numpy(), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(opt_b.v[0].numpy(), opt_a.v[0].numpy(), rtol=1e-5, atol=1e-7)
  assert np.abs(b.numpy() - start).mean() > 1e-2  # it moved
