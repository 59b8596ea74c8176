"""The paper's offline tables from our run directories: results/offline_<size>.md, .csv, and
learning curves (offline_<size>_curves.png, numbers in offline_<size>_curves.csv).

  python launch/tables.py                       # runs/offline/*+budget-table/seed*, every size
  python launch/tables.py --runs='runs/offline/*+budget-table/seed*' --sizes=100k --out_dir=/tmp/t

A table holds one noise kind (its title names it; the paper's columns are for `pure` only) and a
cell one budget: runs matching --runs that would mix either are refused, naming them.

Per env and method: mean ± std over seeds of the final evaluation return of the finished runs, the
number of seeds, our return as a ratio to our dataset's return beside the paper's ratio, and the
budget each cell ran with (from the runs' descriptions and metrics). BRAC runs give two rows:
BRAC (the mode) and BRAC (max Q). Unfinished runs are counted, not averaged. Runs on a Minari
or D4RL dataset (`train_offline.dataset`) are grouped by that dataset, and where it has reference
scores each cell also gives the normalised score (x100, as D4RL papers report it). Each file ends
with a plain statement per cell: its return against our dataset and, where the paper has the cell,
whether it sits on the same side of the dataset and of BREMEN as the paper's.

--earlier keeps the columns of an earlier generation of a table whose run directories are not
here: for an env with no runs matching --runs at a size, its cells (mean, std, seeds, dataset
return, budget) are read from that CSV and marked as such; envs with runs are always recomputed.
  python launch/tables.py --runs='runs/offline/*+budget-table/seed*' \
      --earlier='results/offline_{size}.csv'      # add Walker2d/Ant, keep HalfCheetah/Hopper
"""
import collections
import csv
import glob
import os

from absl import flags
import numpy as np

import launch_common
launch_common.quiet_tensorflow()  # before anything imports TF
from bremen_tf import errors, fileio, results
from bremen_tf.paper_results import ENVS, METHOD_NAMES, METHODS, OFFLINE
from bremen_tf.reporting import labels, run_reader
from bremen_tf.reporting.ordering import describe_order, pair_agreement

flags.DEFINE_string('runs', 'runs/offline/*+budget-table/seed*', 'Glob of run directories.')
flags.DEFINE_list('sizes', None, 'Dataset sizes to tabulate (default: every size with runs).')
flags.DEFINE_string('out_dir', 'results', 'Where offline_<size>.md/.csv/_curves.png go.')
flags.DEFINE_string('earlier', '', 'CSV of an earlier generation of the tables, `{size}` standing '
                    'for the size (e.g. results/offline_{size}.csv): envs without runs here keep '
                    'its cells. Empty: none.')
FLAGS = flags.FLAGS


def _number(text):
  return float(text) if text not in (None, '') else None


def read_earlier(pattern, size, envs_with_runs):
  """(env, method) -> the earlier CSV's row, for the envs that have no runs here ({} if none)."""
  path = pattern.format(size=size) if pattern else ''
  if not path or not os.path.exists(path):
    return {}
  with open(path, newline='') as f:
    rows = list(csv.DictReader(f))
  return {(r['env'], r['method']): r for r in rows
          if r['env'] not in envs_with_runs and r['size'] == size}


def side(value, reference):
  return 'above' if value > reference else 'below' if value < reference else 'level with'


def plain_statements(size, envs, methods, cell, dataset, paper):
  """One line per (env, method): what our cell shows, beside the paper's cell."""
  lines = []
  p_data = paper.get('dataset', {})
  for e in envs:
    ours_bremen = cell[(e, 'bremen')]['mean'] if (e, 'bremen') in cell else None
    p_bremen = paper.get('bremen', {}).get(e, (None,))[0]
    for m in methods:
      c = cell.get((e, m))
      p_mean, p_std = paper.get(m, {}).get(e, (None, None))
      theirs = f'paper {p_mean} ± {p_std}' if p_mean is not None else 'not in the paper'
      head = f'- {e} {size.upper()}, {METHOD_NAMES[m]}'
      if c is None or c['mean'] is None:
        pending = c['pending'] if c else 0
        lines.append(f'{head}: ' + (f'{pending} run(s) unfinished, no result yet' if pending
                                    else 'not run yet') + f' ({theirs}).')
        continue
      text = (f'{head}: {results.mean_std_text(c["mean"], c["std"])} over {c["n"]} seed(s)'
              + (' (earlier table)' if c['carried'] else ''))
      p_dataset = p_data.get(e, (None,))[0]
      if np.isfinite(dataset[e]) and dataset[e]:
        text += f' = {results.ratio_text(c["mean"] / dataset[e])} x our dataset'
        if p_mean is not None and p_dataset:
          text += f' ({results.ratio_text(p_mean / p_dataset)} x in the paper)'
        ours_side = side(c['mean'], dataset[e])
        if p_mean is not None and p_dataset:
          their_side = side(p_mean, p_dataset)
          text += (f'; {ours_side} the dataset here and in the paper' if ours_side == their_side
                   else f'; {ours_side} the dataset here, {their_side} it in the paper')
        else:
          text += f'; {ours_side} the dataset'
      if m != 'bremen' and ours_bremen is not None:
        ours_side = side(c['mean'], ours_bremen)
        if p_mean is not None and p_bremen is not None:
          their_side = side(p_mean, p_bremen)
          text += (f'; {ours_side} BREMEN here and in the paper' if ours_side == their_side
                   else f'; {ours_side} BREMEN here, {their_side} it in the paper')
        else:
          text += f'; {ours_side} BREMEN'
      if c['pending']:
        text += f'; {c["pending"]} more run(s) unfinished'
      lines.append(text + (f' ({theirs}).' if p_mean is not None else '.'))
  return '\n'.join(lines) + '\n'


def check_cells(size, records):
  """ConfigError if a table of `size` would pool runs of different noise kinds, or a cell runs of
  different budgets: one mean ± std must be one experiment's seeds."""
  noises = sorted({r['noise'] for r in records if not r.get('external')})
  if len(noises) > 1:
    raise errors.ConfigError(f'the {size} runs matching --runs mix noise kinds {", ".join(noises)}; '
                             'a table holds one: narrow --runs to one of them.')
  budgets = collections.defaultdict(set)
  for r in records:
    budgets[(r['env'], r['method'])].add(r['budget'])
  for (env, method), found in sorted(budgets.items()):
    if len(found) > 1:
      raise errors.ConfigError(
          f'{env} {size}, {METHOD_NAMES.get(method, method)}: the runs matching --runs have '
          'different budgets '
          f'({"; ".join(sorted(found))}); a cell averages one budget\'s seeds: narrow --runs '
          "(e.g. to 'runs/offline/*+budget-table/seed*').")


def write_size(size, records, out_dir, earlier=None, left_out=None):
  """The table files of one size from `records` (run_reader.offline_records), plus the cells of
  `earlier` ((env, method) -> an earlier CSV row) for envs with no records; the runs of
  `left_out` (records of runs with opt-in deviations) are named in the text."""
  earlier = earlier or {}
  plt = launch_common.pyplot()
  run_envs = {r['env'] for r in records}
  envs = [e for e in ENVS if e in run_envs or any(k[0] == e for k in earlier)]
  envs += sorted(run_envs - set(envs))  # an env outside the paper's four, last
  carried = {k: r for k, r in earlier.items()
             if int(r['seeds'] or 0) or int(r['unfinished'] or 0)}
  methods = [m for m in METHODS if any(r['method'] == m for r in records)
             or any(k[1] == m for k in carried)]
  cells = collections.defaultdict(list)
  for record in records:
    cells[(record['env'], record['method'])].append(record)
  external = records[0].get('external')  # one dataset per group (run_reader.offline_records)
  noise = records[0]['noise']  # one noise kind per group (check_cells)
  paper = {} if external or noise != 'pure' else OFFLINE.get(size, {})  # the paper's: pure only
  what = (f'dataset `{external}`' if external
          else f'{size.upper()} transitions (`{noise}` BRAC-protocol data)')

  dataset = {}
  for env in envs:
    values = [r['dataset_return'] for r in records if r['env'] == env and r['dataset_return']]
    if env not in run_envs:
      values = [v for (e, _), r in carried.items() if e == env
                and (v := _number(r['dataset_return'])) is not None][:1]
    dataset[env] = float(np.mean(values)) if values else float('nan')

  def stats(env, method):
    """The cell: mean, std, n, pending, norm_mean, norm_std, budgets, carried."""
    if env not in run_envs:
      r = carried.get((env, method))
      if r is None:
        return None
      return {'mean': _number(r['mean']), 'std': _number(r['std']), 'n': int(r['seeds'] or 0),
              'pending': int(r['unfinished'] or 0),
              'norm_mean': _number(r.get('normalized_mean')),
              'norm_std': _number(r.get('normalized_std')),
              'budgets': [b for b in r['budget'].split('; ') if b], 'carried': True}
    done = [r for r in cells[(env, method)] if r['finished']]
    finals = np.array([r['final'] for r in done])
    scores = [r['normalized'] for r in done]
    scores = np.array(scores) if scores and None not in scores else None
    return {'mean': float(finals.mean()) if len(finals) else None,
            'std': float(finals.std()) if len(finals) else None, 'n': len(finals),
            'pending': len(cells[(env, method)]) - len(done),
            'norm_mean': float(scores.mean()) if scores is not None else None,
            'norm_std': float(scores.std()) if scores is not None else None,
            'budgets': sorted({r['budget'] for r in cells[(env, method)]}), 'carried': False}

  # Returns table: ours (n seeds) | paper, per env.
  header = ['Method'] + [f'{e}: ours' for e in envs] + [f'{e}: paper' for e in envs]
  refs = {r['env']: r['reference_scores'] for r in records if r.get('reference_scores')}
  ret_rows = [['Dataset'] + [f'{dataset[e]:.0f}' + (
      f', normalised {100 * (dataset[e] - refs[e]["min"]) / (refs[e]["max"] - refs[e]["min"]):.1f}'
      if e in refs else '') for e in envs]
              + [str(paper.get('dataset', {}).get(e, ('—',))[0]) for e in envs]]
  ratio_rows, csv_rows, budgets, orders = [], [], [], []
  ours_means = {e: {} for e in envs}
  cell_of = {}
  for m in methods:
    row, ratio_row = [METHOD_NAMES[m]], [METHOD_NAMES[m]]
    for e in envs:
      c = stats(e, m) or {'mean': None, 'std': None, 'n': 0, 'pending': 0, 'norm_mean': None,
                          'norm_std': None, 'budgets': [], 'carried': e not in run_envs}
      cell_of[(e, m)] = c
      mean, std, pending = c['mean'], c['std'], c['pending']
      p_mean, p_std = paper.get(m, {}).get(e, (None, None))
      p_data = paper.get('dataset', {}).get(e, (None,))[0]
      p_ratio = p_mean / p_data if p_mean is not None and p_data else None
      if mean is not None:
        ours_means[e][m] = mean
        text = f'{results.mean_std_text(mean, std)} (n={c["n"]})'
        ratio = mean / dataset[e]
      else:
        ratio = None
        text = '—'
      if c['norm_mean'] is not None:
        text += f', normalised {c["norm_mean"]:.1f} ± {c["norm_std"]:.1f}'
      if pending:
        text += f' [+{pending} running]'
      if c['carried'] and (mean is not None or pending):
        text += ' (earlier table)'
      row.append(text)
      ratio_row.append(results.ratio_text(ratio) if ratio is not None else '—')
      ratio_row.append(results.ratio_text(p_ratio) if p_ratio is not None else '—')
      csv_rows.append([size, e, m, mean, std, c['n'], pending, dataset[e], ratio, p_mean,
                       p_std, p_data, p_ratio, '; '.join(c['budgets']), c['norm_mean'],
                       c['norm_std']])
      for b in c['budgets']:
        if c['carried']:
          speed = 'earlier table (its runs are not here)'
        else:
          speed = ' / '.join(r['speed'] for r in cells[(e, m)] if r['budget'] == b and r['speed'])
        budgets.append([METHOD_NAMES[m], e, b, speed])
    row += [f'{paper[m][e][0]} ± {paper[m][e][1]}' if m in paper and e in paper[m] else '—'
            for e in envs]
    ret_rows.append(row)
    ratio_rows.append(ratio_row)
  for e in envs:
    ours = ours_means[e]
    theirs = {m: paper[m][e][0] for m in ours if m in paper and e in paper[m]}
    if len(ours) >= 2 and len(theirs) >= 2:  # a dataset the paper has no table of: no row
      agree, total = pair_agreement(ours, theirs)
      orders.append([e, describe_order(ours), describe_order(theirs),
                     f'{agree}/{total}'])
  statements = plain_statements(size, envs, methods, cell_of, dataset, paper)

  # Learning curves: mean ± std over seeds against the fraction of each run's budget.
  plotted = [e for e in envs if e in run_envs]
  fig, axes = plt.subplots(1, len(plotted), figsize=(6 * len(plotted), 4.2), squeeze=False)
  curve_rows = []
  for ax, e in zip(axes[0], plotted):
    for m in methods:
      runs_here = cells[(e, m)]
      if not runs_here:
        continue
      xs = sorted({x for r in runs_here for x, _ in r['curve']})
      ys = [[y for run in runs_here for x2, y in run['curve'] if x2 == x] for x in xs]
      seen = [(x, v) for x, v in zip(xs, ys) if v]
      mean = np.array([np.mean(v) for _, v in seen])
      std = np.array([np.std(v) for _, v in seen])
      x = np.array([x for x, _ in seen])
      curve_rows += [[e, m, xi, mi, si, len(v)] for xi, mi, si, (_, v) in zip(x, mean, std, seen)]
      ax.plot(x, mean, 'o-', ms=3, label=f'{METHOD_NAMES[m]} (n={len(runs_here)})')
      ax.fill_between(x, mean - std, mean + std, alpha=0.15)
    ax.axhline(dataset[e], color='k', ls=':', label='dataset')
    ax.set_title(f'{e}, {what}')
    ax.set_xlabel('fraction of the run\'s training budget (see the budget table)')
    ax.set_ylabel('average return (real env)')
    ax.legend(fontsize=7)
  fig.tight_layout()
  png = os.path.join(out_dir, f'offline_{size}_curves.png')
  launch_common.save_png(plt, fig, png)

  paths = sorted({r['path'] for r in records})
  ratio_header = ['Method'] + [f'{e}: {w}' for e in envs for w in ('ours', 'paper')]
  kept = [e for e in envs if e not in run_envs]
  text = (f'# Offline, {what}: ours vs the paper\n\n'
          + results.provenance_header(
              f'the runs matching `{FLAGS.runs}` ({len(paths)} run directories)'
              + (f'; {", ".join(kept)} from the earlier table '
                 f'`{FLAGS.earlier.format(size=size)}`' if kept else ''))
          + (f'\n{labels.left_out_note(left_out)}\n' if left_out else '')
          + '\n## Final evaluation return\n\n'
          'Ours: mean ± std (population) over seeds of each finished run\'s last evaluation '
          '(BREMEN/ME-TRPO: whole episodes totalling >= 3000 steps; BC/BCQ/BRAC: 10 episodes), '
          'deterministic policies except BCQ and BRAC (max Q), which pick the best of 10 samples '
          'by Q; "normalised" (datasets with reference scores) is 100 (R − min) / (max − min), '
          'mean ± std over seeds. Our Dataset row is the mean return of the complete episodes in '
          'our dataset. '
          'The paper\'s numbers were measured at the full budgets on MuJoCo-1.31-era envs.\n\n'
          + results.markdown_table(header, ret_rows)
          + '\n## Ratio to the dataset return (ours vs the paper)\n\n'
          + results.markdown_table(ratio_header, ratio_rows)
          + ('\n## Ordering of the methods (highest first)\n\n'
             + results.markdown_table(['Env', 'ours', 'paper', 'pairs ordered alike'], orders)
             if orders else '')
          + '\n## Budget each cell ran with\n\n'
          + results.markdown_table(['Method', 'Env', 'budget', 'median speed (per run, one TF '
                                    'thread, two runs on the 2 cores as the sweep runs them)'], budgets)
          + '\n## What each cell shows\n\n'
          'Plain statements from the numbers above: each cell\'s return against our dataset\'s '
          '(and the paper\'s ratio), and whether it sits on the same side of the dataset and of '
          'BREMEN as the paper\'s cell.\n\n' + statements
          + f'\n## Learning curves\n\n![learning curves](offline_{size}_curves.png)\n\n'
          'Mean ± std over seeds (all runs, finished or not) against the fraction of each '
          'run\'s budget; for BREMEN the point at 0 is the BC policy.'
          + (' Cells marked "earlier table" (' + ', '.join(e for e in envs if e not in run_envs)
             + ') come from --earlier; their curves are not redrawn.' if len(plotted) < len(envs)
             else '') + '\n')
  results.write_csv(os.path.join(out_dir, f'offline_{size}_curves.csv'),
                    ['env', 'method', 'budget_fraction', 'return_mean', 'return_std', 'runs'],
                    curve_rows)
  md = os.path.join(out_dir, f'offline_{size}.md')
  fileio.write_text(md, text)
  results.write_csv(os.path.join(out_dir, f'offline_{size}.csv'),
                    ['size', 'env', 'method', 'mean', 'std', 'seeds', 'unfinished',
                     'dataset_return', 'ratio_to_dataset', 'paper_mean', 'paper_std',
                     'paper_dataset', 'paper_ratio', 'budget', 'normalized_mean',
                     'normalized_std'], csv_rows)
  return md


def main(argv):
  del argv
  launch_common.quiet_logs()
  paths = sorted(p for p in glob.glob(FLAGS.runs) if os.path.isdir(p))
  records = [r for p in paths for r in run_reader.offline_records(p)]
  if not records:
    raise SystemExit(f'error: no run directories with metrics match --runs={FLAGS.runs!r}.')
  records, left_out = run_reader.leave_out_deviations(records)
  if left_out:
    print(labels.left_out_note(left_out))
  if not records:
    raise SystemExit(f'error: every run matching --runs={FLAGS.runs!r} has an opt-in deviation; '
                     'the tables hold the original methods only.')
  sizes = FLAGS.sizes or sorted({r['size'] for r in records}, key=lambda s: -len(s))
  if FLAGS.earlier and not any(os.path.exists(FLAGS.earlier.format(size=s.lower())) for s in sizes):
    raise SystemExit(f'error: --earlier={FLAGS.earlier}: no such file for sizes '
                     f'{", ".join(sizes)}.')
  for size in sizes:  # every table checked before any is written
    check_cells(size.lower(), [r for r in records if r['size'] == size.lower()])
  os.makedirs(FLAGS.out_dir, exist_ok=True)
  for size in sizes:
    mine = [r for r in records if r['size'] == size.lower()]
    if not mine:
      print(f'No runs for {size}; nothing written for it.')
      continue
    earlier = read_earlier(FLAGS.earlier, size.lower(), {r['env'] for r in mine})
    md = write_size(size.lower(), mine, FLAGS.out_dir, earlier,
                    [r for r in left_out if r['size'] == size.lower()])
    print(f'Wrote {md} ({len(mine)} method records' + (
        f'; {len({e for e, _ in earlier})} env(s) from {FLAGS.earlier.format(size=size.lower())}'
        if earlier else '') + ')')


if __name__ == '__main__':
  launch_common.run(main)
