"""Where a deployment run's dynamics fit has its validation error (bremen_tf/fit_errors.py):
per batch, per validation episode and per state dimension, and the share of it on states outside
the range the fit trained on.

  python launch/fit_errors.py --run_dir=/work/runs/full/deployment/halfcheetah_200k/seed0 \
      --out=results/fit_errors_halfcheetah_200k_deployment3.md

Reads the run's config.gin, batches and latest checkpoint (nothing in the run is written; a
running run may go on, also in the middle of its fit: then the fit's weights so far are used).
Prints the tables; with --out, writes them (.md, and the episodes as a .csv beside it).
"""
import os

from absl import flags

import launch_common

flags.DEFINE_string('run_dir', None, 'A BREMEN or ME-TRPO deployment run directory.')
flags.DEFINE_integer('episodes', 5, 'Validation episodes listed, those with the most error first.')
flags.DEFINE_string('out', None, 'Optional .md file to write (the episodes\' .csv beside it).')
flags.mark_flags_as_required(['run_dir'])
flags.adopt_module_key_flags(launch_common)
FLAGS = flags.FLAGS

EPISODE_HEADER = ['batch', 'episode', 'steps in the validation split', 'validation MSE',
                  'share of the validation error', 'steps outside the training range',
                  'furthest dimension: value (training range)']


def members(values):
  return '[' + ' '.join(f'{v:.4g}' for v in values) + ']'


def episode_row(ep):
  dim, value, low, high = ep['furthest']
  return [ep['batch'], ep['episode'], ep['steps'], f'{ep["mse"]:.4g}', f'{ep["share"]:.1%}',
          ep['outside'], f'obs[{dim}] = {value:.3g} ({low:.3g} to {high:.3g})' if ep['outside']
          else '—']


def report_lines(result, top):
  from bremen_tf import results  # pylint: disable=g-import-not-at-top
  batch_table = results.markdown_table(
      ['batch', 'training transitions', 'validation transitions', 'training MSE per member',
       'validation MSE per member'],
      [[b['batch'], f'{b["n_train"]:,}', f'{b["n_val"]:,}', members(b['train_mse']),
        members(b['validation_mse'])] for b in result['batches']])
  episodes = sorted(result['episodes'], key=lambda e: -e['share'])
  episode_table = results.markdown_table(EPISODE_HEADER, [episode_row(e) for e in episodes[:top]])
  dim_table = results.markdown_table(
      ['dimension', 'training MSE', 'validation MSE', 'training range', 'validation range',
       'validation steps outside the training range'],
      [[f'obs[{d["dim"]}]', f'{d["train_mse"]:.3g}', f'{d["validation_mse"]:.3g}',
        f'{d["train_min"]:.3g} to {d["train_max"]:.3g}',
        f'{d["validation_min"]:.3g} to {d["validation_max"]:.3g}', d['outside']]
       for d in result['dims']])
  outside = result['outside']
  n_val = sum(b['n_val'] for b in result['batches'])
  summary = [
      f'- Validation MSE per member (the fit\'s measure, over all {n_val:,} validation '
      f'transitions): {members(result["validation_mse"])}.',
      f'- {outside["transitions"]:,} validation transitions ({outside["transitions"] / n_val:.2%})'
      f' have a state dimension outside the range of the training split; they carry '
      f'{outside["share"]:.1%} of the summed validation error. Without them: '
      f'{members(outside["mse_without"])}.']
  if episodes:
    first = episodes[0]
    summary.append(f'- The validation episode with the most error, episode {first["episode"]} of '
                   f'batch {first["batch"]} (counted from 0; {first["steps"]:,} of its steps '
                   f'validate; one of {len(result["episodes"])} validation episodes), carries '
                   f'{first["share"]:.1%}.')
  return (['## Summary', ''] + summary +
          ['', '## Per batch', '', batch_table,
           '', f'## Validation episodes, the {min(top, len(episodes))} with the most error', '',
           episode_table, '', '## Per state dimension', '', dim_table])


def main(argv):
  from bremen_tf import errors, fileio, fit_errors  # pylint: disable=g-import-not-at-top (no TF)
  from bremen_tf.run_models import ensemble_fit  # pylint: disable=g-import-not-at-top (no TF)
  if len(argv) > 1:
    raise errors.ConfigError(f'unexpected arguments {argv[1:]}.')
  launch_common.check_run_tool(FLAGS.run_dir, positive=('episodes',))  # before TensorFlow
  state = fileio.read_json(os.path.join(FLAGS.run_dir, 'train_state.json'))
  if 'deployment' not in state:
    raise errors.ConfigError(f'{FLAGS.run_dir} is an offline run; launch/fit_errors.py reads '
                             'deployment runs (their batches are in data/).')
  d = ensemble_fit(state)[0]
  if d == 0:
    raise errors.RunDirError(f'{FLAGS.run_dir} has no fitted model yet (stage '
                             f'{state.get("stage")!r}, deployment {state.get("deployment")}).')
  if not fit_errors.has_fit(state, d):
    raise errors.ConfigError(f'{FLAGS.run_dir} records no dynamics fit of deployment {d} (stage '
                             f'{state.get("stage")!r}): a model-free deployment run (BRAC, BCQ, '
                             'BC) has no dynamics model to look into.')
  launch_common.quiet_logs()
  launch_common.configure_tf()
  from bremen_tf import results  # pylint: disable=g-import-not-at-top
  from bremen_tf.data.dataset import load_dataset  # pylint: disable=g-import-not-at-top
  from bremen_tf.deployment_batches import batch_file  # pylint: disable=g-import-not-at-top
  from bremen_tf.run_models import load_run_models, setting  # pylint: disable=g-import-not-at-top
  run = load_run_models(FLAGS.run_dir, model_from_elsewhere=True)
  if ensemble_fit(run.state)[0] != d:  # the run moved on while TF loaded
    raise errors.RunDirError(f'{FLAGS.run_dir} moved to another stage while this started: run it '
                             'again.')
  batches = [load_dataset(batch_file(FLAGS.run_dir, k), run.env_id) for k in range(1, d + 1)]
  in_fit = run.state.get('stage') == 'dynamics_fit'
  progress = run.state.get('dynamics_progress') if in_fit else None
  if progress:
    fit = progress['fit']
    which = (f'deployment {d}\'s fit in progress, at epoch {fit["epoch"]} (best validation so far '
             f'at epochs {fit["best_epoch"]}; {sum(fit["active"])} of {len(fit["active"])} '
             'members training)')
  else:
    record = next((r.get('dynamics_fit') for r in run.state.get('deployments', [])
                   if r.get('deployment') == d), None) or {}
    which = f'deployment {d}\'s finished fit' + (
        f', its members stopped at epochs {record["stop_epoch"]}' if record.get('stop_epoch')
        else '')
  title = (f'# Where the dynamics fit has its validation error ({run.env_id}, '
           f'{os.path.normpath(FLAGS.run_dir)}, {which})')
  print(title[2:], flush=True)
  fraction = setting('train_deployment', 'validation_fraction')
  result = fit_errors.analyse(run.dynamics, batches, fraction)
  lines = report_lines(result, FLAGS.episodes)
  print('\n'.join(lines))
  if FLAGS.out:
    header = [title, '', results.provenance_header(
        f'the run in `{FLAGS.run_dir}`, checkpoint `{os.path.basename(run.checkpoint)}`'), '',
              'Errors are the fit\'s own: (f_k(s, a) − Δ)² of the normalised state change, per '
              f'dimension, on the split the fit used (the first {1 - fraction:.0%} of each batch '
              f'trains, the last {fraction:.0%} validates); member means where a row has no '
              'member axis. A state is outside the training range when one of its dimensions '
              'lies outside [min, max] of all batches\' training splits. '
              'bremen_tf/fit_errors.py says how each number is made.', '']
    episodes = sorted(result['episodes'], key=lambda e: -e['share'])
    results.write_report(FLAGS.out, header + lines + [''], EPISODE_HEADER,
                         [episode_row(e) for e in episodes])


if __name__ == '__main__':
  launch_common.run(main)
