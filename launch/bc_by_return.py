"""BC of a dataset's episodes above return thresholds (bremen_tf/bc_by_return.py): which part of
a mixed dataset BREMEN's behaviour cloning can use, and how good π̂_β could start.

  python launch/bc_by_return.py --dataset=minari:bremen-d4rl/halfcheetah/medium-replay-v0 \
      --min_returns=all,0,3000 --out=results/bc_by_return_halfcheetah_medium_replay

Per threshold ('all' = every transition, as BREMEN clones): the complete episodes whose return
exceeds it, BC as BREMEN's (`--bc_steps`; the paper's 300k, our tables' 100k) and a deterministic
real-env evaluation of whole episodes totalling >= 3000 steps, with the normalised score when the
dataset has reference scores. --seed seeds BC's minibatches and the evaluation episodes. Writes
<out>.md and <out>.csv.
"""
import os

from absl import flags

import launch_common

flags.DEFINE_string('dataset', None, "A dataset binding as train_offline.dataset takes: "
                    "'minari:<dataset id or path>' or 'd4rl:<path to .hdf5>'.")
flags.DEFINE_string('env_id', None, 'The env (only if the dataset does not name one).')
flags.DEFINE_list('min_returns', ['all', '0'], "Return thresholds, 'all' for every transition.")
flags.DEFINE_integer('bc_steps', 100_000, 'BC gradient steps per threshold.')
flags.DEFINE_string('out', None, 'Output path without extension (default: '
                    'results/bc_by_return_<dataset name>).')
flags.mark_flags_as_required(['dataset'])
flags.adopt_module_key_flags(launch_common)
FLAGS = flags.FLAGS

HEADER = ['episodes_kept', 'episodes', 'transitions', 'episode_return_mean', 'bc_steps',
          'bc_final_loss', 'eval_return_mean', 'eval_return_std', 'eval_normalized_score',
          'eval_episodes', 'seconds']


def parse_thresholds(values):
  """'all' -> None, numbers -> float; a clear error for anything else, before any work."""
  from bremen_tf.errors import ConfigError  # pylint: disable=g-import-not-at-top
  out = []
  for v in values:
    try:
      out.append(None if v == 'all' else float(v))
    except ValueError:
      raise ConfigError(f"--min_returns takes 'all' or numbers, got {v!r}.") from None
  return out


def main(argv):
  del argv
  from bremen_tf.errors import ConfigError  # pylint: disable=g-import-not-at-top
  thresholds = parse_thresholds(FLAGS.min_returns)
  if FLAGS.bc_steps < 1:
    raise ConfigError(f'--bc_steps must be at least 1, got {FLAGS.bc_steps}.')
  if not FLAGS.dataset.startswith(('minari:', 'd4rl:')):
    raise ConfigError(f"--dataset must start with 'minari:' or 'd4rl:', got {FLAGS.dataset!r}.")
  name = FLAGS.dataset.split(':', 1)[1].rstrip('/')
  out = FLAGS.out or os.path.join(
      'results', 'bc_by_return_' + '_'.join(name.replace('.hdf5', '').split('/')[-2:])
      .replace('-', '_'))
  launch_common.quiet_logs()
  launch_common.configure_tf()
  from bremen_tf import results  # pylint: disable=g-import-not-at-top
  from bremen_tf.bc_by_return import bc_by_return  # pylint: disable=g-import-not-at-top
  from bremen_tf.data.sources import load_source  # pylint: disable=g-import-not-at-top
  # --gin_file/--gin_bindings (e.g. check_matches_env.enabled = False for rewards changed on
  # purpose, behavior_clone.*), parsed once their configurables are imported, and validated.
  launch_common.parse_gin()
  launch_common.validate()
  data = load_source(FLAGS.dataset, FLAGS.env_id, None, None)
  env_id, refs = data.metadata['env_id'], data.metadata.get('reference_scores')
  rows = bc_by_return(data, env_id, thresholds, FLAGS.bc_steps, seed=FLAGS.seed, refs=refs)

  def fmt(v, spec):
    return '—' if v is None or v != v else format(v, spec)
  table, csv_rows = [], []
  for r in rows:
    what = 'every transition' if r['min_return'] is None else f'return > {r["min_return"]:g}'
    csv_rows.append([what] + [FLAGS.bc_steps if k == 'bc_steps' else r.get(k)
                              for k in HEADER[1:]])
    table.append([what, r['episodes'], f'{r["transitions"]:,}',
                  fmt(r.get('episode_return_mean'), '.0f'), fmt(r.get('bc_final_loss'), '.4f'),
                  (f'{r["eval_return_mean"]:.0f} ± {r["eval_return_std"]:.0f}'
                   if 'eval_return_mean' in r else '—'),
                  fmt(r.get('eval_normalized_score'), '.1f'), r.get('eval_episodes', '—')])
  text = (f'# BC of {FLAGS.dataset}\'s episodes above return thresholds\n\n'
          + results.provenance_header(f'`{FLAGS.dataset}` ({len(data):,} transitions, {env_id}); '
                                      f'{FLAGS.bc_steps:,} BC steps, seed {FLAGS.seed}')
          + '\nBREMEN clones π̂_β on every transition ("every transition"); each other row '
          'clones the same policy, with the same BC, on the complete episodes whose return '
          'exceeds the '
          'threshold (`bremen_tf/bc_by_return.py`). Real return: the BC policy\'s mean action, '
          'whole episodes totalling >= 3000 steps, mean ± std over episodes'
          + (f'; normalised: 100 (R − {refs["min"]:g}) / ({refs["max"]:g} − {refs["min"]:g})'
             if refs else '') + '. Episode return: the kept complete episodes\' mean.\n\n'
          + results.markdown_table(['episodes kept', 'episodes', 'transitions', 'episode return',
                                    'BC final loss', 'real return', 'normalised',
                                    'episodes evaluated'], table))
  from bremen_tf import fileio  # pylint: disable=g-import-not-at-top
  fileio.write_text(out + '.md', text)
  results.write_csv(out + '.csv', HEADER, csv_rows)
  print(f'Wrote {out}.md and .csv')


if __name__ == '__main__':
  launch_common.run(main)
