"""The paper's D4RL table from our runs on Minari / D4RL datasets: results/d4rl.md, .csv, .png.

  python launch/d4rl_table.py                                   # runs/d4rl/*/seed*
  python launch/d4rl_table.py --runs='runs/offline/d4rl-*/seed*' --out=/tmp/d4rl

Reads the offline runs whose dataset is 'minari:...' or 'd4rl:...' (train_offline.dataset) and
gives, per task (env x random / medium / medium-replay / medium-expert / expert), dataset, method
and budget: mean ± std over seeds of the final normalised score (x100) and raw return, the seeds,
the unfinished runs (counted and listed, not averaged), the budget against the paper's, and the
paper's number for the cell (bremen_tf/paper_results.D4RL). The logic is
bremen_tf/reporting/d4rl.py. Make the runs with (docs/d4rl.md):

  python launch/make_d4rl_datasets.py --tf_threads=1
  python launch/sweep.py --runs_dir=runs/d4rl --algos=bremen,bc --seeds=0,1 \
      --extra_gin=gin/budget/table.gin --gin_files=gin/d4rl/halfcheetah_random.gin,...
"""
import glob
import os

from absl import flags

import launch_common
launch_common.quiet_tensorflow()  # before anything imports TF
from bremen_tf import fileio, results
from bremen_tf.reporting import d4rl, labels, run_reader

flags.DEFINE_string('runs', 'runs/d4rl/*/seed*', 'Glob of run directories (those on BRAC-protocol '
                    'data are left out, and named).')
flags.DEFINE_string('out', os.path.join('results', 'd4rl'),
                    'Output path without extension: <out>.md, <out>.csv, <out>.png.')
flags.DEFINE_bool('plot', True, 'Also write <out>.png (normalised scores beside the paper\'s).')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  launch_common.quiet_logs()
  paths = sorted(p for p in glob.glob(FLAGS.runs) if os.path.isdir(p))
  records, brac_protocol, unusable = d4rl.read_runs(paths)
  records, left_out = run_reader.leave_out_deviations(records)
  if left_out:
    print(labels.left_out_note(left_out))
  if not records:
    raise d4rl.no_runs_error(FLAGS.runs, brac_protocol, unusable, left_out)
  cells = d4rl.build_cells(records)
  png = None
  if FLAGS.plot:
    plt = launch_common.pyplot()
    fig = d4rl.plot(plt, cells)
    if fig is not None:
      png = FLAGS.out + '.png'
      launch_common.save_png(plt, fig, png)
  text = d4rl.markdown(cells, FLAGS.runs, len(paths), sorted(brac_protocol + unusable),
                       png=os.path.basename(png) if png else None, left_out=left_out)
  fileio.write_text(FLAGS.out + '.md', text)
  results.write_csv(FLAGS.out + '.csv', d4rl.CSV_HEADER, d4rl.csv_rows(cells))
  print(f'Wrote {FLAGS.out}.md, .csv' + (' and .png' if png else '')
        + f' ({len(cells)} cells from {len(records)} method records)')


if __name__ == '__main__':
  launch_common.run(main)
