"""The dynamics ensemble: normalisation, one-member prediction, fitting, early stopping."""
import numpy as np
import pytest
import tensorflow as tf

from bremen_tf.dynamics import DynamicsEnsemble
from bremen_tf.optim import Adam, EnsembleAdam


def linear_system(n, rng):
  a_mat = np.array([[0.9, 0.1, 0.0], [0.0, 0.95, 0.2], [0.1, 0.0, 0.8]], np.float32)
  b_mat = np.array([[0.5, 0.0], [0.0, 0.3], [0.2, 0.2]], np.float32)
  s = rng.standard_normal((n, 3)).astype(np.float32) * [1.0, 5.0, 0.2]
  a = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
  return s, a, (s @ a_mat.T + a @ b_mat.T).astype(np.float32)


def test_prediction_denormalises_and_one_member_equals_the_batched_output(rng):
  s, a, s2 = linear_system(500, rng)
  model = DynamicsEnsemble(3, 2, n_models=3, hidden=(16, 16))
  model.set_normalization(s, a, s2)
  np.testing.assert_allclose(model.delta_std.numpy(), np.std(s2 - s, axis=0), rtol=1e-5)
  all_members = model.predict_all(s[:7], a[:7]).numpy()
  for k in range(3):
    np.testing.assert_allclose(model.predict(s[:7], a[:7], k), all_members[k], rtol=1e-5,
                               atol=1e-5)
  model.net.kernels[-1].assign(tf.zeros_like(model.net.kernels[-1]))  # Δ̂_norm = 0
  np.testing.assert_allclose(model.predict(s[:7], a[:7], 0), s[:7] + np.mean(s2 - s, axis=0),
                             rtol=1e-5, atol=1e-5)


def test_fit_learns_a_linear_system(rng):
  s, a, s2 = linear_system(6000, rng)
  model = DynamicsEnsemble(3, 2, n_models=2, hidden=(64, 64))
  split = 5000
  summary = model.fit((s[:split], a[:split], s2[:split]), (s[split:], a[split:], s2[split:]),
                      batch_size=250, max_epochs=30)
  assert max(summary['final_validation_mse']) < 0.01  # normalised units; the start is ~1
  err = model.predict_all(s[split:], a[split:]).numpy() - s2[split:]
  assert np.sqrt(np.mean(err ** 2)) < 0.1 * np.std(s2[split:])


def test_members_stop_when_validation_stops_improving(rng):
  s, a, s2 = linear_system(2000, rng)
  mirrored = (2 * s - s2).astype(np.float32)  # Δ negated: learning the data makes it worse
  model = DynamicsEnsemble(3, 2, n_models=2, hidden=(16, 16))
  summary = model.fit((s[:1000], a[:1000], s2[:1000]), (s[1000:], a[1000:], mirrored[1000:]),
                      batch_size=100, max_epochs=200, eval_every=5, patience=20)
  # Best validation at epoch 0, so both stop at the first check 20 epochs later.
  assert summary['stop_epoch'] == [20, 20]


def test_ensemble_adam_equals_separate_adams_and_freezes_inactive_members():
  rng = np.random.default_rng(0)
  w0 = rng.standard_normal((2, 3)).astype(np.float32)
  grads = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(4)]
  ens = tf.Variable(w0)
  ens_opt = EnsembleAdam([ens], 2, learning_rate=0.1)
  single = tf.Variable(w0[0])
  single_opt = Adam([single], learning_rate=0.1, epsilon=1e-8)
  for g in grads:
    ens_opt.apply([tf.constant(g)], tf.constant([True, False]))
    single_opt.apply([tf.constant(g[0])])
  np.testing.assert_allclose(ens.numpy()[0], single.numpy(), rtol=1e-6)
  np.testing.assert_array_equal(ens.numpy()[1], w0[1])
  np.testing.assert_array_equal(ens_opt.m[0].numpy()[1], 0.0)


def test_weight_decay_covers_hidden_kernels_only():
  model = DynamicsEnsemble(3, 2, n_models=2, hidden=(4, 4))
  x = tf.zeros([2, 5, 5])
  y = tf.zeros([2, 5, 3])
  mse, loss = model._losses(x, y, 10.0)
  hidden_sq = sum(np.sum(w.numpy() ** 2, axis=(1, 2)) for w in model.net.kernels[:2])
  np.testing.assert_allclose(loss - mse, 0.5 * hidden_sq / 10.0, rtol=1e-5)


def test_fused_ensemble_adam_equals_the_plain_ops_and_leaves_off_members_bit_exact():
  """apply_fused (XLA) is apply to float32 round-off, step after step, with members switching
  off; an off member's weights and moments are not touched at all."""
  rng = np.random.default_rng(3)
  shapes = [(5, 23, 64), (5, 64, 17), (5, 1, 17)]
  start = [rng.standard_normal(s).astype(np.float32) for s in shapes]
  plain_vars = [tf.Variable(w) for w in start]
  fused_vars = [tf.Variable(w) for w in start]
  plain, fused = EnsembleAdam(plain_vars, 5, 1e-3), EnsembleAdam(fused_vars, 5, 1e-3)
  some_off = [True, False, True, True, False]
  for mask in [[True] * 5] * 3 + [some_off] * 3:
    grads = [tf.constant(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    before = [w.numpy() for w in fused_vars + fused.m + fused.v]
    plain.apply(grads, tf.constant(mask))
    fused.apply_fused(grads, tf.constant(mask))
    for a, b in zip(plain_vars + plain.m + plain.v, fused_vars + fused.m + fused.v):
      np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=2e-6, atol=1e-7)
    for k in range(5):
      for old, new in zip(before, fused_vars + fused.m + fused.v):
        if mask[k]:
          assert not np.array_equal(new.numpy()[k], old[k])
        else:
          np.testing.assert_array_equal(new.numpy()[k], old[k])
  np.testing.assert_array_equal(fused.steps.numpy(), [6, 3, 6, 6, 3])
  np.testing.assert_array_equal(plain.steps.numpy(), fused.steps.numpy())


def test_per_member_matmuls_equal_the_batched_network_and_its_gradients():
  """EnsembleMLP's default (a 2-D matmul per member) is batched_call (the implementation before)
  to float32 round-off at the real HalfCheetah layer sizes: outputs, and the training loss's
  gradients for every variable; both input ranks. Rows where a hidden pre-activation lies within
  1e-4 of zero are left out: there round-off may flip a ReLU in either implementation (one flip
  moves a bias gradient by ~1% of its scale), which is round-off, not a difference of the maths."""
  model = DynamicsEnsemble(17, 6)
  net = model.net
  rng = np.random.default_rng(4)
  x = rng.standard_normal((5, 1000, 23))
  pre, h = [], x
  for w, b in zip(net.kernels[:-1], net.biases[:-1]):  # float64 pre-activations
    a = h @ w.numpy().astype(np.float64) + b.numpy()
    pre.append(np.abs(a).min(axis=-1))
    h = np.maximum(a, 0)
  clear = np.minimum(*pre) > 1e-4
  keep = [np.flatnonzero(clear[k])[:200] for k in range(5)]
  assert min(len(k) for k in keep) == 200
  x = tf.constant(np.stack([x[k, rows] for k, rows in enumerate(keep)]).astype(np.float32))
  y = tf.constant(rng.standard_normal((5, 200, 17)).astype(np.float32))
  for inputs in (x, x[0]):
    np.testing.assert_allclose(net(inputs).numpy(), net.batched_call(inputs).numpy(),
                               rtol=1e-5, atol=1e-5)
  grads = {}
  for name, forward in (('per member', net.__call__), ('batched', net.batched_call)):
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(tf.reduce_mean(tf.square(forward(x) - y), axis=[1, 2]))
    grads[name] = tape.gradient(loss, net.trainable_variables)
  for a, b in zip(grads['per member'], grads['batched']):
    assert a.shape == b.shape
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4,
                               atol=1e-5 * np.abs(b.numpy()).max())
  assert DynamicsEnsemble(3, 2, hidden=(8,), reference_training=True).net.batched


def test_training_skips_stopped_members_and_equals_the_reference_step():
  """The default epoch (stopped members not computed) equals the reference epoch (every member
  computed, the stopped ones masked) to float32 round-off for the members that train, and leaves
  the stopped ones bit-exact, Adam moments included."""
  rng = np.random.default_rng(5)
  x = tf.constant(rng.standard_normal((400, 7)).astype(np.float32))
  y = tf.constant(rng.standard_normal((400, 4)).astype(np.float32))
  index = tf.constant(np.stack([rng.permutation(400).reshape(4, 100) for _ in range(3)], 1),
                      tf.int32)
  models = {ref: DynamicsEnsemble(4, 3, n_models=3, hidden=(32, 32), reference_training=ref)
            for ref in (True, False)}
  for active in ([True, True, True], [True, False, True]):
    before = [v.numpy() for v in list(models[False].net.trainable_variables) + models[False].optimizer.m]
    for model in models.values():
      model._train_epoch(x, y, index, tf.constant(active), tf.constant(400.0))
    ours, ref = models[False], models[True]
    for a, b in zip(list(ours.net.trainable_variables) + ours.optimizer.m + ours.optimizer.v,
                    list(ref.net.trainable_variables) + ref.optimizer.m + ref.optimizer.v):
      np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)
    for old, new in zip(before, list(ours.net.trainable_variables) + ours.optimizer.m):
      for k in range(3):
        if not active[k]:
          np.testing.assert_array_equal(new.numpy()[k], old[k])
        else:
          assert not np.array_equal(new.numpy()[k], old[k])


def test_bfloat16_fit_is_an_opt_in_close_to_the_float32_fit_and_predicts_in_float32():
  """fit_matmul_dtype='bfloat16' (a deviation, off by default) multiplies the training steps'
  operands in bfloat16: the gradient of an epoch's first step differs from float32's by round-off
  of 8 mantissa bits (not zero, well under 5%), a fit learns the system as well, and validation
  and prediction stay float32."""
  assert DynamicsEnsemble(3, 2).fit_matmul_dtype == 'float32'
  with pytest.raises(ValueError, match=r"fit_matmul_dtype must be one of \('float32', "
                                       r"'bfloat16'\), got 'float16'"):
    DynamicsEnsemble(3, 2, fit_matmul_dtype='float16')
  with pytest.raises(ValueError, match='needs reference_training=False'):
    DynamicsEnsemble(3, 2, fit_matmul_dtype='bfloat16', reference_training=True)

  rng = np.random.default_rng(6)
  s, a, s2 = linear_system(4000, rng)
  models = {d: DynamicsEnsemble(3, 2, seed=1, n_models=2, hidden=(64, 64), fit_matmul_dtype=d)
            for d in ('float32', 'bfloat16')}
  grads = {}
  for d, m in models.items():
    m.set_normalization(s, a, s2)
    x, y = m._inputs(s[:500], a[:500]), m._targets(s[:500], s2[:500])
    with tf.GradientTape() as tape:
      loss = m._active_loss(tf.stack([x, x]), tf.stack([y, y]), tf.constant([True, True]), 500.0)
    grads[d] = np.concatenate([g.numpy().ravel()
                               for g in tape.gradient(loss, m.net.trainable_variables)])
  rel = np.linalg.norm(grads['bfloat16'] - grads['float32']) / np.linalg.norm(grads['float32'])
  assert 1e-4 < rel < 5e-2, rel

  train, validation = (s[:3500], a[:3500], s2[:3500]), (s[3500:], a[3500:], s2[3500:])
  fits = {d: m.fit(train, validation, batch_size=100, max_epochs=30, eval_every=5, patience=20)
          for d, m in models.items()}
  f32, b16 = (np.array(fits[d]['final_validation_mse']) for d in ('float32', 'bfloat16'))
  assert f32.max() < 1e-2 and b16.max() < 1.5 * f32.max(), (f32, b16)
  prediction = models['bfloat16'].predict_all(s[:5], a[:5])
  assert prediction.dtype == tf.float32
  np.testing.assert_allclose(prediction.numpy()[0], s2[:5], atol=0.2)


def test_the_epoch_traced_without_autograph_is_the_autograph_loop_bit_for_bit():
  """_train_epoch is an explicit tf.while_loop traced without autograph; the loop it replaced
  (`for i in tf.range(...)`, converted by autograph) gives the same weights and Adam state
  exactly, with a stopped member among them."""
  rng = np.random.default_rng(6)
  x = tf.constant(rng.standard_normal((400, 7)).astype(np.float32))
  y = tf.constant(rng.standard_normal((400, 4)).astype(np.float32))
  index = tf.constant(np.stack([rng.permutation(400).reshape(4, 100) for _ in range(3)], 1),
                      tf.int32)
  active, n_train = tf.constant([True, False, True]), tf.constant(400.0)
  model = DynamicsEnsemble(4, 3, n_models=3, hidden=(32, 32))

  @tf.function  # autograph on: the loop as it was written before
  def autograph_epoch():
    for i in tf.range(tf.shape(index)[0]):
      model._train_step(x, y, index[i], active, n_train)  # pylint: disable=protected-access

  state = model.variables
  start = [v.numpy() for v in state]
  results = []
  for epoch in (lambda: model._train_epoch(x, y, index, active, n_train), autograph_epoch):
    for v, value in zip(state, start):
      v.assign(value)
    epoch()
    results.append([v.numpy() for v in state])
  assert any(np.any(a != b) for a, b in zip(results[0], start))
  for a, b in zip(*results):
    np.testing.assert_array_equal(a, b)
