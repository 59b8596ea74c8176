"""Plots offline runs: the policy's real return per outer iteration beside BC's and the dataset's.

  python launch/plot_offline.py --runs=runs/offline/halfcheetah_100k+evidence-budget/seed0,\
runs/offline/hopper_100k+evidence-budget/seed0 --out=results/learning_evidence

Writes <out>.png (one panel per run) and <out>.md / .csv (the numbers behind it, with each run's
budget and how far it got). Unfinished runs are plotted as far as they went, and say so. For a
BC-initialised run, iteration 0 is the BC policy itself (evaluated before any TRPO update).
"""
import os

from absl import flags

import launch_common
launch_common.quiet_tensorflow()  # before anything imports TF
from bremen_tf import fileio, results
from bremen_tf.reporting import labels, run_reader

flags.DEFINE_list('runs', None, 'Run directories to plot.')
flags.DEFINE_string('out', None, 'Output path without extension (e.g. results/learning_evidence).')
flags.mark_flags_as_required(['runs', 'out'])
FLAGS = flags.FLAGS


def load_run(path):
  run = run_reader.offline_curve(path)
  if run is None:
    raise SystemExit(f'error: {path} has no metrics.csv, or is not an offline run directory.')
  return run


def main(argv):
  del argv
  launch_common.quiet_logs()
  plt = launch_common.pyplot()
  data = [load_run(p) for p in FLAGS.runs]
  fig, axes = plt.subplots(1, len(data), figsize=(5.5 * len(data), 4), squeeze=False)
  table, csv_rows = [], []
  for ax, d in zip(axes[0], data):
    name = (f'{d["env_id"]} {d["external"]}' if d['external']
            else f'{d["env_id"]} {d["noise"]} {d["size"]}')
    label = labels.with_deviations(
        'BREMEN' if d['policy_init'] == 'bc' else f'policy_init={d["policy_init"]}',
        d['description'].get('deviations'))
    ax.plot(d['iterations'], d['returns'], 'o-', label=f'{label} (deterministic, real env)')
    lo = [m - s for m, s in zip(d['returns'], d['stds'])]
    hi = [m + s for m, s in zip(d['returns'], d['stds'])]
    ax.fill_between(d['iterations'], lo, hi, alpha=0.2)
    if d['policy_init'] == 'bc' and d['iterations'] and d['iterations'][0] == 0:
      ax.axhline(d['returns'][0], color='tab:orange', ls='--', label='BC policy (iteration 0)')
    if d['dataset_return'] is not None:
      ax.axhline(d['dataset_return'], color='tab:green', ls=':', label='dataset (behaviour)')
    ax.set_title(name + ('' if d['finished'] else ' (unfinished)'))
    ax.set_xlabel(f'outer iteration ({d["updates_per_iteration"]} TRPO updates each)')
    ax.set_ylabel('average return')
    ax.legend(fontsize=8)
    last = d['returns'][-1]
    bc = d['returns'][0] if d['policy_init'] == 'bc' else None
    best = max(d['returns'][1:]) if len(d['returns']) > 1 else float('nan')
    table.append([name, f'{d["iterations"][-1]} of {d["budget"]}',
                  'yes' if d['finished'] else 'no',
                  # None: the dataset has no complete episode (no behaviour return)
                  f'{d["dataset_return"]:.1f}' if d['dataset_return'] is not None else 'n/a',
                  f'{bc:.1f}' if bc is not None else 'n/a',
                  f'{last:.1f} ± {d["stds"][-1]:.1f}', f'{best:.1f}',
                  str(d['dynamics_epochs'])])
    for it, m, s in zip(d['iterations'], d['returns'], d['stds']):
      csv_rows.append([name, d['path'], it, m, s, d['dataset_return']])
  fig.tight_layout()
  launch_common.save_png(plt, fig, FLAGS.out + '.png', dpi=110)
  runs_list = '\n'.join(f'- `{d["path"]}`' for d in data)
  text = ('# Offline learning curves\n\n' + results.provenance_header(runs_list.replace('\n', ' ')) +
          f'\n![learning curves]({os.path.basename(FLAGS.out)}.png)\n\n' +
          results.markdown_table(
              ['run', 'iterations done', 'finished', 'dataset return', 'BC policy (it. 0)',
               'last iteration', 'best iteration ≥ 1', 'dynamics stop epochs'], table) +
          '\nReturns: deterministic mean action in the real env, whole episodes totalling '
          '≥ 3000 steps per evaluation (mean ± std over those episodes).\n')
  fileio.write_text(FLAGS.out + '.md', text)
  results.write_csv(FLAGS.out + '.csv', ['run', 'path', 'iteration', 'eval_return_mean',
                                         'eval_return_std', 'dataset_return'], csv_rows)
  print(f'Wrote {FLAGS.out}.png, .md and .csv')


if __name__ == '__main__':
  launch_common.run(main)
