"""Measures imagination reward/done against the real envs; writes results/reward_match.md.

  python launch/reward_match.py            # also refreshes the figures in docs/environments.md

Random policy and the shipped SAC behaviour policies (sampling), on every env variant.
"""
import os

from absl import flags

import launch_common
launch_common.quiet_tensorflow()  # before anything imports TF
from bremen_tf import envs, errors, fileio, results
from bremen_tf.envs import reward_check

flags.DEFINE_integer('episodes', 10, 'Episodes per (env, policy).')
flags.DEFINE_boolean('update_docs', True,
                     'Also rewrite the reward-match block of docs/environments.md.')
flags.DEFINE_list('env_id', [], 'Env ids to measure (default: all).')
flags.DEFINE_string('out', None, 'Output Markdown file (default results/reward_match.md; a .csv '
                    'is written beside it).')
flags.adopt_module_key_flags(launch_common)
FLAGS = flags.FLAGS


def main(argv):
  del argv
  launch_common.setup()
  if FLAGS.out and not FLAGS.out.endswith('.md'):  # its .csv goes beside it
    raise errors.ConfigError(f'--out must end in .md, got {FLAGS.out!r}.')
  for env_id in FLAGS.env_id:  # every id known before the first episode runs
    try:
      envs.get_spec(env_id)
    except ValueError as e:
      raise errors.ConfigError(f'--env_id: {e}') from e
  header = ['env', 'policy', 'steps', 'max abs error', 'correlation', 'done agreement',
            'mean true return', 'return bias', 'bias / sum of abs(r)']
  rows = []
  for env_id in FLAGS.env_id or envs.ENV_IDS:
    for name in ('random', 'SAC behaviour'):
      try:
        policy = (reward_check.random_policy(env_id, FLAGS.seed) if name == 'random'
                  else reward_check.behavior_policy(env_id, FLAGS.seed))
      except FileNotFoundError:
        rows.append([env_id, name, 'no shipped policy'] + [''] * (len(header) - 3))
        continue
      m = reward_check.compare(env_id, policy, FLAGS.episodes, seed=FLAGS.seed)
      rows.append([env_id, name, m['steps'], f'{m["max_abs_error"]:.1e}',
                   f'{m["correlation"]:.5f}', f'{m["done_agreement"]:.4f}',
                   f'{m["true_return_mean"]:.1f}', f'{100 * m["return_bias"]:+.2f}%',
                   f'{100 * m["return_bias_of_abs"]:+.2f}%'])
      print(' | '.join(str(c) for c in rows[-1]), flush=True)
  table = results.markdown_table(header, rows)
  text = ('# Imagination reward/done vs. the real environments\n\n' + results.provenance_header()
          + f'\n{FLAGS.episodes} episodes per row; return bias = (Σ predicted − Σ true reward) / '
          'abs(Σ true reward); the last column divides by Σ abs(true reward) instead, which stays '
          'meaningful when returns are near zero (random policies).\n\n' + table)
  out = FLAGS.out or os.path.join(launch_common.REPO_ROOT, 'results', 'reward_match.md')
  results.write_csv(out[:-3] + '.csv', header, rows)
  fileio.write_text(out, text)
  if FLAGS.update_docs:
    results.replace_block(os.path.join(launch_common.REPO_ROOT, 'docs', 'environments.md'),
                          'reward-match', table)
  print(f'Wrote {out}')


if __name__ == '__main__':
  launch_common.run(main)
