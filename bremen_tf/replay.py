"""A growing numpy transition store (the SAC replay buffer); saved and restored as .npz."""
import numpy as np

from bremen_tf import fileio

FIELDS = ('observations', 'actions', 'rewards', 'next_observations', 'discounts')


class ReplayBuffer:

  def __init__(self, obs_dim, act_dim, capacity):
    self.capacity = int(capacity)
    self._shapes = {'observations': (obs_dim,), 'actions': (act_dim,), 'rewards': (),
                    'next_observations': (obs_dim,), 'discounts': ()}
    self._data = {k: np.zeros((0, *s), np.float32) for k, s in self._shapes.items()}
    self.size = 0
    self._next = 0  # circular write position once full

  def _grow(self):
    new_cap = min(self.capacity, max(1024, 2 * len(self._data['rewards'])))
    for k, arr in self._data.items():
      grown = np.zeros((new_cap, *self._shapes[k]), np.float32)
      grown[:len(arr)] = arr
      self._data[k] = grown

  def add(self, obs, act, reward, next_obs, discount):
    if self._next >= len(self._data['rewards']):
      self._grow()
    i = self._next
    self._data['observations'][i] = obs
    self._data['actions'][i] = act
    self._data['rewards'][i] = reward
    self._data['next_observations'][i] = next_obs
    self._data['discounts'][i] = discount
    self._next = (i + 1) % self.capacity
    self.size = min(self.size + 1, self.capacity)

  def sample(self, rng, batch_size):
    """Uniform with replacement, like BRAC's np.random.choice."""
    idx = rng.integers(0, self.size, size=batch_size)
    return tuple(self._data[k][idx] for k in FIELDS)

  def save(self, path):
    fileio.write_npz(path, next_index=np.int64(self._next), size=np.int64(self.size),
                     **{k: v[:self.size] for k, v in self._data.items()})

  def load(self, path):
    with np.load(path, allow_pickle=False) as f:
      self.size, self._next = int(f['size']), int(f['next_index'])
      self._data = {k: f[k].copy() for k in FIELDS}
