"""The dynamics fit checkpointed and resumed: bit-identical to an uninterrupted fit, from a
checkpoint of every kind (each state of early stopping, mid-way between evaluations and just after
one), fresh or warm-started (the deployment loop's refits)."""
import json
import re

import numpy as np
import pytest
import tensorflow as tf

from bremen_tf.dynamics import DynamicsEnsemble

SETTINGS = dict(batch_size=100, max_epochs=16, eval_every=2, patience=4)


def make_data():
  rng = np.random.default_rng(0)
  s = rng.standard_normal((900, 3)).astype(np.float32)
  a = rng.uniform(-1, 1, (900, 2)).astype(np.float32)
  s2 = (0.9 * s + 0.3 * np.tanh(a).sum(1, keepdims=True)
        + 0.05 * rng.standard_normal((900, 3))).astype(np.float32)
  v2 = s2[800:].copy()
  v2[:30] = 2 * s[800:830] - s2[800:830]  # Δ negated on 30%: members stop at different epochs
  return (s[:800], a[:800], s2[:800]), (s[800:], a[800:], v2)


def one_of_each_kind(saved):
  """The first checkpoint of each kind (which members still train; mid-way between evaluations or
  just after one: eval_every is 2) and the last: a resume from each differs in what it restores
  (a fresh DynamicsEnsemble per resume traces its fit again, ~1 s, so not all ~15)."""
  kinds, chosen = set(), []
  for path, progress in saved:
    kind = (tuple(progress['active']), progress['epoch'] % 2)
    if kind not in kinds or (path, progress) == saved[-1]:
      kinds.add(kind)
      chosen.append((path, progress))
  return chosen


def model(warm, data, dtype='float32'):
  m = DynamicsEnsemble(3, 2, seed=3, n_models=3, hidden=(16, 16), fit_matmul_dtype=dtype)
  if warm:  # the deployment loop: this fit starts from an earlier fit's weights and Adam state
    m.fit(data[0][:2] + (data[0][2] * 1.1,), data[1], batch_size=100, max_epochs=3)
  return m


@pytest.mark.parametrize('warm,dtype', [(False, 'float32'), (True, 'float32'),
                                        (True, 'bfloat16')])
def test_a_fit_resumed_from_each_kind_of_checkpoint_ends_bit_identical(tmp_path, warm, dtype):
  train, validation = make_data()
  reference = model(warm, (train, validation), dtype)
  expected = reference.fit(train, validation, **SETTINGS)
  assert len(set(expected['stop_epoch'])) > 1  # the early-stopping state matters

  saved = []

  def checkpoint(progress):  # what a run saves: the module's variables and the JSON progress
    path = tf.train.Checkpoint(dynamics=interrupted).write(str(tmp_path / f'e{progress["epoch"]}'))
    saved.append((path, json.loads(json.dumps(progress))))

  interrupted = model(warm, (train, validation), dtype)
  assert interrupted.fit(train, validation, checkpoint_fn=checkpoint, checkpoint_seconds=0,
                         **SETTINGS) == expected  # checkpointing changes nothing
  assert [p['epoch'] for _, p in saved] == list(range(1, len(saved) + 1)) and len(saved) >= 8

  for path, progress in one_of_each_kind(saved):
    resumed = DynamicsEnsemble(3, 2, seed=99, n_models=3, hidden=(16, 16),  # other weights
                               fit_matmul_dtype=dtype)
    tf.train.Checkpoint(dynamics=resumed).read(path).assert_existing_objects_matched()
    logs = []
    assert resumed.fit(train, validation, resume=progress, log=logs.append, **SETTINGS) \
        == expected
    assert logs[0] == f'resuming the dynamics fit at epoch {progress["epoch"]}'
    assert len(resumed.variables) == len(reference.variables) > 15  # weights, Adam, statistics
    for v, w in zip(resumed.variables, reference.variables):
      np.testing.assert_array_equal(v.numpy(), w.numpy(), err_msg=v.name)


def test_checkpoints_wait_for_checkpoint_seconds_and_logs_show_progress():
  train, validation = make_data()
  calls, logs = [], []
  model(False, None).fit(train, validation, checkpoint_fn=calls.append, checkpoint_seconds=3600,
                         log=logs.append, **SETTINGS)
  assert calls == []  # no epoch ended an hour after the start
  assert logs[0].startswith('dynamics epoch 0/16: validation MSE') and 'ETA' not in logs[0]
  assert logs[1].startswith('dynamics epoch 2/16:')
  # The ETA is the measured seconds per epoch times the 14 epochs left (not a wall-clock bound:
  # a loaded machine makes every epoch slower).
  found = re.search(r'\| ([\d.]+) s/epoch, ETA (\d+)h(\d\d)m(\d\d)s to epoch 16 \(early '
                    r'stopping may end the fit sooner\)$', logs[1])
  assert found, logs[1]
  per_epoch, hours, minutes, seconds = float(found[1]), *map(int, found.groups()[1:])
  assert abs(3600 * hours + 60 * minutes + seconds - 14 * per_epoch) <= 0.01 * 14 * per_epoch + 1


def test_a_resume_with_other_settings_is_refused():
  train, validation = make_data()
  saved = []
  m = model(False, None)
  m.fit(train, validation, checkpoint_fn=saved.append, checkpoint_seconds=0, **SETTINGS)
  with pytest.raises(ValueError, match='Cannot resume a fit'):
    m.fit(train, validation, resume=saved[0], **{**SETTINGS, 'batch_size': 50})


def test_a_float32_fit_does_not_resume_as_a_bfloat16_fit():
  """The matmul precision is part of a fit's settings when it is not float32 (so the checkpoints
  of float32 fits made before the option existed still resume)."""
  train, validation = make_data()
  saved = []
  model(False, None).fit(train, validation, checkpoint_fn=saved.append, checkpoint_seconds=0,
                         **SETTINGS)
  assert 'fit_matmul_dtype' not in saved[0]['settings']
  with pytest.raises(ValueError, match="Cannot resume a fit .* as one with .*'fit_matmul_dtype': "
                                       "'bfloat16'"):
    model(False, None, 'bfloat16').fit(train, validation, resume=saved[0], **SETTINGS)
