"""Plots model-free offline runs (BC, BCQ, BRAC): every test policy's real return and the training
diagnostics against the gradient step.

  python launch/plot_model_free.py --runs=runs/evidence/brac_long/halfcheetah_100k/seed0 \
      --out=results/brac_long

Writes <out>.png (per run: returns on top, diagnostics below) and <out>.md / .csv (the numbers
behind it: one row per evaluation). `--diagnostics` names the metrics.csv columns to show; those a
run does not log are skipped.
"""
import os

from absl import flags

import launch_common
launch_common.quiet_tensorflow()  # before anything imports TF
from bremen_tf import fileio, results
from bremen_tf.reporting import run_reader
from bremen_tf.reporting.labels import env_name

flags.DEFINE_list('runs', None, 'Run directories of launch/offline.py with a model-free algorithm.')
flags.DEFINE_string('out', None, 'Output path without extension (e.g. results/brac_long).')
flags.DEFINE_list('diagnostics', ['q_mean', 'divergence', 'q_loss'],
                  'metrics.csv columns to plot below the returns.')
flags.mark_flags_as_required(['runs', 'out'])
FLAGS = flags.FLAGS

RETURN_COLUMNS = {'eval_return_mean': 'return (main policy)',
                  'eval_max_q_return_mean': 'return (max-Q policy)'}


def load_run(path):
  run = run_reader.model_free_curves(path, [*RETURN_COLUMNS, *FLAGS.diagnostics])
  if run is None:
    raise SystemExit(f'error: {path} has no metrics.csv, or is not an offline run directory.')
  if run['algorithm'] == 'bremen':
    raise SystemExit(f'error: {path} is a BREMEN/ME-TRPO run; plot it with launch/plot_offline.py.')
  run['title'] = (f'{env_name(run["env_id"])} {run["size"].upper()}, {run["algorithm"].upper()} '
                  f'({os.path.basename(os.path.dirname(path))}/{os.path.basename(path)})')
  return run


def main(argv):
  del argv
  launch_common.quiet_logs()
  plt = launch_common.pyplot()
  data = [load_run(p) for p in FLAGS.runs]
  fig, axes = plt.subplots(2, len(data), figsize=(6.5 * len(data), 7), squeeze=False)
  text, csv_rows = [], []
  for (ax, ax_diag), run in zip(axes.T, data):
    steps = [r[0] for r in run['rows']]
    for i, column in enumerate(run['columns'], start=1):
      values = [r[i] for r in run['rows']]
      target = ax if column in RETURN_COLUMNS else ax_diag
      target.plot(steps, values, 'o-', ms=3, label=RETURN_COLUMNS.get(column, column))
    ax.set_title(run['title'] + ('' if run['finished'] else ' [unfinished]'), fontsize=9)
    ax.set_ylabel('real-env return')
    ax.legend(fontsize=8)
    ax_diag.set_xlabel('gradient step')
    ax_diag.set_yscale('symlog')
    ax_diag.legend(fontsize=8)
    fmt = lambda v: '' if v is None else f'{v:.4g}'
    text.append(f'## {run["title"]}{"" if run["finished"] else " (unfinished)"}\n\n'
                + results.markdown_table(['step', *run['columns']],
                                         [[r[0], *map(fmt, r[1:])] for r in run['rows']]))
    csv_rows += [[run['path'], column, r[0], r[i]] for r in run['rows']
                 for i, column in enumerate(run['columns'], start=1) if r[i] is not None]
  fig.tight_layout()
  launch_common.save_png(plt, fig, FLAGS.out + '.png')
  base = os.path.basename(FLAGS.out)
  fileio.write_text(FLAGS.out + '.md', '# Model-free offline runs: returns and diagnostics\n\n'
                    + results.provenance_header(', '.join(FLAGS.runs))
                    + f'\n![returns and diagnostics]({base}.png)\n\n' + '\n'.join(text))
  results.write_csv(FLAGS.out + '.csv', ['run', 'metric', 'step', 'value'], csv_rows)
  print(f'Wrote {FLAGS.out}.md, .csv and .png')


if __name__ == '__main__':
  launch_common.run(main)
