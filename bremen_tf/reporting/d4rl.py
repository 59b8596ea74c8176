"""The paper's D4RL table from our offline runs on external datasets (launch/d4rl_table.py).

A run belongs here when its dataset record (train_state.json, run_reader.offline_records'
`external`) names a 'minari:...' or 'd4rl:...' dataset. Runs are grouped into cells by task (env x
dataset kind: random, medium, medium-replay, medium-expert, expert), the dataset itself, method and
budget; a cell gives the mean ± std (population) over its finished runs of the final evaluation's
raw return and normalised score (x100, the metrics' `eval[_max_q]_normalized_score`), the number of
seeds, its unfinished runs (counted, not averaged), the budget it ran at against our code's default
budget (the paper's settings), and the paper's number for the task and method
(paper_results.D4RL).
"""
import collections
import os
import re

import numpy as np

from bremen_tf import errors, results
from bremen_tf.paper_results import (D4RL, D4RL_COLUMN_NAMES, D4RL_COLUMNS, D4RL_PAPER_COLUMN,
                                     D4RL_SOURCE, METHOD_NAMES, METHODS)
from bremen_tf.reporting import describe, labels, run_reader

DATASET_KINDS = ('random', 'medium', 'medium-replay', 'medium-expert', 'expert')
ENV_ORDER = ('halfcheetah', 'hopper', 'walker2d', 'ant')
METHOD_ORDER = ('bc', 'bremen') + tuple(m for m in METHODS if m not in ('bc', 'bremen'))
# Where our regenerated datasets live (launch/make_d4rl_datasets.py, d4rl_recipe.py).
REGENERATED_NAMESPACE = 'bremen-d4rl'
REGENERATED = 'regenerated on v5'
PROTOCOL = ('the D4RL protocol regenerated on gymnasium v5 (launch/make_d4rl_datasets.py), not '
            'the original D4RL files')
SOURCE_TEXT = {
    REGENERATED: PROTOCOL,
    'D4RL file': 'a D4RL .hdf5 file given by path (`d4rl:`): the original D4RL data if that is '
                 'what the file is, evaluated on our gymnasium v5 envs',
    'Minari': 'a Minari dataset not made by launch/make_d4rl_datasets.py (e.g. Farama\'s '
              '`mujoco/*` sets, which follow their own recipe, not D4RL\'s)',
}

# The commands that make the runs this table reads by default (docs/d4rl.md).
D4RL_CELLS = tuple(f'gin/d4rl/{env}_{kind.replace("-", "_")}.gin'
                   for env in ('halfcheetah', 'hopper')
                   for kind in ('random', 'medium', 'medium_replay'))
COMMANDS = (
    'python launch/make_d4rl_datasets.py --tf_threads=1\n'
    'python launch/sweep.py --runs_dir=runs/d4rl --algos=bremen,bc --seeds=0,1 '
    '--extra_gin=gin/budget/table.gin \\\n'
    f'    --gin_files={",".join(D4RL_CELLS)}\n'
    'python launch/d4rl_table.py          # -> results/d4rl.md, .csv, .png')
ONE_RUN = ('python launch/offline.py --gin_file=gin/d4rl/hopper_medium.gin '
           '--gin_file=gin/algos/bc.gin --gin_file=gin/budget/table.gin --seed=0 \\\n'
           '    --root_dir=runs/d4rl/d4rl-hopper_medium+algos-bc+budget-table/seed0')


def dataset_kind(binding):
  """'minari:bremen-d4rl/hopper/medium-replay-v0' or 'd4rl:/data/hopper_medium_replay-v2.hdf5'
  -> 'medium-replay'; a name with none of DATASET_KINDS -> the name without env and version
  ('minari:mujoco/hopper/simple-v0' -> 'simple')."""
  kind, name = binding.split(':', 1)
  name = re.split(r'[/\\]', name.rstrip('/\\'))[-1]
  if kind == 'd4rl':
    name = os.path.splitext(name)[0]
  name = re.sub(r'[-_]v\d+$', '', name.lower().replace('_', '-'))
  name = re.sub(rf'^({"|".join(ENV_ORDER)})-', '', name)
  for candidate in sorted(DATASET_KINDS, key=len, reverse=True):
    if re.search(rf'(^|-){candidate}($|-)', name):
      return candidate
  return name


def source_of(binding):
  """REGENERATED (our launch/make_d4rl_datasets.py), 'D4RL file' or 'Minari'."""
  kind, name = binding.split(':', 1)
  if kind == 'd4rl':
    return 'D4RL file'
  parts = re.split(r'[/\\]', name)
  return REGENERATED if REGENERATED_NAMESPACE in parts else 'Minari'


def method_name(method):
  return METHOD_NAMES.get(method, method.upper())


def method_rank(method):
  return (METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER), method)


def paper_budget(description):
  """The budget string of the run at our code's defaults (the paper's settings), or None."""
  full = dict(description, budget={k: describe.default(k) for k in description['budget']})
  try:
    return labels.offline_budget(full, {})
  except (KeyError, TypeError):  # an algorithm without a default step count
    return None


def read_runs(paths):
  """(records on external datasets, [paths of runs on the BRAC-protocol data], [paths without
  metrics or description]) for the run directories `paths`."""
  records, brac_protocol, unusable = [], [], []
  for path in paths:
    found = run_reader.offline_records(path)
    if not found:
      unusable.append(path)
    elif not found[0]['external']:
      brac_protocol.append(path)
    else:
      records += found
  return records, brac_protocol, unusable


def _stats(values):
  if not values or any(v is None for v in values):
    return None, None
  values = np.array(values, dtype=float)
  return float(values.mean()), float(values.std())


def build_cells(records):
  """One cell per (env, dataset kind, dataset, method, budget), in table order."""
  groups = collections.defaultdict(list)
  for r in records:
    env = r['env'].lower()
    groups[(env, dataset_kind(r['external']), r['external'], r['method'], r['budget'])].append(r)
  cells = []
  for (env, kind, dataset, method, budget), runs in groups.items():
    done = [r for r in runs if r['finished']]
    task = f'{env}-{kind}'
    mean, std = _stats([r['final'] for r in done])
    norm_mean, norm_std = _stats([r['normalized'] for r in done])
    start_mean, start_std = _stats([r.get('start_normalized') for r in done])
    refs = next((r['reference_scores'] for r in runs if r.get('reference_scores')), None)
    data_returns = [r['dataset_return'] for r in runs if r['dataset_return'] is not None]
    data_return = float(np.mean(data_returns)) if data_returns else None
    full = paper_budget(runs[0]['description'])
    cells.append({
        'env': env, 'kind': kind, 'task': task, 'dataset': dataset, 'source': source_of(dataset),
        'method': method, 'budget': budget, 'paper_budget': full,
        'reduced': full is not None and budget != full,
        'return_mean': mean, 'return_std': std, 'normalized_mean': norm_mean,
        'normalized_std': norm_std, 'start_normalized_mean': start_mean,
        'start_normalized_std': start_std, 'seeds': len(done),
        'seed_list': sorted(r['description'].get('seed') for r in done
                            if r['description'].get('seed') is not None),
        'unfinished': sorted((r for r in runs if not r['finished']), key=lambda r: r['path']),
        'paper': D4RL.get(task, {}).get(D4RL_PAPER_COLUMN.get(method)),
        'reference_scores': refs, 'dataset_return': data_return,
        'dataset_returns': {r['path']: r['dataset_return'] for r in runs
                            if r['dataset_return'] is not None},
        'dataset_normalized': (100.0 * (data_return - refs['min']) / (refs['max'] - refs['min'])
                               if refs and data_return is not None else None)})
  env_rank = lambda e: ENV_ORDER.index(e) if e in ENV_ORDER else len(ENV_ORDER)
  kind_rank = lambda k: DATASET_KINDS.index(k) if k in DATASET_KINDS else len(DATASET_KINDS)
  cells.sort(key=lambda c: (env_rank(c['env']), c['env'], kind_rank(c['kind']), c['kind'],
                            c['dataset'], method_rank(c['method']), c['budget']))
  return cells


def _pm(mean, std, digits):
  return '—' if mean is None else f'{mean:.{digits}f} ± {std:.{digits}f}'


def _one(value):
  return '—' if value is None else f'{value:.1f}'


def cell_text(cell):
  """The cell's 'normalised ± std (n=seeds)' with its unfinished runs labelled."""
  text = _pm(cell['normalized_mean'], cell['normalized_std'], 1)
  if cell['seeds'] and cell['normalized_mean'] is None:
    text = f'return {_pm(cell["return_mean"], cell["return_std"], 0)}'
  if cell['seeds']:
    text += f' (n={cell["seeds"]})'
  if cell['unfinished']:
    text += f' [+{len(cell["unfinished"])} unfinished]'
  return text


def summary_table(cells):
  """The paper's layout: a row per task, per method ours beside the paper's."""
  methods = sorted({c['method'] for c in cells}, key=method_rank)
  tasks = list(dict.fromkeys((c['task'], c['dataset']) for c in cells))
  several = len({d for _, d in tasks}) > len({t for t, _ in tasks})
  in_paper = set(D4RL_PAPER_COLUMN)
  def paper_header(m):
    name = D4RL_COLUMN_NAMES[D4RL_PAPER_COLUMN[m]]
    return f'{method_name(m)}: paper' + (f' ({name})' if name != method_name(m) else '')

  header = ['Task']
  for m in methods:
    header += [f'{method_name(m)}: ours'] + ([paper_header(m)] if m in in_paper else [])
  rows = []
  for task, dataset in tasks:
    row = [f'{task} (`{dataset}`)' if several else task]
    for m in methods:
      mine = [c for c in cells if (c['task'], c['dataset'], c['method']) == (task, dataset, m)]
      # Cells of one method at different budgets: each says its budget.
      row.append('; '.join(cell_text(c) + (f' at {labels.short_budget(c["budget"])}'
                                           if len(mine) > 1 else '') for c in mine) or '—')
      if m in in_paper:
        row.append(_one(D4RL.get(task, {}).get(D4RL_PAPER_COLUMN[m])))
    rows.append(row)
  return results.markdown_table(header, rows)


def detail_rows(cells):
  rows = []
  for c in cells:
    pending = len(c['unfinished'])
    rows.append([c['task'], f'`{c["dataset"]}`', method_name(c['method']),
                 _pm(c['normalized_mean'], c['normalized_std'], 1), _one(c['paper']),
                 _pm(c['start_normalized_mean'], c['start_normalized_std'], 1),
                 _pm(c['return_mean'], c['return_std'], 0), c['seeds'],
                 ', '.join(map(str, c['seed_list'])) or '—', pending or '—',
                 c['budget'] + (' (reduced)' if c['reduced'] else
                                ' (the paper\'s)' if c['paper_budget'] else '')])
  return rows


def differing_datasets(cells):
  """{dataset: {its behaviour return: [run paths]}} for each dataset whose runs loaded different
  data (the dataset's return differs between them): it was made again, e.g. by
  launch/make_d4rl_datasets.py on a new machine, so one cell may mix two datasets."""
  by_dataset = collections.defaultdict(lambda: collections.defaultdict(list))
  for c in cells:
    for path, value in c['dataset_returns'].items():
      by_dataset[c['dataset']][round(value, 6)].append(path)
  return {d: dict(v) for d, v in by_dataset.items() if len(v) > 1}


def differing_text(cells, root):
  found = differing_datasets(cells)
  if not found:
    return ''
  rel = lambda p: os.path.relpath(p, root) if root else p
  return ('\n**Runs of one dataset loaded different data.** Each dataset below was made more '
          'than once (its behaviour return differs between the runs that loaded it), e.g. again '
          'on a new machine, so the cells on it mix datasets: run the runs of one generation '
          'again before reading them.\n\n' + ''.join(
              f'- `{d}`: ' + '; '.join(f'return {value:.1f}: ' + ', '.join(
                  f'`{rel(p)}`' for p in sorted(paths)) for value, paths in sorted(v.items()))
              + '\n' for d, v in sorted(found.items())))


def dataset_rows(cells):
  seen, rows = set(), []
  for c in cells:
    if c['dataset'] in seen:
      continue
    seen.add(c['dataset'])
    refs = c['reference_scores']
    rows.append([c['task'], f'`{c["dataset"]}`', c['source'],
                 '—' if c['dataset_return'] is None else f'{c["dataset_return"]:.0f}',
                 _one(c['dataset_normalized']),
                 f'{refs["min"]:g} / {refs["max"]:g}' if refs else 'none (no normalised score)'])
  return rows


def unfinished_rows(cells, root):
  rows = []
  for c in cells:
    for r in c['unfinished']:
      fraction, value = r['curve'][-1] if r['curve'] else (0.0, None)
      rows.append([f'`{os.path.relpath(r["path"], root) if root else r["path"]}`', c['task'],
                   method_name(c['method']), f'{100 * fraction:.0f}%',
                   '—' if value is None else f'{value:.0f}', _one(r['normalized'])])
  return rows


def paper_rows(cells):
  tasks = list(dict.fromkeys(c['task'] for c in cells if c['task'] in D4RL))
  return [[t] + [f'{D4RL[t][col]:.1f}' for col in D4RL_COLUMNS] for t in tasks]


def protocol_text(cells):
  """What the datasets are, said plainly (the regenerated protocol's sentence verbatim)."""
  sources = sorted({c['source'] for c in cells})
  if sources == [REGENERATED]:
    return f'**Datasets.** Every dataset here is {PROTOCOL}.'
  return '**Datasets.** ' + ' '.join(
      f'Rows on a dataset marked "{s}" in the dataset table: {SOURCE_TEXT[s]}.' for s in sources)


def budget_text(cells):
  reduced = [c for c in cells if c['reduced']]
  fulls = sorted({(method_name(c['method']), c['paper_budget']) for c in cells
                  if c['paper_budget']})
  paper = '; '.join(f'{m}: {b}' for m, b in fulls)
  if reduced:
    head = (f'**Budget: reduced.** {len(reduced)} of {len(cells)} cells ran at a reduced budget '
            '(each cell\'s is in the detail table, read from its runs\' descriptions), against '
            f'our code\'s defaults, the paper\'s offline-table settings ({paper}). The commands '
            'below use `gin/budget/table.gin`, the reduced budget of our offline tables.')
  else:
    head = (f'**Budget.** Every cell ran at our code\'s defaults, the paper\'s offline-table '
            f'settings ({paper}).')
  return head + (' The paper\'s numbers are its own runs on the original D4RL files (gym -v2 '
                 'envs).')


def markdown(cells, runs_glob, n_dirs, skipped, png=None, left_out=()):
  """results/d4rl.md's text (`left_out`: records of runs with opt-in deviations, named)."""
  root = runs_glob.split('*')[0] if '*' in runs_glob else ''
  root = root if root.endswith('/') or not root else os.path.dirname(root)
  methods = ', '.join(method_name(m) for m in sorted({c['method'] for c in cells},
                                                             key=method_rank))
  text = ('# The paper\'s D4RL table: ours vs the paper (normalised score x100)\n\n'
          + results.provenance_header(f'the runs matching `{runs_glob}` ({n_dirs} run '
                                      'directories)')
          + '\n' + protocol_text(cells) + '\n\n' + budget_text(cells) + '\n\n'
          f'Methods with runs: {methods}. Ours: mean ± std (population) over seeds of each '
          'finished run\'s last evaluation in the real env (BREMEN: whole episodes totalling '
          '>= 3000 steps; BC/BCQ/BRAC: `train_model_free.eval_episodes` episodes), as the '
          'normalised score 100 (R − min) / (max − min) the run logged '
          '(`eval_normalized_score`; BRAC (max Q): `eval_max_q_normalized_score`) with the '
          'dataset\'s reference scores, and as the raw return. Unfinished runs are counted and '
          'listed, never averaged. Start: the same score at the first evaluation, before any '
          'update (BREMEN: its behaviour-cloned policy π̂_β, which TRPO starts from; BC, BCQ, '
          'BRAC: the untrained network), so that last minus start is what training added. '
          'The paper\'s column: ' + D4RL_SOURCE
          + ' (`bremen_tf/paper_results.py`; our BRAC, the KL value penalty, is set beside its '
          'BRAC-v; BRAC (max Q) and ME-TRPO have no column there).\n\n'
          '## Normalised score, ours vs the paper\n\n' + summary_table(cells)
          + (f'\n![normalised scores]({png})\n' if png else '')
          + '\n## Every cell\n\n'
          + results.markdown_table(['Task', 'Dataset', 'Method', 'Normalised (ours)',
                                    'Paper', 'Start (ours)', 'Return (ours)', 'Seeds',
                                    'Seed ids', 'Unfinished', 'Budget'], detail_rows(cells))
          + '\n## Datasets\n\n'
          + results.markdown_table(['Task', 'Dataset', 'Source', 'Dataset return (complete '
                                    'episodes)', 'Normalised', 'Reference scores (min / max)'],
                                   dataset_rows(cells))
          + differing_text(cells, root))
  pending = unfinished_rows(cells, root)
  if pending:
    text += ('\n## Unfinished runs (not in the means)\n\n'
             + results.markdown_table(['Run', 'Task', 'Method', 'Budget reached',
                                       'Last evaluation return', 'Normalised'], pending))
  text += ('\n## The paper\'s full row for these tasks\n\n'
           + results.markdown_table(['Task'] + [D4RL_COLUMN_NAMES[c] for c in D4RL_COLUMNS],
                                    paper_rows(cells)))
  if skipped:
    text += (f'\nMatching run directories not in this table ({len(skipped)}: no metrics yet, or '
             'trained on the BRAC-protocol data): '
             + ', '.join(f'`{os.path.relpath(p, root) if root else p}`' for p in skipped) + '.\n')
  if left_out:
    text += '\n' + labels.left_out_note(left_out) + '\n'
  text += ('\n## Making the runs and this file\n\n```bash\n' + COMMANDS + '\n```\n\n'
           'One run by hand (the sweep runs these, one TF thread each):\n\n```bash\n' + ONE_RUN
           + '\n```\n')
  return text


CSV_HEADER = ['env', 'dataset_kind', 'task', 'dataset', 'source', 'method', 'normalized_mean',
              'normalized_std', 'return_mean', 'return_std', 'seeds', 'unfinished', 'paper',
              'budget', 'reduced_budget', 'paper_budget', 'dataset_return',
              'dataset_normalized', 'start_normalized_mean', 'start_normalized_std']


def csv_rows(cells):
  return [[c['env'], c['kind'], c['task'], c['dataset'], c['source'], c['method'],
           c['normalized_mean'], c['normalized_std'], c['return_mean'], c['return_std'],
           c['seeds'], len(c['unfinished']), c['paper'], c['budget'], c['reduced'],
           c['paper_budget'], c['dataset_return'], c['dataset_normalized'],
           c['start_normalized_mean'], c['start_normalized_std']] for c in cells]


def plot(plt, cells):
  """Horizontal bars: per task, each method's normalised score (mean ± std over seeds) with the
  paper's value as a black diamond (a method with several cells in a task: its first). None if
  no cell has a normalised score."""
  scored = [c for c in cells if c['normalized_mean'] is not None]
  if not scored:
    return None
  tasks = list(dict.fromkeys(c['task'] for c in scored))
  methods = sorted({c['method'] for c in scored}, key=method_rank)
  most = max(len({c['method'] for c in scored if c['task'] == t}) for t in tasks)
  height, labelled = 0.8 / most, False
  fig, ax = plt.subplots(figsize=(7, 0.6 + 0.5 * len(tasks) * max(1, len(methods) / 2)))
  for j, m in enumerate(methods):
    ys, means, stds, paper_ys, paper = [], [], [], [], []
    for i, t in enumerate(tasks):
      mine = [c for c in scored if c['task'] == t and c['method'] == m]
      if not mine:
        continue
      present = [x for x in methods if any(c['task'] == t and c['method'] == x for c in scored)]
      y = i + height * (present.index(m) - (len(present) - 1) / 2)  # centred on the task
      ys.append(y)
      means.append(mine[0]['normalized_mean'])
      stds.append(mine[0]['normalized_std'])
      if mine[0]['paper'] is not None:
        paper_ys.append(y)
        paper.append(mine[0]['paper'])
    ax.barh(ys, means, height=height * 0.9, xerr=stds, color=f'C{j}', ecolor='0.45',
            capsize=2, label=method_name(m))
    if paper:
      ax.plot(paper, paper_ys, 'kD', ms=5, label=None if labelled else 'paper')
      labelled = True
  ax.set_yticks(range(len(tasks)))
  ax.set_yticklabels(tasks)
  ax.invert_yaxis()
  ax.set_xlabel('normalised score x100\n(bars: ours, mean ± std over seeds; ◆: the paper)')
  ax.legend(fontsize=7)
  fig.tight_layout()
  return fig


def no_runs_error(runs_glob, brac_protocol, unusable, left_out=()):
  """The error when nothing matching the glob can go in the table."""
  if left_out:
    n = len({r['path'] for r in left_out})
    return errors.ConfigError(
        f'--runs={runs_glob!r}: every run on a \'minari:\' or \'d4rl:\' dataset ({n}) has an '
        'opt-in deviation; the table holds the original methods only. '
        + labels.left_out_note(left_out))
  if not brac_protocol and not unusable:
    return errors.ConfigError(
        f'no run directories match --runs={runs_glob!r}. Make the runs first (docs/d4rl.md):'
        f'\n{COMMANDS}')
  return errors.ConfigError(
      f'--runs={runs_glob!r} matches {len(brac_protocol) + len(unusable)} run directories, but '
      f'none trained on a \'minari:\' or \'d4rl:\' dataset with metrics ({len(brac_protocol)} '
      f'on the BRAC-protocol data, {len(unusable)} without metrics or config yet).')
