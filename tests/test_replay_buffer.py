"""ReplayBuffer (the SAC replay buffer): once full, each new transition overwrites the oldest one,
slot by slot in insertion order; sampling is uniform over the stored slots; save/load restores the
store exactly, so a resumed buffer samples and continues to wrap as the original would."""
import numpy as np
import pytest

from bremen_tf.replay import FIELDS, ReplayBuffer

OBS_DIM, ACT_DIM = 3, 2


def transition(k):
  """Transition number k, every field a distinct function of k (so a slot names its k)."""
  return (np.full(OBS_DIM, k, np.float32) + np.arange(OBS_DIM, dtype=np.float32) / 10,
          np.full(ACT_DIM, -k, np.float32), np.float32(1000 + k),
          np.full(OBS_DIM, k + 0.5, np.float32), np.float32(k % 2))


def fill(buffer, first, count):
  for k in range(first, first + count):
    buffer.add(*transition(k))


def reference_slots(n_added, capacity):
  """The transition number held by each slot after n_added adds: slot i holds the newest k with
  k ≡ i (mod capacity), i.e. the last `capacity` transitions, written round-robin."""
  size = min(n_added, capacity)
  return [max(k for k in range(n_added) if k % capacity == i) for i in range(size)]


def expected_batch(slots, seed, batch_size):
  idx = np.random.default_rng(seed).integers(0, len(slots), size=batch_size)
  rows = [transition(slots[i]) for i in idx]
  return tuple(np.stack([np.asarray(r[f]) for r in rows]) for f in range(len(FIELDS)))


def assert_batches_equal(got, want):
  for name, g, w in zip(FIELDS, got, want):
    np.testing.assert_array_equal(g, w, err_msg=name)


@pytest.mark.parametrize('n_added', [3, 5, 6, 12, 13])
def test_wraps_around_overwriting_the_oldest_in_order(n_added):
  buffer = ReplayBuffer(OBS_DIM, ACT_DIM, capacity=5)
  fill(buffer, 0, n_added)
  assert buffer.size == min(n_added, 5)
  slots = reference_slots(n_added, 5)
  if n_added == 6:
    assert slots == [5, 1, 2, 3, 4]  # transition 5 replaced transition 0, nothing else moved
  if n_added == 13:
    assert slots == [10, 11, 12, 8, 9]
  # Sampling draws slot indices uniformly in [0, size) from the given generator.
  assert_batches_equal(buffer.sample(np.random.default_rng(7), 64),
                       expected_batch(slots, 7, 64))
  # Every stored transition is among the last `capacity` ones, and each of them is stored.
  batch = buffer.sample(np.random.default_rng(1), 2000)
  assert set(batch[2].astype(int) - 1000) == set(range(max(0, n_added - 5), n_added))


def test_capacity_above_the_first_growth_step_keeps_every_transition():
  buffer = ReplayBuffer(OBS_DIM, ACT_DIM, capacity=3000)
  fill(buffer, 0, 2500)  # grows 1024 -> 2048 -> 3000, copying what it holds
  slots = list(range(2500))
  assert_batches_equal(buffer.sample(np.random.default_rng(3), 500),
                       expected_batch(slots, 3, 500))
  fill(buffer, 2500, 700)  # 200 past capacity: slots 0..199 now hold 3000..3199
  slots = reference_slots(3200, 3000)
  assert slots[:2] == [3000, 3001] and slots[199] == 3199 and slots[200] == 200
  assert_batches_equal(buffer.sample(np.random.default_rng(4), 500),
                       expected_batch(slots, 4, 500))


@pytest.mark.parametrize('n_before', [3, 5, 8])  # not full, exactly full, wrapped
def test_save_load_round_trip_is_exact_and_wrapping_continues(tmp_path, n_before):
  path = str(tmp_path / 'replay.npz')
  original = ReplayBuffer(OBS_DIM, ACT_DIM, capacity=5)
  fill(original, 0, n_before)
  original.save(path)
  restored = ReplayBuffer(OBS_DIM, ACT_DIM, capacity=5)
  restored.load(path)
  assert restored.size == original.size
  assert_batches_equal(restored.sample(np.random.default_rng(11), 50),
                       original.sample(np.random.default_rng(11), 50))
  # After the load both continue identically: the next adds overwrite the same slots.
  fill(original, n_before, 4)
  fill(restored, n_before, 4)
  slots = reference_slots(n_before + 4, 5)
  for buffer in (original, restored):
    assert buffer.size == len(slots)
    assert_batches_equal(buffer.sample(np.random.default_rng(12), 50),
                         expected_batch(slots, 12, 50))
