"""ImaginedTRPO's batch numbers against a numpy recomputation on the same imagined paths
(reference/bremen.md §6): the explicit KL value penalty r − α·KL(π_θ ‖ π̂_β) at s_t, GAE with
γ, λ and b = 0 after a path's last step, advantages centred and scaled over the real steps only
(Â = (A − mean)/(std + 1e-8), pad rows 0), the padded-flattened-cut batch, the λ-return targets;
and the linear baseline fitted *after* the policy step on the *pre-step* targets (ridge least
squares (XᵀX + 1e-5·I)w = Xᵀy on the real rows)."""
import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import envs
from bremen_tf.dynamics import OUTPUT_CLIP
from bremen_tf.imagined_trpo import ImaginedTRPO, clipped_path_fraction, median
from bremen_tf.policies import GaussianPolicy
from bremen_tf.runaway_probe import probe

ENV = 'bremen/Hopper-v0'  # its reward function and dimensions
GAMMA, LAM = 0.99, 0.95
HORIZON, BATCH = 20, 400


class DriftDynamics:
  """A stand-in model: s' = s + 0.03·(member + 1) in every coordinate + 0.05·a in the first
  act_dim ones, so that paths end (s'[0] > 1, below) after a number of steps that varies."""
  n_models = 2

  def member_predictor(self):
    def predict(obs, act, member):
      drift = 0.03 * tf.cast(member + 1, tf.float32)
      push = tf.pad(0.05 * act, [[0, 0], [0, tf.shape(obs)[1] - tf.shape(act)[1]]])
      return obs + drift + push
    return predict


def done_above_one(s_next):
  return s_next[:, 0] > 1.0


def trainer_for(alpha=0.0, center=True, seed=0):
  spec = envs.get_spec(ENV)
  rng = np.random.default_rng(0)
  policy = GaussianPolicy(spec.obs_dim, spec.act_dim, hidden=(32, 32))
  behavior = GaussianPolicy(spec.obs_dim, spec.act_dim, hidden=(32, 32), name='bc')
  # π̂_β away from π_θ (both start at the same fixed normc weights), so the KL is not 0.
  behavior.kernels[-1].assign(rng.normal(size=behavior.kernels[-1].shape).astype(np.float32) * 0.3)
  behavior.biases[-1].assign(rng.normal(size=behavior.biases[-1].shape).astype(np.float32) * 0.3)
  starts = rng.uniform(-0.2, 0.9, size=(16, spec.obs_dim)).astype(np.float32)
  trainer = ImaginedTRPO(policy, behavior, DriftDynamics(), spec.reward_fn, done_above_one,
                         starts, horizon=HORIZON, batch_size=BATCH, gamma=GAMMA, gae_lambda=LAM,
                         target_kl=0.01, alpha=alpha, center_advantages=center, seed=seed)
  # A non-zero baseline, so that the values enter the advantages.
  trainer.baseline.coeffs.assign(rng.normal(size=trainer.baseline.n_features) * 0.1)
  return trainer


# --- numpy reference --------------------------------------------------------------------------
def np_mean_log_std(policy, obs):
  """GaussianPolicy's forward pass in numpy: normalise, ReLU layers, tanh heads (policies.py)."""
  mean, std = (t.numpy().astype(np.float64) for t in policy.normalizer.mean_std())
  x = (obs - mean) / std
  for k, (w, b) in enumerate(zip(policy.kernels, policy.biases)):
    x = x @ w.numpy().astype(np.float64) + b.numpy()
    if k < len(policy.kernels) - 1:
      x = np.maximum(x, 0.0)
  m, l = np.split(x, 2, axis=-1)
  return np.tanh(m), -5.0 + 2.5 * (np.tanh(l) + 1.0)


def np_kl(m0, s0, m1, s1):
  """KL(N(m0, e^{2 s0}) ‖ N(m1, e^{2 s1})), diagonal, summed over dimensions."""
  return np.sum(s1 - s0 + (np.exp(2 * s0) + (m0 - m1) ** 2) / (2 * np.exp(2 * s1)) - 0.5, -1)


def np_features(norm_obs, t):
  o = np.clip(norm_obs, -10, 10)
  t = t[:, None] / 100.0
  return np.concatenate([o, o * o, t, t ** 2, t ** 3, np.ones_like(t)], axis=1)


def np_process(trainer, paths, alpha, center, coeffs):
  """(advantages [P·L], targets [P·L], features [P·L, F], weights [P·L]) recomputed; the TRPO
  batch is the first BATCH rows of the advantages."""
  obs = paths.obs.numpy().astype(np.float64)
  rewards = paths.rewards.numpy().astype(np.float64)
  lengths = paths.lengths.numpy()
  n_paths, longest, obs_dim = obs.shape
  flat_obs = obs.reshape(-1, obs_dim)
  mean, std = (t.numpy().astype(np.float64) for t in trainer.policy.normalizer.mean_std())
  t = np.tile(np.arange(longest), n_paths).astype(np.float64)
  features = np_features((flat_obs - mean) / std, t)
  values = (features @ coeffs).reshape(n_paths, longest)
  kl = np_kl(*np_mean_log_std(trainer.policy, flat_obs),
             *np_mean_log_std(trainer.behavior_policy, flat_obs)).reshape(n_paths, longest)
  advantages = np.zeros((n_paths, longest))
  targets = np.zeros((n_paths, longest))
  for p in range(n_paths):
    running = 0.0
    for k in reversed(range(lengths[p])):  # b = 0 after the last step (truncation is terminal)
      next_value = values[p, k + 1] if k + 1 < lengths[p] else 0.0
      delta = rewards[p, k] - alpha * kl[p, k] + GAMMA * next_value - values[p, k]
      running = delta + GAMMA * LAM * running
      advantages[p, k] = running
      targets[p, k] = running + values[p, k]
  real = np.arange(longest)[None, :] < lengths[:, None]
  if center:
    a = advantages[real]
    advantages = np.where(real, (advantages - a.mean()) / (a.std() + 1e-8), 0.0)
  return (advantages.reshape(-1), targets.reshape(-1), features,
          real.reshape(-1).astype(np.float64))


def np_ridge(features, targets, weights, reg=1e-5):
  x, y = features * weights[:, None], targets * weights
  return np.linalg.solve(x.T @ x + reg * np.eye(x.shape[1]), x.T @ y)


def imagine_and_process(trainer):
  return tf.function(lambda: (lambda p: (p, *trainer.process(p)))(trainer.imagine()))()


# --- tests ------------------------------------------------------------------------------------
@pytest.mark.parametrize('alpha, center', [(0.0, True), (0.5, True), (0.5, False), (3.0, True)])
def test_penalised_rewards_gae_and_centred_advantages_match_numpy(alpha, center):
  trainer = trainer_for(alpha, center)
  paths, batch, fit, _ = imagine_and_process(trainer)
  lengths = paths.lengths.numpy()
  assert lengths.min() < lengths.max() and paths.mask.numpy().size > BATCH  # pad rows exist
  all_adv, want_targets, _, weights = np_process(trainer, paths, alpha, center,
                                                 trainer.baseline.coeffs.numpy())
  got_adv, want_adv = batch['advantages'].numpy(), all_adv[:BATCH]
  assert want_adv.shape == got_adv.shape == (BATCH,) and len(all_adv) > BATCH  # rows were cut
  np.testing.assert_allclose(got_adv, want_adv, rtol=2e-4, atol=2e-4)
  np.testing.assert_allclose(fit['targets'].numpy(), want_targets, rtol=2e-4, atol=2e-4)
  np.testing.assert_array_equal(fit['weights'].numpy(), weights)
  real = weights[:BATCH] > 0
  assert np.all(got_adv[~real] == 0.0)  # pad rows carry no advantage
  if center:  # standardised over all real steps (those cut from the batch included): over the
    # batch's real steps alone the numbers differ beyond the tolerance above
    raw = np_process(trainer, paths, alpha, False, trainer.baseline.coeffs.numpy())[0][:BATCH]
    batch_only = np.where(real, (raw - raw[real].mean()) / (raw[real].std() + 1e-8), 0.0)
    assert np.abs(batch_only - got_adv).max() > 1e-2


def test_the_penalty_is_alpha_times_the_kl_to_the_behaviour_policy():
  """Same paths (same seed, same model), α = 0 vs α = 2: the values are the same, so the λ-return
  targets differ by the GAE of the penalty alone, target(α) − target(0) = Σ_{k≥0} (γλ)^k ·
  (−α·KL(π_θ ‖ π̂_β)(s_{t+k})) along each path (a KL in the other direction, or a penalty
  outside the TD residual, gives other numbers)."""
  plain, penalised = trainer_for(0.0), trainer_for(2.0)
  paths0, _, fit0, _ = imagine_and_process(plain)
  paths2, _, fit2, _ = imagine_and_process(penalised)
  np.testing.assert_array_equal(paths0.obs.numpy(), paths2.obs.numpy())  # the same paths
  obs = paths0.obs.numpy().astype(np.float64)
  n_paths, longest, dim = obs.shape
  kl = np_kl(*np_mean_log_std(plain.policy, obs.reshape(-1, dim)),
             *np_mean_log_std(plain.behavior_policy, obs.reshape(-1, dim))).reshape(n_paths,
                                                                                    longest)
  assert kl[paths0.mask.numpy() > 0].min() > 0.01  # the penalty is felt on every real step
  want = np.zeros_like(kl)
  for p, n in enumerate(paths0.lengths.numpy()):
    running = 0.0
    for k in reversed(range(n)):
      running = -2.0 * kl[p, k] + GAMMA * LAM * running
      want[p, k] = running
  np.testing.assert_allclose(fit2['targets'].numpy() - fit0['targets'].numpy(), want.reshape(-1),
                             rtol=1e-4, atol=1e-3)


def test_baseline_is_fitted_after_the_step_on_the_pre_step_targets():
  trainer = trainer_for(alpha=0.5)
  coeffs_before = trainer.baseline.coeffs.numpy().copy()
  state = trainer.rng.state.numpy().copy()
  paths, _, fit, _ = imagine_and_process(trainer)  # what update() will imagine first
  trainer.rng.reset(state)
  policy_before = [v.numpy() for v in trainer.policy.trainable_variables]
  info = trainer.update()
  assert bool(info['accepted'])
  assert any(np.abs(a - v.numpy()).max() > 0
             for a, v in zip(policy_before, trainer.policy.trainable_variables))

  # The reference fit: the numpy targets of the pre-step policy and pre-fit baseline values.
  _, targets, features, weights = np_process(trainer_with(trainer, policy_before), paths, 0.5,
                                             True, coeffs_before)
  np.testing.assert_allclose(fit['targets'].numpy(), targets, rtol=2e-4, atol=2e-4)
  want = np_ridge(features, targets, weights)
  got = trainer.baseline.coeffs.numpy()
  scale = np.abs(features @ want).max()
  np.testing.assert_allclose(features @ got, features @ want, atol=1e-4 * scale)
  np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())

  # The same fit on the *post-step* targets (π_θ moved, so KL_t and the targets changed) is a
  # different baseline: the check above can tell the two apart.
  _, post_targets, _, _ = np_process(trainer, paths, 0.5, True, coeffs_before)
  assert np.abs(post_targets - targets).max() > 1e-3
  post = np_ridge(features, post_targets, weights)
  assert np.abs(features @ post - features @ got).max() > 100 * np.abs(
      features @ got - features @ want).max()


def trainer_with(trainer, variables):
  """A stand-in with `trainer`'s behaviour policy and a policy holding `variables`."""
  policy = GaussianPolicy(trainer.policy.obs_dim, trainer.policy.act_dim,
                          hidden=trainer.policy.hidden, name='pre_step')
  policy.copy_from(trainer.policy)
  for v, value in zip(policy.trainable_variables, variables):
    v.assign(value)

  class Stand:
    pass
  stand = Stand()
  stand.policy, stand.behavior_policy = policy, trainer.behavior_policy
  return stand


class RunawayDynamics(DriftDynamics):
  """DriftDynamics, except that a state with s[2] > 0.6 (or already run away) has s'[3] pushed
  past the model's output clip: some paths run away to it, others never do."""

  def member_predictor(self):
    drift = super().member_predictor()

    def predict(obs, act, member):
      away = (obs[:, 2:3] > 0.6) | (tf.abs(obs[:, 3:4]) >= OUTPUT_CLIP)
      nxt = drift(obs, act, member)
      return tf.where(away & (tf.range(tf.shape(obs)[1]) == 3)[None], OUTPUT_CLIP, nxt)
    return predict


def test_imagined_return_median_and_clipped_path_fraction_match_numpy():
  """The per-path returns' median (robust to a few runaway paths, unlike the mean) and the
  fraction of paths whose state reached the model's ±OUTPUT_CLIP in one of their real steps."""
  for dynamics, clipped in ((DriftDynamics(), False), (RunawayDynamics(), True)):
    trainer = trainer_for()
    trainer.dynamics = dynamics
    paths, _, _, diagnostics = imagine_and_process(trainer)
    mask = paths.mask.numpy() > 0
    returns = (paths.rewards.numpy() * mask).sum(axis=1)
    reached = ((np.abs(paths.obs.numpy()) >= OUTPUT_CLIP).any(axis=2) & mask).any(axis=1)
    assert reached.any() == clipped and not reached.all()
    np.testing.assert_allclose(diagnostics['imagined_return_median'].numpy(), np.median(returns),
                               rtol=1e-6)
    assert diagnostics['imagined_clipped_path_fraction'].numpy() == pytest.approx(reached.mean())


def test_median_and_clipped_path_fraction_on_hand_examples():
  assert median(tf.constant([3.0, 1.0, 2.0])).numpy() == 2.0
  assert median(tf.constant([4.0, 1.0, 3.0, 2.0])).numpy() == 2.5
  obs = np.zeros((3, 2, 2), np.float32)
  obs[0, 1, 0] = -OUTPUT_CLIP  # path 0 reaches the clip on a real step
  obs[1, 1, 1] = OUTPUT_CLIP  # path 1 only on a pad row, which does not count
  mask = np.array([[1, 1], [1, 0], [1, 1]], np.float32)
  assert clipped_path_fraction(tf.constant(obs), tf.constant(mask)).numpy() == pytest.approx(1 / 3)


class OneMemberRunsAway(DriftDynamics):
  """Member 1 pushes s'[3] to the output clip once s[2] > 0.6 (and keeps it there); member 0 never."""

  def member_predictor(self):
    drift = super().member_predictor()

    def predict(obs, act, member):
      away = ((obs[:, 2:3] > 0.6) | (tf.abs(obs[:, 3:4]) >= OUTPUT_CLIP)) & (member == 1)
      return tf.where(away & (tf.range(tf.shape(obs)[1]) == 3)[None], OUTPUT_CLIP,
                      drift(obs, act, member))
    return predict


def test_the_probe_finds_the_member_that_runs_away():
  trainer = trainer_for()
  trainer.dynamics = dynamics = OneMemberRunsAway()
  policy = trainer.policy
  rows = probe(trainer, {'π': policy, 'π̂_β': trainer.behavior_policy}, batches=2)
  assert [(r['policy'], r['member']) for r in rows] == [
      (p, m) for p in ('π', 'π̂_β') for m in ('random', 0, 1)]
  by = {(r['policy'], r['member']): r for r in rows}
  for name in ('π', 'π̂_β'):
    assert by[name, 0]['clipped_path_fraction'] == 0.0  # the stable member alone
    assert by[name, 1]['clipped_path_fraction'] > 0.2  # the runaway member alone
    assert 0.0 < by[name, 'random']['clipped_path_fraction'] < by[name, 1]['clipped_path_fraction']
    assert by[name, 1]['median_return'] != by[name, 0]['median_return']
    assert all(r['paths'] > 0 for r in rows)
  assert trainer.dynamics is dynamics and trainer.policy is policy  # left as it was
