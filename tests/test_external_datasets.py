"""Minari datasets and D4RL files: tiny ones made here (Minari's own writer, h5py) load, validate,
train end to end with normalised scores, and every unusable dataset fails with a clear message."""
import csv
import json
import os
import sys
import warnings

import gymnasium
import h5py
import minari
from minari.data_collector import EpisodeBuffer
import numpy as np
import pytest

from bremen_tf import envs
from bremen_tf.data import sources
from bremen_tf.data.d4rl_source import D4RL_ROBOTS, load_d4rl
from bremen_tf.data.dataset import DatasetError
from bremen_tf.data.external import add_normalized_scores, normalized_score
from bremen_tf.data.minari_source import load_minari

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = ['--gin_file=gin/d4rl/hopper_medium.gin', '--gin_file=gin/smoke/offline.gin',
         '--gin_bindings=train_offline.outer_iterations=1', '--tf_threads=1']
HOPPER_REFS = D4RL_ROBOTS['hopper'][1:]
REFS = {'min': HOPPER_REFS[0], 'max': HOPPER_REFS[1]}
KEYS = ('observations', 'actions', 'rewards', 'next_observations', 'terminals', 'timeouts')


def episodes(env, n, seed=0):
  """Random-action episodes of `env` (an id of ours or a gymnasium env) totalling n steps; the
  last one is cut (neither flag set)."""
  env = envs.make(env) if isinstance(env, str) else env
  env.action_space.seed(seed)
  out, obs, ep = [], env.reset(seed=seed)[0], None
  for i in range(n):
    ep = ep or {'observations': [obs], 'actions': [], 'rewards': [], 'terminations': [],
                'truncations': []}
    action = env.action_space.sample()
    obs, reward, terminated, truncated, _ = env.step(action)
    for key, value in zip(('observations', 'actions', 'rewards', 'terminations', 'truncations'),
                          (obs, action, reward, terminated, truncated)):
      ep[key].append(value)
    if terminated or truncated or i == n - 1:
      out.append({k: np.asarray(v) for k, v in ep.items()})
      obs, ep = env.reset()[0], None
  env.close()
  return out


def flat(eps):
  """Episodes -> D4RL's flat arrays (the last, cut episode has neither flag)."""
  return {'observations': np.concatenate([e['observations'][:-1] for e in eps]),
          'next_observations': np.concatenate([e['observations'][1:] for e in eps]),
          'actions': np.concatenate([e['actions'] for e in eps]),
          'rewards': np.concatenate([e['rewards'] for e in eps]),
          'terminals': np.concatenate([e['terminations'] for e in eps]),
          'timeouts': np.concatenate([e['truncations'] for e in eps])}


def write_d4rl(path, arrays):
  with h5py.File(path, 'w') as f:
    for key, value in arrays.items():
      f[key] = value
    f['metadata/algorithm'] = 'test'
  return str(path)


def write_minari(dataset_id, eps, env='Hopper-v5', refs=HOPPER_REFS, **kwargs):
  """A Minari dataset written by Minari itself (MINARI_DATASETS_PATH points at a temp dir)."""
  buffers = [EpisodeBuffer(id=i, observations=e['observations'], actions=e['actions'],
                           rewards=e['rewards'], terminations=e['terminations'],
                           truncations=e['truncations']) for i, e in enumerate(eps)]
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    minari.create_dataset_from_buffers(
        dataset_id, buffers, env=env, algorithm_name='random', author='test', author_email='-',
        code_permalink='-', description='test', ref_min_score=refs[0] if refs else None,
        ref_max_score=refs[1] if refs else None, **kwargs)
  return dataset_id


@pytest.fixture
def minari_root(tmp_path, monkeypatch):
  root = tmp_path / 'minari'
  monkeypatch.setenv('MINARI_DATASETS_PATH', str(root))
  return root


@pytest.fixture(scope='module')
def hopper_eps():
  return episodes('Hopper-v5', 1200)


def test_both_sources_read_the_same_transitions_with_d4rl_semantics(tmp_path, minari_root,
                                                                     hopper_eps):
  arrays = flat(hopper_eps)
  from_d4rl = load_d4rl(write_d4rl(tmp_path / 'hopper_medium-v2.hdf5', arrays))
  from_minari = load_minari(write_minari('test/hopper/tiny-v0', hopper_eps))
  n = len(arrays['rewards'])
  assert n == 1200 and len(hopper_eps) > 5 and arrays['terminals'].sum() == len(hopper_eps) - 1
  for data in (from_d4rl, from_minari):
    assert data.metadata['env_id'] == 'Hopper-v5' and len(data) == n
    for key in KEYS[:4]:
      np.testing.assert_allclose(getattr(data, key), arrays[key].astype(np.float32))
    np.testing.assert_array_equal(data.terminals, arrays['terminals'])
    assert data.metadata['reference_scores']['min'] == HOPPER_REFS[0]
    assert data.metadata['reference_scores']['max'] == HOPPER_REFS[1]
    # the whole episodes' returns; the final, cut one is excluded
    whole = [e['rewards'].sum() for e in hopper_eps[:-1]]
    assert data.metadata['behavior_returns']['episodes'] == len(whole)
    np.testing.assert_allclose(data.metadata['behavior_returns']['mean'], np.mean(whole),
                               rtol=1e-5)
  # D4RL: a file ending mid-episode gets its last transition flagged as a cut timeout.
  assert from_d4rl.timeouts[-1] and from_d4rl.metadata['cut_indices'] == [n - 1]
  # Minari: truncations -> timeouts; the last episode, written with neither flag, is cut there
  # as in the D4RL file.
  np.testing.assert_array_equal(from_minari.timeouts[:-1], arrays['timeouts'][:-1])
  assert from_minari.timeouts[-1] and from_minari.metadata['cut_indices'] == [n - 1]
  assert 'd4rl:' in from_d4rl.metadata['dataset'] and 'minari:' in from_minari.metadata['dataset']


def test_minari_episodes_written_without_end_flags_are_never_merged(minari_root, hopper_eps):
  """Buffers written with no termination or truncation at their ends: each episode stays one,
  ended where it ended: a termination where Hopper's rule holds on its last state (every random
  episode but the last), a cut (a timeout) otherwise. The data equal those written with flags."""
  flagged = load_minari(write_minari('test/hopper/flagged-v0', hopper_eps))
  unflagged = [dict(e, terminations=np.zeros_like(e['terminations']),
                    truncations=np.zeros_like(e['truncations'])) for e in hopper_eps]
  data = load_minari(write_minari('test/hopper/unflagged-v0', unflagged))
  ends = list(np.cumsum([len(e['rewards']) for e in hopper_eps]) - 1)
  assert list(np.flatnonzero(data.terminals)) == ends[:-1]  # Hopper fell: a whole episode
  assert list(np.flatnonzero(data.timeouts)) == data.metadata['cut_indices'] == ends[-1:]
  np.testing.assert_array_equal(data.terminals, flagged.terminals)
  np.testing.assert_array_equal(data.timeouts, flagged.timeouts)
  assert data.metadata['behavior_returns'] == flagged.metadata['behavior_returns']


def test_a_d4rl_file_without_flags_is_cut_where_its_episodes_end(tmp_path, hopper_eps):
  """Every flag cleared: the episode ends are found where the next observation jumps (a reset);
  those where Hopper's termination rule holds are terminals again, the rest (the last, cut
  episode here; a time limit in general) timeouts listed as cuts; nothing is merged."""
  arrays = flat(hopper_eps)
  flagged = load_d4rl(write_d4rl(tmp_path / 'hopper_flagged-v2.hdf5', arrays))
  arrays = dict(arrays, terminals=np.zeros_like(arrays['terminals']),
                timeouts=np.zeros_like(arrays['timeouts']))
  data = load_d4rl(write_d4rl(tmp_path / 'hopper_random-v2.hdf5', arrays))
  ends = list(np.cumsum([len(e['rewards']) for e in hopper_eps]) - 1)
  assert list(np.flatnonzero(data.terminals)) == ends[:-1]
  assert list(np.flatnonzero(data.timeouts)) == data.metadata['cut_indices'] == ends[-1:]
  np.testing.assert_array_equal(data.terminals, flagged.terminals)
  # HalfCheetah never terminates: its unflagged ends (time limits) all stay timeouts.
  cheetah_eps = episodes('HalfCheetah-v5', 2500)
  cheetah = flat(cheetah_eps)
  cheetah = dict(cheetah, terminals=np.zeros_like(cheetah['terminals']),
                 timeouts=np.zeros_like(cheetah['timeouts']))
  data = load_d4rl(write_d4rl(tmp_path / 'halfcheetah_random-v2.hdf5', cheetah))
  assert not data.terminals.any() and data.metadata['cut_indices'] == [999, 1999, 2499]


def test_a_d4rl_v2_file_paying_the_healthy_reward_on_the_fall_is_served(tmp_path):
  """gym v3's Hopper (D4RL's -v2 data) pays the healthy reward on the step that falls, where v5
  and our reward function pay nothing: those terminal rows are left out of the reward check, so
  such a file loads (many short random episodes: 5% of rows fall)."""
  eps = episodes('Hopper-v5', 3000, seed=1)
  arrays = flat(eps)
  assert arrays['terminals'].mean() > 0.03
  v2 = dict(arrays, rewards=arrays['rewards'] + arrays['terminals'])
  data = load_d4rl(write_d4rl(tmp_path / 'hopper_random-v2.hdf5', v2))
  np.testing.assert_allclose(data.rewards, v2['rewards'].astype(np.float32))


def test_actions_outside_the_unit_box_are_refused_naming_the_row(tmp_path, hopper_eps):
  arrays = flat(hopper_eps)
  torques = dict(arrays, actions=arrays['actions'] * 30.0)
  with pytest.raises(DatasetError, match=r"key 'actions': expected values in \[-1, 1\] .* at row "
                                         r'\d+\. Rescale the actions to \[-1, 1\]'):
    load_d4rl(write_d4rl(tmp_path / 'hopper_torques-v2.hdf5', torques))
  edge = dict(arrays, actions=np.clip(arrays['actions'] * 2, -1.0005, 1.0005))  # round-off passes
  assert len(load_d4rl(write_d4rl(tmp_path / 'hopper_edge-v2.hdf5', edge))) == len(edge['rewards'])


def test_data_of_another_env_of_the_same_widths_are_refused_naming_the_env_they_match(tmp_path):
  """HalfCheetah and Walker2d are both 17/6 wide: a file named for one holding the other's data
  is refused, naming the env it does match; rewards rescaled on purpose pass once the check is
  switched off by its binding."""
  import gin  # pylint: disable=g-import-not-at-top
  cheetah, walker = flat(episodes('HalfCheetah-v5', 1500)), flat(episodes('Walker2d-v5', 1500))
  assert len(load_d4rl(write_d4rl(tmp_path / 'halfcheetah_random-v2.hdf5', cheetah))) == 1500
  assert len(load_d4rl(write_d4rl(tmp_path / 'walker2d_random-v2.hdf5', walker))) == 1500
  # HalfCheetah never terminates: Walker2d's rule (fallen below 0.8 m) fires on every row.
  with pytest.raises(DatasetError, match=r"walker2d_x-v2.hdf5: the data do not look like "
                     r"Walker2d-v5's: on 1,500 sampled transitions Walker2d-v5's termination rule "
                     r'disagrees with the terminals on 100\.0% of rows .* They match '
                     r'HalfCheetah-v5: data of another env\?'):
    load_d4rl(write_d4rl(tmp_path / 'walker2d_x-v2.hdf5', cheetah))
  # Walker2d's episodes end where HalfCheetah's rule never does, and its alive bonus is missing.
  with pytest.raises(DatasetError, match=r"halfcheetah_x-v2.hdf5: .* Walker2d-v5"):
    load_d4rl(write_d4rl(tmp_path / 'halfcheetah_x-v2.hdf5', walker))
  doubled = write_d4rl(tmp_path / 'walker2d_doubled-v2.hdf5',
                       dict(walker, rewards=2.0 * walker['rewards']))
  with pytest.raises(DatasetError, match=r'on 0\.0% of rows .* rewards by an RMS of 0\.\d\d of their '
                     r'standard deviation \(at most 0\.35\)\. Imagination .* '
                     r'check_matches_env\.enabled = False'):
    load_d4rl(doubled)
  try:
    gin.parse_config('check_matches_env.enabled = False')
    np.testing.assert_allclose(load_d4rl(doubled).rewards, 2.0 * walker['rewards'], rtol=1e-6)
  finally:
    gin.clear_config()


def test_normalised_scores_are_d4rls_formula():
  refs = {'min': -20.272305, 'max': 3234.3}
  assert normalized_score(3234.3, refs) == pytest.approx(100.0)
  assert normalized_score(-20.272305, refs) == pytest.approx(0.0)
  assert normalized_score(1000.0, refs) == pytest.approx(100 * 1020.272305 / 3254.572305)
  row = add_normalized_scores({'eval_return_mean': 1000.0, 'eval_max_q_return_mean': 3234.3,
                               'eval_return_std': 5.0}, refs)
  assert row['eval_normalized_score'] == pytest.approx(31.3488, abs=1e-3)
  assert row['eval_max_q_normalized_score'] == pytest.approx(100.0)
  assert 'eval_std_normalized_score' not in row
  assert add_normalized_scores({'eval_return_mean': 1.0}, None) == {'eval_return_mean': 1.0}


def train(root, gin_files, bindings):
  """train_offline in this process (the launcher's work minus flags): (summary, log lines)."""
  import gin  # pylint: disable=g-import-not-at-top
  from bremen_tf import experiments, runs  # noqa: F401 pylint: disable=g-import-not-at-top
  lines = []
  gin.clear_config()
  gin.add_config_file_search_path(REPO)
  try:
    gin.parse_config_files_and_bindings([os.path.join(REPO, f) for f in gin_files], bindings)
    run = runs.RunDir(str(root))
    run.start(seed=0)
    summary = experiments.train_offline(run, seed=0, log=lines.append)
    run.mark_done(**summary)
    run.close()
  finally:
    gin.clear_config()
  return summary, lines


@pytest.fixture(scope='module')
def trained(tmp_path_factory, hopper_eps):
  """BREMEN (smoke settings, 1 iteration) on a Minari dataset and BC on a D4RL file, each run
  once for the tests below: {'minari'|'d4rl': (run dir, summary, log lines)}."""
  tmp = tmp_path_factory.mktemp('trained')
  with pytest.MonkeyPatch.context() as mp:
    mp.setenv('MINARI_DATASETS_PATH', str(tmp / 'minari'))
    write_minari('test/hopper/tiny-v0', hopper_eps)
    minari_run = (tmp / 'minari_run', *train(
        tmp / 'minari_run', ['gin/d4rl/hopper_medium.gin', 'gin/smoke/offline.gin'],
        ["train_offline.dataset = 'minari:test/hopper/tiny-v0'",
         'train_offline.outer_iterations = 1']))
  path = write_d4rl(tmp / 'hopper_random-v2.hdf5', flat(hopper_eps))
  d4rl_run = (tmp / 'd4rl_run', *train(
      tmp / 'd4rl_run', ['gin/d4rl/hopper_random.gin', 'gin/smoke/model_free.gin'],
      [f"train_offline.dataset = 'd4rl:{path}'", "train_offline.algorithm = 'bc'"]))
  return {'minari': minari_run, 'd4rl': d4rl_run}


def test_minari_dataset_trains_bremen_end_to_end_with_normalised_scores(trained):
  root, summary, lines = trained['minari']
  assert lines[0].startswith('Dataset: 1,200 transitions of Hopper-v5 from '
                             'minari:test/hopper/tiny-v0, behaviour return')
  rows = runs_metrics(root)
  assert [int(r['iteration']) for r in rows] == [0, 1]
  for r in rows:
    expected = 100 * (float(r['eval_return_mean']) - HOPPER_REFS[0]) / (HOPPER_REFS[1]
                                                                        - HOPPER_REFS[0])
    assert float(r['eval_normalized_score']) == pytest.approx(expected)
  assert summary['final_eval_normalized_score'] == pytest.approx(
      float(rows[-1]['eval_normalized_score']))
  state = json.load(open(root / 'train_state.json'))['dataset']
  assert state['dataset'] == 'minari:test/hopper/tiny-v0' and state['env_id'] == 'Hopper-v5'
  assert state['reference_scores']['max'] == HOPPER_REFS[1] and state['size'] == 1200
  assert any(line.startswith('[trpo] iteration 1/1') and '(normalised ' in line
             for line in lines)


def test_d4rl_file_trains_a_baseline_end_to_end(trained):
  root, summary, lines = trained['d4rl']
  rows = runs_metrics(root)
  assert len(rows) == 3 and all(r['eval_normalized_score'] for r in rows)
  assert summary['final_eval_normalized_score'] == pytest.approx(
      normalized_score(summary['final_eval_return_mean'], {'min': HOPPER_REFS[0],
                                                           'max': HOPPER_REFS[1]}))
  assert any('[bc] step 200/200' in line and '(normalised ' in line for line in lines)


def test_tables_show_the_normalised_score_per_dataset(trained, tmp_path):
  """launch/tables.py in this process (its flags parsed here), on both runs."""
  import importlib  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  sys.path.insert(0, os.path.join(REPO, 'launch'))
  try:
    tables = importlib.import_module('tables')
  finally:
    sys.path.pop(0)
  runs_glob = str(trained['minari'][0].parent / '*_run')
  flags.FLAGS(['tables', f'--runs={runs_glob}', f'--out_dir={tmp_path}'])
  try:
    tables.main([])
  finally:
    flags.FLAGS.unparse_flags()
  for label, name, method in (('test_hopper_tiny-v0', 'minari', 'bremen'),
                              ('hopper_random-v2', 'd4rl', 'bc')):
    md = open(tmp_path / f'offline_{label}.md').read()
    with open(tmp_path / f'offline_{label}.csv') as f:
      (row,) = list(csv.DictReader(f))
    score = float(runs_metrics(trained[name][0])[-1]['eval_normalized_score'])
    assert row['method'] == method and float(row['normalized_mean']) == pytest.approx(score)
    assert f'(n=1), normalised {score:.1f} ± 0.0' in md and 'dataset `' in md
    behavior = json.load(open(trained[name][0] / 'train_state.json'))['dataset'][
        'behavior_returns']['mean']
    assert f'| Dataset | {behavior:.0f}, normalised {normalized_score(behavior, REFS):.1f} |' in md


def runs_metrics(root):
  with open(os.path.join(root, 'metrics.csv')) as f:
    return list(csv.DictReader(f))


def test_the_binding_names_its_three_forms():
  assert sources.parse_source(None) == ('brac', None)
  assert sources.parse_source('minari:a/b-v0') == ('minari', 'a/b-v0')
  assert sources.parse_source('d4rl:/x/hopper.hdf5') == ('d4rl', '/x/hopper.hdf5')
  for bad in ('hopper-medium-v2', 'minari:', 'd4rl'):
    with pytest.raises(ValueError, match="'minari:<dataset id or path>'"):
      sources.parse_source(bad)
  with pytest.raises(ValueError, match='env_id is required'):
    sources.load_source(None, None, 'pure', '3k')


def test_unusable_d4rl_files_fail_clearly(tmp_path, hopper_eps):
  arrays = flat(hopper_eps)
  good = write_d4rl(tmp_path / 'hopper_medium-v2.hdf5', arrays)
  truncated = tmp_path / 'hopper_truncated-v2.hdf5'
  truncated.write_bytes(open(good, 'rb').read()[:3000])
  with pytest.raises(DatasetError, match=r'hopper_truncated-v2.hdf5: not a readable HDF5 file '
                                         r'\(truncated or corrupt\?\)'):
    load_d4rl(str(truncated))
  missing = write_d4rl(tmp_path / 'hopper_nots-v2.hdf5',
                       {k: v for k, v in arrays.items() if k != 'timeouts'})
  with pytest.raises(DatasetError, match=r"hopper_nots-v2.hdf5: key 'timeouts': expected keys "
                                         r".*\(missing \['timeouts'\]\)"):
    load_d4rl(missing)
  narrow = write_d4rl(tmp_path / 'hopper_narrow-v2.hdf5',
                      {**arrays, 'observations': arrays['observations'][:, :10]})
  with pytest.raises(DatasetError, match="key 'observations': expected width 11 for Hopper-v5, "
                                         'found 10'):
    load_d4rl(narrow)
  short = write_d4rl(tmp_path / 'hopper_short-v2.hdf5',
                     {**arrays, 'rewards': arrays['rewards'][:5]})
  with pytest.raises(DatasetError, match=r"key 'observations': expected shape \(5, 11\)"):
    load_d4rl(short)
  # Float flags that are not 0/1 are refused, also in a file that ends mid-episode (whose last
  # row the reader flags as a cut before validation).
  halves = {**arrays, 'timeouts': np.where(np.arange(len(arrays['rewards'])) == 3, 0.5, 0.0)}
  assert not (arrays['terminals'][-1] or arrays['timeouts'][-1])
  for name, bad in (('hopper_halves-v2', halves), ('hopper_halves_whole-v2', {
      k: v[:-len(hopper_eps[-1]['rewards'])] for k, v in halves.items()})):
    with pytest.raises(DatasetError, match=f"{name}.hdf5: key 'timeouts': expected a bool array "
                                           r'\(or 0/1 numbers\), found dtype float64'):
      load_d4rl(write_d4rl(tmp_path / f'{name}.hdf5', bad))
  ant = write_d4rl(tmp_path / 'ant_medium-v2.hdf5', arrays)
  with pytest.raises(DatasetError, match="ant_medium-v2.hdf5: not served: D4RL's ant "
                                         'observations hold 111 values'):
    load_d4rl(ant)
  maze = write_d4rl(tmp_path / 'antmaze-umaze-v2.hdf5', arrays)
  with pytest.raises(DatasetError, match='cannot tell the env from the file name'):
    load_d4rl(maze)
  assert load_d4rl(maze, env_id='Hopper-v5').metadata['env_id'] == 'Hopper-v5'  # explicit env
  with pytest.raises(DatasetError, match="the file name says hopper, but env_id is "
                                         "'HalfCheetah-v5'"):
    load_d4rl(good, env_id='HalfCheetah-v5')
  with pytest.raises(DatasetError, match="env_id 'bremen/Hopper-v0' is not served for D4RL"):
    load_d4rl(good, env_id='bremen/Hopper-v0')


def test_unusable_minari_datasets_fail_clearly(minari_root, hopper_eps):
  with pytest.raises(DatasetError, match='minari:test/none-v0: no local dataset with that id'):
    load_minari('test/none-v0')
  with pytest.raises(DatasetError, match=r'It is one of ours: make it with `python '
                                         r'launch/make_d4rl_datasets.py --envs=hopper '
                                         r'--datasets=medium-replay`'):
    load_minari('bremen-d4rl/hopper/medium-replay-v0')
  write_minari('test/hopper/tiny-v0', hopper_eps)
  data_file = minari_root / 'test' / 'hopper' / 'tiny-v0' / 'data' / 'main_data.hdf5'
  data_file.write_bytes(data_file.read_bytes()[:2000])
  with pytest.raises(DatasetError, match=r'minari:test/hopper/tiny-v0: .*truncated or corrupt'):
    load_minari('test/hopper/tiny-v0')

  cartpole = episodes(gymnasium.make('CartPole-v1'), 30)
  write_minari('test/cartpole/tiny-v0', cartpole, env='CartPole-v1', refs=None)
  with pytest.raises(DatasetError, match=r'minari:test/cartpole/tiny-v0: not served: its action '
                                         'space is Discrete'):
    load_minari('test/cartpole/tiny-v0')
  pendulum = episodes(gymnasium.make('Pendulum-v1'), 30)
  write_minari('test/pendulum/tiny-v0', pendulum, env='Pendulum-v1', refs=None)
  with pytest.raises(DatasetError, match="env 'Pendulum-v1' is not served: only the MuJoCo "
                                         'locomotion envs'):
    load_minari('test/pendulum/tiny-v0')
  image = gymnasium.spaces.Box(0, 255, (8, 8, 3), np.uint8)
  images = [dict(e, observations=np.zeros((len(e['observations']), 8, 8, 3), np.uint8))
            for e in hopper_eps[:2]]
  write_minari('test/image/tiny-v0', images, env=None, refs=None, observation_space=image,
               action_space=gymnasium.spaces.Box(-1, 1, (3,), np.float32))
  with pytest.raises(DatasetError, match='its observation space is Box.*images or dicts'):
    load_minari('test/image/tiny-v0')
  ant = episodes('Ant-v5', 20)  # gymnasium's default Ant-v5 observes contact forces: 105 values
  ant = [dict(e, observations=np.pad(e['observations'], ((0, 0), (0, 78)))) for e in ant]
  write_minari('test/ant/tiny-v0', ant, env=gymnasium.spec('Ant-v5'), refs=None)
  with pytest.raises(DatasetError, match=r"key 'observations': expected width 27 for Ant-v5 "
                                         r'\(Ant-v5 is served without contact forces'):
    load_minari('test/ant/tiny-v0')
  defaults = gymnasium.spec('Hopper-v5').kwargs | {'ctrl_cost_weight': 1e-3,
                                                   'healthy_z_range': (0.7, float('inf'))}
  write_minari('test/hopper/defaults-v0', hopper_eps[:2],
               env=gymnasium.make('Hopper-v5', **defaults).spec)
  assert load_minari('test/hopper/defaults-v0').metadata['env_id'] == 'Hopper-v5'  # kwargs = ours
  write_minari('test/hopper/cost-v0', hopper_eps[:2],
               env=gymnasium.make('Hopper-v5', ctrl_cost_weight=0.5).spec)
  with pytest.raises(DatasetError, match='made with ctrl_cost_weight=0.5, which changes what it '
                                         'computes; ours uses 0.001'):
    load_minari('test/hopper/cost-v0')
  with pytest.raises(DatasetError, match="collected on 'Hopper-v5', but env_id is "
                                         "'bremen/Hopper-v0'"):
    load_minari(str(minari_root / 'test' / 'hopper' / 'cost-v0'), env_id='bremen/Hopper-v0')



def test_reference_scores_can_be_given_to_a_dataset_without_them(tmp_path, minari_root,
                                                                  hopper_eps):
  """Farama's mujoco/* sets carry no reference scores: train_offline.reference_scores gives them
  ('d4rl': D4RL's constants of the dataset's env, or a pair), and every row gets the score."""
  write_minari('test/hopper/norefs-v0', hopper_eps, refs=None)
  assert load_minari('test/hopper/norefs-v0').metadata['reference_scores'] is None
  _, lines = train(tmp_path / 'run', ['gin/d4rl/hopper_random.gin', 'gin/smoke/model_free.gin'],
                   ["train_offline.dataset = 'minari:test/hopper/norefs-v0'",
                    "train_offline.algorithm = 'bc'", "train_offline.reference_scores = 'd4rl'"])
  rows = runs_metrics(tmp_path / 'run')
  assert rows and all(float(r['eval_normalized_score']) == pytest.approx(
      normalized_score(float(r['eval_return_mean']), REFS)) for r in rows)
  refs = json.load(open(tmp_path / 'run' / 'train_state.json'))['dataset']['reference_scores']
  assert (refs['min'], refs['max']) == HOPPER_REFS and 'D4RL constants for hopper' in refs['origin']
  # a pair replaces a dataset's own, and says so
  logged = []
  data = sources.load_source('minari:test/hopper/norefs-v0', None, None, None,
                             log=logged.append, reference_scores=(0, 1000))
  assert data.metadata['reference_scores'] == {'min': 0.0, 'max': 1000.0,
                                               'origin': 'train_offline.reference_scores'}
  write_minari('test/hopper/refs-v0', hopper_eps)
  sources.load_source('minari:test/hopper/refs-v0', None, None, None, log=logged.append,
                      reference_scores=(0, 1000))
  assert any('replace the dataset\'s own -20.2723 / 3234.3' in line for line in logged)


@pytest.mark.parametrize('binding, message', [
    ('best', "must be None, 'd4rl' or a \\(min, max\\) pair"),
    ((1, 2, 3), "must be None, 'd4rl' or a \\(min, max\\) pair"),
    ((10, 5), 'expected finite min < max, found min 10.0, max 5.0'),
])
def test_unusable_reference_scores_fail_before_loading(binding, message):
  from bremen_tf.errors import BremenError  # pylint: disable=g-import-not-at-top
  with pytest.raises(BremenError, match=message):
    sources.load_source('minari:absent/x-v0', None, None, None, reference_scores=binding)


def test_d4rl_reference_scores_need_a_d4rl_env(tmp_path, minari_root):
  from bremen_tf.errors import ConfigError  # pylint: disable=g-import-not-at-top
  ant = envs.make('Ant-v5')  # our Ant-v5 (no contact forces), its spec written with the data
  write_minari('test/ant/tiny-v0', episodes(ant, 50), env=ant, refs=None)
  with pytest.raises(ConfigError, match="D4RL has reference scores for HalfCheetah-v5, "
                                        "Hopper-v5, Walker2d-v5 only, and this dataset's env is "
                                        "'Ant-v5'"):
    sources.load_source('minari:test/ant/tiny-v0', None, None, None, reference_scores='d4rl')
