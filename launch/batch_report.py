"""What the episodes of recorded data batches look like: per batch, how many ran, stood still,
ended on their back or turned over, and their returns (bremen_tf/episode_diagnostics.py, the
outcomes of launch/episode_report.py, here read from the data instead of run again).

  python launch/batch_report.py --data=RUN/data/deployment_2.npz --data=RUN/data/deployment_3.npz \
      --out=results/full_budget_batches.md

A deployment's batch (data/deployment_<d>.npz) was collected by deployment d − 1's policy with
the deployments' exploration noise: this says what that policy did over its 200 episodes, and
what the next BC clones. Episodes cut by a collection segment are left out. Prints a table per
outcome; with --out, writes it (.md) and every episode's row as a .csv beside it.
"""
import os

from absl import flags

import launch_common
from bremen_tf import errors  # no TF

flags.DEFINE_multi_string('data', None, 'A dataset .npz (repeatable), e.g. a deployment batch.')
flags.DEFINE_string('out', None, 'Optional .md file to write (a .csv of the episodes beside it).')
flags.mark_flags_as_required(['data'])
FLAGS = flags.FLAGS

HEADER = ['batch', 'episodes', 'outcome', 'count', 'return mean', 'return min', 'return max']


def outcome_rows(name, rows):
  """The HEADER rows of one batch's episode rows: one per outcome that occurs, all first."""
  from bremen_tf import episode_diagnostics  # pylint: disable=g-import-not-at-top
  returns = {}
  for row in rows:
    returns.setdefault(row[-1], []).append(row[2])
  groups = [('all', [r[2] for r in rows])] + [(k, returns[k]) for k in
                                               episode_diagnostics.OUTCOMES if k in returns]
  return [[name, len(rows), k, len(v), f'{sum(v) / len(v):.0f}', f'{min(v):.0f}', f'{max(v):.0f}']
          for k, v in groups]


def main(argv):
  if len(argv) > 1:
    raise errors.ConfigError(f'unexpected arguments {argv[1:]}.')
  launch_common.check_tool_flags()  # --seed, --tf_threads; no gin flags (nothing reads them)
  if FLAGS.out and not FLAGS.out.endswith('.md'):
    raise errors.ConfigError(f'--out must end in .md, got {FLAGS.out!r}.')
  for path in FLAGS.data:
    if not os.path.isfile(path):
      raise errors.ConfigError(f'--data={path}: no such file.')
  launch_common.quiet_logs()
  launch_common.configure_tf()  # the dataset reader's package imports TF: quietly
  from bremen_tf import episode_diagnostics, results  # pylint: disable=g-import-not-at-top
  from bremen_tf.data.dataset import load_dataset  # pylint: disable=g-import-not-at-top
  batches = []
  for path in FLAGS.data:  # every file read and checked before any is reported
    dataset = load_dataset(path)
    env_id = dataset.metadata.get('env_id')
    if not env_id:
      raise errors.ConfigError(f'{path}: its metadata names no env_id (a dataset of '
                               'launch/collect_data.py or a deployment batch names one).')
    try:
      episode_diagnostics.robot_of(env_id)
    except ValueError as e:
      raise errors.ConfigError(f'{path}: {e}') from e
    batches.append((path, env_id, dataset))
  table, episodes = [], []
  common = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in FLAGS.data])
  for path, env_id, dataset in batches:
    rows = episode_diagnostics.batch_rows(env_id, dataset)
    if not rows:
      raise errors.ConfigError(f'{path} holds no whole episode.')
    table += outcome_rows(os.path.relpath(os.path.abspath(path), common), rows)
    episodes += [[path, env_id] + row for row in rows]
  text = f'Batches under `{common}`:\n\n' + results.markdown_table(HEADER, table) + '\n'
  print(text)
  if FLAGS.out:
    lines = ['# What the episodes of data batches look like', '',
             results.provenance_header(', '.join(f'`{p}`' for p in FLAGS.data)), '',
             'Outcomes as in launch/episode_report.py, from the recorded episodes: "still": |mean '
             'forward speed over the last 100 steps| < '
             f'{episode_diagnostics.STILL_SPEED} m/s; "flipped": on its back at the end (root '
             'pitch, modulo a full turn, past ±90°); "turned over": upright at the end after one '
             'or more full turns (the observed pitch is not wrapped). The episodes\' rows are '
             'in the .csv beside this file.', '', text]
    from bremen_tf import fileio  # pylint: disable=g-import-not-at-top
    fileio.write_text(FLAGS.out, '\n'.join(lines))
    results.write_csv(os.path.splitext(FLAGS.out)[0] + '.csv',
                      ['batch', 'env'] + episode_diagnostics.COLUMNS, episodes)
    print(f'Wrote {FLAGS.out}')


if __name__ == '__main__':
  launch_common.run(main)
