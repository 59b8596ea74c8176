"""The dataset validator (bremen_tf/data/dataset.py load_dataset / check_arrays): each bad file is
refused with a DatasetError whose message names the file, the key, what was expected and what was
found (the cases tests/test_data.py does not cover), and the lenient cases it accepts are read as
documented (0/1 flags, float64, the optional next_actions)."""
import json
import re

import numpy as np
import pytest

from bremen_tf.data.dataset import Dataset, DatasetError, load_dataset, save_dataset

ENV = 'bremen/Hopper-v0'  # 11-dim observations, 3-dim actions
N = 20
DEFAULT = object()


def arrays(n=N, next_actions=False):
  rng = np.random.default_rng(0)
  terminals = np.zeros(n, bool)
  timeouts = np.zeros(n, bool)
  if n:
    terminals[n // 2] = True
    timeouts[-1] = True
  out = {'observations': rng.standard_normal((n, 11)).astype(np.float32),
         'actions': rng.uniform(-1, 1, (n, 3)).astype(np.float32),
         'rewards': np.arange(n, dtype=np.float32),
         'next_observations': rng.standard_normal((n, 11)).astype(np.float32),
         'terminals': terminals, 'timeouts': timeouts}
  if next_actions:
    out['next_actions'] = rng.uniform(-1, 1, (n, 3)).astype(np.float32)
  return out


def write(path, metadata=DEFAULT, **changes):
  """An .npz as save_dataset writes it, with `changes` (None drops a key) applied."""
  content = arrays()
  content['metadata'] = np.array(json.dumps({'format_version': 1, 'env_id': ENV, 'size': N}))
  if metadata is not DEFAULT:
    content['metadata'] = metadata
  content.update(changes)
  content = {k: v for k, v in content.items() if v is not None}
  with open(path, 'wb') as f:
    np.savez(f, **content)
  return str(path)


def refused(path, message, env_id=ENV):
  """load_dataset(path) raises a DatasetError whose text starts with the path and contains
  `message` (literally)."""
  with pytest.raises(DatasetError) as e:
    load_dataset(path, env_id)
  text = str(e.value)
  assert text.startswith(f'{path}: '), text
  assert message in text, text
  return text


def test_a_valid_file_passes_so_the_cases_below_fail_for_their_own_reason(tmp_path):
  ds = load_dataset(write(tmp_path / 'd.npz'), ENV)
  assert len(ds) == N and ds.metadata == {'format_version': 1, 'env_id': ENV, 'size': N}


def test_missing_file_is_named(tmp_path):
  path = str(tmp_path / 'absent.npz')
  with pytest.raises(DatasetError, match=re.escape(f'{path} does not exist')):
    load_dataset(path, ENV)


@pytest.mark.parametrize('metadata, found', [
    (np.array('{"env_id": "bremen/Hopper-v0", '), 'unparsable text'),   # cut JSON
    (np.array('not json'), 'unparsable text'),
    (np.array('[1, 2, 3]'), 'unparsable text'),                          # JSON, but not an object
    (np.array(7), 'unparsable text'),                                    # a number, not text
    (np.array([1.0, 2.0]), 'unparsable text'),                           # an array of numbers
])
def test_unparseable_metadata(tmp_path, metadata, found):
  refused(write(tmp_path / 'd.npz', metadata=metadata),
          f"key 'metadata': expected a JSON object, found {found}")


def test_missing_metadata(tmp_path):
  refused(write(tmp_path / 'd.npz', metadata=None), "key 'metadata': expected keys")


def test_metadata_env_id_of_the_wrong_type(tmp_path):
  meta = np.array(json.dumps({'env_id': 5, 'size': N}))
  refused(write(tmp_path / 'd.npz', metadata=meta),
          "key 'metadata': expected env_id 'bremen/Hopper-v0', found env_id 5")


def test_metadata_size_of_the_wrong_type_is_refused(tmp_path):
  meta = np.array(json.dumps({'env_id': ENV, 'size': '20'}))
  refused(write(tmp_path / 'd.npz', metadata=meta),
          "key 'metadata': expected an integer 'size' (the file has 20 rows), found size '20'")


@pytest.mark.parametrize('key, dtype', [('observations', np.int64), ('observations', np.int32),
                                        ('next_observations', np.int64), ('actions', np.int64),
                                        ('rewards', np.int64), ('observations', np.bool_)])
def test_integer_or_bool_values_where_floats_are_expected(tmp_path, key, dtype):
  bad = arrays()[key].round().astype(dtype)
  refused(write(tmp_path / 'd.npz', **{key: bad}),
          f"key '{key}': expected a floating-point array, found dtype {np.dtype(dtype)}")


def test_float64_is_accepted_and_read_as_float32(tmp_path):
  obs = arrays()['observations'].astype(np.float64) + 1e-12
  ds = load_dataset(write(tmp_path / 'd.npz', observations=obs), ENV)
  assert ds.observations.dtype == np.float32
  np.testing.assert_array_equal(ds.observations, obs.astype(np.float32))


def test_flags_as_zero_one_numbers_are_read_as_bool_but_other_numbers_are_refused(tmp_path):
  flags = arrays()['terminals'].astype(np.int64)
  ds = load_dataset(write(tmp_path / 'd.npz', terminals=flags), ENV)
  assert ds.terminals.dtype == np.bool_ and list(np.flatnonzero(ds.terminals)) == [N // 2]
  flags[3] = 2
  refused(write(tmp_path / 'e.npz', terminals=flags),
          "key 'terminals': expected a bool array (or 0/1 numbers), found dtype int64")
  refused(write(tmp_path / 'f.npz', timeouts=flags.astype(np.float32) / 2),
          "key 'timeouts': expected a bool array (or 0/1 numbers), found dtype float32")


@pytest.mark.parametrize('key, rows, expected', [
    ('actions', N - 1, f'shape ({N}, 3), found shape ({N - 1}, 3)'),
    ('next_observations', N + 1, f'shape ({N}, 11), found shape ({N + 1}, 11)'),
    ('terminals', N - 5, f'shape ({N},), found shape ({N - 5},)'),
    ('timeouts', N + 3, f'shape ({N},), found shape ({N + 3},)'),
])
def test_a_row_count_that_disagrees_with_the_rewards(tmp_path, key, rows, expected):
  bad = arrays(n=max(rows, N))[key][:rows]
  refused(write(tmp_path / 'd.npz', **{key: bad}), f"key '{key}': expected {expected}")


def test_fewer_rewards_than_observations_names_the_observations(tmp_path):
  refused(write(tmp_path / 'd.npz', rewards=np.arange(N - 2, dtype=np.float32)),
          f"key 'observations': expected shape ({N - 2}, 11), found shape ({N}, 11)")


def test_rewards_of_the_wrong_rank(tmp_path):
  refused(write(tmp_path / 'd.npz', rewards=np.zeros((N, 1), np.float32)),
          f"key 'rewards': expected shape ({N},), found shape ({N}, 1)")


def test_zero_rows(tmp_path):
  meta = np.array(json.dumps({'env_id': ENV}))
  refused(write(tmp_path / 'd.npz', metadata=meta, **arrays(n=0)),
          "key 'rewards': expected at least one transition, found 0 rows")


def test_next_actions_round_trip_when_present(tmp_path):
  data = arrays(next_actions=True)
  path = str(tmp_path / 'd.npz')
  save_dataset(path, Dataset(**data, metadata={'env_id': ENV, 'size': N}))
  ds = load_dataset(path, ENV)
  np.testing.assert_array_equal(ds.next_actions, data['next_actions'])
  assert load_dataset(write(tmp_path / 'e.npz'), ENV).next_actions is None  # optional


@pytest.mark.parametrize('bad, expected', [
    (np.zeros((N, 4), np.float32), f'shape ({N}, 3), found shape ({N}, 4)'),     # wrong width
    (np.zeros((N - 1, 3), np.float32), f'shape ({N}, 3), found shape ({N - 1}, 3)'),  # rows
    (np.zeros((N, 3), np.int64), 'a floating-point array, found dtype int64'),
])
def test_bad_next_actions(tmp_path, bad, expected):
  refused(write(tmp_path / 'd.npz', next_actions=bad), f"key 'next_actions': expected {expected}")


def test_non_finite_next_actions_are_named_with_their_first_row(tmp_path):
  bad = arrays(next_actions=True)['next_actions']
  bad[7, 1] = np.inf
  bad[12, 0] = np.nan
  refused(write(tmp_path / 'd.npz', next_actions=bad),
          "key 'next_actions': expected finite values, found 2 non-finite values (first at row 7)")


def test_without_an_env_the_widths_come_from_the_observations_and_actions(tmp_path):
  path = write(tmp_path / 'd.npz', next_observations=np.zeros((N, 10), np.float32))
  refused(path, f"key 'next_observations': expected shape ({N}, 11), found shape ({N}, 10)",
          env_id=None)
  path = write(tmp_path / 'e.npz', actions=np.zeros((N, 2), np.float32))
  refused(path, f"key 'actions': expected shape ({N}, 3), found shape ({N}, 2)")  # Hopper's 3
