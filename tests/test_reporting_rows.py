"""Issue 20's rows in the generated files, on synthetic run directories (no training, in this
process): the offline tables with four envs (Walker2d and Ant beside HalfCheetah and Hopper), the
columns of an earlier table kept for envs whose runs are not here, and the plain statement per
cell."""
import csv
import itertools
import os

import numpy as np
import pytest

import test_reporting_runs as syn
from test_reporting_runs import script
from bremen_tf.paper_results import METHOD_NAMES, OFFLINE
from bremen_tf.results import mean_std_text, ratio_text

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV_IDS = {'Ant': 'bremen/Ant-v0', 'HalfCheetah': syn.CHEETAH, 'Hopper': syn.HOPPER,
           'Walker2d': 'bremen/Walker2d-v0'}
DATASET = {'Ant': 1500.0, 'HalfCheetah': 4000.0, 'Hopper': 1100.0, 'Walker2d': 1300.0}
# env -> method -> final return per seed (all finished, 100k, the table budget).
FINALS = {
    'Ant': {'bremen': [1700.0, 1900.0, 1800.0], 'bc': [1550.0, 1450.0], 'me_trpo': [900.0],
            'bcq': [1600.0, 1650.0, 1700.0], 'brac': [-200.0, 100.0]},
    'HalfCheetah': {'bremen': [5000.0, 5200.0], 'bc': [4200.0, 4300.0]},
    'Hopper': {'bremen': [1200.0], 'bc': [1000.0, 1050.0], 'bcq': [1300.0]},
    'Walker2d': {'bremen': [2100.0, 2300.0, 2200.0], 'bc': [1400.0, 1380.0, 1420.0],
                 'bcq': [2400.0, 2100.0], 'brac': [1200.0, 900.0, 600.0],
                 'me_trpo': [20.0, -10.0, 40.0]},
}


def dataset_state(env):
  return {'stage': 'trpo', 'dataset': {
      'size': 100_000, 'noise': 'pure', 'env_id': ENV_IDS[env],
      'behavior_returns': {'mean': DATASET[env], 'std': 50.0, 'episodes': 100}}}


def build(root, envs):
  for env in envs:
    for method, finals in FINALS[env].items():
      for seed, final in enumerate(finals):
        bindings = {'train_offline.env_id': ENV_IDS[env], 'train_offline.noise': 'pure',
                    'train_offline.dataset_size': '100k', **syn.TABLE_BUDGET, **syn.ALGO[method]}
        metrics = (syn.bremen_metrics(final, 4, 25) if method in ('bremen', 'me_trpo')
                   else syn.model_free_metrics(final, 30_000, brac=method == 'brac'))
        name = env.lower() + '_100k' + ('' if method == 'bremen' else f'+algos-{method}')
        syn.write_run(os.path.join(root, 'offline', name + '+budget-table', f'seed{seed}'),
                      bindings, metrics, dataset_state(env), True, seed)
  return root


def expected(env):
  """method -> mean of the finals (BRAC's max-Q row included)."""
  out = {m: float(np.mean(f)) for m, f in FINALS[env].items()}
  if 'brac' in out:
    out['brac_max_q'] = out['brac'] + syn.MAX_Q_BONUS
  return out


def finals_of(env, method):
  if method == 'brac_max_q':
    return [f + syn.MAX_Q_BONUS for f in FINALS[env]['brac']]
  return FINALS[env][method]


def read_rows(path):
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def make_tables(runs_glob, out, *extra):
  with script('tables', f'--runs={runs_glob}', f'--out_dir={out}', '--sizes=100k',
              *extra) as tables:
    tables.main([])
  return (out / 'offline_100k.md').read_text(), {
      (r['env'], r['method']): r for r in read_rows(out / 'offline_100k.csv')}


def order(values):
  return ' > '.join(METHOD_NAMES[m] for m in sorted(values, key=values.get, reverse=True))


def agreement(ours, paper):
  pairs = list(itertools.combinations(ours, 2))
  return sum((ours[a] > ours[b]) == (paper[a] > paper[b]) for a, b in pairs), len(pairs)


def side(value, reference):
  return 'above' if value > reference else 'below' if value < reference else 'level with'


def statement(env, method, mean, std, n, data, ours_bremen, carried=False):
  """The plain statement the table should give, computed here from the fixture."""
  p_mean, p_std = OFFLINE['100k'][method][env]
  p_data = OFFLINE['100k']['dataset'][env][0]
  here, there = side(mean, data), side(p_mean, p_data)
  text = (f'- {env} 100K, {METHOD_NAMES[method]}: {mean_std_text(mean, std)} over {n} seed(s)'
          + (' (earlier table)' if carried else '')
          + f' = {ratio_text(mean / data)} x our dataset ({ratio_text(p_mean / p_data)} x in the '
          'paper); '
          + (f'{here} the dataset here and in the paper' if here == there
             else f'{here} the dataset here, {there} it in the paper'))
  if method != 'bremen' and ours_bremen is not None:
    p_bremen = OFFLINE['100k']['bremen'][env][0]
    here, there = side(mean, ours_bremen), side(p_mean, p_bremen)
    text += (f'; {here} BREMEN here and in the paper' if here == there
             else f'; {here} BREMEN here, {there} it in the paper')
  return text + f' (paper {p_mean} ± {p_std}).'


@pytest.fixture(scope='module')
def four(tmp_path_factory):
  return build(str(tmp_path_factory.mktemp('four')), FINALS)


def test_four_envs_give_every_row_column_and_number(four, tmp_path):
  md, rows = make_tables(f'{four}/offline/*+budget-table/seed*', tmp_path)
  envs = ('Ant', 'HalfCheetah', 'Hopper', 'Walker2d')  # the paper's column order
  assert ('| Method | ' + ' | '.join(f'{e}: ours' for e in envs) + ' | '
          + ' | '.join(f'{e}: paper' for e in envs) + ' |') in md
  assert ('| Method | ' + ' | '.join(f'{e}: {w}' for e in envs for w in ('ours', 'paper'))
          + ' |') in md
  assert '| Dataset | ' + ' | '.join(f'{DATASET[e]:.0f}' for e in envs) + ' | ' + ' | '.join(
      str(OFFLINE['100k']['dataset'][e][0]) for e in envs) + ' |' in md
  methods = ('bc', 'bcq', 'brac', 'brac_max_q', 'bremen', 'me_trpo')
  for method in methods:
    cells, ratios = [], []
    for env in envs:
      row = rows[(env, method)]
      if method not in expected(env):
        assert (row['mean'], row['seeds']) == ('', '0')
        cells.append('—')
        ratios.append('—')
      else:
        finals = finals_of(env, method)
        mean, std = np.mean(finals), np.std(finals)
        assert float(row['mean']) == mean and float(row['std']) == std
        assert int(row['seeds']) == len(finals) and float(row['dataset_return']) == DATASET[env]
        assert float(row['ratio_to_dataset']) == mean / DATASET[env]
        cells.append(f'{mean_std_text(mean, std)} (n={len(finals)})')
        ratios.append(ratio_text(mean / DATASET[env]))
      p_mean, p_std = OFFLINE['100k'][method][env]
      p_ratio = p_mean / OFFLINE['100k']['dataset'][env][0]
      assert float(row['paper_ratio']) == p_ratio
      ratios.append(ratio_text(p_ratio))
    paper = [f'{OFFLINE["100k"][method][e][0]} ± {OFFLINE["100k"][method][e][1]}' for e in envs]
    assert f'| {METHOD_NAMES[method]} | ' + ' | '.join(cells + paper) + ' |' in md
    assert f'| {METHOD_NAMES[method]} | ' + ' | '.join(ratios) + ' |' in md
  for env in envs:
    ours = expected(env)
    paper = {m: OFFLINE['100k'][m][env][0] for m in ours}
    agree, total = agreement(ours, paper)
    assert f'| {env} | {order(ours)} | {order(paper)} | {agree}/{total} |' in md
    for method in methods:
      if method in ours:
        finals = finals_of(env, method)
        assert statement(env, method, np.mean(finals), np.std(finals), len(finals),
                         DATASET[env], ours['bremen']) + '\n' in md
      else:
        p_mean, p_std = OFFLINE['100k'][method][env]
        assert (f'- {env} 100K, {METHOD_NAMES[method]}: not run yet (paper {p_mean} ± '
                f'{p_std}).\n') in md
  assert '- Ant 100K, BC: 1500 ± 50 over 2 seed(s) = 1.00 x our dataset' in md
  assert 'level with the dataset here, above it in the paper' in md  # Ant BC = its dataset
  assert md.index('## What each cell shows') < md.index('## Learning curves')
  curves = read_rows(tmp_path / 'offline_100k_curves.csv')
  assert {r['env'] for r in curves} == set(envs)


def test_an_earlier_table_keeps_the_envs_whose_runs_are_not_here(four, tmp_path):
  """HalfCheetah and Hopper from an earlier generation, Walker2d and Ant from their runs: the
  result equals the table made from all four envs' runs, but for the marks."""
  first = tmp_path / 'first'
  make_tables(f'{four}/offline/[hH]*+budget-table/seed*', first)
  both = tmp_path / 'both'
  md, rows = make_tables(f'{four}/offline/[aw]*+budget-table/seed*', both,
                         f'--earlier={first}/offline_{{size}}.csv')
  _, direct = make_tables(f'{four}/offline/*+budget-table/seed*', tmp_path / 'direct')
  assert set(rows) == set(direct)
  for key, row in rows.items():
    for column in ('mean', 'std', 'seeds', 'unfinished', 'dataset_return', 'ratio_to_dataset',
                   'paper_ratio', 'budget'):
      assert row[column] == direct[key][column], (key, column)
  assert '5100 ± 100 (n=2) (earlier table)' in md.split('| BREMEN |')[1].split('\n')[0]
  assert 'HalfCheetah, Hopper from the earlier table' in md
  ours = expected('HalfCheetah')
  paper = {m: OFFLINE['100k'][m]['HalfCheetah'][0] for m in ours}
  agree, total = agreement(ours, paper)
  assert f'| HalfCheetah | {order(ours)} | {order(paper)} | {agree}/{total} |' in md
  assert statement('HalfCheetah', 'bc', 4250.0, 50.0, 2, DATASET['HalfCheetah'], 5100.0,
                   carried=True) in md
  assert {r['env'] for r in read_rows(both / 'offline_100k_curves.csv')} == {'Ant', 'Walker2d'}
  # Regenerating from its own output keeps the same cells (the command is idempotent).
  md2, rows2 = make_tables(f'{four}/offline/[aw]*+budget-table/seed*', both,
                           f'--earlier={both}/offline_{{size}}.csv')
  assert rows2 == rows


def test_a_mistyped_earlier_table_is_refused_before_anything_is_written(four, tmp_path):
  with pytest.raises(SystemExit, match='no such file for sizes 100k'):
    make_tables(f'{four}/offline/[aw]*+budget-table/seed*', tmp_path / 'out',
                f'--earlier={tmp_path}/offline_{{size}}.csv')
  assert not (tmp_path / 'out').exists()


def test_the_committed_table_is_kept_beside_new_walker2d_and_ant_runs(tmp_path):
  """The coverage job's command: the committed results/offline_100k.csv (HalfCheetah, Hopper;
  their runs are not on this machine) and new Walker2d/Ant runs."""
  runs = build(str(tmp_path / 'runs'), ('Walker2d', 'Ant'))
  committed = {(r['env'], r['method']): r
               for r in read_rows(os.path.join(REPO, 'results', 'offline_100k.csv'))}
  md, rows = make_tables(f'{runs}/offline/*+budget-table/seed*', tmp_path / 'out',
                         f'--earlier={REPO}/results/offline_{{size}}.csv')
  kept = {k: r for k, r in committed.items() if k[0] not in ('Walker2d', 'Ant')}
  assert {e for e, _ in kept} >= {'HalfCheetah', 'Hopper'}
  for (env, method), row in kept.items():  # kept as committed
    assert rows[(env, method)]['mean'] == row['mean'], (env, method)
    assert rows[(env, method)]['seeds'] == row['seeds']
  assert rows[('HalfCheetah', 'bremen')]['seeds'] == '3'
  assert float(rows[('Walker2d', 'bremen')]['mean']) == np.mean(FINALS['Walker2d']['bremen'])
  assert '| Method | Ant: ours | HalfCheetah: ours | Hopper: ours | Walker2d: ours |' in md


# Deployment runs: name -> (bindings, per seed the end-of-deployment returns, KL scale). The KL
# of outer iteration `it` (deployment > 1) is 0.001 * it * scale (syn.deployment_files, scaled).
DEPLOY_BUDGET = {'train_deployment.transitions_per_deployment': 50_000,
                 'train_deployment.iterations_per_deployment': 4,
                 'DynamicsEnsemble.max_epochs': 5, 'behavior_clone.steps': 100_000,
                 'train_deployment_model_free.train_steps': 30_000,
                 'train_deployment_model_free.behavior_steps': 30_000}
CHEETAH_DEPLOY = {'train_deployment.env_id': syn.CHEETAH, 'train_deployment.deployments': 3,
                  **DEPLOY_BUDGET}
REACH = {'train_deployment.deployments': 3, 'train_deployment.transitions_per_deployment': 5000,
         'train_deployment.iterations_per_deployment': 4, 'ImaginedTRPO.batch_size': 10_000,
         'DynamicsEnsemble.max_epochs': 10, 'behavior_clone.steps': 20_000}
ALPHA = {'train_deployment.policy_init': 'random'}
DEPLOY = {
    'halfcheetah': (CHEETAH_DEPLOY, [[100.0, 800.0, 1500.0], [300.0, 1000.0, 1700.0]], 1.0),
    'halfcheetah+alpha_0.1': ({**CHEETAH_DEPLOY, **ALPHA, 'ImaginedTRPO.alpha': 0.1},
                              [[50.0, 300.0, 600.0], [70.0, 500.0, 800.0]], 10.0),
    'halfcheetah+alpha_1.0': ({**CHEETAH_DEPLOY, **ALPHA, 'ImaginedTRPO.alpha': 1.0},
                              [[20.0, 100.0, 2000.0]], 0.1),
    'handreach': ({**REACH, 'train_deployment.env_id': 'bremen/HandReach-v0'},
                  [[-9.5, -8.25, -7.0]], 1.0),
    'fetchreach': ({**REACH, 'train_deployment.env_id': 'bremen/FetchReach-v0'},
                   [[-8.0, -6.5, -5.5]], 1.0),
    'fetchreach+me_trpo': ({**REACH, 'train_deployment.env_id': 'bremen/FetchReach-v0', **ALPHA},
                           [[-9.0, -7.0, -6.0]], 1.0),
}
METHOD = {'halfcheetah': 'BREMEN', 'halfcheetah+alpha_0.1': 'KL penalty α=0.1 (no BC init)',
          'halfcheetah+alpha_1.0': 'KL penalty α=1 (no BC init)', 'handreach': 'BREMEN',
          'fetchreach': 'BREMEN', 'fetchreach+me_trpo': 'ME-TRPO'}
REACH_BUDGET = ('100 TRPO updates (4 x 25) on 10,000-step imagined batches, dynamics <= 10 '
                'epochs')


def build_deployment(root, names):
  for name in names:
    bindings, per_seed, scale = DEPLOY[name]
    for seed, returns in enumerate(per_seed):
      metrics, deployments = syn.deployment_files(returns, 4, bindings[
          'train_deployment.transitions_per_deployment'])
      for row in metrics:
        row['kl_to_previous_deployment'] *= scale
      path = os.path.join(root, 'deployment', name, f'seed{seed}')
      syn.write_run(path, bindings, metrics, {'stage': 'trpo_done', 'deployment': len(returns)},
                    True, seed, deployments=deployments)
      if name in POLICY_SCALE:
        ACTION_CHANGES[name, seed] = syn.write_policies(path, len(returns), POLICY_SCALE[name],
                                                        seed)
  return root


# Exported policies for BREMEN and α = 1 only (α = 0.1's statement goes without the action
# change): α = 1's policy moves farther in actions while its KL (scale 0.1) is the smaller.
POLICY_SCALE = {'halfcheetah': 0.01, 'halfcheetah+alpha_1.0': 0.1}
ACTION_CHANGES = {}  # (name, seed) -> {d: RMS action change}, filled by build_deployment


def end_kl(name, d):
  """The fixture's KL of deployment d's policy to deployment d - 1's (its last iteration)."""
  return 0.001 * (4 * d) * DEPLOY[name][2]


def make_deployment(runs, out, *extra):
  with script('deployment_tables', f'--runs={runs}/deployment/*/seed*',
              f'--sac_runs={runs}/none/*', f'--out={out}', *extra) as tables:
    tables.main([])
  return open(f'{out}.md').read(), read_rows(f'{out}.csv')


@pytest.fixture(scope='module')
def deploy(tmp_path_factory):
  return build_deployment(str(tmp_path_factory.mktemp('dep')), DEPLOY)


def test_handreach_fetchreach_me_trpo_and_the_ablation_are_reported(deploy, tmp_path):
  md, rows = make_deployment(deploy, tmp_path / 'dep')
  for name, (_, per_seed, _) in DEPLOY.items():
    env = {'h': 'HalfCheetah', 'f': 'FetchReach'}.get(name[0], 'HandReach')
    if name.startswith('handreach'):
      env = 'HandReach'
    mine = [r for r in rows if r['env'] == env and r['method'] == METHOD[name]]
    assert [int(r['deployment']) for r in mine] == [1, 2, 3], name
    for d, r in enumerate(mine):
      assert float(r['return_mean']) == np.mean([s[d] for s in per_seed])
      assert int(r['seeds']) == len(per_seed)
  assert '## HandReach, 5,000 transitions per deployment' in md
  assert f'| BREMEN | 1 | 0 | {REACH_BUDGET}, BC 20,000 steps | -9.5 ± 0.0 | -8.2 ± 0.0 |' in md
  assert f'| ME-TRPO | 1 | 0 | {REACH_BUDGET} | -9.0 ± 0.0 | -7.0 ± 0.0 | -6.0 ± 0.0 |' in md
  fetch = md.split('## FetchReach')[1].split('##')[0]
  assert fetch.index('| BREMEN |') < fetch.index('| ME-TRPO |')
  # The ablation: its figure and a statement per KL-penalty method, computed here.
  assert os.path.getsize(tmp_path / 'dep_ablation.png') > 0
  section = md.split('## The α ablation')[1].split('\n## ')[0]
  for name in ('halfcheetah+alpha_0.1', 'halfcheetah+alpha_1.0'):
    kls = ', '.join(f'{d}: {end_kl(name, d):.3g} vs {end_kl("halfcheetah", d):.3g}'
                    for d in (2, 3))
    n = len(DEPLOY[name][1])
    assert (f'- HalfCheetah, 50,000 per deployment, {METHOD[name]} ({n} seed(s)) against BREMEN '
            f'(2 seed(s)): KL of each deployed policy to the previous one (mean over seeds), '
            f'deployments {kls}' + ('; RMS change' if name in POLICY_SCALE else '.')) in section
  ret = lambda name: np.mean([s[2] for s in DEPLOY[name][1]])
  assert ("Is implicit regularisation the more conservative update here? by the KL (the paper's "
          "measure), yes: BREMEN's implicit regularisation made the smaller update at every "
          'deployment compared. Return after '
          f'deployment 3: {ret("halfcheetah+alpha_0.1"):.0f} vs BREMEN '
          f'{ret("halfcheetah"):.0f} (not higher than BREMEN; the paper: lower).') in section
  change = lambda name, d: np.mean([c[d] for (n, _), c in ACTION_CHANGES.items() if n == name])
  changes = ', '.join(f'{d}: {change("halfcheetah+alpha_1.0", d):.3g} vs '
                      f'{change("halfcheetah", d):.3g}' for d in (2, 3))
  assert ("RMS change of the deterministic action from the previous deployment's policy (no σ in "
          f"it), deployments {changes}. Is implicit regularisation the more conservative update "
          "here? by the KL (the paper's measure), no: the explicit KL penalty made the smaller "
          "update at every deployment compared; by the action change, yes: BREMEN's implicit "
          'regularisation made the smaller update at every deployment compared. Return after '
          f'deployment 3: 2000 vs BREMEN {ret("halfcheetah"):.0f} (higher than BREMEN; the paper: '
          'lower).') in section
  assert section.count('RMS change of the deterministic action from') == 1  # not for α = 0.1
  assert 'HandReach' not in section and 'FetchReach' not in section


def test_an_earlier_deployment_table_keeps_the_rows_whose_runs_are_not_here(deploy, tmp_path):
  first = tmp_path / 'first'
  _, first_rows = make_deployment(deploy, first)
  runs = build_deployment(str(tmp_path / 'new'), ['handreach', 'halfcheetah+alpha_0.1'])
  md, rows = make_deployment(runs, tmp_path / 'both', f'--earlier={first}.csv')
  key = lambda r: (r['env'], r['batch'], r['method'], r['budget'], r['deployment'])
  assert sorted(map(key, rows)) == sorted(map(key, first_rows))
  for a, b in zip(sorted(rows, key=key), sorted(first_rows, key=key)):
    for column in ('real_transitions', 'return_mean', 'return_std', 'seeds', 'data_return_mean'):
      assert float(a[column]) == float(b[column]), (key(a), column)
  assert '| ME-TRPO | 1 | earlier table |' in md
  assert '| BREMEN | 1 | 0 |' in md.split('## HandReach')[1]  # from its run, not the CSV
  assert 'from the earlier table' in md
  assert '| ME-TRPO (earlier table: means only) | 100 TRPO updates | -4.5 | -3.5 | -3.0 |' in md


def test_a_mistyped_earlier_deployment_table_is_refused(deploy, tmp_path):
  out = tmp_path / 'deployment'
  out.with_suffix('.md').write_text('kept')
  with pytest.raises(SystemExit, match='absent.csv does not exist'):
    make_deployment(deploy, out, f'--earlier={tmp_path}/absent.csv')
  assert out.with_suffix('.md').read_text() == 'kept'


def test_the_committed_deployment_table_is_kept_beside_new_runs(tmp_path):
  """The coverage job's command: the committed results/deployment.csv (its runs are not on this
  machine) with new runs; BREMEN at gin/budget/deployment.gin is re-run, so its run replaces the
  committed row of the same budget."""
  runs = build_deployment(str(tmp_path / 'runs'), ['halfcheetah', 'halfcheetah+alpha_0.1',
                                                   'handreach'])
  md, rows = make_deployment(runs, tmp_path / 'dep', f'--earlier={REPO}/results/deployment.csv')
  committed = read_rows(os.path.join(REPO, 'results', 'deployment.csv'))
  key = lambda r: (r['env'], r['method'], r['budget'])
  ours = {key(r) for r in rows}
  assert {key(r) for r in committed} <= ours
  bremen = [r for r in rows if key(r) == ('HalfCheetah', 'BREMEN', (
      '100 TRPO updates (4 x 25) on 50,000-step imagined batches, dynamics <= 5 epochs, '
      'BC 100,000 steps'))]
  assert [float(r['return_mean']) for r in bremen] == [200.0, 900.0, 1600.0]  # the new runs
  brac = [r for r in rows if r['env'] == 'HalfCheetah' and r['method'] == 'BRAC']
  assert [r['return_mean'] for r in brac] == [r['return_mean'] for r in committed
                                               if r['env'] == 'HalfCheetah' and
                                               r['method'] == 'BRAC']
  assert '## HandReach' in md and '## The α ablation' in md


def test_the_ablation_verdict_says_level_and_names_another_budget():
  from conftest import script  # pylint: disable=g-import-not-at-top
  with script('deployment_tables') as tables:
    assert tables.smaller_update_verdict({2: 1.0, 3: 2.0}, {2: 1.0, 3: 3.0}, 'the KL') == (
        "by the KL, not decided: the two updates were level at 1 of 2 deployments (BREMEN's the "
        'smaller at 1)')
    assert tables.smaller_update_verdict({2: 1.0}, {2: 3.0}, 'the KL').startswith('by the KL, yes')
    group = lambda kl, ret: [{'returns': [0.0, ret], 'kls': {2: [kl]}, 'changes': {}}]
    tables.end_kls = lambda g: {d: [k for r in g for k in r['kls'][d]] for d in g[0]['kls']}
    tables.end_action_changes = lambda g: {}
    lines = tables.ablation_statements(
        {('HalfCheetah', 50_000, 'BREMEN', '100 TRPO updates'): group(1.0, 500.0),
         ('HalfCheetah', 50_000, 'KL penalty α=0.1 (no BC init)', '50 TRPO updates'):
             group(2.0, 400.0)}, [('HalfCheetah', 50_000)])
  assert ('KL penalty α=0.1 (no BC init) (1 seed(s)) against BREMEN (1 seed(s); at another budget, '
          '100 TRPO updates: no BREMEN run at this one): KL') in lines
