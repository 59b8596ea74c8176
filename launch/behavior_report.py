"""Writes results/behavior_policies.md: the shipped SAC behaviour policies and their pure data.

  python launch/behavior_report.py

Per paper-faithful env: SAC steps to the threshold, training time, the deterministic evaluation
return, and the average episode return of the `pure` 1M dataset the policy produces (collected
on demand if it is not cached), beside the paper's "Dataset" row.
"""
import os

from absl import flags

import launch_common
launch_common.quiet_tensorflow()  # before anything imports TF
from bremen_tf import envs, errors, fileio, results
from bremen_tf.data import shipped_policies
from bremen_tf.data import get_dataset

flags.DEFINE_string('data_dir', None, 'Dataset cache (default: the library default).')
flags.DEFINE_string('size', '1m', 'Size of the pure dataset whose return is reported.')
flags.DEFINE_string('out', None, 'Output Markdown file (default results/behavior_policies.md; a '
                    '.csv is written beside it).')
flags.adopt_module_key_flags(launch_common)
FLAGS = flags.FLAGS

# The paper's "Dataset" row (pure; HalfCheetah differs slightly between its 1M/100K/50K tables).
PAPER_DATASET_RETURN = {'bremen/Ant-v0': '1191', 'bremen/HalfCheetah-v0': '4126 / 4066 / 4138',
                        'bremen/Hopper-v0': '1128', 'bremen/Walker2d-v0': '1376'}


def _pm(mean, std):
  return 'n/a' if mean is None else f'{mean:.1f} ± {std:.1f}'


def main(argv):
  del argv
  launch_common.setup()
  if FLAGS.out and not FLAGS.out.endswith('.md'):  # its .csv goes beside it
    raise errors.ConfigError(f'--out must end in .md, got {FLAGS.out!r}.')
  header = ['env', 'threshold', 'SAC steps to threshold', 'env steps', 'SAC training time',
            'deterministic eval return (20 ep.)', f'pure {FLAGS.size} data: episode return',
            'episodes', 'paper "Dataset"', 'collection speed']
  rows, missing = [], []
  for env_id in sorted(envs.PAPER_ENV_IDS):
    try:
      _, meta = shipped_policies.load_behavior_policy(env_id)
    except FileNotFoundError:
      missing.append(env_id)
      continue
    ds = get_dataset(env_id, 'pure', FLAGS.size, seed=FLAGS.seed, data_dir=FLAGS.data_dir,
                     log=lambda m: print(m, flush=True))
    ret = ds.metadata['behavior_returns']
    rows.append([
        env_id, f'{meta["threshold"]:g}', f'{meta["sac_steps"]:,}', f'{meta["env_steps"]:,}',
        f'{meta["training_time_s"] / 60:.1f} min',
        _pm(meta['eval_return_mean'], meta['eval_return_std']),
        _pm(ret['mean'], ret['std']), ret['episodes'], PAPER_DATASET_RETURN[env_id],
        f'{ds.metadata["transitions_per_second"]:,.0f} transitions/s'])
    print(' | '.join(str(c) for c in rows[-1]), flush=True)
  notes = ('\nSAC steps are gradient steps (BRAC\'s global step), after 10,000 uniform-random '
           'transitions; a policy is "partially trained" the first time 2 consecutive evaluations '
           '(every 5,000 steps, 20 deterministic episodes) reach the threshold. The data return is '
           'the mean over the complete episodes of the `pure` dataset (stochastic policy '
           'samples, as BRAC collects), which is the paper\'s "Dataset" row. Training time is '
           'wall-clock on the machine below with one TF thread, next to another training job. '
           'Collection speed is for the whole dataset (64 envs, one batched policy call per step) '
           'on the same machine, with another job on its second core; it is recorded in the '
           'dataset metadata when the dataset is made.\n')
  if missing:
    notes += f'\nNot yet trained (no shipped policy): {", ".join(missing)}.\n'
  text = ('# Behaviour policies (BRAC protocol, paper-faithful envs)\n\n'
          + results.provenance_header(config='gin/behavior/*.gin') + '\n'
          + results.markdown_table(header, rows) + notes)
  out = FLAGS.out or os.path.join(launch_common.REPO_ROOT, 'results', 'behavior_policies.md')
  results.write_csv(out[:-3] + '.csv', header, rows)
  fileio.write_text(out, text)
  print(f'Wrote {out}')


if __name__ == '__main__':
  launch_common.run(main)
