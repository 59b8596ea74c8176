"""The dynamics ensemble as BREMEN's code trained it (reference/bremen.md §2-§3).

K deterministic MLPs [norm s, norm a] -> 2×1024 ReLU -> normalised Δ = s' − s, held as one
batched network ([K, in, out] weights). Training matches the original's sequential loop member
by member: the same data, a member-specific shuffle from one RandomState(1) stream, Adam 1e-3 with
its own state per member, validation every 5 epochs, and a member stops once 20 epochs pass
without a better validation MSE, keeping its *last* weights. A later `fit` (the next deployment)
warm-starts weights and Adam moments and recomputes the normalisation on all training data.
A fit can be checkpointed as it goes and resumed exactly (`fit`'s checkpoint_fn and resume).
"""
import time

import gin
import numpy as np
import tensorflow as tf

from bremen_tf import runs
from bremen_tf.networks import EnsembleMLP
from bremen_tf.optim import EnsembleAdam

OUTPUT_CLIP = 1e5
FIT_MATMUL_DTYPES = ('float32', 'bfloat16')


@gin.configurable(denylist=['obs_dim', 'act_dim', 'seed'])
class DynamicsEnsemble(tf.Module):

  def __init__(self, obs_dim, act_dim, seed=0, n_models=5, hidden=(1024, 1024),
               learning_rate=1e-3, batch_size=1000, max_epochs=200, eval_every=5, patience=20,
               checkpoint_seconds=300, reference_training=False, fit_matmul_dtype='float32'):
    super().__init__(name='dynamics')
    if fit_matmul_dtype not in FIT_MATMUL_DTYPES:
      raise ValueError(f'DynamicsEnsemble.fit_matmul_dtype must be one of {FIT_MATMUL_DTYPES}, '
                       f'got {fit_matmul_dtype!r}.')
    if fit_matmul_dtype != 'float32' and reference_training:
      raise ValueError('DynamicsEnsemble.fit_matmul_dtype = {!r} needs reference_training=False '
                       '(the reference step is float32 only).'.format(fit_matmul_dtype))
    self.obs_dim, self.act_dim, self.n_models = obs_dim, act_dim, n_models
    self.net_sizes = tuple(hidden)
    self.fit_defaults = dict(batch_size=batch_size, max_epochs=max_epochs,
                             eval_every=eval_every, patience=patience)
    # Not a fit default: those key the dynamics cache, and this leaves the fit's result alone.
    self.checkpoint_seconds = checkpoint_seconds
    # Speed only (the same training step to float32 round-off): per-member matmuls, stopped
    # members not computed, Adam compiled by XLA; or, with reference_training=True, the step as
    # first written (one batched matmul per layer for all members, Adam in plain TF ops).
    self.reference_training = reference_training
    # A deviation, off by default: the fit's training steps multiply in bfloat16 (weights, Adam,
    # the loss, validation and every prediction stay float32). On CPUs with AMX or AVX-512 BF16
    # a real fit's epochs ran 1.8x faster (results/bf16*.md); the original fitted in float32.
    self.fit_matmul_dtype = fit_matmul_dtype
    self.net = EnsembleMLP(n_models, obs_dim + act_dim, hidden, obs_dim, seed=seed,
                           batched=reference_training)
    self.optimizer = EnsembleAdam(self.net.trainable_variables, n_models, learning_rate)
    zeros, ones = (lambda d: tf.Variable(tf.zeros([d]), trainable=False),
                   lambda d: tf.Variable(tf.ones([d]), trainable=False))
    self.obs_mean, self.obs_std = zeros(obs_dim), ones(obs_dim)
    self.act_mean, self.act_std = zeros(act_dim), ones(act_dim)
    self.delta_mean, self.delta_std = zeros(obs_dim), ones(obs_dim)

  # --- normalisation ------------------------------------------------------------------------
  def set_normalization(self, obs, act, next_obs):
    """Mean and population std of s, a and Δ on the training split."""
    for (mean, std), x in (((self.obs_mean, self.obs_std), obs),
                           ((self.act_mean, self.act_std), act),
                           ((self.delta_mean, self.delta_std), next_obs - obs)):
      mean.assign(np.mean(x, axis=0))
      std.assign(np.std(x, axis=0))

  def _inputs(self, obs, act):
    return tf.concat([(obs - self.obs_mean) / (self.obs_std + 1e-10),
                      (act - self.act_mean) / (self.act_std + 1e-10)], axis=-1)

  def _targets(self, obs, next_obs):
    return (next_obs - obs - self.delta_mean) / (self.delta_std + 1e-10)

  def _denormalize(self, obs, delta_norm):
    next_obs = obs + delta_norm * self.delta_std + self.delta_mean
    return tf.clip_by_value(next_obs, -OUTPUT_CLIP, OUTPUT_CLIP)

  # --- prediction -----------------------------------------------------------------------------
  def predict_all(self, obs, act):
    """Every member's next state: [K, B, obs_dim]."""
    return self._denormalize(obs, self.net(self._inputs(obs, act)))

  def member_predictor(self):
    """predict(obs, act, member): one member's next state for the whole batch (BREMEN draws
    one member per imagined step).

    The member weights are unstacked once, here, so call this outside a step loop and the
    returned function inside it: `tf.switch_case` then picks a member without copying weights.
    Indexing the [K, in, out] variables per step (tf.gather, or w[member]) copies a 4 MB
    kernel each step: a loop of [50, 1024] x [1024, 1024] matmuls ran 1.5-4x slower that way.
    """
    members = self.net.members()

    def predict(obs, act, member):
      x = self._inputs(obs, act)
      branches = [lambda layers=layers: self.net.member_forward(x, layers) for layers in members]
      member = tf.convert_to_tensor(member, tf.int32)
      return self._denormalize(obs, tf.switch_case(member, branches))
    return predict

  def predict(self, obs, act, member):
    """One member's next state for the whole batch (see member_predictor for loops)."""
    return self.member_predictor()(obs, act, member)

  # --- training -------------------------------------------------------------------------------
  def _losses(self, x, y, n_train):
    """Per-member MSE on normalised Δ, plus (1/N)·½Σ‖W‖² over the hidden kernels."""
    mse = tf.reduce_mean(tf.square(self.net(x) - y), axis=[1, 2])
    decay = tf.add_n([0.5 * tf.reduce_sum(tf.square(w), axis=[1, 2])
                      for w in self.net.kernels[:-1]])
    return mse, mse + decay / n_train

  def _active_loss(self, x, y, active, n_train):
    """Σ of _losses' total over the members that are on, each member's network run only if it is
    on (tf.cond): an early-stopped member costs nothing, as in the original, which trained the
    members one after another. Members are independent, so each gets its own gradient."""
    members = self.net.members()
    xs, ys = tf.unstack(x, self.n_models), tf.unstack(y, self.n_models)
    total = tf.constant(0.0)
    for k, layers in enumerate(members):
      def member_loss(k=k, layers=layers):
        out = self.net.member_forward(xs[k], layers, tf.as_dtype(self.fit_matmul_dtype))
        mse = tf.reduce_mean(tf.square(out - ys[k]))
        decay = tf.add_n([0.5 * tf.reduce_sum(tf.square(w)) for w, _ in layers[:-1]])
        return mse + decay / n_train
      total += tf.cond(active[k], member_loss, lambda: tf.constant(0.0))
    return total

  def _train_step(self, x, y, idx, active, n_train):
    """One Adam step of every member that is on, on its rows `idx` [K, B] of x, y."""
    with tf.GradientTape() as tape:
      if self.reference_training:  # every member computed, the stopped ones masked in Adam
        total = tf.reduce_sum(self._losses(tf.gather(x, idx), tf.gather(y, idx), n_train)[1])
      else:
        total = self._active_loss(tf.gather(x, idx), tf.gather(y, idx), active, n_train)
    grads = tape.gradient(total, self.net.trainable_variables)
    if self.reference_training:
      self.optimizer.apply(grads, active)
    else:
      self.optimizer.apply_fused(grads, active)

  # autograph=False here and below: the loop is an explicit tf.while_loop, so tracing (once per
  # data size, i.e. every deployment) neither converts nor reads the source files.
  @tf.function(autograph=False)
  def _train_epoch(self, x, y, batch_index, active, n_train):
    """One epoch; batch_index [n_batches, K, B] holds each member's own shuffle."""
    def step(i):
      self._train_step(x, y, batch_index[i], active, n_train)
      return [i + 1]
    tf.while_loop(lambda i: i < tf.shape(batch_index)[0], step, [tf.constant(0)])

  @tf.function(autograph=False)
  def _validation_mse(self, x, y):
    return tf.reduce_mean(tf.square(self.net(x) - y), axis=[1, 2])

  def fit(self, train, validation, batch_size=None, max_epochs=None, eval_every=None,
          patience=None, shuffle_seed=1, log=None, checkpoint_fn=None, checkpoint_seconds=None,
          resume=None):
    """Trains on `train` = (s, a, s') with early stopping on `validation`; returns a summary.
    Arguments left None take the constructor's (gin-configurable) values.

    Resumable: after an epoch that ends `checkpoint_seconds` or more after the fit started or
    last checkpointed, calls checkpoint_fn(progress), a JSON-able dict of the loop's state (epoch,
    shuffle RandomState, early-stopping arrays). The caller saves it together with this module's
    variables (weights, Adam state, normalisation). fit(..., resume=progress) on the module
    restored from that save goes on from there and ends bit-identical to an uninterrupted fit.
    """
    given = dict(batch_size=batch_size, max_epochs=max_epochs, eval_every=eval_every,
                 patience=patience)
    batch_size, max_epochs, eval_every, patience = (
        self.fit_defaults[k] if v is None else v for k, v in given.items())
    if checkpoint_seconds is None:
      checkpoint_seconds = self.checkpoint_seconds
    obs, act, next_obs = (np.asarray(a, np.float32) for a in train)
    self.set_normalization(obs, act, next_obs)  # the same values a resumed fit was saved with
    x = self._inputs(obs, act)
    y = self._targets(obs, next_obs)
    vx = self._inputs(*(np.asarray(a, np.float32) for a in validation[:2]))
    vy = self._targets(np.asarray(validation[0], np.float32),
                       np.asarray(validation[2], np.float32))
    n = len(obs)
    n_batches = n // batch_size
    if n_batches == 0:
      raise ValueError(f'{n} training transitions is fewer than one batch of {batch_size}.')
    settings = dict(n_train=n, n_validation=len(vx), batch_size=batch_size,
                    max_epochs=max_epochs, eval_every=eval_every, patience=patience,
                    shuffle_seed=shuffle_seed)
    if self.fit_matmul_dtype != 'float32':  # only then: checkpoints of float32 fits still resume
      settings['fit_matmul_dtype'] = self.fit_matmul_dtype
    rng = np.random.RandomState(shuffle_seed)
    active = np.ones(self.n_models, bool)
    best = np.full(self.n_models, np.inf)
    best_epoch = np.zeros(self.n_models, int)
    stop_epoch = np.full(self.n_models, max_epochs)
    start = 0
    if resume is not None:
      if resume['settings'] != settings:
        raise ValueError(f'Cannot resume a fit with {resume["settings"]} as one with {settings}.')
      start = resume['epoch']
      rng.set_state(decode_rng_state(resume['rng']))
      active = np.array(resume['active'], bool)
      best = np.array(resume['best'], float)
      best_epoch = np.array(resume['best_epoch'], int)
      stop_epoch = np.array(resume['stop_epoch'], int)
      if log:
        log(f'resuming the dynamics fit at epoch {start}')
    t_start = last_checkpoint = time.time()
    for epoch in range(start, max_epochs):
      if epoch % eval_every == 0:
        val = self._validation_mse(vx, vy).numpy()
        improved = active & (val < best)
        best[improved], best_epoch[improved] = val[improved], epoch
        stopping = active & (epoch - best_epoch >= patience)
        stop_epoch[stopping] = epoch
        active &= ~stopping
        if log:
          log(f'dynamics epoch {epoch}/{max_epochs}: validation MSE '
              f'{np.array2string(val, precision=4)}, {active.sum()}/{self.n_models} members '
              f'training{eta(epoch - start, time.time() - t_start, epoch, max_epochs)}')
        if not active.any():
          break
      perms = np.stack([rng.permutation(n)[:n_batches * batch_size]
                        for _ in range(self.n_models)])
      batch_index = perms.reshape(self.n_models, n_batches, batch_size).transpose(1, 0, 2)
      self._train_epoch(x, y, tf.constant(batch_index, tf.int32), tf.constant(active),
                        tf.constant(float(n)))
      if (checkpoint_fn and epoch + 1 < max_epochs
          and time.time() - last_checkpoint >= checkpoint_seconds):
        checkpoint_fn({'epoch': epoch + 1, 'settings': settings,
                       'rng': encode_rng_state(rng.get_state()), 'active': active.tolist(),
                       'best': best.tolist(), 'best_epoch': best_epoch.tolist(),
                       'stop_epoch': stop_epoch.tolist()})
        last_checkpoint = time.time()
    final = self._validation_mse(vx, vy).numpy()
    return {'stop_epoch': stop_epoch.tolist(), 'best_validation_mse': best.tolist(),
            'final_validation_mse': final.tolist()}


def eta(done, seconds, epoch, max_epochs):
  """' | 1.23 s/epoch, ETA ...' from `done` epochs timed in `seconds` ('' before the first)."""
  if done == 0:
    return ''
  per_epoch = seconds / done
  left = runs.format_duration(per_epoch * (max_epochs - epoch))
  return (f' | {per_epoch:.3g} s/epoch, ETA {left} to epoch {max_epochs} (early stopping may '
          'end the fit sooner)')


def encode_rng_state(state):
  """RandomState.get_state() as JSON values, exactly (the 624 key words as one hex string)."""
  name, keys, pos, has_gauss, cached_gaussian = state
  return [name, keys.astype('<u4').tobytes().hex(), int(pos), int(has_gauss),
          float(cached_gaussian)]


def decode_rng_state(encoded):
  name, keys, pos, has_gauss, cached_gaussian = encoded
  return name, np.frombuffer(bytes.fromhex(keys), '<u4').astype(np.uint32), pos, has_gauss, \
      cached_gaussian
