"""Termination at its bounds, from hand-built states: every env's imagination done function
(bremen_tf/envs/imagination_fns.py), the paper-faithful envs' health tests (bremen_tf/envs/paper.py)
and, for the v5 envs, gymnasium's own `is_healthy`, each checked against the spec numbers written
here (reference/bremen.md §8: the original ME-TRPO envs and gymnasium v5), states just inside and
just outside every bound.

  Hopper (paper and v5)  healthy iff finite, |s[1:]| < 100, s[0] (z) > 0.7, |s[1]| (angle) < 0.2
  Walker2d (both)        healthy iff 0.8 < z < 2.0 and -1 < angle < 1 (nothing else)
  Ant-v5                 healthy iff finite and 0.2 <= z <= 1.0 (inclusive)
  HalfCheetah, paper Ant, FetchReach, HandReach: never terminate
All bounds but Ant-v5's are strict: a state exactly on the bound terminates.
"""
import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import envs
from bremen_tf.envs import paper

INSIDE, OUTSIDE = False, True  # expected done

# Observation layouts (reference §8): Hopper 11 = qpos[1:] (z, angle, 3 joints) + qvel (6);
# Walker2d 17 = qpos[1:] (8) + qvel (9); Ant 27 = qpos[2:] (z, quaternion, 8 joints) + qvel (14).


def hopper_obs(**at):
  s = np.zeros(11)
  s[0] = 1.25  # standing height
  for k, v in at.items():
    s[int(k[1:])] = v
  return s


def walker_obs(**at):
  s = np.zeros(17)
  s[0] = 1.25
  for k, v in at.items():
    s[int(k[1:])] = v
  return s


def ant_obs(**at):
  s = np.zeros(27)
  s[0], s[1] = 0.55, 1.0  # height, identity quaternion
  for k, v in at.items():
    s[int(k[1:])] = v
  return s


# (case, observation, done, qvel part inside v5's ±10 observation clip)
HOPPER = [
    ('standing', hopper_obs(), INSIDE, True),
    ('z just above 0.7', hopper_obs(s0=0.7001), INSIDE, True),
    ('z exactly 0.7', hopper_obs(s0=0.7), OUTSIDE, True),
    ('z below 0.7', hopper_obs(s0=0.6999), OUTSIDE, True),
    ('z far above (no upper bound, z not in the state check)', hopper_obs(s0=150.0), INSIDE, True),
    ('angle just inside +0.2', hopper_obs(s1=0.1999), INSIDE, True),
    ('angle just inside -0.2', hopper_obs(s1=-0.1999), INSIDE, True),
    ('angle exactly +0.2', hopper_obs(s1=0.2), OUTSIDE, True),
    ('angle exactly -0.2', hopper_obs(s1=-0.2), OUTSIDE, True),
    ('joint just inside 100', hopper_obs(s3=99.99), INSIDE, True),
    ('joint exactly 100', hopper_obs(s3=100.0), OUTSIDE, True),
    ('joint exactly -100', hopper_obs(s4=-100.0), OUTSIDE, True),
    ('velocity just inside -100', hopper_obs(s10=-99.99), INSIDE, False),
    ('velocity exactly 100', hopper_obs(s7=100.0), OUTSIDE, False),
    ('NaN velocity', hopper_obs(s5=np.nan), OUTSIDE, False),
    ('infinite joint', hopper_obs(s2=np.inf), OUTSIDE, True),
    ('NaN height', hopper_obs(s0=np.nan), OUTSIDE, True),
]
WALKER = [
    ('standing', walker_obs(), INSIDE, True),
    ('z just above 0.8', walker_obs(s0=0.8001), INSIDE, True),
    ('z exactly 0.8', walker_obs(s0=0.8), OUTSIDE, True),
    ('z just below 2.0', walker_obs(s0=1.9999), INSIDE, True),
    ('z exactly 2.0', walker_obs(s0=2.0), OUTSIDE, True),
    ('angle just inside +1', walker_obs(s1=0.9999), INSIDE, True),
    ('angle just inside -1', walker_obs(s1=-0.9999), INSIDE, True),
    ('angle exactly +1', walker_obs(s1=1.0), OUTSIDE, True),
    ('angle exactly -1', walker_obs(s1=-1.0), OUTSIDE, True),
    ('huge joint angle (no state-range test)', walker_obs(s4=500.0), INSIDE, True),
    ('huge velocity (no state-range test)', walker_obs(s12=1e4), INSIDE, False),
]
ANT_V5 = [
    ('standing', ant_obs(), INSIDE),
    ('z exactly 0.2 (inclusive)', ant_obs(s0=0.2), INSIDE),
    ('z just below 0.2', ant_obs(s0=0.1999), OUTSIDE),
    ('z exactly 1.0 (inclusive)', ant_obs(s0=1.0), INSIDE),
    ('z just above 1.0', ant_obs(s0=1.0001), OUTSIDE),
    ('huge velocity, finite', ant_obs(s20=1e4), INSIDE),
    ('NaN velocity', ant_obs(s20=np.nan), OUTSIDE),
    ('infinite joint', ant_obs(s7=-np.inf), OUTSIDE),
]
NEVER = np.array([np.zeros(17), np.full(17, 1e6), np.full(17, -1e6), np.full(17, np.nan),
                  np.full(17, np.inf)])


def done_of(env_id, states):
  return envs.get_spec(env_id).done_fn(tf.constant(np.asarray(states), tf.float32)).numpy()


def ids(cases):
  return [c[0] for c in cases]


@pytest.mark.parametrize('env_id', ['bremen/Hopper-v0', 'Hopper-v5'])
def test_hopper_done_function_at_the_bounds(env_id):
  cases = HOPPER if env_id == 'bremen/Hopper-v0' else [c for c in HOPPER if c[3]]
  got = done_of(env_id, [c[1] for c in cases])
  assert {c[0]: bool(d) for c, d in zip(cases, got)} == {c[0]: c[2] for c in cases}


@pytest.mark.parametrize('env_id', ['bremen/Walker2d-v0', 'Walker2d-v5'])
def test_walker2d_done_function_at_the_bounds(env_id):
  got = done_of(env_id, [c[1] for c in WALKER])
  assert {c[0]: bool(d) for c, d in zip(WALKER, got)} == {c[0]: c[2] for c in WALKER}


def test_ant_v5_done_function_at_the_bounds():
  got = done_of('Ant-v5', [c[1] for c in ANT_V5])
  assert {c[0]: bool(d) for c, d in zip(ANT_V5, got)} == {c[0]: c[2] for c in ANT_V5}


@pytest.mark.parametrize('env_id', ['bremen/HalfCheetah-v0', 'HalfCheetah-v5', 'bremen/Ant-v0'])
def test_never_terminating_envs_do_not_terminate_even_on_diverged_states(env_id):
  dim = envs.get_spec(env_id).obs_dim
  states = np.concatenate([NEVER, NEVER], axis=1)[:, :dim]
  assert not done_of(env_id, states).any()
  for low_height in (0.0, -5.0, 0.1):  # a fallen Ant (paper: terminate_when_unhealthy=False)
    s = np.ones((1, dim))
    s[0, 0] = low_height
    assert not done_of(env_id, s).any()


@pytest.mark.parametrize('env_id, dim', [('bremen/FetchReach-v0', 13), ('bremen/HandReach-v0', 78)])
def test_manipulation_tasks_never_terminate(env_id, dim):
  states = np.concatenate([NEVER] * 5, axis=1)[:, :dim]
  assert not done_of(env_id, states).any()


# --- the real envs' health tests on the same states ------------------------------------------
def qpos_qvel(obs, n_excluded, nq):
  """Simulator state with the observation's layout: `n_excluded` leading positions (x, or x, y)
  at arbitrary values, then qpos[n_excluded:] and qvel from the observation."""
  n_pos = nq - n_excluded
  return (np.concatenate([np.full(n_excluded, 0.3), obs[:n_pos]]), np.asarray(obs[n_pos:]))


@pytest.mark.parametrize('case', HOPPER, ids=ids(HOPPER))
def test_paper_hopper_health_test_at_the_bounds(case):
  _, obs, done, _ = case
  qpos, qvel = qpos_qvel(obs, 1, 6)
  assert paper._hopper_healthy(qpos, qvel, obs) is (not done)  # pylint: disable=protected-access


@pytest.mark.parametrize('case', WALKER, ids=ids(WALKER))
def test_paper_walker2d_health_test_at_the_bounds(case):
  _, obs, done, _ = case
  qpos, qvel = qpos_qvel(obs, 1, 9)
  assert paper._walker_healthy(qpos, qvel, obs) is (not done)  # pylint: disable=protected-access


@pytest.fixture(scope='module')
def v5_envs():
  made = {env_id: envs.make(env_id) for env_id in ('Hopper-v5', 'Walker2d-v5', 'Ant-v5')}
  for env in made.values():
    env.reset(seed=0)
  yield made
  for env in made.values():
    env.close()


@pytest.mark.parametrize('env_id, cases, n_excluded', [
    ('Hopper-v5', [c[:3] for c in HOPPER if c[3]], 1),
    ('Walker2d-v5', [c[:3] for c in WALKER], 1),
    ('Ant-v5', ANT_V5, 2)])
def test_gymnasium_v5_agrees_with_the_spec_numbers_on_the_same_states(v5_envs, env_id, cases,
                                                                      n_excluded):
  sim = v5_envs[env_id].unwrapped
  got = {}
  for name, obs, _ in cases:
    qpos, qvel = qpos_qvel(obs, n_excluded, sim.model.nq)
    sim.set_state(qpos, qvel)
    got[name] = not sim.is_healthy
  assert got == {c[0]: c[2] for c in cases}


@pytest.mark.parametrize('env_id', ['bremen/HalfCheetah-v0', 'bremen/Ant-v0'])
def test_paper_envs_without_termination_run_past_a_fall(env_id):
  """The paper-faithful HalfCheetah and Ant have no health test: a state far outside any v5
  health range (Ant: torso at 0.05, below v5's 0.2) steps on without terminating."""
  env = envs.make(env_id)
  env.reset(seed=0)
  sim = env.unwrapped
  qpos = sim.data.qpos.copy()
  qpos[2 if env_id == 'bremen/Ant-v0' else 1] = 0.05 if env_id == 'bremen/Ant-v0' else -3.0
  sim.set_state(qpos, sim.data.qvel.copy())
  for _ in range(3):
    _, _, terminated, truncated, _ = env.step(np.zeros(env.action_space.shape))
    assert not terminated and not truncated
  env.close()
