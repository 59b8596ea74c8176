"""Runs with an opt-in deviation from the original (README, "Deviations and options") are never
averaged into a paper method's cell: the offline and D4RL tables leave them out and name them, the
deployment tables give them their own row, whether their run.json records the deviation or (runs
started before it did) only their config.gin binds it. Synthetic run directories, in this process."""
import csv
import json
import os

import numpy as np
import pytest

import test_reporting_d4rl as d4rl_runs
import test_reporting_runs as syn
from test_reporting_runs import script
from bremen_tf import errors
from bremen_tf.reporting import describe, run_reader

BOX = {'ImaginedTRPO.data_box_margin': 0.1}
PLAIN, GUARDED = [5000.0, 5200.0], 100.0  # the guarded final would pull the cell's mean down


def read_rows(path):
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def strip_deviations(path):
  """run.json as a run started before descriptions had deviations wrote it."""
  saved = json.loads(open(os.path.join(path, 'run.json')).read())
  del saved['description']['deviations']
  with open(os.path.join(path, 'run.json'), 'w') as f:
    json.dump(saved, f)


@pytest.fixture(scope='module')
def root(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('deviations'))
  cheetah = {'train_offline.env_id': syn.CHEETAH, 'train_offline.noise': 'pure',
             'train_offline.dataset_size': '100k', **syn.GIN_ENV['HalfCheetah'],
             **syn.TABLE_BUDGET}
  for seed, final in enumerate(PLAIN):
    syn.write_run(f'{root}/offline/halfcheetah_100k/seed{seed}', cheetah,
                  syn.bremen_metrics(final, 4, 25), syn.dataset_state('HalfCheetah', '100k'),
                  True, seed, kind='offline')
  guarded = f'{root}/offline/halfcheetah_100k+box/seed0'
  syn.write_run(guarded, {**cheetah, **BOX}, syn.bremen_metrics(GUARDED, 4, 25),
                syn.dataset_state('HalfCheetah', '100k'), True, 0, kind='offline')
  strip_deviations(guarded)
  deploy = {**syn.DEPLOY_BASE, **syn.GIN_ENV['HalfCheetah']}
  for seed, returns in enumerate([[100.0, 800.0, 1500.0], [300.0, 1000.0, 1700.0]]):
    metrics, deployments = syn.deployment_files(returns, 2, 50_000)
    syn.write_run(f'{root}/deployment/halfcheetah_50k/seed{seed}', deploy, metrics,
                  {'stage': 'trpo_done', 'deployment': 3}, True, seed, deployments=deployments,
                  kind='deployment')
  metrics, deployments = syn.deployment_files([50.0, 60.0, 70.0], 2, 50_000)
  syn.write_run(f'{root}/deployment/halfcheetah_50k+box/seed0', {**deploy, **BOX}, metrics,
                {'stage': 'trpo_done', 'deployment': 3}, True, 0, deployments=deployments,
                kind='deployment')
  return root


def test_describe_names_the_bound_deviations_only():
  describe.register_configurables()
  with describe.parsed_config("train_offline.env_id = 'bremen/Hopper-v0'"):
    assert describe.describe('offline')['deviations'] == []
  with describe.parsed_config('ImaginedTRPO.fisher_subsample = 1.0\n'  # its default: none
                              "train_deployment.bc_data = 'newest'"):
    assert describe.deviations() == []
  with describe.parsed_config('ImaginedTRPO.data_box_margin = 0.1\n'
                              'ImaginedTRPO.fisher_subsample = 0.25\n'
                              "train_deployment.bc_data = 'all'\n"
                              'Sac.copy_targets_at_init = True'):
    assert describe.describe('deployment')['deviations'] == [
        'data box 0.1', 'Fisher products on 25% of the batch', "BC on 'all' batches",
        "SAC's targets copied at init"]
  # data_box_margin = 0 is a box (the data's own range), not the default (None: no box).
  with describe.parsed_config('ImaginedTRPO.data_box_margin = 0.0'):
    assert describe.deviations() == ['data box 0']
  with describe.parsed_config("DynamicsEnsemble.fit_matmul_dtype = 'float32'"):
    assert describe.deviations() == []
  with describe.parsed_config("DynamicsEnsemble.fit_matmul_dtype = 'bfloat16'"):
    assert describe.deviations() == ['dynamics fit in bfloat16']


def test_a_run_json_without_deviations_reads_them_from_config_gin(root):
  path = f'{root}/offline/halfcheetah_100k+box/seed0'
  assert 'deviations' not in json.load(open(f'{path}/run.json'))['description']
  assert run_reader.description(path)['deviations'] == ['data box 0.1']
  assert run_reader.description(f'{root}/offline/halfcheetah_100k/seed0')['deviations'] == []


def test_offline_tables_leave_a_deviating_run_out_and_name_it(root, tmp_path, capsys):
  with script('tables', f'--runs={root}/offline/*/seed*', f'--out_dir={tmp_path}') as tables:
    tables.main([])
  rows = {(r['env'], r['method']): r for r in read_rows(tmp_path / 'offline_100k.csv')}
  cell = rows[('HalfCheetah', 'bremen')]
  assert (float(cell['mean']), float(cell['std']), cell['seeds']) == (
      np.mean(PLAIN), np.std(PLAIN), '2')
  md = (tmp_path / 'offline_100k.md').read_text()
  note = ('Left out of this table: 1 run(s) with an opt-in deviation from the original (README, '
          f'"Deviations and options"), which are not the paper\'s methods: '
          f'`{root}/offline/halfcheetah_100k+box/seed0` (data box 0.1).')
  assert note in md and note in capsys.readouterr().out


def test_offline_tables_refuse_a_glob_of_deviating_runs_only(root, tmp_path):
  with script('tables', f'--runs={root}/offline/*+box/seed*', f'--out_dir={tmp_path}') as tables:
    with pytest.raises(SystemExit, match='every run matching .* has an opt-in deviation'):
      tables.main([])
  assert not os.listdir(tmp_path)


def test_deployment_tables_give_a_deviating_run_its_own_row(root, tmp_path):
  out = tmp_path / 'dep'
  with script('deployment_tables', f'--runs={root}/deployment/*/seed*',
              f'--sac_runs={root}/none/*', f'--out={out}') as tables:
    tables.main([])
  rows = read_rows(f'{out}.csv')
  plain = [float(r['return_mean']) for r in rows if r['method'] == 'BREMEN']
  boxed = [float(r['return_mean']) for r in rows
           if r['method'] == 'BREMEN + data box 0.1 (deviation)']
  assert plain == [200.0, 900.0, 1600.0] and boxed == [50.0, 60.0, 70.0]
  md = open(f'{out}.md').read()
  assert md.index('| BREMEN |') < md.index('| BREMEN + data box 0.1 (deviation) |')


def test_d4rl_table_leaves_a_deviating_run_out(tmp_path):
  runs = str(tmp_path / 'runs')
  for seed, final in enumerate([1800.0, 2200.0]):
    d4rl_runs.write(runs, 'hopper', 'medium', 'bremen', 'table', seed, final)
  guarded = os.path.join(runs, 'd4rl-hopper_medium+bremen+box')
  bindings = {'train_offline.dataset': d4rl_runs.binding('hopper', 'medium'),
              **syn.GIN_ENV['Hopper'], **syn.TABLE_BUDGET, **BOX}
  syn.write_run(f'{guarded}/seed0', bindings,
                d4rl_runs.metrics('hopper', 'bremen', 10.0, 'table'),
                d4rl_runs.state('hopper', 'medium'), True, 0, kind='offline')
  rows, md = d4rl_runs.make_table(f'{runs}/*/seed*', tmp_path / 'd4rl')
  (row,) = [r for r in rows if r['method'] == 'bremen']
  assert float(row['return_mean']) == 2000.0 and row['seeds'] == '2'
  assert f'`{guarded}/seed0` (data box 0.1)' in md
  with pytest.raises(errors.ConfigError, match='every run .* has an opt-in deviation'):
    d4rl_runs.make_table(f'{guarded}/seed*', tmp_path / 'none')


def test_a_config_gin_this_code_cannot_parse_is_a_clear_error(tmp_path):
  """An older run.json (no deviations) sends the reader to config.gin; one that no longer parses
  (a parameter since removed) is named, not a bare gin error."""
  (tmp_path / 'config.gin').write_text('ImaginedTRPO.no_such_parameter = 3\n')
  (tmp_path / 'run.json').write_text(json.dumps({
      'description': {'kind': 'offline'}, 'config_sha256': describe.config_digest(
          'ImaginedTRPO.no_such_parameter = 3\n')}))
  with pytest.raises(errors.ConfigError, match=r'config.gin does not parse with this code .*'
                                               'no_such_parameter'):
    run_reader.description(str(tmp_path))
