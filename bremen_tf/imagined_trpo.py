"""TRPO on imagined rollouts: BREMEN's policy update (reference/bremen.md §6).

One `update()` call is one TRPO iteration, entirely inside one tf.function:
  imagine  P paths side by side through the ensemble until >= batch_size completed steps
  process  GAE on every completed path (r − α·KL(π‖π_β) rewards, linear baseline values),
           advantages centred over the real steps, then the original's batch: zero-pad paths to
           the longest, flatten, keep the first batch_size rows (pad rows included)
  step     conjugate gradient on the Fisher of mean KL(old ‖ new) over those rows, scaled to
           `target_kl`, backtracking line search
  baseline ridge fit on every completed path, *after* the step, with the pre-step targets
"""
import gin
import numpy as np
import tensorflow as tf

from bremen_tf import imagination, trpo
from bremen_tf.advantages import gae
from bremen_tf.data_box import DataBox
from bremen_tf.dynamics import OUTPUT_CLIP
from bremen_tf.policies import gaussian_kl, gaussian_log_prob
from bremen_tf.policy_fisher import PolicyFisher
from bremen_tf.row_blocks import RowBlocks

# Three ways to multiply by the same Fisher matrix (speed only; tests hold them equal):
#   'cached'          one forward pass per step serves the gradient and every product (default)
#   'gauss_newton'    JᵀMJ by forward-mode + backward through a fresh forward pass per product
#   'double_backprop' the Hessian of the KL by double backprop, the original's way
FISHER_PRODUCTS = ('cached', 'gauss_newton', 'double_backprop')
from bremen_tf.value import LinearFeatureBaseline


def median(x):
  """The median of a 1-D tensor (the mean of the two middle values for an even length)."""
  ordered = tf.sort(x)
  n = tf.shape(x)[0]
  return 0.5 * (ordered[(n - 1) // 2] + ordered[n // 2])


def clipped_path_fraction(obs, mask):
  """The fraction of paths [P, L, obs_dim] in which the model's prediction reached its output
  clip (dynamics.OUTPUT_CLIP, as the original): paths that ran away in the model. A few such
  paths, with rewards of order the clip per step, dominate the mean imagined return."""
  at_clip = tf.reduce_any(tf.abs(obs) >= OUTPUT_CLIP, axis=2) & (mask > 0)
  return tf.reduce_mean(tf.cast(tf.reduce_any(at_clip, axis=1), tf.float32))


@gin.configurable(denylist=['policy', 'behavior_policy', 'dynamics', 'reward_fn', 'done_fn',
                            'start_obs', 'seed', 'horizon'])
class ImaginedTRPO(tf.Module):

  def __init__(self, policy, behavior_policy, dynamics, reward_fn, done_fn, start_obs, horizon,
               seed=0, batch_size=50_000, max_parallel=1000, gamma=0.99, gae_lambda=0.95,
               target_kl=0.01, alpha=0.0, damping=0.1, cg_iters=10, cg_tolerance=1e-10,
               backtracks=10, accept_ratio=0.1, center_advantages=True,
               fisher_product='cached', fisher_subsample=1.0, block_rows=1000,
               data_box_margin=None):
    super().__init__(name='imagined_trpo')
    if alpha and behavior_policy is None:
      raise ValueError('alpha > 0 penalises KL to the behaviour policy, so it needs one.')
    # behavior_policy (π̂_β) may be None when nothing needs it (ME-TRPO with alpha = 0).
    self.policy, self.behavior_policy, self.dynamics = policy, behavior_policy, dynamics
    self.reward_fn, self.done_fn = reward_fn, done_fn
    self.start_obs = tf.constant(np.asarray(start_obs, np.float32))
    self.horizon, self.batch_size = int(horizon), int(batch_size)
    # The original's sampler: batch_size / H parallel paths, between 1 and 1000.
    self.n_parallel = max(1, min(int(max_parallel), self.batch_size // self.horizon))
    self.gamma, self.gae_lambda = float(gamma), float(gae_lambda)
    self.target_kl, self.alpha = float(target_kl), float(alpha)
    self.step_kwargs = dict(damping=damping, cg_iters=cg_iters, cg_tolerance=cg_tolerance,
                            backtracks=backtracks, accept_ratio=accept_ratio)
    self.center_advantages = center_advantages
    if fisher_product not in FISHER_PRODUCTS:
      raise ValueError(f'fisher_product must be one of {FISHER_PRODUCTS}, got '
                       f'{fisher_product!r}.')
    self.fisher_product = fisher_product
    # The batch's forward passes (line search, KL, diagnostics) and the 'cached' products run
    # over blocks of this many rows, one after another, so that a CPU core keeps each block in
    # cache (row_blocks.py); None: the whole batch at once (for a GPU or many threads, and the
    # implementation before blocks).
    self.block_rows = block_rows
    if not 0.0 < fisher_subsample <= 1.0:
      raise ValueError(f'fisher_subsample must be in (0, 1], got {fisher_subsample}.')
    # rllab's subsample_factor: the Fisher products (not the gradient, the step size's KL or
    # the line search) use a random fraction of the batch rows. 1.0 is the original.
    self.fisher_rows = max(1, int(round(fisher_subsample * self.batch_size)))
    # None: paths end at the horizon or the env's termination only (the original); a margin m:
    # also at the first predicted state outside the data's box widened by m (data_box.py; a
    # deviation against runaway paths). The recipes call set_data_box with the model's data.
    self.data_box = None if data_box_margin is None else DataBox(policy.obs_dim, data_box_margin)
    self.baseline = LinearFeatureBaseline(policy.obs_dim)
    self.rng = tf.random.Generator.from_seed(seed)
    # autograph=False: the update's control flow is TF's own (tf.while_loop, tf.cond), so
    # converting its Python source changes nothing in the graph (tests/test_imagination.py) and
    # cost half of the first call (tracing 10.2 -> 5.0 s in a smoke run). Tracing it also no
    # longer reads the source files, so an edit under a running run cannot change this graph.
    self.update = tf.function(self._update, autograph=False)

  # --- the three phases (separate so bench/ can time them) ------------------------------------
  def set_data_box(self, *observations):
    """The box of the model's data ([N, obs_dim] arrays) for `data_box_margin`; a no-op
    without the guard. Call it before the first update and whenever the data change."""
    if self.data_box is not None:
      self.data_box.set_from(*observations)

  def imagined_done(self, next_obs):
    """The env's termination, or (with the guard) a state outside the data's box."""
    if self.data_box is None:
      return self.done_fn(next_obs)
    return tf.logical_or(self.done_fn(next_obs), self.data_box.outside(next_obs))

  def imagine(self):
    if self.data_box is not None and not self.data_box.is_set:
      raise ValueError('ImaginedTRPO.data_box_margin is set but the data box is not: call '
                       'set_data_box(observations) with the model\'s data before update().')
    records = imagination.rollout(self.policy, self.dynamics, self.reward_fn, self.imagined_done,
                                  self.start_obs, self.rng, self.n_parallel, self.horizon,
                                  self.batch_size)
    return imagination.assemble_paths(records)

  def process(self, paths):
    """Advantages and the TRPO batch. Returns (batch dict, baseline-fit dict, diagnostics)."""
    mask = paths.mask
    obs_flat = imagination.flatten_paths(paths.obs)
    norm_obs = self.policy.normalizer(obs_flat)
    values = tf.reshape(self.baseline.predict(norm_obs, imagination.flatten_paths(paths.timesteps)),
                        tf.shape(mask)) * mask
    rewards = paths.rewards
    if self.alpha:  # explicit KL value penalty, KL(π_θ ‖ π̂_β) at s_t
      mean, log_std = self.policy.mean_log_std(obs_flat)
      bmean, blog_std = self.behavior_policy.mean_log_std(obs_flat)
      kl_bc = tf.reshape(gaussian_kl(mean, log_std, bmean, blog_std), tf.shape(mask))
      rewards = rewards - self.alpha * kl_bc * mask
    advantages, targets = gae(rewards, values, mask, self.gamma, self.gae_lambda)
    if self.center_advantages:
      n = tf.reduce_sum(mask)
      mean = tf.reduce_sum(advantages * mask) / n
      std = tf.sqrt(tf.reduce_sum(tf.square((advantages - mean) * mask)) / n)
      advantages = (advantages - mean) / (std + 1e-8) * mask  # pad rows stay 0
    n = self.batch_size
    batch = {'obs': imagination.first_rows(paths.obs, n),
             'actions': imagination.first_rows(paths.actions, n),
             'advantages': imagination.first_rows(advantages, n)}
    fit = {'norm_obs': norm_obs, 'timesteps': imagination.flatten_paths(paths.timesteps),
           'targets': imagination.flatten_paths(targets), 'weights': imagination.flatten_paths(mask)}
    returns = tf.reduce_sum(paths.rewards * mask, axis=1)
    diagnostics = {'imagined_return_mean': tf.reduce_mean(returns),
                   'imagined_return_std': tf.math.reduce_std(returns),
                   'imagined_return_median': median(returns),
                   'imagined_clipped_path_fraction': clipped_path_fraction(paths.obs, mask),
                   'imagined_paths': tf.shape(mask)[0],
                   'imagined_path_length': tf.reduce_mean(tf.cast(paths.lengths, tf.float32)),
                   'imagined_steps': tf.reduce_sum(paths.lengths),
                   'batch_real_rows': tf.reduce_sum(imagination.first_rows(mask, n))}
    return batch, fit, diagnostics

  def step_functions(self, batch):
    """(surrogate, kl, undamped Fisher-vector product, variables, loss_and_gradient) for the
    TRPO step; loss_and_gradient is None unless the forward pass computed it already."""
    obs, actions, adv = batch['obs'], batch['actions'], batch['advantages']
    n = float(self.batch_size)
    variables = self.policy.trainable_variables

    def surrogate_of(mean, log_std):
      return -tf.reduce_mean(tf.exp(gaussian_log_prob(mean, log_std, actions) - old_log_prob) * adv)

    if self.fisher_product == 'cached':
      # One forward pass: θ_old's distribution, the surrogate's value and gradient (backprop
      # from the output layer through the stored activations), and every Fisher product.
      cached = PolicyFisher(self.policy, obs, n, self.block_rows)
      old_mean, old_log_std = tf.stop_gradient(cached.mean), tf.stop_gradient(cached.log_std)
      old_log_prob = gaussian_log_prob(old_mean, old_log_std, actions)
      z = tf.stop_gradient(cached.z)
      with tf.GradientTape() as tape:
        tape.watch(z)
        loss_before = surrogate_of(*self.policy.heads(z))
      loss_and_gradient = loss_before, cached.vjp(tape.gradient(loss_before, z))
    else:
      old_mean, old_log_std = (tf.stop_gradient(t) for t in self.policy.mean_log_std(obs))
      old_log_prob = gaussian_log_prob(old_mean, old_log_std, actions)
      loss_and_gradient = None

    if self.block_rows is None:
      def surrogate():
        return surrogate_of(*self.policy.mean_log_std(obs))

      def kl():  # sum over rows / batch_size, pad rows included, as the original
        mean, log_std = self.policy.mean_log_std(obs)
        return tf.reduce_sum(gaussian_kl(old_mean, old_log_std, mean, log_std)) / n
    else:  # the same sums, block by block
      blocks = RowBlocks(tf.shape(obs)[0], self.block_rows)

      def surrogate():
        def ratio_times_advantage(o, a, d, log_prob_old):
          log_prob = gaussian_log_prob(*self.policy.mean_log_std(o), a)
          return [tf.exp(log_prob - log_prob_old) * d]
        return -blocks.sums(ratio_times_advantage, [obs, actions, adv, old_log_prob], 1)[0] / n

      def kl():
        return blocks.sums(lambda o, m0, s0: [gaussian_kl(m0, s0, *self.policy.mean_log_std(o))],
                           [obs, old_mean, old_log_std], 1)[0] / n

    fisher_obs = obs
    if self.fisher_rows < self.batch_size:
      rows = tf.argsort(self.rng.uniform([self.batch_size]))[:self.fisher_rows]
      fisher_obs = tf.gather(obs, rows)
    m = float(self.fisher_rows)
    if self.fisher_product == 'cached':
      if self.fisher_rows < self.batch_size:
        cached = PolicyFisher(self.policy, fisher_obs, m, self.block_rows)
      fvp = cached.product
    elif self.fisher_product == 'gauss_newton':
      fvp = lambda v: trpo.gaussian_fisher_vector_product(
          lambda: self.policy.mean_log_std(fisher_obs), variables, v, m)
    else:
      fisher_mean, fisher_log_std = self.policy.mean_log_std(fisher_obs)
      fisher_mean, fisher_log_std = tf.stop_gradient(fisher_mean), tf.stop_gradient(fisher_log_std)

      def fisher_kl():
        mean, log_std = self.policy.mean_log_std(fisher_obs)
        return tf.reduce_sum(gaussian_kl(fisher_mean, fisher_log_std, mean, log_std)) / m
      fvp = lambda v: trpo.fisher_vector_product(fisher_kl, variables, v)
    return surrogate, kl, fvp, variables, loss_and_gradient

  def policy_step(self, batch):
    surrogate, kl, fvp, variables, loss_and_gradient = self.step_functions(batch)
    info = trpo.trpo_step(surrogate, kl, variables, self.target_kl, fvp_fn=fvp,
                          loss_and_gradient=loss_and_gradient, **self.step_kwargs)
    info.update(self.diagnostics(batch['obs']))
    return info

  def diagnostics(self, obs):
    """Mean log σ of π_θ, and mean KL(π_θ ‖ π̂_β) (nan without π̂_β), over the batch rows."""
    with_behavior = self.behavior_policy is not None

    def row_values(o):
      mean, log_std = self.policy.mean_log_std(o)
      values = [tf.reduce_mean(log_std, axis=-1)]
      if with_behavior:
        values.append(gaussian_kl(mean, log_std, *self.behavior_policy.mean_log_std(o)))
      return values
    if self.block_rows is None:
      means = [tf.reduce_mean(v) for v in row_values(obs)]
    else:
      rows = tf.shape(obs)[0]
      sums = RowBlocks(rows, self.block_rows).sums(row_values, [obs], 1 + with_behavior)
      means = [s / tf.cast(rows, tf.float32) for s in sums]
    return {'policy_log_std_mean': means[0],
            'kl_to_behavior': means[1] if with_behavior else tf.constant(np.nan)}

  def fit_baseline(self, fit):
    self.baseline.fit(fit['norm_obs'], fit['timesteps'], fit['targets'], fit['weights'])

  def _update(self):
    paths = self.imagine()
    batch, fit, diagnostics = self.process(paths)
    info = self.policy_step(batch)
    self.fit_baseline(fit)
    return {**diagnostics, **info}

