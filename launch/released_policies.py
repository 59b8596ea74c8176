"""The authors' released BREMEN policies in our paper-faithful envs
(bremen_tf/released_policies.py): what a policy BREMEN trained on MuJoCo 1.31 scores on today's
MuJoCo, beside our runs.

  git clone https://github.com/matsuolab/BREMEN /tmp/BREMEN
  python launch/released_policies.py --bremen_repo=/tmp/BREMEN --out=results/released_policies.md
  python launch/released_policies.py --bremen_repo=/tmp/BREMEN --env=Hopper --data_size=100k \\
      --data_size=1m --export_dir=/tmp/released     # SavedModels, e.g. for launch/flip_probe.py

Each policy normalises observations with statistics that its checkpoint does not hold (the authors
recompute them from BRAC's pure data, which is not public); here they come from our pure dataset
of --data_size transitions (collected with the shipped behaviour policy the first time, like the
offline runs' data), one row per size. The policy acts deterministically (its mean, the paper's
evaluation) for --episodes whole episodes, episode k reset with seed --seed + k.
"""
import os
import subprocess
import sys

from absl import flags
import numpy as np

import launch_common

RELEASED = ('HalfCheetah', 'Hopper', 'Walker2d', 'Ant')  # = released_policies.RELEASED_ENVS
flags.DEFINE_string('bremen_repo', None, 'A checkout of github.com/matsuolab/BREMEN.')
flags.DEFINE_multi_enum('env', list(RELEASED), RELEASED, 'Released policies to run (repeatable).')
flags.DEFINE_multi_string('data_size', ['100k'], 'Size of the pure dataset whose observation '
                          'statistics the policy normalises with (repeatable: one row each).')
flags.DEFINE_integer('episodes', 10, 'Episodes per row.')
flags.DEFINE_string('data_dir', None, 'Dataset cache (default $BREMEN_TF_DATA_DIR or '
                    '~/.cache/bremen_tf/datasets).')
flags.DEFINE_string('export_dir', None, 'Also export each row\'s policy as a SavedModel to '
                    '<export_dir>/<Env>_<size>.')
flags.DEFINE_string('out', None, 'Optional .md file to write (a .csv is written beside it).')
flags.mark_flags_as_required(['bremen_repo'])
flags.declare_key_flag('seed')
flags.declare_key_flag('tf_threads')
FLAGS = flags.FLAGS
HEADER = ['policy', 'env', 'statistics from', 'return mean', 'return std', 'return min',
          'return max', 'mean length', 'moving', 'still', 'flipped', 'turned over',
          'ended early']


def check_flags():
  """Before TensorFlow: the checkout has a weights/ folder, --episodes and --out make sense."""
  if not os.path.isdir(os.path.join(FLAGS.bremen_repo, 'weights')):
    sys.exit(f'error: {FLAGS.bremen_repo} has no weights/ folder: pass a checkout of '
             'github.com/matsuolab/BREMEN (git clone https://github.com/matsuolab/BREMEN).')
  if FLAGS.episodes < 1:
    sys.exit(f'error: --episodes must be at least 1, got {FLAGS.episodes}.')
  if FLAGS.out and not FLAGS.out.endswith('.md'):
    sys.exit(f'error: --out must end in .md, got {FLAGS.out!r}.')


def main(argv):
  if len(argv) > 1:
    sys.exit(f'error: unexpected arguments {argv[1:]}.')
  launch_common.quiet_logs()
  launch_common.check_tool_flags()
  check_flags()
  launch_common.configure_tf()
  # pylint: disable=g-import-not-at-top (these import TF)
  from bremen_tf import envs, episode_diagnostics, export, released_policies, results
  from bremen_tf.data import on_demand
  try:
    sizes = [on_demand.parse_size(s) for s in FLAGS.data_size]
  except ValueError as e:
    sys.exit(f'error: --data_size: {e}')
  rows = []
  for name in dict.fromkeys(FLAGS.env):
    env_id = released_policies.RELEASED_ENVS[name]
    env = envs.make(env_id)
    for size, size_text in zip(sizes, FLAGS.data_size):
      data = on_demand.get_dataset(env_id, 'pure', size, data_dir=FLAGS.data_dir,
                                   log=lambda m: print(m, flush=True))
      try:
        policy = released_policies.load_released_policy(FLAGS.bremen_repo, name, env,
                                                        data.observations)
      except released_policies.ReleasedPolicyError as e:
        sys.exit(f'error: {e}')
      act = lambda obs, policy=policy: policy.mean_log_std(obs)[0].numpy()
      episodes = episode_diagnostics.episode_rows(env_id, act, FLAGS.episodes, FLAGS.seed)
      returns = [e[2] for e in episodes]
      outcomes = [e[-1] for e in episodes]
      source = f'our pure {size_text} ({data.metadata["behavior_returns"]["mean"]:.0f})'
      rows.append([name, env_id, source, float(np.mean(returns)), float(np.std(returns)),
                   min(returns), max(returns), float(np.mean([e[3] for e in episodes])),
                   outcomes.count('moving'), outcomes.count('still'), outcomes.count('flipped'),
                   sum(o.startswith('turned over') for o in outcomes),
                   sum(e[3] < env.spec.max_episode_steps for e in episodes)])
      print(f'{name} (statistics of {source}): return {rows[-1][3]:.0f} ± {rows[-1][4]:.0f}',
            flush=True)
      if FLAGS.export_dir:
        path = os.path.join(FLAGS.export_dir, f'{name}_{size_text}')
        export.export_policy(policy, path, {
            'env_id': env_id, 'source': f'matsuolab/BREMEN weights/{name}',
            'observation_statistics': f'our pure {size_text} dataset'})
        print(f'  exported to {path}', flush=True)
  shown = [[f'{c:.0f}' if isinstance(c, float) else c for c in row] for row in rows]
  text = results.markdown_table(HEADER, shown) + '\n'
  print(text)
  if FLAGS.out:
    lines = ['# The authors\' released BREMEN policies in our paper-faithful envs', '',
             results.provenance_header(
                 f'matsuolab/BREMEN weights/ ({FLAGS.bremen_repo}{_commit(FLAGS.bremen_repo)}); '
                 f'{FLAGS.episodes} episodes '
                 f'per row, reset seeds {FLAGS.seed}..{FLAGS.seed + FLAGS.episodes - 1}'), '',
             'The released policies are the deployment-efficient runs with 200K transitions per '
             'deployment (the paper\'s Figure 2, top row), trained on MuJoCo 1.31. Their '
             'checkpoints hold no observation statistics; the authors recompute them from '
             'BRAC\'s pure data (not public), so here they come from our pure dataset of the '
             'size shown (its behaviour return in brackets): an approximation. Deterministic '
             'mean actions clipped to the bounds; outcomes as in episode_report ("flipped": '
             'on its back at the end; "turned over": upright at the end after a full turn; '
             '"ended early": a termination before the time '
             'limit, i.e. a fall for Hopper and Walker2d).', '', text]
    results.write_report(FLAGS.out, lines, HEADER, rows)


def _commit(repo):
  """', commit <sha>' of a git checkout, '' otherwise."""
  out = subprocess.run(['git', '-C', repo, 'rev-parse', 'HEAD'], capture_output=True, text=True,
                       check=False)
  return f', commit {out.stdout.strip()[:12]}' if out.returncode == 0 else ''


if __name__ == '__main__':
  launch_common.run(main)
