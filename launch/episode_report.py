"""Per-episode look at exported policies: return, actions, forward speed, final pitch, and whether
the agent ran, stood still or flipped (bremen_tf/episode_diagnostics.py).

  python launch/episode_report.py --policy_dir=runs/offline/hopper_100k/seed0/policy --episodes=10
  python launch/episode_report.py --policy_dir=A --policy_dir=B --out=results/full_budget_episodes.md
  python launch/episode_report.py --policy_dir=A --noise_std=0.1   # as the deployments collected

Each policy acts deterministically (its exported mean, clipped to the action bounds: the paper's
evaluation), or with --noise_std > 0 as a deployment collected its batch (mean + noise_std·ε),
for --episodes whole episodes, episode k reset with seed --seed + k, in the env of its
bremen_policy.json (or --env_id). Prints a table; with --out, writes it (.md) and a .csv beside it.
"""
import json
import os

from absl import flags

import launch_common
from bremen_tf import errors  # no TF

flags.DEFINE_multi_string('policy_dir', None, 'An exported policy directory (repeatable).')
flags.DEFINE_integer('episodes', 10, 'Episodes per policy.')
flags.DEFINE_string('env_id', None, "Environment (default: each policy's metadata env_id).")
flags.DEFINE_string('out', None, 'Optional .md file to write (a .csv is written beside it).')
flags.DEFINE_float('noise_std', 0.0, 'Add noise_std·ε to each action: 0 (default) is the paper\'s '
                   'deterministic evaluation; 0.1 (bremen_policy.json\'s sampling_std) acts as the '
                   'deployments collected their batches.')
flags.mark_flags_as_required(['policy_dir'])
flags.declare_key_flag('seed')
flags.declare_key_flag('tf_threads')
FLAGS = flags.FLAGS
POLICY_METADATA = 'bremen_policy.json'  # = bremen_tf.export.METADATA_FILE (that module loads TF)


def check_flags():
  """Before TensorFlow: every policy dir is an exported policy, --episodes and --out make sense."""
  if FLAGS.episodes < 1:
    raise errors.ConfigError(f'--episodes must be at least 1, got {FLAGS.episodes}.')
  if FLAGS.noise_std < 0:
    raise errors.ConfigError(f'--noise_std must be >= 0, got {FLAGS.noise_std}.')
  if FLAGS.seed < 0:
    raise errors.ConfigError(f'--seed must be >= 0, got {FLAGS.seed}.')
  if FLAGS.out and not FLAGS.out.endswith('.md'):
    raise errors.ConfigError(f'--out must end in .md, got {FLAGS.out!r}.')
  metas = []
  for path in FLAGS.policy_dir:
    meta_path = os.path.join(path, POLICY_METADATA)
    if not os.path.isfile(meta_path):
      raise errors.ConfigError(f'{path} is not an exported policy: {meta_path} does not exist.')
    try:
      with open(meta_path) as f:
        metas.append(json.load(f))
    except (OSError, ValueError) as e:
      raise errors.ConfigError(f'{meta_path}: not readable JSON ({e}).') from e
  return metas


def check_envs(metas):
  """Each policy's env (its metadata's, or --env_id) known, a locomotion robot, and of the
  policy's observation size: before any policy is loaded or any episode run."""
  from bremen_tf import envs, episode_diagnostics  # pylint: disable=g-import-not-at-top
  env_ids = []
  for path, meta in zip(FLAGS.policy_dir, metas):
    env_id = FLAGS.env_id or meta.get('env_id')
    if not env_id:
      raise errors.ConfigError(f'{path}: its {POLICY_METADATA} names no env_id; give --env_id.')
    try:
      episode_diagnostics.robot_of(env_id)
      spec = envs.get_spec(env_id)
    except ValueError as e:
      raise errors.ConfigError(f'{path}: {e}') from e
    if meta.get('obs_dim') not in (None, spec.obs_dim):
      raise errors.ConfigError(f'{path}: the policy takes {meta["obs_dim"]}-dimensional '
                               f'observations, but {env_id} has {spec.obs_dim}.')
    env_ids.append(env_id)
  return env_ids


def main(argv):
  if len(argv) > 1:
    raise errors.ConfigError(f'unexpected arguments {argv[1:]}.')
  launch_common.quiet_logs()
  metas = check_flags()
  launch_common.configure_tf()
  from bremen_tf import episode_diagnostics, export, results  # noqa: E402 (imports TF)
  env_ids = check_envs(metas)
  header = ['policy', 'env'] + episode_diagnostics.COLUMNS
  rows = []
  for path, env_id in zip(FLAGS.policy_dir, env_ids):
    act, _ = export.load_policy(path)
    act = episode_diagnostics.with_noise(act, FLAGS.noise_std, FLAGS.seed)
    for row in episode_diagnostics.episode_rows(env_id, act, FLAGS.episodes, FLAGS.seed):
      rows.append([path, env_id] + row)
  shown = [[c if not isinstance(c, float) else f'{c:.3g}' if abs(c) < 10 else f'{c:.0f}'
            for c in row] for row in rows]
  outcomes = {}
  for row in rows:
    outcomes.setdefault(row[0], []).append(row[-1])
  summary = [f'- `{p}`: {episode_diagnostics.summary(o)} of {len(o)} episodes'
             for p, o in outcomes.items()]
  text = '\n'.join([results.markdown_table(header, shown)] + summary) + '\n'
  print(text)
  if FLAGS.out:
    lines = ['# Episodes of exported policies', '',
             results.provenance_header(f'{FLAGS.episodes} episodes per policy, reset seeds '
                                       f'{FLAGS.seed}..{FLAGS.seed + FLAGS.episodes - 1}'), '',
             ('Deterministic mean actions' if not FLAGS.noise_std else
              f'Mean actions plus {FLAGS.noise_std:g}·ε (ε standard normal, seeded by --seed: '
              'the deployments\' exploration, not the paper\'s evaluation)')
             + ' clipped to the bounds' + ('' if FLAGS.noise_std else ' (the paper\'s evaluation)')
             + '. '
             '"still": |mean forward speed over the last 100 steps| < '
             f'{episode_diagnostics.STILL_SPEED} m/s; "flipped": on its back at the end (root pitch, '
             'modulo a full turn, past ±90°); "turned over": upright at the end after one or '
             'more full turns (the observed pitch is not wrapped: near ±2π, not 0) (planar '
             'robots).', '', text]
    results.write_report(FLAGS.out, lines, header, rows)


if __name__ == '__main__':
  launch_common.run(main)
