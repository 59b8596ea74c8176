"""The paper's offline tables from our run directories: results/offline_<size>.md, .csv, and
learning curves (offline_<size>_curves.png, numbers in offline_<size>_curves.csv).

  python launch/tables.py                       # runs/offline/*+budget-table/seed*, every size
  python launch/tables.py --runs='runs/offline/*/seed*' --sizes=100k --out_dir=/tmp/t

Per env and method: mean ± std over seeds of the final evaluation return of the finished runs, the
number of seeds, our return as a ratio to our dataset's return beside the paper's ratio, and the
budget each cell ran with (read from the runs' config.gin and metrics). BRAC runs give two rows:
BRAC (the mode) and BRAC (max Q). Unfinished runs are counted, not averaged. Runs on a Minari
or D4RL dataset (`train_offline.dataset`) are grouped by that dataset, and where it has reference
scores each cell also gives the normalised score (x100, as D4RL papers report it).
"""
import collections
import glob
import os
import re

from absl import flags
import numpy as np

import launch_common
launch_common.quiet_tensorflow()  # before anything imports TF
from launch_common import env_name, gin_binding as binding
from bremen_tf import fileio, results, runs
from bremen_tf.paper_results import METHOD_NAMES, METHODS, OFFLINE

flags.DEFINE_string('runs', 'runs/offline/*+budget-table/seed*', 'Glob of run directories.')
flags.DEFINE_list('sizes', None, 'Dataset sizes to tabulate (default: every size with runs).')
flags.DEFINE_string('out_dir', 'results', 'Where offline_<size>.md/.csv/_curves.png go.')
FLAGS = flags.FLAGS

ENV_ORDER = ('Ant', 'HalfCheetah', 'Hopper', 'Walker2d')


def read_run(path):
  """One run directory -> a list of per-method records (BRAC gives two), or [] if unusable."""
  config_path = os.path.join(path, 'config.gin')
  if not (os.path.exists(config_path) and os.path.exists(os.path.join(path, 'metrics.csv'))):
    return []
  with open(config_path) as f:
    config = f.read()
  metrics = runs.read_metrics(path)
  if not metrics:
    return []
  state_path = os.path.join(path, 'train_state.json')
  state = fileio.read_json(state_path) if os.path.exists(state_path) else {}
  algorithm = binding(config, 'train_offline.algorithm', 'bremen')
  data = state.get('dataset') or {}
  external = data.get('dataset')  # 'minari:...' / 'd4rl:...': grouped by dataset, not by size
  base = {'path': path,
          'env': env_name(data.get('env_id') or binding(config, 'train_offline.env_id')),
          'size': (dataset_label(external) if external
                   else binding(config, 'train_offline.dataset_size', '1m').lower()),
          'noise': binding(config, 'train_offline.noise', 'pure'), 'external': external,
          'reference_scores': data.get('reference_scores'),
          'finished': os.path.exists(os.path.join(path, 'DONE')),
          'dataset_return': ((state.get('dataset') or {}).get('behavior_returns') or {}).get('mean')}
  last = metrics[-1]
  if algorithm == 'bremen':
    policy_init = binding(config, 'train_offline.policy_init', 'bc')
    iterations = int(binding(config, 'train_offline.outer_iterations', '250'))
    per_it = int(binding(config, 'train_offline.updates_per_iteration', '25'))
    epochs = binding(config, 'DynamicsEnsemble.max_epochs', '200')
    bc_steps = binding(config, 'behavior_clone.steps', '300_000').replace('_', '')
    batch = int(binding(config, 'ImaginedTRPO.batch_size', '50_000').replace('_', ''))
    method = {'bc': 'bremen', 'bc_unit_std': 'bremen_unit_std', 'random': 'me_trpo'}[policy_init]
    budget = (f'{iterations * per_it} TRPO updates ({iterations} x {per_it}, batches of '
              f'{batch:,} imagined steps), dynamics <= {epochs} epochs'
              + ('' if method == 'me_trpo' else f', BC {int(bc_steps) // 1000}k steps'))
    curve = [(int(r['iteration']) / iterations, float(r['eval_return_mean'])) for r in metrics]
    speed = [float(r['imagined_steps_per_s']) for r in metrics if r.get('imagined_steps_per_s')]
    return [dict(base, method=method, budget=budget, curve=curve,
                 final=float(last['eval_return_mean']),
                 normalized=_float(last.get('eval_normalized_score')),
                 speed=f'{np.median(speed):,.0f} imagined steps/s' if speed else '')]
  steps = int(binding(config, 'train_model_free.train_steps', '0').replace('_', '') or 0)
  steps = steps or int(float(last['train_steps']))
  budget = f'{steps // 1000}k gradient steps'
  if algorithm == 'brac':
    b_steps = binding(config, 'train_model_free.behavior_steps', '300_000').replace('_', '')
    budget += f' (+ {int(b_steps) // 1000}k for π_b)'
  speed = [float(r['train_steps_per_s']) for r in metrics if r.get('train_steps_per_s')]
  base['speed'] = f'{np.median(speed):,.0f} gradient steps/s' if speed else ''
  records = []
  for method, key in ((algorithm, 'eval_return_mean'), ('brac_max_q', 'eval_max_q_return_mean')):
    if method == 'brac_max_q' and algorithm != 'brac':
      continue
    curve = [(int(float(r['step'])) / steps, float(r[key])) for r in metrics]
    records.append(dict(base, method=method, budget=budget, curve=curve, final=float(last[key]),
                        normalized=_float(last.get(key.replace('_return_mean',
                                                               '_normalized_score')))))
  return records


def dataset_label(binding):
  """A file-name-safe label: 'minari:bremen-d4rl/hopper/medium-v0' ->
  'bremen-d4rl_hopper_medium-v0', 'd4rl:/data/hopper_medium-v2.hdf5' -> 'hopper_medium-v2'."""
  kind, name = binding.split(':', 1)
  if kind == 'd4rl' or os.path.isabs(name):
    name = os.path.splitext(os.path.basename(name.rstrip('/')))[0]
  return re.sub(r'[^\w.-]+', '_', name).strip('_')


def _float(text):
  return float(text) if text not in (None, '') else None


def describe_order(values):
  """{'bremen': 5000, ...} -> 'BREMEN > BC > ...' (highest first)."""
  ordered = sorted(values, key=lambda m: -values[m])
  return ' > '.join(METHOD_NAMES[m] for m in ordered)


def pair_agreement(ours, paper):
  """Of the method pairs both have, how many are ordered the same way: (agree, total)."""
  methods = [m for m in ours if m in paper]
  agree = total = 0
  for i, a in enumerate(methods):
    for b in methods[i + 1:]:
      total += 1
      agree += (ours[a] - ours[b]) * (paper[a] - paper[b]) > 0
  return agree, total


def write_size(size, records, out_dir):
  plt = launch_common.pyplot()
  envs = [e for e in ENV_ORDER if any(r['env'] == e for r in records)]
  methods = [m for m in METHODS if any(r['method'] == m for r in records)]
  cells = collections.defaultdict(list)
  for record in records:
    cells[(record['env'], record['method'])].append(record)
  external = records[0].get('external')  # one dataset per group (see read_run)
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
  records = [r for p in paths for r in read_run(p)]
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
