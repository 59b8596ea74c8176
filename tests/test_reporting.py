"""The table and plot scripts on synthetic run directories with known numbers, in this process
(no training, no subprocess): every cell is checked against numbers computed here from the
fixture's, and old-style runs (config.gin only) read exactly as new ones (run.json)."""
import csv
import glob
import itertools
import json
import os
import shutil

import gin
import numpy as np
import pytest

import test_reporting_runs as syn
from test_reporting_runs import script
from bremen_tf.paper_results import METHOD_NAMES, OFFLINE
from bremen_tf.reporting import describe, run_reader

CHEETAH_BUDGET = ('100 TRPO updates (4 x 25, batches of 50,000 imagined steps), dynamics <= 10 '
                  'epochs')


@pytest.fixture(scope='module')
def old_runs(tmp_path_factory):
  return syn.build(tmp_path_factory.mktemp('old'))


@pytest.fixture(scope='module')
def new_runs(tmp_path_factory):
  return syn.build(tmp_path_factory.mktemp('new'), run_json=True)


def read_rows(path):
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def expected_offline(size):
  """(env, method) -> (finished finals, unfinished count), BRAC's max-Q row included."""
  cells = {}
  for (env, s, method), finals in syn.OFFLINE_FINALS.items():
    if s != size:
      continue
    done = [f for f in finals if f is not None]
    cells[(env, method)] = (done, len(finals) - len(done))
    if method == 'brac':
      cells[(env, 'brac_max_q')] = ([f + syn.MAX_Q_BONUS for f in done], 0)
  return cells


def test_offline_tables_give_every_cell(old_runs, tmp_path):
  with script('tables', f'--runs={old_runs}/offline/*/seed*', f'--out_dir={tmp_path}') as tables:
    tables.main([])
  for size in ('100k', '50k'):
    rows = {(r['env'], r['method']): r for r in read_rows(tmp_path / f'offline_{size}.csv')}
    md = (tmp_path / f'offline_{size}.md').read_text()
    cells = expected_offline(size)
    assert set(cells) <= set(rows)  # every method row, per env; empty where no runs
    for key in set(rows) - set(cells):
      assert (rows[key]['mean'], rows[key]['seeds']) == ('', '0')
    for (env, method), (finals, pending) in cells.items():
      row, mean, std = rows[(env, method)], np.mean(finals), np.std(finals)
      assert float(row['mean']) == mean and float(row['std']) == std
      assert int(row['seeds']) == len(finals) and int(row['unfinished']) == pending
      data = syn.DATASET_RETURN[(env, size)]
      assert float(row['dataset_return']) == data and float(row['ratio_to_dataset']) == mean / data
      paper_mean, paper_std = OFFLINE[size][method][env]
      paper_data = OFFLINE[size]['dataset'][env][0]
      assert (float(row['paper_mean']), float(row['paper_std'])) == (paper_mean, paper_std)
      assert float(row['paper_ratio']) == paper_mean / paper_data
      cell = f'{mean:.0f} ± {std:.0f} (n={len(finals)})' + (
          f' [+{pending} running]' if pending else '')
      assert cell in md.split(f'| {METHOD_NAMES[method]} |')[1].split('\n')[0]
      assert f'{mean / data:.2f}' in md
  rows = {(r['env'], r['method']): r for r in read_rows(tmp_path / 'offline_100k.csv')}
  assert rows[('HalfCheetah', 'bremen')]['budget'] == CHEETAH_BUDGET + ', BC 100k steps'
  assert rows[('HalfCheetah', 'me_trpo')]['budget'] == CHEETAH_BUDGET
  assert rows[('HalfCheetah', 'bc')]['budget'] == '30k gradient steps'
  assert rows[('HalfCheetah', 'brac')]['budget'] == '30k gradient steps (+ 30k for π_b)'
  assert rows[('HalfCheetah', 'brac_max_q')]['budget'] == '30k gradient steps (+ 30k for π_b)'
  # The 50k cell binds no budget: the library's defaults are the paper's.
  rows = {(r['env'], r['method']): r for r in read_rows(tmp_path / 'offline_50k.csv')}
  assert rows[('HalfCheetah', 'bremen')]['budget'] == (
      '6250 TRPO updates (250 x 25, batches of 50,000 imagined steps), dynamics <= 200 epochs, '
      'BC 300k steps')
  assert rows[('HalfCheetah', 'bc')]['budget'] == '300k gradient steps'
  for png in ('offline_100k_curves.png', 'offline_50k_curves.png'):
    assert (tmp_path / png).stat().st_size > 0


def test_offline_tables_order_the_methods_as_computed_here(old_runs, tmp_path):
  with script('tables', f'--runs={old_runs}/offline/*/seed*', f'--out_dir={tmp_path}',
              '--sizes=100k') as tables:
    tables.main([])
  md = (tmp_path / 'offline_100k.md').read_text()
  for env in ('HalfCheetah', 'Hopper'):
    ours = {m: np.mean(f) for (e, m), (f, _) in expected_offline('100k').items() if e == env}
    paper = {m: OFFLINE['100k'][m][env][0] for m in ours}
    pairs = list(itertools.combinations(ours, 2))
    agree = sum((ours[a] > ours[b]) == (paper[a] > paper[b]) for a, b in pairs)
    order = lambda v: ' > '.join(METHOD_NAMES[m] for m in sorted(v, key=v.get, reverse=True))
    assert f'| {env} | {order(ours)} | {order(paper)} | {agree}/{len(pairs)} |' in md
  assert not (tmp_path / 'offline_50k.md').exists()  # --sizes


def test_a_table_never_pools_budgets_or_noise_kinds(old_runs, tmp_path):
  """One more Hopper 100K BREMEN seed at another budget, or on eps1 data: refused, naming the cell
  (or the noise kinds), before any table is written."""
  from bremen_tf.errors import ConfigError  # pylint: disable=g-import-not-at-top
  for binding, message in (('train_offline.outer_iterations = 9',
                            r'Hopper 100k, BREMEN: the runs matching --runs have different '
                            r'budgets \('),
                           ("train_offline.noise = 'eps1'", r'the 100k runs matching --runs mix '
                                                            r'noise kinds eps1, pure')):
    runs = tmp_path / binding.split('.')[1].split()[0] / 'offline'
    shutil.copytree(f'{old_runs}/offline', runs)
    extra = runs / 'hopper_100k+bremen_more' / 'seed7'
    shutil.copytree(runs / 'hopper_100k+bremen' / 'seed0', extra)
    with open(extra / 'config.gin', 'a') as f:
      f.write(binding + '\n')
    if os.path.exists(extra / 'run.json'):  # made from the old config
      os.remove(extra / 'run.json')
    out = tmp_path / ('out_' + binding.split('.')[1].split()[0])
    with script('tables', f'--runs={runs}/*/seed*', f'--out_dir={out}') as tables:
      with pytest.raises(ConfigError, match=message):
        tables.main([])
    assert not out.exists()


def test_pair_agreement_and_describe_order():
  from bremen_tf.reporting.ordering import describe_order, pair_agreement  # pylint: disable=g-import-not-at-top
  ours = {'bremen': 3.0, 'bc': 2.0, 'bcq': 1.0, 'brac': 0.5}
  paper = {'bremen': 10.0, 'bc': 1.0, 'bcq': 2.0}  # bc and bcq swapped; brac missing
  assert pair_agreement(ours, paper) == (2, 3)
  assert pair_agreement(ours, ours) == (6, 6)
  assert describe_order(ours) == 'BREMEN > BC > BCQ > BRAC'


def test_minari_run_gets_its_own_table_with_normalised_scores(old_runs, tmp_path):
  with script('tables', f'--runs={old_runs}/offline/hopper_medium/seed*',
              f'--out_dir={tmp_path}') as tables:
    tables.main([])
  (row,) = read_rows(tmp_path / 'offline_bremen-d4rl_hopper_medium-v0.csv')
  refs = syn.REFS
  scores = [100 * (f - refs['min']) / (refs['max'] - refs['min']) for f in syn.MINARI_FINALS]
  assert float(row['normalized_mean']) == pytest.approx(np.mean(scores))
  assert float(row['normalized_std']) == pytest.approx(np.std(scores))
  assert float(row['mean']) == np.mean(syn.MINARI_FINALS) and row['paper_mean'] == ''
  md = (tmp_path / 'offline_bremen-d4rl_hopper_medium-v0.md').read_text()
  data = syn.DATASET_RETURN[('Hopper', 'minari')]
  assert f'| Dataset | {data:.0f}, normalised ' \
         f'{100 * (data - refs["min"]) / (refs["max"] - refs["min"]):.1f} |' in md
  assert f'normalised {np.mean(scores):.1f} ± {np.std(scores):.1f}' in md
  assert '## Ordering of the methods' not in md  # the paper has no table of this dataset


def test_deployment_tables_give_every_cell(old_runs, tmp_path):
  out = tmp_path / 'dep'
  with script('deployment_tables', f'--runs={old_runs}/deployment/*/seed*',
              f'--sac_runs={old_runs}/deployment_sac/*/seed*', f'--out={out}') as tables:
    tables.main([])
  names = {'halfcheetah_50k': 'BREMEN', 'halfcheetah_50k+me_trpo': 'ME-TRPO',
           'halfcheetah_50k+bcq': 'BCQ', 'halfcheetah_50k+alpha_0.1': 'KL penalty α=0.1 (no BC init)'}
  rows = read_rows(f'{out}.csv')
  md = open(f'{out}.md').read()
  for run, (_, per_seed) in syn.DEPLOYMENT_RUNS.items():
    mine = [r for r in rows if r['method'] == names[run]]
    assert [int(r['deployment']) for r in mine] == [1, 2, 3]
    table_row = md.split(f'| {names[run]} |')[1].split('\n')[0]
    unfinished = sum(len(s) < 3 for s in per_seed)
    assert table_row.startswith(f' {len(per_seed)} | {unfinished} |')
    for d, r in enumerate(mine):
      values = [s[d] for s in per_seed if len(s) > d]
      assert float(r['return_mean']) == np.mean(values)
      assert float(r['return_std']) == np.std(values) and int(r['seeds']) == len(values)
      assert float(r['data_return_mean']) == np.mean(values) / 2  # the fixture's batches
      assert float(r['real_transitions']) == 50_000 * (d + 1)
      cell = f'{np.mean(values):.0f} ± {np.std(values):.0f}' + (
          f' (n={len(values)})' if len(values) != len(per_seed) else '')
      assert f'| {cell} |' in table_row
  budgets = {r['method']: r['budget'] for r in rows}
  assert budgets['BREMEN'] == ('50 TRPO updates (2 x 25) on 50,000-step imagined batches, '
                               'dynamics <= 5 epochs, BC 100,000 steps')
  assert budgets['ME-TRPO'] == budgets['KL penalty α=0.1 (no BC init)'] == (
      '50 TRPO updates (2 x 25) on 50,000-step imagined batches, dynamics <= 5 epochs')
  assert budgets['BCQ'] == '30,000 gradient steps'
  # Online SAC at d x 50K env steps: its last evaluation at or before them.
  sac = [dict(syn.SAC_RETURNS)[50_000 * d] for d in (1, 2, 3)]
  assert ('| online SAC at 50,000 x d env steps | 1 | 0 | a new policy after every gradient step '
          '(deployment-unconstrained) | ' + ' | '.join(f'{v:.0f} ± 0' for v in sac) + ' |') in md
  assert md.index('| BREMEN |') < md.index('| ME-TRPO |') < md.index('| BCQ |') < md.index(
      '| KL penalty')
  for suffix in ('.png', '_iterations.png', '_kl.png'):
    assert os.path.getsize(f'{out}{suffix}') > 0


def test_an_unfinished_sac_run_is_never_read_past_where_it_got(old_runs, tmp_path):
  """SAC stopped at 100K env steps: its cells at 150K and 200K are '–', not its 100K return; a SAC
  run with a deviation is a row of its own."""
  sac = tmp_path / 'sac'
  shutil.copytree(f'{old_runs}/deployment_sac/halfcheetah/seed0', sac / 'halfcheetah' / 'seed0')
  os.remove(sac / 'halfcheetah' / 'seed0' / 'DONE')
  syn.write_csv(str(sac / 'halfcheetah' / 'seed0' / 'metrics.csv'), [
      {'step': s - 10_000, 'env_steps': s, 'eval_return_mean': r, 'eval_return_std': 1.0}
      for s, r in syn.SAC_RETURNS if s <= 100_000])
  shutil.copytree(sac / 'halfcheetah' / 'seed0', sac / 'halfcheetah' / 'seed1')
  with open(sac / 'halfcheetah' / 'seed1' / 'config.gin', 'a') as f:
    f.write('Sac.copy_targets_at_init = True\n')
  if os.path.exists(sac / 'halfcheetah' / 'seed1' / 'run.json'):  # made from the old config
    os.remove(sac / 'halfcheetah' / 'seed1' / 'run.json')
  out = tmp_path / 'dep'
  with script('deployment_tables', f'--runs={old_runs}/deployment/*/seed*',
              f'--sac_runs={sac}/*/seed*', f'--out={out}') as tables:
    tables.main([])
  md = open(f'{out}.md').read()
  first, second = (dict(syn.SAC_RETURNS)[s] for s in (50_000, 100_000))
  tail = f'(deployment-unconstrained) | {first:.0f} ± 0 | {second:.0f} ± 0 | – |'
  assert f'| online SAC at 50,000 x d env steps | 1 | 1 | a new policy after every gradient step {tail}' in md
  assert ("| online SAC + SAC's targets copied at init (deviation) at 50,000 x d env steps | 1 | 1 "
          f'| a new policy after every gradient step {tail}') in md


def test_plot_offline_reports_progress_and_the_bc_policy(old_runs, tmp_path):
  runs = [f'{old_runs}/offline/halfcheetah_100k+bremen/seed0',
          f'{old_runs}/offline/hopper_100k+bremen/seed2']
  with script('plot_offline', f'--runs={",".join(runs)}', f'--out={tmp_path / "c"}') as plot:
    plot.main([])
  md = (tmp_path / 'c.md').read_text()
  assert ('| bremen/HalfCheetah-v0 pure 100k | 4 of 4 | yes | 4000.0 | 900.0 | 5000.0 ± 14.0 | '
          '5000.0 | [10, 9, 8, 10, 7] |') in md
  assert '| bremen/Hopper-v0 pure 100k | 2 of 4 | no | 1100.0 | 900.0 | 777.0 ± 12.0 |' in md
  assert len(read_rows(tmp_path / 'c.csv')) == 5 + 3 and (tmp_path / 'c.png').exists()


def test_plot_offline_runs_without_a_dataset_return(old_runs, tmp_path, monkeypatch):
  # A dataset of only cut-off episodes has no behaviour return (dataset.return_stats: mean None)
  real = run_reader.offline_curve
  monkeypatch.setattr(run_reader, 'offline_curve', lambda p: {**real(p), 'dataset_return': None})
  run = f'{old_runs}/offline/halfcheetah_100k+bremen/seed0'
  with script('plot_offline', f'--runs={run}', f'--out={tmp_path / "c"}') as plot:
    plot.main([])
  assert ('| bremen/HalfCheetah-v0 pure 100k | 4 of 4 | yes | n/a | 900.0 | 5000.0 ± 14.0 |'
          in (tmp_path / 'c.md').read_text())


def test_plot_model_free_shows_both_brac_policies(old_runs, tmp_path):
  run = f'{old_runs}/offline/halfcheetah_100k+brac/seed1'
  with script('plot_model_free', f'--runs={run}', f'--out={tmp_path / "m"}') as plot:
    plot.main([])
  rows = read_rows(tmp_path / 'm.csv')
  last = {r['metric']: float(r['value']) for r in rows if r['step'] == '30000'}
  final = syn.OFFLINE_FINALS[('HalfCheetah', '100k', 'brac')][1]
  assert last['eval_return_mean'] == final
  assert last['eval_max_q_return_mean'] == final + syn.MAX_Q_BONUS
  assert '## HalfCheetah 100K, BRAC (halfcheetah_100k+brac/seed1)' in (tmp_path / 'm.md').read_text()
  with script('plot_model_free', f'--runs={old_runs}/offline/halfcheetah_100k+bremen/seed0',
              f'--out={tmp_path / "x"}') as plot:
    with pytest.raises(SystemExit, match='plot it with launch/plot_offline.py'):
      plot.main([])
  with script('plot_model_free', f'--runs={old_runs}/deployment/halfcheetah_50k+bcq/seed0',
              f'--out={tmp_path / "x"}') as plot:
    with pytest.raises(SystemExit, match='is not an offline run directory'):
      plot.main([])


def records(root, path):
  """Every reader's record of the run at `path`, with `root` written as ROOT."""
  found = (run_reader.offline_records(path), run_reader.deployment_record(path),
           run_reader.sac_record(path), run_reader.offline_curve(path))
  return json.loads(json.dumps(found).replace(root, 'ROOT'))


def test_old_and_new_run_directories_give_identical_records(old_runs, new_runs):
  paths = sorted(glob.glob(f'{old_runs}/*/*/seed*'))
  assert len(paths) == 27
  for old in paths:
    new = old.replace(old_runs, new_runs)
    assert os.path.exists(f'{new}/run.json') and not os.path.exists(f'{old}/run.json')
    assert records(old_runs, old) == records(new_runs, new), old


def test_a_config_gin_changed_after_run_json_is_described_afresh(new_runs, tmp_path):
  """run.json holds the description of the config.gin it was made with; a copy of a run whose
  config.gin was edited (another budget) is described from its config.gin."""
  import shutil  # pylint: disable=g-import-not-at-top
  copy = tmp_path / 'copy'
  shutil.copytree(f'{new_runs}/deployment/halfcheetah_50k/seed0', copy)
  config = (copy / 'config.gin').read_text()
  (copy / 'config.gin').write_text(config.replace('iterations_per_deployment = 2',
                                                  'iterations_per_deployment = 3'))
  assert run_reader.deployment_record(str(copy))['budget'].startswith('75 TRPO updates (3 x 25)')
  assert run_reader.deployment_record(
      f'{new_runs}/deployment/halfcheetah_50k/seed0')['budget'].startswith('50 TRPO updates')
  # While config.gin is the one run.json was made from, run.json is what is read.
  (copy / 'config.gin').write_text(config)
  saved = json.loads((copy / 'run.json').read_text())
  saved['description']['method'] = 'as run.json says'
  (copy / 'run.json').write_text(json.dumps(saved))
  assert run_reader.deployment_record(str(copy))['method'] == 'as run.json says'


def test_describe_reads_bindings_macros_and_the_code_defaults():
  describe.register_configurables()
  with describe.parsed_config('''
      ITERATIONS = 7
      train_offline.outer_iterations = %ITERATIONS
      train_offline.env_id = 'bremen/Hopper-v0'
      other/train_offline.updates_per_iteration = 3   # a scope: not what the run's call gets
      train_offline.policy_init = 'random'
      '''):
    d = describe.describe('offline', seed=4)
  assert d['budget']['train_offline.outer_iterations'] == 7
  assert d['budget']['train_offline.updates_per_iteration'] == 25  # the default
  assert d['method'] == 'me_trpo' and d['seed'] == 4 and d['env_id'] == 'bremen/Hopper-v0'
  assert d['budget']['train_model_free.train_steps'] is None  # None stays None
  assert (d['dataset'], d['dataset_size'], d['noise']) == (None, '1m', 'pure')
  with describe.parsed_config("train_deployment.env_id = 'bremen/Ant-v0'\n"
                              'ImaginedTRPO.alpha = 1.0'):
    d = describe.describe(describe.kind_of_config())
    assert gin.query_parameter('ImaginedTRPO.alpha') == 1.0
  assert d['kind'] == 'deployment' and d['method'] == 'KL penalty α=1 + BC init'
  with pytest.raises(ValueError):
    gin.query_parameter('ImaginedTRPO.alpha')  # the config is cleared after the block
  with pytest.raises(ValueError, match='kind'):
    describe.describe('online')


def test_open_run_writes_the_description_once(tmp_path):
  gin_dir = os.path.join(syn.LAUNCH, '..', 'gin')
  # Any script imports launch_common and its flags; parse a launcher's flags with them.
  with script('plot_offline', '--runs=x', '--out=x', f'--gin_file={gin_dir}/hopper_100k.gin',
              f'--gin_file={gin_dir}/budget/table.gin', '--seed=3'):
    import launch_common  # pylint: disable=g-import-not-at-top
    gin.clear_config()
    try:
      launch_common.setup('train_offline')
      run = launch_common.open_run(str(tmp_path / 'run'))
      run.close()
      written = json.load(open(tmp_path / 'run' / 'run.json'))['description']
      assert written == describe.describe('offline', seed=3)
    finally:
      gin.clear_config()
      launch_common._current_run = None  # pylint: disable=protected-access
  assert written['budget']['train_offline.outer_iterations'] == 4
  assert written['env_id'] == 'bremen/Hopper-v0' and written['dataset_size'] == '100k'
  assert run_reader.description(str(tmp_path / 'run')) == written


def test_an_unfinished_model_free_run_without_train_steps_shows_its_planned_budget(tmp_path):
  """train_steps unbound (None) means the BRAC protocol's steps for the algorithm, not the steps
  an unfinished run happened to reach."""
  path = str(tmp_path / 'bcq')
  syn.write_run(path, {'train_offline.env_id': 'bremen/Hopper-v0',
                       'train_offline.dataset_size': '100k', 'train_offline.algorithm': 'bcq'},
                syn.model_free_metrics(700.0, 20_000), syn.dataset_state('Hopper', '100k'),
                finished=False, seed=0)
  (record,) = run_reader.offline_records(path)
  assert record['budget'] == '500k gradient steps'
  assert record['curve'][-1][0] == 20_000 / 500_000


def test_small_means_and_ratios_keep_their_sign_and_size():
  """The committed HalfCheetah 100K ME-TRPO cell (-0.33 ± 0.28) once printed as '-0 ± 0'."""
  from bremen_tf import results  # pylint: disable=g-import-not-at-top
  assert results.mean_std_text(-0.33, 0.28) == '-0.3 ± 0.3'
  assert results.mean_std_text(5354.2, 44.4) == '5354 ± 44'
  assert results.mean_std_text(-10.3, 0.04) == '-10 ± 0'
  assert results.ratio_text(-0.33 / 4909) == '-7e-05' and results.ratio_text(1.094) == '1.09'
