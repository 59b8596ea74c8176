"""Does imagination see the way a run's policy fails in the real env? (bremen_tf/flip_probe.py)

  python launch/flip_probe.py --run_dir=/work/runs/full/offline/halfcheetah_100k/seed0 \\
      --run_dir=/work/runs/guard/halfcheetah_100k_data_box/seed0 --out=results/full_budget_flips.md

  # does a later deployment's model see the flips of deployment 1's policy coming?
  python launch/flip_probe.py --run_dir=/work/runs/full/deployment/halfcheetah_200k/seed0 \\
      --policy_dir=/work/runs/full/deployment/halfcheetah_200k/seed0/policies/deployment_1

Reads the run's config.gin and latest checkpoint (nothing in the run is written; copy its
checkpoints/ first if it may write a new one meanwhile), then, for the BC policy π̂_β (if the run
has one) and the current π_θ: real episodes (deterministic, reset seeds --seed + k) and the
imagined batches TRPO trains on (the run's own imagination; a guarded run's data box left out),
the share of paths that tip past ±90° of pitch or end early, the forward speed, the return (and
the imagined discounted return TRPO raises), where the torso is (height and pitch, also just before
an early end), the model's one-step pitch error along the real paths, and its foresight: how often
imagined paths started k steps before a real failure (a fall or a flip) fail too, against control
starts. Prints the tables; with --out, writes them with their provenance.

  # the authors' released Hopper policy beside the run's own, in the run's model
  python launch/released_policies.py --bremen_repo=/tmp/BREMEN --env=Hopper --export_dir=/tmp/rel
  python launch/flip_probe.py --run_dir=/work/runs/full/offline/hopper_100k/seed0 \\
      --with_run_policies --policy_dir=/tmp/rel/Hopper_100k --batches=10

All paths of an imagined batch share each step's ensemble member, so a batch's paths are not
independent: shares and medians vary between probes with few batches; use 10 or more.
"""
import glob
import math
import os
import re

from absl import flags
import gin

import launch_common

flags.DEFINE_multi_string('run_dir', None, 'An offline or deployment run directory (BREMEN or '
                          'ME-TRPO; repeatable).')
flags.DEFINE_integer('episodes', 10, 'Real episodes per policy.')
flags.DEFINE_integer('batches', 1, 'Imagined batches per policy.')
flags.DEFINE_list('foresight_steps', ['10', '25', '50', '100', '200'],
                  'k: imagined paths of 2k steps start k steps before each real failure.')
flags.DEFINE_multi_string('policy_dir', None, 'Exported policies of the same run (a SavedModel '
                          'with its bremen_policy.json, e.g. a deployment run\'s '
                          'policies/deployment_<d>) to probe instead of its BC policy and current '
                          'π_θ (repeatable), or any exported policy of the run\'s env (e.g. '
                          'launch/released_policies.py --export_dir) before this run\'s model.')
flags.DEFINE_bool('with_run_policies', False, 'With --policy_dir: probe the run\'s BC policy '
                  'and current π_θ too (one table).')
flags.DEFINE_string('dynamics_entry', None, 'A dynamics cache entry (a directory with fit.json) '
                    'whose fitted model replaces the run\'s, e.g. an earlier deployment\'s fit; '
                    'with it, the run may be in the middle of a fit.')
flags.DEFINE_string('out', None, 'Optional .md file to write.')
flags.mark_flags_as_required(['run_dir'])
flags.adopt_module_key_flags(launch_common)
FLAGS = flags.FLAGS

HEADER = ['policy', 'where', 'paths', 'ran away (model clip)',
          'flipped (pitch past ±90°) within the horizon', 'ended early', 'forward speed',
          'return (real: mean; imagined: median path)', 'flipped by the episode\'s end',
          'one-step pitch error (median, upright)',
          'imagined discounted return (mean path; TRPO\'s objective)']


FORESIGHT_HEADER = ['policy', 'k', 'real failures at least k steps in', 'imagined from k steps '
                    'before them: failed within 2k steps', 'control starts (no real failure in '
                    'the next 2k steps)', 'imagined from them: failed within 2k steps (false '
                    'alarms)', 'real env with the training noise, from k steps before: failed '
                    'within 2k steps', 'real env with the training noise, from the controls']


POSTURE_HEADER = ['policy', 'where', 'torso height (mean)', '|pitch| (mean, rad)',
                  'ended early', 'the last state before an early end: height',
                  'the last state before an early end: |pitch|']


def number(value, digits=3):
  return '—' if math.isnan(value) else f'{value:.{digits}f}'


def posture_rows(rows):
  """Where the real and the imagined paths hold the torso, over the horizon and one step
  before an early end (what the env's termination test saw coming)."""
  return [[row['policy'], where, number(stats['height']), number(stats['abs_pitch']),
           f'{stats["ended_early"]:.0%}', number(stats['end_height']),
           number(stats['end_abs_pitch'])]
          for row in rows for where, stats in (('real env', row['real']),
                                               ('imagined', row['imagined']))]


def share(value):
  return '—' if math.isnan(value) else f'{value:.0%}'


def foresight_rows(rows):
  return [[row['policy'], k, f['n_before'], share(f['before']), f['n_control'],
           share(f['control']), share(f.get('real_before', math.nan)),
           share(f.get('real_control', math.nan))]
          for row in rows for k, f in row['foresight'].items()]


def table_rows(rows):
  out = []
  for row in rows:
    real, imagined = row['real'], row['imagined']
    out.append([row['policy'], 'real env', real['paths'], '', f'{real["flipped"]:.0%}',
                f'{real["ended_early"]:.0%}', f'{real["speed"]:.2f}', f'{real["return"]:.0f}',
                f'{real["flipped_by_end"]:.0%}', f'{row["one_step_pitch_error"]:.2g} rad', ''])
    out.append([row['policy'], 'imagined (what TRPO trains on)', imagined['paths'],
                f'{imagined["ran_away"]:.1%}', f'{imagined["flipped"]:.1%}',
                f'{imagined["ended_early"]:.1%}',
                '—' if math.isnan(imagined['speed']) else f'{imagined["speed"]:.2f}',
                f'{imagined["return_median"]:.0f}', '', '',
                f'{imagined["discounted_return_mean"]:.1f}'])
  return out


def main(argv):
  del argv
  from bremen_tf import errors  # pylint: disable=g-import-not-at-top
  launch_common.check_run_tool(FLAGS.run_dir, positive=('episodes', 'batches'))
  try:
    steps = sorted({int(k) for k in FLAGS.foresight_steps})
  except ValueError:
    steps = []
  if not steps or steps[0] < 1:
    raise errors.ConfigError('--foresight_steps must be positive integers, got '
                             f'{",".join(FLAGS.foresight_steps)!r}.')
  for path, needs in [(d, 'bremen_policy.json') for d in FLAGS.policy_dir or []] + (
      [(FLAGS.dynamics_entry, 'fit.json')] if FLAGS.dynamics_entry else []):
    if not os.path.isfile(os.path.join(path, needs)):
      raise errors.ConfigError(f'{path} has no {needs}: not '
                               + ('an exported policy.' if needs == 'bremen_policy.json'
                                  else 'a dynamics cache entry.'))
  launch_common.quiet_logs()
  launch_common.configure_tf()
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.ERROR)
  from bremen_tf import fileio, results  # pylint: disable=g-import-not-at-top
  sections = []
  for run_dir in FLAGS.run_dir:
    what, rows = probe_run(run_dir, steps)
    sections.append(f'## `{run_dir}`\n\n{what}\n\n'
                    + results.markdown_table(HEADER, table_rows(rows))
                    + '\nWhere the torso is (height obs[0], pitch; means over the valid steps '
                    'of the paths that did not run away):\n\n'
                    + results.markdown_table(POSTURE_HEADER, posture_rows(rows))
                    + '\nDoes the model see a real failure coming?\n\n'
                    + results.markdown_table(FORESIGHT_HEADER, foresight_rows(rows)))
    print(sections[-1], flush=True)
  if FLAGS.out:
    fileio.write_text(FLAGS.out, (
        '# Does imagination see how the policy fails?\n\n'
        + results.provenance_header(', '.join(f'`{d}`' for d in FLAGS.run_dir)) + '\n'
        'Real paths: the first horizon steps of each episode (the imagined paths\' length), '
        'actions the policy\'s mean clipped to the bounds, as the runs evaluate. Imagined paths: '
        'the run\'s own imagination (reset-state starts, one random ensemble member per step, the '
        'training\'s action noise, the env\'s termination; a guarded run\'s data box is left out, '
        'as in launch/imagination_probe.py). "Ended early": terminated before the horizon. "Ran '
        'away": the path reached the model\'s ±1e5 output clip (flips and speed count the other '
        'paths). The one-step error: the ensemble\'s mean prediction of the next pitch from each '
        'real (state, action) while upright (`bremen_tf/flip_probe.py`). Foresight: a real '
        'episode fails at its first state that the env\'s termination test flags (a fall) or '
        'that is past ±90° of pitch (a flip); imagined paths of 2k steps (the same policy, noise '
        'and random member per step) start from the real state k steps before it, and from '
        'control states (every 50th) after which the real episode went on for 2k steps without '
        'failing; an imagined path fails if it ends early or tips past ±90° without running '
        'away. A model that sees the failure coming fails the first and not the second. The last '
        'two columns put the same question to the real env (paper-faithful envs only: their '
        'state can be set from an observation): 10 rollouts of 2k steps from each of at most 40 '
        'of the starts, with the policy\'s training noise; they show how far ahead a failure is '
        'decided at all under that noise, the most a model could foresee.\n\n'
        + '\n'.join(sections)))
    print(f'Wrote {FLAGS.out}')


def dataset_pitch_text(run_dir, run, pitch):
  """', its largest |pitch| ... rad, ...% of its states past ±90°' from an offline run's dataset
  file (BRAC-protocol data made on demand) or, per batch, from a deployment run's data/; '' if
  there is none here (a Minari or D4RL dataset, or a file not on this machine)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bremen_tf import flip_probe  # pylint: disable=g-import-not-at-top
  from bremen_tf.data import on_demand  # pylint: disable=g-import-not-at-top
  from bremen_tf.run_models import bound, setting  # pylint: disable=g-import-not-at-top

  def stats(path):
    with np.load(path) as f:
      largest, flipped = flip_probe.data_pitch(f['observations'], pitch)
    return f'largest |pitch| {largest:.2f} rad, {flipped:.2%} of its states past ±90°'
  if run.kind == 'train_deployment':
    number = lambda path: int(re.search(r'deployment_(\d+)', os.path.basename(path)).group(1))
    batches = sorted(glob.glob(os.path.join(run_dir, 'data', 'deployment_*.npz')), key=number)
    return ''.join(f'; deployment {number(p)}\'s data batch: {stats(p)}' for p in batches)
  info = run.state.get('dataset') or {}
  if info.get('dataset') or not info.get('noise'):  # Minari/D4RL data (sources.run_record)
    return ''
  path = on_demand.dataset_path(info['env_id'], info['noise'], int(info['size']), run.seed,
                                bound('train_offline.data_dir', None)
                                or bound('get_dataset.data_dir', None),
                                setting('get_dataset', 'subset_rule'))
  return f', its {stats(path)} (`{os.path.basename(path)}`)' if os.path.exists(path) else ''


def probe_run(run_dir, foresight_steps):
  """(a line saying what was probed, the table rows) for one run directory."""
  from bremen_tf import errors, fileio, flip_probe  # pylint: disable=g-import-not-at-top
  from bremen_tf.dynamics_cache import load_cached_dynamics  # pylint: disable=g-import-not-at-top
  from bremen_tf.run_models import (  # pylint: disable=g-import-not-at-top
      UNFITTED, load_policy_for_run, load_run_models)
  gin.clear_config()  # load_run_models parses the run's own config
  run = load_run_models(run_dir, model_from_elsewhere=bool(FLAGS.dynamics_entry))
  try:
    flip_probe.body_indices(run.env_id)
  except ValueError as e:
    raise errors.ConfigError(str(e)) from None
  unguarded = run.trainer.data_box is not None
  if unguarded:  # the box is set from the run's data at each start, never checkpointed
    run.trainer.data_box = None
  model = ''
  if FLAGS.dynamics_entry:  # the fit is deterministic given its key: any run's cache entry
    entry = os.path.normpath(FLAGS.dynamics_entry)
    fitted_on = fileio.read_json(os.path.join(entry, 'fit.json'))['key']['env_id']
    if fitted_on != run.env_id:
      raise errors.ConfigError(f'{entry} is a fit on {fitted_on}, the run is on {run.env_id}.')
    load_cached_dynamics(os.path.dirname(entry), os.path.basename(entry), run.dynamics)
    model = f'; the model: the cached fit `{entry}`, not the run\'s'
  policies = {}
  if not FLAGS.policy_dir or FLAGS.with_run_policies:
    if run.state.get('stage') in UNFITTED and int(run.iteration.numpy()) == 0:
      raise errors.ConfigError(f'{run_dir} has trained no policy yet (stage '
                               f'{run.state.get("stage")!r}): probe exported ones with '
                               '--policy_dir.')
    if run.policy_init != 'random':
      policies['BC policy π̂_β'] = run.bc_policy
    policies[f'π_θ at iteration {int(run.iteration.numpy())}'] = run.policy
  if FLAGS.policy_dir:
    for d in FLAGS.policy_dir:
      policies[f'exported {os.path.basename(os.path.normpath(d))}'] = load_policy_for_run(d, run)
  rows = flip_probe.probe(run.env_id, run.trainer, policies, FLAGS.episodes, FLAGS.seed,
                          FLAGS.batches, foresight_steps)
  pitch = flip_probe.body_indices(run.env_id)[0]
  what = (f'{run.env_id}, checkpoint {os.path.basename(run.checkpoint)}; the pitch of the data the '
          f'model was fitted on: {float(run.dynamics.obs_mean[pitch]):.3f} ± '
          f'{float(run.dynamics.obs_std[pitch]):.3f} rad (mean ± std, its normalisation)'
          f'{dataset_pitch_text(run_dir, run, pitch)}{model}; '
          f'{FLAGS.episodes} real '
          f'episodes (deterministic, reset seeds {FLAGS.seed}..{FLAGS.seed + FLAGS.episodes - 1}) '
          f'and {FLAGS.batches} imagined batch(es) of {run.trainer.batch_size:,} steps per policy; '
          f'horizon {run.trainer.horizon} steps'
          + ('; imagined without the run\'s data box (its metrics.csv says how many paths '
             'ended there)' if unguarded else '') + '.')
  return what, rows


if __name__ == '__main__':
  launch_common.run(main)
