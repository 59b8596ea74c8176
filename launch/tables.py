"""The paper's offline tables from our run directories: results/offline_<size>.md, .csv, and
learning curves (offline_<size>_curves.png, numbers in offline_<size>_curves.csv).

  python launch/tables.py                       # runs/offline/*+budget-table/seed*, every size
  python launch/tables.py --runs='runs/offline/*/seed*' --sizes=100k --out_dir=/tmp/t

Per env and method: mean ± std over seeds of the final evaluation return of the finished runs, the
number of seeds, our return as a ratio to our dataset's return beside the paper's ratio, and the
budget each cell ran with (from the runs' descriptions and metrics). BRAC runs give two rows:
BRAC (the mode) and BRAC (max Q). Unfinished runs are counted, not averaged. Runs on a Minari
or D4RL dataset (`train_offline.dataset`) are grouped by that dataset, and where it has reference
scores each cell also gives the normalised score (x100, as D4RL papers report it).
"""
import collections
import glob
import os

from absl import flags
import numpy as np

import launch_common
launch_common.quiet_tensorflow()  # before anything imports TF
from bremen_tf import fileio, results
from bremen_tf.paper_results import METHOD_NAMES, METHODS, OFFLINE
from bremen_tf.reporting import run_reader
from bremen_tf.reporting.ordering import describe_order, pair_agreement

flags.DEFINE_string('runs', 'runs/offline/*+budget-table/seed*', 'Glob of run directories.')
flags.DEFINE_list('sizes', None, 'Dataset sizes to tabulate (default: every size with runs).')
flags.DEFINE_string('out_dir', 'results', 'Where offline_<size>.md/.csv/_curves.png go.')
FLAGS = flags.FLAGS

ENV_ORDER = ('Ant', 'HalfCheetah', 'Hopper', 'Walker2d')


def write_size(size, records, out_dir):
  plt = launch_common.pyplot()
  envs = [e for e in ENV_ORDER if any(r['env'] == e for r in records)]
  methods = [m for m in METHODS if any(r['method'] == m for r in records)]
  cells = collections.defaultdict(list)
  for record in records:
    cells[(record['env'], record['method'])].append(record)
  external = records[0].get('external')  # one dataset per group (run_reader.offline_records)
  paper = {} if external else OFFLINE.get(size, {})
  what = (f'dataset `{external}`' if external
          else f'{size.upper()} transitions (`pure` BRAC-protocol data)')

  def stats(env, method):
    done = [r for r in cells[(env, method)] if r['finished']]
    finals = np.array([r['final'] for r in done])
    scores = [r['normalized'] for r in done]
    scores = np.array(scores) if scores and None not in scores else None
    return finals, len(cells[(env, method)]) - len(done), scores

  dataset = {}
  for env in envs:
    values = [r['dataset_return'] for r in records if r['env'] == env and r['dataset_return']]
    dataset[env] = float(np.mean(values)) if values else float('nan')

  # Returns table: ours (n seeds) | paper, per env.
  header = ['Method'] + [f'{e}: ours' for e in envs] + [f'{e}: paper' for e in envs]
  refs = {r['env']: r['reference_scores'] for r in records if r.get('reference_scores')}
  ret_rows = [['Dataset'] + [f'{dataset[e]:.0f}' + (
      f', normalised {100 * (dataset[e] - refs[e]["min"]) / (refs[e]["max"] - refs[e]["min"]):.1f}'
      if e in refs else '') for e in envs]
              + [str(paper.get('dataset', {}).get(e, ('—',))[0]) for e in envs]]
  ratio_rows, csv_rows, budgets, orders = [], [], [], []
  ours_means = {e: {} for e in envs}
  for m in methods:
    row, ratio_row = [METHOD_NAMES[m]], [METHOD_NAMES[m]]
    for e in envs:
      finals, pending, scores = stats(e, m)
      p_mean, p_std = paper.get(m, {}).get(e, (None, None))
      p_data = paper.get('dataset', {}).get(e, (None,))[0]
      p_ratio = p_mean / p_data if p_mean is not None and p_data else None
      if len(finals):
        mean, std = float(finals.mean()), float(finals.std())
        ours_means[e][m] = mean
        cell = f'{mean:.0f} ± {std:.0f} (n={len(finals)})'
        ratio = mean / dataset[e]
      else:
        mean = std = ratio = None
        cell = '—'
      norm_mean = norm_std = None
      if scores is not None:
        norm_mean, norm_std = float(scores.mean()), float(scores.std())
        cell += f', normalised {norm_mean:.1f} ± {norm_std:.1f}'
      if pending:
        cell += f' [+{pending} running]'
      row.append(cell)
      ratio_row.append(f'{ratio:.2f}' if ratio is not None else '—')
      ratio_row.append(f'{p_ratio:.2f}' if p_ratio is not None else '—')
      csv_rows.append([size, e, m, mean, std, len(finals), pending, dataset[e], ratio, p_mean,
                       p_std, p_data, p_ratio,
                       '; '.join(sorted({r['budget'] for r in cells[(e, m)]})), norm_mean,
                       norm_std])
      for b in sorted({r['budget'] for r in cells[(e, m)]}):
        speeds = [r['speed'] for r in cells[(e, m)] if r['budget'] == b and r['speed']]
        budgets.append([METHOD_NAMES[m], e, b, ' / '.join(speeds)])
    row += [f'{paper[m][e][0]} ± {paper[m][e][1]}' if m in paper and e in paper[m] else '—'
            for e in envs]
    ret_rows.append(row)
    ratio_rows.append(ratio_row)
  for e in envs:
    ours = ours_means[e]
    theirs = {m: paper[m][e][0] for m in ours if m in paper and e in paper[m]}
    if len(ours) >= 2:
      agree, total = pair_agreement(ours, theirs)
      orders.append([e, describe_order(ours), describe_order(theirs),
                     f'{agree}/{total}'])

  # Learning curves: mean ± std over seeds against the fraction of each run's budget.
  fig, axes = plt.subplots(1, len(envs), figsize=(6 * len(envs), 4.2), squeeze=False)
  curve_rows = []
  for ax, e in zip(axes[0], envs):
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
  text = (f'# Offline, {what}: ours vs the paper\n\n'
          + results.provenance_header(f'the runs matching `{FLAGS.runs}` ({len(paths)} run '
                                      'directories)')
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
          + '\n## Ordering of the methods (highest first)\n\n'
          + results.markdown_table(['Env', 'ours', 'paper', 'pairs ordered alike'], orders)
          + '\n## Budget each cell ran with\n\n'
          + results.markdown_table(['Method', 'Env', 'budget', 'median speed (per run, one TF '
                                    'thread, two runs on the 2 cores as the sweep runs them)'], budgets)
          + f'\n## Learning curves\n\n![learning curves](offline_{size}_curves.png)\n\n'
          'Mean ± std over seeds (all runs, finished or not) against the fraction of each '
          'run\'s budget; for BREMEN the point at 0 is the BC policy.\n')
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
  sizes = FLAGS.sizes or sorted({r['size'] for r in records}, key=lambda s: -len(s))
  os.makedirs(FLAGS.out_dir, exist_ok=True)
  for size in sizes:
    mine = [r for r in records if r['size'] == size.lower()]
    if not mine:
      print(f'No runs for {size}; nothing written for it.')
      continue
    print(f'Wrote {write_size(size.lower(), mine, FLAGS.out_dir)} ({len(mine)} method records)')


if __name__ == '__main__':
  launch_common.run(main)
