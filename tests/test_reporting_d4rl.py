"""launch/d4rl_table.py on synthetic run directories on Minari / D4RL datasets with known numbers
(in this process, no training): every cell's mean ± std of the normalised score and the return
over seeds, every method row, unfinished runs, the budget, the paper's column, and the errors."""
import csv
import json
import os

import numpy as np
import pytest

import test_reporting_runs as syn
from test_reporting_runs import script
from bremen_tf import errors
from bremen_tf.data.external import add_normalized_scores
from bremen_tf.paper_results import D4RL
from bremen_tf.reporting import d4rl

# D4RL's constants (d4rl/infos.py), as the regenerated datasets' metadata holds them.
REFS = {'hopper': {'min': -20.272305, 'max': 3234.3},
        'halfcheetah': {'min': -280.178953, 'max': 12135.0}}
ENV_IDS = {'hopper': 'Hopper-v5', 'halfcheetah': 'HalfCheetah-v5'}
DATASET_RETURN = {'random': 20.0, 'medium': 1000.0, 'medium-replay': 600.0}
REDUCED_BREMEN = ('100 TRPO updates (4 x 25, batches of 50,000 imagined steps), dynamics <= 10 '
                  'epochs, BC 100k steps')

# (env, dataset kind, method, budget) -> final return per seed (None: unfinished).
FINALS = {
    ('hopper', 'medium', 'bremen', 'table'): [1800.0, 2200.0, None],
    ('hopper', 'medium', 'bc', 'table'): [1000.0, 1100.0],
    ('halfcheetah', 'random', 'bremen', 'table'): [3000.0, 3400.0, 3500.0],
    ('halfcheetah', 'random', 'bc', 'table'): [-100.0, 0.0],
    ('halfcheetah', 'random', 'brac', 'table'): [500.0, 700.0],
    ('hopper', 'medium-replay', 'bcq', 'table'): [900.0],
    ('hopper', 'medium-replay', 'bc', 'full'): [800.0, 850.0],  # the code's default budget
}


def binding(env, kind):
  return f'minari:bremen-d4rl/{env}/{kind}-v0'


def normalized(env, value):
  refs = REFS[env]
  return 100.0 * (value - refs['min']) / (refs['max'] - refs['min'])


def state(env, kind, dataset=None, refs=True):
  """train_state.json's dataset record as data/sources.run_record writes it for a Minari set."""
  return {'stage': 'trpo', 'dataset': {
      'size': 1_000_000, 'noise': None, 'env_id': ENV_IDS[env],
      'behavior_returns': {'mean': DATASET_RETURN[kind], 'std': 10.0, 'episodes': 1000},
      'dataset': dataset or binding(env, kind),
      'reference_scores': (dict(REFS[env], origin='D4RL constants (d4rl/infos.py)') if refs
                           else None)}}


def metrics(env, method, final, budget, refs=True):
  """metrics.csv rows as the runs log them: the normalised score beside every return
  (data.external.add_normalized_scores, what bremen.py and model_free.py call)."""
  if method == 'bremen':
    rows = syn.bremen_metrics(final, 4, 25)
  else:
    full = budget == 'full'
    rows = syn.model_free_metrics(final if final is not None else 777.0,
                                  300_000 if full else 30_000, brac=method == 'brac',
                                  every=100_000 if full else 5000)
  return [add_normalized_scores(row, REFS[env] if refs else None) for row in rows]


def write(root, env, kind, method, budget, seed, final, dataset=None, name=None, refs=True,
          run_json=True):
  bindings = {'train_offline.dataset': dataset or binding(env, kind),
              **syn.GIN_ENV['Hopper' if env == 'hopper' else 'HalfCheetah'], **syn.ALGO[method]}
  if budget == 'table':
    bindings.update(syn.TABLE_BUDGET)
  name = name or f'd4rl-{env}_{kind.replace("-", "_")}+{method}+{budget}'
  syn.write_run(os.path.join(root, name, f'seed{seed}'), bindings,
                metrics(env, method, final, budget, refs), state(env, kind, dataset, refs),
                final is not None, seed, kind='offline' if run_json else None)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('d4rl_runs'))
  for (env, kind, method, budget), finals in FINALS.items():
    for seed, final in enumerate(finals):
      write(root, env, kind, method, budget, seed, final)
  # A run on the BRAC-protocol data in the same glob: left out, and named.
  syn.write_run(os.path.join(root, 'hopper_100k', 'seed0'),
                {'train_offline.env_id': syn.HOPPER, 'train_offline.noise': 'pure',
                 'train_offline.dataset_size': '100k', **syn.TABLE_BUDGET},
                syn.bremen_metrics(1500.0, 4, 25), syn.dataset_state('Hopper', '100k'), True, 0,
                kind='offline')
  return root


def make_table(runs_glob, out):
  with script('d4rl_table', f'--runs={runs_glob}', f'--out={out}') as table:
    table.main([])
  with open(f'{out}.csv', newline='') as f:
    rows = list(csv.DictReader(f))
  with open(f'{out}.md') as f:
    return rows, f.read()


def section(md, title):
  """The text under `## title`, up to the next section."""
  return md.split(f'\n## {title}\n', 1)[1].split('\n## ', 1)[0]


def line(md, start):
  found = [l for l in md.splitlines() if l.startswith(start)]
  assert len(found) == 1, (start, found)
  return found[0]


def expected_cells():
  """(task, method, budget) -> (finished finals, unfinished count); BRAC's max-Q row too."""
  cells = {}
  for (env, kind, method, budget), finals in FINALS.items():
    done = [f for f in finals if f is not None]
    cells[(env, f'{env}-{kind}', method, budget)] = (done, len(finals) - len(done))
    if method == 'brac':
      cells[(env, f'{env}-{kind}', 'brac_max_q', budget)] = (
          [f + syn.MAX_Q_BONUS for f in done], 0)
  return cells


def test_every_cell_mean_std_of_raw_and_normalised(runs, tmp_path):
  rows, md = make_table(f'{runs}/*/seed*', tmp_path / 'd4rl')
  cells = expected_cells()
  assert len(rows) == len(cells)  # one row per (task, dataset, method, budget): every method
  by_key = {}
  for row in rows:
    budget = 'full' if row['reduced_budget'] == 'False' else 'table'
    by_key[(row['env'], row['task'], row['method'], budget)] = row
  assert set(by_key) == set(cells)
  for (env, task, method, _), (finals, pending) in cells.items():
    row = by_key[(env, task, method, _)]
    scores = [normalized(env, f) for f in finals]
    assert float(row['return_mean']) == np.mean(finals)
    assert float(row['return_std']) == np.std(finals)
    assert float(row['normalized_mean']) == pytest.approx(np.mean(scores), rel=1e-12)
    assert float(row['normalized_std']) == pytest.approx(np.std(scores), rel=1e-12)
    assert (int(row['seeds']), int(row['unfinished'])) == (len(finals), pending)
    # Start: the first evaluation (BREMEN's BC policy, 900; the untrained agent's 100).
    start = {'bremen': 900.0, 'brac_max_q': 100.0 + syn.MAX_Q_BONUS}.get(method, 100.0)
    assert float(row['start_normalized_mean']) == pytest.approx(normalized(env, start))
    assert float(row['start_normalized_std']) == 0.0
    column = {'bc': 'bc', 'bremen': 'bremen', 'bcq': 'bcq', 'brac': 'brac_v'}.get(method)
    if column:
      assert float(row['paper']) == D4RL[task][column]
    else:
      assert row['paper'] == ''  # BRAC (max Q) has no column in the paper's table
    assert row['dataset'] == f'minari:bremen-d4rl/{env}/{task.split("-", 1)[1]}-v0'
    assert row['source'] == 'regenerated on v5'
    kind = task.split('-', 1)[1]
    assert float(row['dataset_return']) == DATASET_RETURN[kind]
    assert float(row['dataset_normalized']) == pytest.approx(normalized(env, DATASET_RETURN[kind]))
  # Spot checks with the numbers written out: Hopper medium, BREMEN finals 1800 and 2200.
  bremen = by_key[('hopper', 'hopper-medium', 'bremen', 'table')]
  assert (float(bremen['return_mean']), float(bremen['return_std'])) == (2000.0, 200.0)
  assert float(bremen['normalized_mean']) == pytest.approx(62.0748, abs=1e-4)
  assert float(bremen['normalized_std']) == pytest.approx(6.1452, abs=1e-4)
  assert bremen['budget'] == REDUCED_BREMEN
  assert bremen['paper_budget'] == ('6250 TRPO updates (250 x 25, batches of 50,000 imagined '
                                    'steps), dynamics <= 200 epochs, BC 300k steps')
  assert by_key[('halfcheetah', 'halfcheetah-random', 'brac', 'table')]['budget'] == (
      '30k gradient steps (+ 30k for π_b)')
  full = by_key[('hopper', 'hopper-medium-replay', 'bc', 'full')]
  assert (full['budget'], full['reduced_budget']) == ('300k gradient steps', 'False')


def test_markdown_cells_paper_column_and_statements(runs, tmp_path):
  _, md = make_table(f'{runs}/*/seed*', tmp_path / 'd4rl')
  assert md.startswith('# The paper\'s D4RL table') and '- git revision: `' in md
  assert ('Every dataset here is the D4RL protocol regenerated on gymnasium v5 '
          '(launch/make_d4rl_datasets.py), not the original D4RL files.') in md
  assert '**Budget: reduced.** 7 of 8 cells ran at a reduced budget' in md
  # The summary: hopper-medium, BC ours | paper | BREMEN ours | paper | ...
  bc = [normalized('hopper', f) for f in (1000.0, 1100.0)]
  bremen = [normalized('hopper', f) for f in (1800.0, 2200.0)]
  summary = section(md, 'Normalised score, ours vs the paper')
  row = line(summary, '| hopper-medium |').split(' | ')
  assert row[1:5] == [f'{np.mean(bc):.1f} ± {np.std(bc):.1f} (n=2)', '29.0',
                      f'{np.mean(bremen):.1f} ± {np.std(bremen):.1f} (n=2) [+1 unfinished]',
                      '69.3']
  assert line(summary, '| halfcheetah-random |').split(' | ')[1:5] == [
      '{:.1f} ± {:.1f} (n=2)'.format(*(lambda s: (np.mean(s), np.std(s)))(
          [normalized('halfcheetah', f) for f in (-100.0, 0.0)])), '2.1',
      '{:.1f} ± {:.1f} (n=3)'.format(*(lambda s: (np.mean(s), np.std(s)))(
          [normalized('halfcheetah', f) for f in (3000.0, 3400.0, 3500.0)])), '36.9']
  # Every cell: the return and the budget; the unfinished run listed with how far it got.
  detail = line(md, '| hopper-medium | `minari:bremen-d4rl/hopper/medium-v0` | BREMEN |')
  assert (f'| {normalized("hopper", 900.0):.1f} ± 0.0 | 2000 ± 200 | 2 | 0, 1 | 1 | '
          + REDUCED_BREMEN + ' (reduced) |') in detail
  assert '| 69.3 |' in detail
  assert line(md, '| `d4rl-hopper_medium+bremen+table/seed2` |') == (
      '| `d4rl-hopper_medium+bremen+table/seed2` | hopper-medium | BREMEN | 50% | 777 | '
      f'{normalized("hopper", 777.0):.1f} |')
  assert '| 300k gradient steps (the paper\'s) |' in line(
      md, '| hopper-medium-replay | `minari:bremen-d4rl/hopper/medium-replay-v0` | BC |')
  assert line(md, '| hopper-medium-replay | `minari:bremen-d4rl/hopper/medium-replay-v0` | '
              'BCQ |').split(' | ')[4] == '33.1'
  assert line(md, '| halfcheetah-random | `minari:bremen-d4rl/halfcheetah/random-v0` | '
              'BRAC (max Q) |').split(' | ')[4] == '—'
  # The paper's full row, the dataset table, the left-out run and the commands.
  assert '| hopper-medium | 29.0 | 69.3 | 26.5 | 58.0 | 52.1 | 31.1 | 35.9 | 54.5 |' in md
  assert (f'| hopper-medium | `minari:bremen-d4rl/hopper/medium-v0` | regenerated on v5 | 1000 | '
          f'{normalized("hopper", 1000.0):.1f} | -20.2723 / 3234.3 |') in md
  assert '`hopper_100k/seed0`' in md and 'trained on the BRAC-protocol data' in md
  assert 'python launch/sweep.py --runs_dir=runs/d4rl --algos=bremen,bc' in md
  assert '--extra_gin=gin/budget/table.gin' in md
  assert os.path.getsize(tmp_path / 'd4rl.png') > 0 and '![normalised scores](d4rl.png)' in md


def test_other_sources_are_said_and_kept_apart(tmp_path):
  """A D4RL file and our regenerated set of the same task are different cells, and the file says
  what each source is."""
  root = str(tmp_path / 'runs')
  write(root, 'hopper', 'medium', 'bc', 'table', 0, 1000.0)
  write(root, 'hopper', 'medium', 'bc', 'table', 0, 1400.0,
        dataset='d4rl:/data/d4rl/hopper_medium-v2.hdf5', name='file')
  rows, md = make_table(f'{root}/*/seed*', tmp_path / 'out')
  assert sorted((r['source'], float(r['return_mean'])) for r in rows) == [
      ('D4RL file', 1400.0), ('regenerated on v5', 1000.0)]
  assert {r['task'] for r in rows} == {'hopper-medium'}
  assert ('Rows on a dataset marked "regenerated on v5" in the dataset table: the D4RL protocol '
          'regenerated on gymnasium v5 (launch/make_d4rl_datasets.py), not the original D4RL '
          'files.') in md
  assert '| hopper-medium (`d4rl:/data/d4rl/hopper_medium-v2.hdf5`) |' in md


def test_runs_that_loaded_different_generations_of_a_dataset_are_named(runs, tmp_path):
  """A dataset made again (a new machine regenerates the D4RL sets) can differ: runs whose
  dataset's behaviour return differs are listed by generation; one generation says nothing."""
  root = tmp_path / 'runs'
  for seed in (0, 1):
    write(str(root), 'hopper', 'medium', 'bc', 'table', seed, 1000.0 + seed)
  write(str(root), 'hopper', 'medium', 'bremen', 'table', 0, 1200.0)
  _, md = make_table(f'{root}/*/seed*', tmp_path / 'same')
  assert 'loaded different data' not in md
  path = root / 'd4rl-hopper_medium+bc+table' / 'seed1' / 'train_state.json'
  record = json.loads(path.read_text())
  record['dataset']['behavior_returns']['mean'] += 12.5
  path.write_text(json.dumps(record))
  _, md = make_table(f'{root}/*/seed*', tmp_path / 'mixed')
  assert '**Runs of one dataset loaded different data.**' in md
  base = DATASET_RETURN['medium']
  assert (f'- `minari:bremen-d4rl/hopper/medium-v0`: return {base:.1f}: '
          '`d4rl-hopper_medium+bc+table/seed0`, `d4rl-hopper_medium+bremen+table/seed0`; '
          f'return {base + 12.5:.1f}: `d4rl-hopper_medium+bc+table/seed1`\n') in md
  assert 'loaded different data' not in make_table(f'{runs}/*/seed*', tmp_path / 'fixture')[1]


def test_the_table_from_the_archived_runs_is_the_same(runs, tmp_path):
  """results/runs/ keeps only a finished run's light files (bremen_tf/run_archive.py); the table
  read from there equals the table read from the run directories (finished cells; unfinished runs
  are not archived)."""
  from bremen_tf import run_archive  # pylint: disable=g-import-not-at-top
  saved, _ = run_archive.save(runs, str(tmp_path / 'archive'))
  assert saved
  finished = lambda rows: [r for r in rows if r['seeds'] != '0']
  strip = lambda rows: [{k: v for k, v in r.items() if k != 'unfinished'} for r in rows]
  here, _ = make_table(f'{runs}/*/seed*', tmp_path / 'here')
  archived, _ = make_table(f'{tmp_path}/archive/*/seed*', tmp_path / 'archived')
  assert len(finished(here)) >= 3 and strip(finished(archived)) == strip(finished(here))


def test_a_dataset_without_reference_scores_gives_the_return(tmp_path):
  """Farama's mujoco/* Minari sets carry no reference scores: the return only, no plot. These
  runs are old-style (config.gin, no run.json) and read the same."""
  root = str(tmp_path / 'runs')
  for seed, final in enumerate((1000.0, 1200.0)):
    write(root, 'hopper', 'medium', 'bremen', 'table', seed, final,
          dataset='minari:mujoco/hopper/medium-v0', refs=False, run_json=False)
  rows, md = make_table(f'{root}/*/seed*', tmp_path / 'out')
  (row,) = rows
  assert (row['source'], row['task'], row['normalized_mean'], row['paper']) == (
      'Minari', 'hopper-medium', '', '69.3')
  assert (float(row['return_mean']), float(row['return_std']), row['seeds']) == (1100.0, 100.0, '2')
  assert row['budget'] == REDUCED_BREMEN
  assert line(section(md, 'Normalised score, ours vs the paper'), '| hopper-medium |') == (
      '| hopper-medium | return 1100 ± 100 (n=2) | 69.3 |')
  assert '| regenerated' not in md and 'a Minari dataset not made by' in md
  assert '| Minari | 1000 | — | none (no normalised score) |' in md
  assert not os.path.exists(tmp_path / 'out.png') and '![' not in md


def test_no_matching_runs_is_a_clear_error(runs, tmp_path):
  with pytest.raises(errors.ConfigError, match='no run directories match --runs=.*nothing'):
    make_table(f'{runs}/nothing*/seed*', tmp_path / 'none')
  with pytest.raises(errors.ConfigError, match=r"matches 1 run directories, but none trained on "
                     r"a 'minari:' or 'd4rl:' dataset with metrics \(1 on the BRAC-protocol"):
    make_table(f'{runs}/hopper_100k/seed*', tmp_path / 'none')
  assert not os.path.exists(tmp_path / 'none.md')


@pytest.mark.parametrize('name, kind', [
    ('minari:bremen-d4rl/hopper/medium-replay-v0', 'medium-replay'),
    ('d4rl:/data/hopper_medium_replay-v2.hdf5', 'medium-replay'),
    ('d4rl:/data/halfcheetah-medium-expert-v2.hdf5', 'medium-expert'),
    ('minari:/data/minari/bremen-d4rl/walker2d/expert-v0/', 'expert'),
    ('d4rl:/data/hopper-random-v0.hdf5', 'random'),
    ('minari:mujoco/hopper/simple-v0', 'simple')])
def test_dataset_kind(name, kind):
  assert d4rl.dataset_kind(name) == kind


def test_the_documented_commands_name_files_that_exist():
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  named = [w.split('=', 1)[1] for w in (d4rl.COMMANDS + ' ' + d4rl.ONE_RUN).split()
           if w.startswith(('--gin_file=', '--extra_gin='))]
  named += d4rl.D4RL_CELLS
  assert len(d4rl.D4RL_CELLS) == 6 and 'gin/budget/table.gin' in named
  for path in named:
    assert os.path.exists(os.path.join(repo, path)), path
  with open(os.path.join(repo, 'docs', 'd4rl.md')) as f:
    doc = f.read()
  assert d4rl.COMMANDS.splitlines()[1].split(' \\')[0] in doc  # the sweep line, as documented
  assert d4rl.COMMANDS.splitlines()[2].strip() in doc
