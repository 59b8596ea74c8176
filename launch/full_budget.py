"""The full-budget runs (issue 15) -> results/full_budget.md, .csv and .png.

  python launch/full_budget.py                                  # /work/runs/full/*/*/seed*
  python launch/full_budget.py --runs='runs/full/*/*/seed*' --out=/tmp/full_budget

Deployment runs (BREMEN and ME-TRPO, HalfCheetah, 200K transitions per deployment): the real
return after every finished deployment and after every outer iteration, the KL to the previous
deployment's policy, beside our reduced-budget numbers (results/deployment.csv) and the paper's
statement. Offline runs: the learning curve against the BC policy (iteration 0), the dataset and
the paper's table. For every run its budget, progress, wall time and commits. Runs still going are
reported as far as they got, planned runs without a directory as not started. Exported policies
are copied to results/policies/ (issue 15 item 5: anyone can evaluate them with TensorFlow and
gymnasium alone), never replaced: each finished deployment's as <run name>/deployment_<d> (as soon
as it finishes, so a lost run directory keeps them), each finished offline or SAC run's final one
as <run name>. Earlier attempts whose run directories are gone (--earlier: results/
full_budget_attempt<k>/, that attempt's own report as last written) keep their finished
deployments as rows, curves and statements of their own.
"""
import collections
import datetime
import glob
import math
import os
import re
import shutil

from absl import flags
import numpy as np

import launch_common
launch_common.quiet_tensorflow()  # before anything imports TF
from bremen_tf import errors, fileio, results, runs, waypoints
from bremen_tf.paper_results import OFFLINE
from bremen_tf.reporting import action_change, describe, labels, policy_moves, progress, run_reader

flags.DEFINE_string('runs', '/work/runs/full/*/*/seed*', 'Glob of the full-budget run directories.')
flags.DEFINE_string('variants', '/work/runs/guard/*/seed*',
                    'Glob of runs of a full-budget cell with an opt-in deviation (e.g. '
                    'ImaginedTRPO.data_box_margin): shown beside the cells, labelled with it, named '
                    'variants/<path under the glob\'s fixed part>; empty: none.')
flags.DEFINE_list('planned', [
    'deployment/halfcheetah_200k/seed0:gin/deployment/halfcheetah_200k.gin',
    'deployment/halfcheetah_200k+me_trpo/seed0:gin/deployment/halfcheetah_200k.gin'
    '+gin/deployment/me_trpo.gin',
    'offline/halfcheetah_100k/seed0:gin/halfcheetah_100k.gin',
    'offline/hopper_100k/seed0:gin/hopper_100k.gin',
    'sac/halfcheetah/seed0:gin/deployment/sac_halfcheetah.gin'],
                  'Runs the report expects, as <dir under the --runs glob\'s fixed part>:<gin files '
                  'joined by +>; those without a directory are described from their gin files and '
                  'shown as not started.')
flags.DEFINE_string('reduced', os.path.join(launch_common.REPO_ROOT, 'results', 'deployment.csv'),
                    'Our reduced-budget deployment numbers (written by launch/deployment_tables.py).')
DEFAULT_OUT = os.path.join(launch_common.REPO_ROOT, 'results', 'full_budget')
flags.DEFINE_string('out', DEFAULT_OUT, 'Output path without extension.')
flags.DEFINE_string('readme', None,
                    'A Markdown file whose `full-budget-verdicts` block gets the statement, cell '
                    'by cell (default: the repository\'s README.md when --out is the default, '
                    'so a report written elsewhere leaves it alone; empty: none).')
flags.DEFINE_string('policies', os.path.join(launch_common.REPO_ROOT, 'results', 'policies'),
                    'Where exported policies are copied, never overwritten: each finished '
                    'deployment\'s as <this>/<run name>/deployment_<d>, each finished offline or '
                    'SAC run\'s final one as <this>/<run name>; empty: copy nothing.')
flags.DEFINE_list('earlier', [os.path.join(launch_common.REPO_ROOT, 'results',
                                           'full_budget_attempt*', 'full_budget.csv')],
                  'CSVs (or globs) this script wrote for earlier attempts of the same runs whose '
                  'run directories are gone (<dir>/full_budget.csv, <dir> = '
                  'full_budget_attempt<k>): their finished deployments and offline cells are '
                  'kept as rows of their own. When runs are lost again, move '
                  'results/full_budget.{md,csv,png} to the next results/full_budget_attempt<k>/ '
                  '(and results/policies/* to its policies/) and the default picks it up.')
FLAGS = flags.FLAGS

# reference/paper_results.md, "Deployment efficiency (figure, no table)": the paper gives no numbers.
PAPER_DEPLOYMENT = ('Starting from a random policy, with a limited number of deployments (5 for '
                    'Ant/HalfCheetah) of 200K or 100K transitions each, BREMEN reaches far higher '
                    'returns per deployment than ME-TRPO, SAC, BCQ and BRAC run under the same '
                    'deployment limit.')


# Each deployment's return also as the mean of its last TAIL iterations' evaluations (3 episodes
# each): a flip in one of an evaluation's 3 episodes moves a single iteration by thousands.
TAIL = 10


def tail_stats(values):
  """(mean, std) of the last TAIL of `values`."""
  return float(np.mean(values[-TAIL:])), float(np.std(values[-TAIL:]))


def tail_returns(run):
  """{deployment: tail_stats of the eval returns of its outer iterations}, for the deployments
  the run has finished."""
  per_d = collections.defaultdict(list)
  for m in run['metrics']:
    per_d[int(m['deployment'])].append(float(m['eval_return_mean']))
  return {d: tail_stats(v) for d, v in per_d.items() if d <= len(run['returns'])}


def episode_returns(run, report):
  """{deployment: (mean, std, episodes)} of the run's exported deployment policies in `report`
  (the `_episodes.md` companion, launch/episode_report.py: its .csv beside it), for the policies
  it ran from this run's own directory before its date (a report on an earlier attempt's run of
  the same name, whose policy directory is gone or newer, is not this run's; a policy a waypoint
  restore carried counts from when the waypoint was taken: waypoints.exported_at)."""
  csv_path, found = report[:-len('.md')] + '.csv', {}
  if not (os.path.isfile(report) and os.path.isfile(csv_path)):
    return found
  with open(report) as f:
    date = next((l.split('- date: ', 1)[1].strip() for l in f if l.startswith('- date: ')), None)
  if not date:
    return found
  made = datetime.datetime.fromisoformat(date).timestamp()
  by_policy = collections.defaultdict(list)
  for row in run_reader.read_csv(*os.path.split(csv_path)):
    by_policy[os.path.normpath(row['policy'])].append(float(row['return']))
  for d in range(1, len(run['returns']) + 1):
    policy = os.path.normpath(os.path.join(run['path'], 'policies', f'deployment_{d}'))
    meta = os.path.join(policy, 'bremen_policy.json')
    if (policy in by_policy and os.path.isfile(meta)
        and waypoints.exported_at(run['path'], policy) <= made):
      values = by_policy[policy]
      found[d] = (float(np.mean(values)), float(np.std(values)), len(values))
  return found


def fixed_prefix(pattern):
  """'/work/runs/full/*/*/seed*' -> '/work/runs/full': the directory before the first wildcard."""
  head = pattern.split('*')[0].split('?')[0].split('[')[0]
  return head if head.endswith('/') else os.path.dirname(head)


def planned_description(gin_files):
  """What a run of these gin files would be (for a planned run without a directory)."""
  import gin  # pylint: disable=g-import-not-at-top
  gin.add_config_file_search_path(launch_common.REPO_ROOT)
  return describe.describe_config(''.join(f"include '{f}'\n" for f in gin_files), seed=0)


def duration(seconds):
  return '—' if seconds is None else f'{seconds / 3600:.1f} h'


def read_run(path, name, planned_gin=None):
  """Everything the report shows about one run (present or planned)."""
  desc = run_reader.description(path) if os.path.isdir(path) else None
  if desc is None and planned_gin:
    desc = planned_description(planned_gin)
  if desc is None:
    return None
  metrics = runs.read_metrics(path) if os.path.isdir(path) else []
  state = run_reader.read_state(path) if os.path.isdir(path) else {}
  if desc['kind'] == 'behavior':  # online SAC, the deployment figure's unconstrained reference
    record = run_reader.sac_record(path) if os.path.isdir(path) else None
    return {'name': name, 'path': path, 'description': desc, 'metrics': metrics,
            'progress': progress.progress(path, desc), 'sac': record,
            'timing': progress.timing(path) if os.path.isdir(path) else None,
            'env': labels.env_name(desc['env_id']),
            'budget': f'{progress.sac_env_steps(desc):,} env steps online (a new policy after every '
                      'gradient step)'}
  run = {'name': name, 'path': path, 'description': desc, 'metrics': metrics,
         'progress': progress.progress(path, desc),
         'remaining': None,  # set in main(), which knows the other runs to borrow from
         'timing': progress.timing(path) if os.path.isdir(path) else None,
         'env': labels.env_name(desc['env_id'] or (state.get('dataset') or {}).get('env_id'))}
  if desc['kind'] == 'deployment':
    record = run_reader.deployment_record(path) if os.path.isdir(path) else None
    run['returns'] = record['returns'] if record else []
    run['budget'] = labels.deployment_budget(desc)
    run['fits'] = {d['deployment']: d['dynamics_fit'] for d in state.get('deployments', [])
                   if d.get('dynamics_fit')}  # per finished fit: seconds, stop_epoch per member
    run['action_change'] = {d: action_change.action_change(path, d)
                            for d in range(2, len(run['returns']) + 1)}
  else:
    run['budget'] = labels.offline_budget(desc, metrics[-1] if metrics else {})
    run['dataset_return'] = ((state.get('dataset') or {}).get('behavior_returns') or {}).get('mean')
  return run


def method_name(run):
  desc = run['description']
  if desc['kind'] == 'behavior':
    return 'online SAC'
  name = desc['method'] if desc['kind'] == 'deployment' else {
      'bremen': 'BREMEN', 'me_trpo': 'ME-TRPO (offline)'}.get(desc['method'], desc['method'])
  if desc.get('seed'):  # a second seed of a cell (the planned runs are seed 0) says which it is
    name = f'{name}, seed {desc["seed"]}'
  if run.get('label'):  # an earlier attempt's finished run (earlier_offline)
    name = f'{name}, {run["label"]}, run lost'
  return labels.with_deviations(name, run['description'].get('deviations'))


def trpo_move(run, last_row):
  """RMS Δμ of π_θ from π̂_β at a deployment's last iteration (None without π̂_β: ME-TRPO)."""
  from bremen_tf import envs  # pylint: disable=g-import-not-at-top (gymnasium, on demand)
  act_dim = envs.get_spec(run['description']['env_id']).act_dim
  return policy_moves.trpo_move_of_row(last_row, act_dim)


def deployment_label(run):
  """A deployment run's method, with any deviation it binds ('BREMEN + data box 0.1')."""
  return labels.with_deviations(run['description']['method'], run['description'].get('deviations'))


def commits(timing):
  if not timing:
    return '—'
  return '; '.join(f'`{rev[:8]}` (session{"s" if len(ids) > 1 else ""} '
                   f'{", ".join(map(str, ids))})' for rev, ids in timing['revisions'])


def restores_text(path):
  """'; restored from its waypoint ...' for each restore the run records (a new machine resumed it
  from results/waypoints/: bremen_tf/waypoints.py), saying what the restore changed."""
  file = os.path.join(path, waypoints.RESTORES)
  if not os.path.isfile(file):
    return ''
  parts = []
  for r in fileio.read_json(file):
    same = sum(b['identical'] for b in r['batches'])
    parts.append(f'restored on {r["date"][:10]} from its waypoint of {r["waypoint_date"][:10]} '
                 f'(stage {r["stage"]}, deployment {r["deployment"]}): dynamics Adam '
                 f'{r["dynamics_adam"]}, {same} of {len(r["batches"])} batches collected again '
                 'bit-identical' + ('; the fit under way started again' if r.get('fit_restarted')
                                    else ''))
  return '; ' + '; '.join(parts)


def other_ends(left):
  """' (x h if each fit to come stops at epoch 50; y h if ...)' beside the hours left."""
  ends = []
  if left and left['seconds_short'] < left['seconds']:
    ends.append(f'{duration(left["seconds_short"])} if each fit to come stops at epoch '
                f'{progress.SHORT_FIT_EPOCHS}')
  if left and left.get('seconds_like_refit') is not None:
    ends.append(f'{duration(left["seconds_like_refit"])} if each takes as long per transition as '
                'its slowest warm-started fit')
  return f' ({"; ".join(ends)})' if ends else ''


def status_table(all_runs):
  rows = []
  for run in all_runs:
    t = run['timing']
    left = run.get('remaining')
    rows.append([f'`{run["name"]}`', f'{method_name(run)}, {run["env"]}', run['budget'],
                 run['progress']['text'] + restores_text(run['path']),
                 t['sessions'] if t else 0, commits(t),
                 duration(t and t['elapsed_s']), duration(t and t['stage_s']),
                 duration(left and left['seconds']) + other_ends(left)
                 + (f' (borrows the iteration time of `{left["like"]}`)'
                    if left and left.get('like') else '')])
  return results.markdown_table(['run', 'method, env', 'budget', 'progress', 'sessions',
                                 'commit (provenance.json)', 'wall time since the first start',
                                 'stage time', 'time left (estimate)'], rows)


def fmt(value, std=None):
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return '—'
  return f'{value:.0f}' + (f' ± {std:.0f}' if std is not None else '')


ratio_text = results.ratio_text


def reduced_rows(env):
  """Our reduced-budget deployment numbers for `env`: (method, batch, budget) -> {d: (mean, std,
  seeds)}."""
  if not os.path.exists(FLAGS.reduced):
    return {}
  found = collections.defaultdict(dict)
  for r in run_reader.read_csv(os.path.dirname(FLAGS.reduced) or '.',
                               os.path.basename(FLAGS.reduced)):
    if r['env'] == env:
      found[(r['method'], int(r['batch']), r['budget'])][int(r['deployment'])] = (
          float(r['return_mean']), float(r['return_std']), int(r['seeds']))
  return found


def earlier_csvs():
  """(label, source, {run name: its rows sorted by iteration}) of each --earlier CSV."""
  for path in sorted({p for pattern in FLAGS.earlier for p in glob.glob(pattern)}):
    folder = os.path.basename(os.path.dirname(os.path.abspath(path)))
    number = re.search(r'attempt(\d+)$', folder)
    by_run = collections.defaultdict(list)
    for r in run_reader.read_csv(os.path.dirname(path) or '.', os.path.basename(path)):
      by_run[r['run']].append(r)
    for rows in by_run.values():
      rows.sort(key=lambda r: int(r['iteration']))
    yield (f'attempt {number.group(1)}' if number else folder,
           os.path.relpath(path, launch_common.REPO_ROOT), by_run)


def earlier_attempts(dep_runs):
  """The deployment runs of --earlier's CSVs: [{'label', 'source', 'name', 'method', 'env',
  'returns', 'curve'}]. A deployment counts as finished when all its outer iterations (the
  iterations_per_deployment of the current run of the same name) are in the CSV."""
  per = {r['name']: r['description']['budget']['train_deployment.iterations_per_deployment']
         for r in dep_runs}
  found = []
  for label, source, by_run in earlier_csvs():
    for name, rows in sorted(by_run.items()):
      if name not in per or rows[0]['kind'] != 'deployment':
        continue
      n, returns = per[name], []
      for d in range(1, max(int(r['deployment']) for r in rows) + 1):
        its = [float(r['eval_return_mean']) for r in rows if int(r['deployment']) == d]
        if len(its) < n:
          break
        returns.append(its[-1])
      found.append({'label': label, 'source': source,
                    'name': name, 'method': rows[0]['method'], 'env': rows[0]['env'],
                    'returns': returns,
                    'curve': [(int(r['deployment']) - 1 + (int(r['iteration']) - (
                        int(r['deployment']) - 1) * n) / n, float(r['eval_return_mean']))
                              for r in rows]})
  return sorted(found, key=lambda e: (e['label'], labels.deployment_method_rank(e['method']),
                                      e['name']))


def same_returns(rows, metrics):
  """Whether an earlier attempt's CSV rows and a run's metrics hold the same evaluations."""
  a = [(int(r['iteration']), float(r['eval_return_mean'])) for r in rows]
  b = [(int(m['iteration']), float(m['eval_return_mean'])) for m in metrics
       if m.get('eval_return_mean') not in (None, '')]
  return len(a) == len(b) and all(i == j and math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-6)
                                  for (i, x), (j, y) in zip(a, b))


def earlier_offline(off_runs):
  """The offline runs of --earlier's CSVs that finished there (their last iteration is the
  outer_iterations of the current run of the same name), as runs of their own: the current run's
  description, the earlier rows as metrics (iteration 0: the BC policy), 'label' and 'source'.
  An earlier run cut short is left out: the current run of the same name goes on from scratch.
  So is the current run itself, finished in that attempt and restored here from results/runs/ (the
  same returns at every iteration)."""
  current = {r['name']: r for r in off_runs}
  found = []
  for label, source, by_run in earlier_csvs():
    for name, rows in sorted(by_run.items()):
      run = current.get(name)
      if (run is None or rows[0]['kind'] != 'offline' or int(rows[-1]['iteration'])
          != run['description']['budget']['train_offline.outer_iterations']
          or same_returns(rows, run['metrics'])):
        continue
      found.append({**run, 'name': f'{name} ({label}, run lost)', 'label': label,
                    'source': source, 'dataset_return': None, 'remaining': None,
                    'metrics': [{'iteration': r['iteration'],
                                 'eval_return_mean': r['eval_return_mean']} for r in rows],
                    'progress': {'status': 'finished', 'text': f'finished ({label}; run lost)'}})
  return found


def earlier_offline_cut(off_runs):
  """The offline runs of --earlier's CSVs that were cut short (their machine went first) and whose
  run goes on here: [{'label', 'name', 'curve': [(iteration, return)]}]. They get no row (they
  have no result), but a dotted curve beside the run and a sentence in its statement: does the
  run retrace them?"""
  current = {r['name']: r for r in off_runs if not r.get('label')}
  found = []
  for label, _, by_run in earlier_csvs():
    for name, rows in sorted(by_run.items()):
      run = current.get(name)
      if (run is None or rows[0]['kind'] != 'offline' or int(rows[-1]['iteration'])
          == run['description']['budget']['train_offline.outer_iterations']):
        continue
      found.append({'label': label, 'name': name,
                    'curve': [(int(r['iteration']), float(r['eval_return_mean'])) for r in rows]})
  return found


def cut_short_note(run, cut):
  """' Attempt k (run lost at iteration n of N): BC policy .., best iteration ≥ 1 .., last ..;
  this run at iteration n: ..' for each earlier attempt of `run` cut short."""
  ours = {int(m['iteration']): float(m['eval_return_mean']) for m in run['metrics']}
  planned = run['description']['budget']['train_offline.outer_iterations']
  notes = []
  for e in cut:
    if e['name'] != run['name']:
      continue
    its, returns = zip(*e['curve'])
    last = its[-1]
    notes.append(f' {e["label"].capitalize()} of this cell (run lost at iteration {last} of '
                 f'{planned}): ' + (f'BC policy {returns[0]:.0f}, ' if its[0] == 0 else '')
                 + (f'best iteration ≥ 1 {max(r for i, r in e["curve"] if i >= 1):.0f}, '
                    if last >= 1 else '')
                 + f'last {returns[-1]:.0f}; this run at iteration {last}: '
                 + (f'{ours[last]:.0f}.' if last in ours else 'not reached yet.'))
  return ''.join(notes)


def sac_cells(run, size, n_dep):
  """An online SAC run's return at size x d env steps, d = 1..n_dep: its last evaluation at or
  before that count, once the run has reached it ('in progress' for the first it has not)."""
  record, cells = run['sac'], []
  reached = record['env_steps'][-1] if record else 0
  for d in range(1, n_dep + 1):
    if reached >= d * size or (run['progress']['status'] == 'finished' and record):
      value = run_reader.sac_return_at(record, d * size)
      cells.append(fmt(value))
    else:
      cells.append('in progress' if run['progress']['status'] == 'in progress'
                   and 'in progress' not in cells else '—')
  return cells


def deployment_section(dep_runs, sac_runs=(), earlier=()):
  text = ''
  for env in sorted({r['env'] for r in dep_runs}):
    mine = [r for r in dep_runs if r['env'] == env]
    n_dep = max(r['description']['budget']['train_deployment.deployments'] for r in mine)
    size = max(r['description']['budget']['train_deployment.transitions_per_deployment']
               for r in mine)
    env_sac = [r for r in sac_runs if r['env'] == env]
    header = ['method', 'transitions per deployment', 'budget per deployment'] + [
        f'deployment {d}' for d in range(1, n_dep + 1)]
    rows = []
    for r in mine:
      b = r['description']['budget']
      cells = [fmt(v) for v in r['returns']]
      cells += ['in progress' if r['progress']['status'] == 'in progress' and not i else '—'
                for i in range(n_dep - len(cells))]
      rows.append([f'**{deployment_label(r)}** (full budget, seed '
                   f'{r["description"]["seed"]})',
                   f'{b["train_deployment.transitions_per_deployment"]:,}', r['budget']] + cells)
    env_earlier = [e for e in earlier if e['env'] == env]
    sources = ', '.join(sorted({f'`{e["source"]}`' for e in env_earlier}))
    same_run = {r['name']: row for r, row in zip(mine, rows)}  # same gin files: same budget
    for e in env_earlier:
      seed = re.search(r'seed(\d+)', e['name'])
      rows.append([f'{e["method"]} (full budget, seed {seed.group(1) if seed else "?"}, '
                   f'{e["label"]}: run directory lost)'] + same_run[e['name']][1:3]
                  + [fmt(v) for v in e['returns']] + ['—'] * (n_dep - len(e['returns'])))
    for r in env_sac:
      rows.append([f'**online SAC** at {size:,} x d env steps (seed {r["description"]["seed"]})',
                   '— (no deployment limit)', r['budget']] + sac_cells(r, size, n_dep))
    for (method, batch, budget), by_d in sorted(reduced_rows(env).items(), key=lambda kv: (
        labels.deployment_method_rank(kv[0][0]), kv[0])):
      seeds = max(s for _, _, s in by_d.values())
      rows.append([f'{method} (reduced budget, n={seeds})', f'{batch:,}', budget]
                  + [fmt(*by_d[d][:2]) if d in by_d else '—' for d in range(1, n_dep + 1)])
    text += (f'### {env}\n\n' + results.markdown_table(header, rows)
             + '\nFull-budget cells: the deterministic policy\'s real-env return at the end of '
             'each finished deployment (one seed). Reduced-budget rows: mean ± std over seeds '
             f'from `{os.path.relpath(FLAGS.reduced, launch_common.REPO_ROOT)}` (written by '
             'launch/deployment_tables.py), at their own batch size: deployment d there has seen '
             'fewer real transitions than here.'
             + (f' Rows marked "attempt k": an earlier attempt of the same run (same gin files '
                'and seed, earlier commits) whose run directory was lost (a machine change '
                f'mid-run), read from {sources}; only its finished deployments are shown, and the '
                'report it had as last written is the .md beside that CSV.' if sources else '')
             + '\n\n'
             f'The paper (reference/paper_results.md) gives this result as a figure with no '
             f'numbers: "{PAPER_DEPLOYMENT}" So there is no paper number to put beside ours. '
             + (f'Online SAC: the deterministic policy\'s return at its last evaluation with at '
                f'most {size:,} x d env steps; it has no deployment limit (the reference the '
                'paper\'s figure draws as a line), so it is not one of the compared methods.'
                if env_sac else f'No online SAC run at {size:,} x d env steps exists; '
                '`results/deployment.md` gives online SAC at 50,000 x d steps.') + '\n\n')
    text += '#### Within each deployment (every outer iteration)\n\n'
    rows = []
    for r in mine:
      per_d = collections.defaultdict(list)
      for m in r['metrics']:
        per_d[int(m['deployment'])].append(m)
      for d, its in sorted(per_d.items()):
        values = [float(m['eval_return_mean']) for m in its]
        kl = [float(m['kl_to_previous_deployment']) for m in its
              if m.get('kl_to_previous_deployment') not in (None, '', 'nan')]
        seconds = sum(float(m['iteration_seconds']) for m in its if m.get('iteration_seconds'))
        fit = r['fits'].get(d, {})
        epochs = ', '.join(str(e) for e in fit.get('stop_epoch', [])) or '—'
        change = r['action_change'].get(d)
        imagined = [float(m['imagined_return_mean']) for m in its
                    if m.get('imagined_return_mean') not in (None, '', 'nan')]
        move = trpo_move(r, its[-1])
        rows.append([deployment_label(r), d, len(its), fmt(values[0]), fmt(values[-1]),
                     fmt(max(values)),
                     fmt(*tail_stats(values)),
                     f'{fmt(float(np.median(imagined)))} ({fmt(min(imagined))})' if imagined
                     else '—', f'{kl[-1]:.3g}' if kl else '—',
                     '—' if change is None else f'{change:.3f}',
                     '—' if move is None else f'{move:.4f}', epochs,
                     'reused from the cache' if fit.get('cached_from')
                     else duration(fit.get('seconds')), duration(seconds),
                     imagination_cells(its)[1]])
      if not per_d:
        rows.append([deployment_label(r), '—', 0, '—', '—', '—', '—', '—', '—', '—', '—', '—',
                     '—', r['progress']['text'], '—'])
    text += results.markdown_table(
        ['method', 'deployment', 'iterations evaluated', 'first iteration', 'last iteration',
         'best iteration', f'last {TAIL} iterations: mean ± std', 'imagined return: median (lowest)',
         'KL to the previous deployment (last iteration)',
         'action change from the previous deployment (RMS)',
         'TRPO\'s move from the BC start (RMS, last iteration)', 'dynamics fit: epochs per member',
         'dynamics fit time', 'iteration time (sum)',
         'imagined paths at the model clip: last iteration (most)'], rows)
    text += ('\nEvery outer iteration\'s return is in the CSV and the figure; each is one '
             'evaluation of 3 episodes, and one episode in which the robot flips over moves it by '
             f'thousands, so the last {TAIL} iterations\' mean ± std (the deployment\'s last '
             f'{TAIL * 25} TRPO updates; fewer while it runs) says more than its last iteration '
             'alone. The KL is '
             'KL(π ‖ the previous deployment\'s policy) on the newest batch. Imagined return: the '
             'mean over each iteration\'s imagined paths (its 25 updates averaged), median and '
             'lowest over the deployment\'s iterations; a lowest far below the median means some '
             'imagined paths ran away in the model (its predictions are clipped at ±1e5 only, as '
             'in the original). The KL does not compare across methods: for a change Δμ of the '
             'mean it grows as Δμ²/(2σ²) per action dimension, and BREMEN\'s policies keep log σ '
             '= −5 (1.1e4·Δμ²) while ME-TRPO\'s learn a state-dependent σ (mean log σ ≈ −2.3 on '
             'imagined states, ≈ 50·Δμ² there; a change of σ adds to the KL too). The action '
             'change has no σ in it: the '
             'RMS difference of the deterministic actions μ_d(s) − μ_{d−1}(s) of the exported '
             'policies on the same states (bremen_tf/reporting/action_change.py), once deployment '
             'd has finished. TRPO\'s move: how far the deployment\'s TRPO updates had moved the '
             'deterministic action from the BC policy they started from (BREMEN only), the RMS '
             'σ·sqrt(2·KL/act_dim) of the KL to π̂_β its last iteration logged (equal σ; '
             'bremen_tf/reporting/policy_moves.py); an action change far above it means the '
             'restart from BC, not TRPO, moved the policy between deployments. The dynamics fit: '
             'the epoch each of the 5 members stopped at (early stopping, patience 20, at most '
             'the budget\'s maximum) and its wall time, summed over sessions (train_state.json), '
             'or "reused from the cache" when another run had made the same fit on the same '
             'batches (BREMEN and ME-TRPO collect the same deployment-1 batch); '
             'iteration time: TRPO updates and evaluations (metrics.csv). ' + IMAGINATION_NOTE
             + '\n\n')
  return text


def paper_offline(run):
  size = str(run['description']['dataset_size']).lower()
  table = OFFLINE.get(size, {})
  method = run['description']['method']
  return (table.get(method, {}).get(run['env'], (None, None)),
          table.get('dataset', {}).get(run['env'], (None,))[0], size)


def column(rows, key):
  """The numbers in metrics column `key` (rows written before it existed are left out)."""
  return [float(m[key]) for m in rows if m.get(key) not in (None, '', 'nan')]


def imagination_cells(rows):
  """(median path return of the last iteration, paths at the model clip: last iteration and the
  most of any iteration), from the columns ImaginedTRPO adds since 2026-12-04 ('—' before)."""
  median, clipped = column(rows, 'imagined_return_median'), column(rows,
                                                                   'imagined_clipped_path_fraction')
  return (fmt(median[-1]) if median else '—',
          f'{clipped[-1]:.1%} ({max(clipped):.1%})' if clipped else '—')


def length_cells(rows):
  """(the mean real episode length of the BC policy (iteration 0) -> of the last iteration, the
  last iteration's mean imagined path length); '—' where metrics.csv lacks the columns."""
  def real(m):
    episodes = float(m.get('eval_episodes') or 0)
    return (f'{float(m["eval_steps"]) / episodes:.0f}'
            if episodes and m.get('eval_steps') not in (None, '', 'nan') else '—')
  imagined = column(rows, 'imagined_path_length')
  ends = (real(rows[0]), real(rows[-1])) if len(rows) > 1 else ('—', '—')
  return (' -> '.join(ends) if ends != ('—', '—') else '—',
          fmt(imagined[-1]) if imagined else '—')


LENGTH_NOTE = (
    ' Lengths: a real episode ends at 1000 steps or when the robot falls (Hopper, Walker2d), an '
    'imagined path at its horizon (HalfCheetah 250, Hopper 1000 steps) or when the same fall test '
    'holds on a predicted state; imagined paths that last far longer than the real episodes of '
    'the same policy mean the model does not show its falls.')


IMAGINATION_NOTE = (
    'Imagined returns: the median over an update\'s imagined paths (averaged over the iteration\'s '
    '25 updates) is the typical path; the mean can be far larger, because a few paths run away in '
    'the model until its prediction reaches the output clip (±1e5, as in the original) and then '
    'earn rewards of that order per step. "Paths at the model clip": the fraction of an update\'s '
    'paths that reached it, averaged over the iteration, for the last iteration and (in brackets) '
    'the most of any; "—" for iterations run before these columns existed (commit 5619d83 and '
    'earlier).')


VARIANT_NOTE = (
    ' A cell marked "(deviation)" is the same cell run with an opt-in deviation from the original '
    '(README, "Deviations and options"); "data box m": an imagined path ends at the first '
    'predicted state outside the model\'s data, widened by m times its range on each side '
    '(bremen_tf/data_box.py). Such a run may start from the unguarded run\'s cached dynamics fit '
    '(launch/cache_dynamics_fit.py): the same model and, with the same seed, the same BC policy.')


def runaway_trend(rows):
  """'; imagined paths at the model clip 2.7% (iteration 9) -> 5.1% (iteration 12), median
  imagined path return 1166 -> 1167', or '' without those columns."""
  rows = [m for m in rows if m.get('imagined_clipped_path_fraction') not in (None, '', 'nan')]
  if len(rows) < 2:
    return ''
  first, last = rows[0], rows[-1]
  value = lambda m, k: float(m[k])
  return (f'; imagined paths at the model clip {value(first, "imagined_clipped_path_fraction"):.1%}'
          f' (iteration {first["iteration"]}) -> {value(last, "imagined_clipped_path_fraction"):.1%}'
          f' (iteration {last["iteration"]}), median imagined path return '
          f'{value(first, "imagined_return_median"):.0f} -> {value(last, "imagined_return_median"):.0f}')


def offline_section(off_runs):
  rows = []
  for r in off_runs:
    (p_mean, p_std), p_data, size = paper_offline(r)
    returns = [float(m['eval_return_mean']) for m in r['metrics']]
    bc = returns[0] if returns and r['description']['method'] != 'me_trpo' else None
    rows.append([f'{r["env"]} {size.upper()}, {method_name(r)}', r['progress']['text'],
                 fmt(r['dataset_return']), fmt(bc), fmt(returns[-1]) if len(returns) > 1 else '—',
                 fmt(max(returns[1:])) if len(returns) > 1 else '—',
                 fmt(p_mean, p_std) if p_mean is not None else '—', fmt(p_data),
                 *imagination_cells(r['metrics']), *length_cells(r['metrics'])])
  return (results.markdown_table(
      ['cell', 'progress', 'our dataset return', 'BC policy (iteration 0)', 'last iteration',
       'best iteration ≥ 1', 'paper', 'paper dataset', 'imagined return, median path (last '
       'iteration)', 'imagined paths at the model clip: last iteration (most)',
       'real episode length: BC policy -> last iteration', 'imagined path length (last '
       'iteration)'], rows)
          + '\nReturns: deterministic mean action in the real env, whole episodes totalling ≥ '
          '3000 steps per evaluation; the paper\'s numbers are mean ± std over its seeds on '
          'MuJoCo-1.31-era envs (bremen_tf/paper_results.py). ' + IMAGINATION_NOTE + LENGTH_NOTE
          + (VARIANT_NOTE if any(r['description'].get('deviations') for r in off_runs) else '')
          + ''.join(f' Rows marked "{e["label"]}, run lost": that attempt\'s finished run, whose '
                    f'run directory went with its machine, read from `{e["source"]}` (the '
                    'report it wrote; its dataset return and imagination columns are not in it).'
                    for e in off_runs if e.get('label')) + '\n\n')


def compare_deployments(env, bremen_returns, me_trpo_returns, attempt='', tails=None,
                        episodes=None):
  """The plain statement for each deployment both methods finished; `tails` = (BREMEN's,
  ME-TRPO's) tail_returns adds the comparison of the last TAIL iterations' mean, `episodes` =
  (BREMEN's, ME-TRPO's) episode_returns that of their exported policies over many episodes."""
  lines = []
  for d, (a, b) in enumerate(zip(bremen_returns, me_trpo_returns), start=1):
    line = (f'- {env}, deployment {d}{attempt}: BREMEN {a:.0f} vs ME-TRPO {b:.0f}: BREMEN is '
            f'{"higher" if a > b else "not higher"} (one seed each; the paper: BREMEN far higher '
            'at every deployment).')
    if tails and d in tails[0] and d in tails[1]:
      (ta, sa), (tb, sb) = tails[0][d], tails[1][d]
      line += (f' Over the deployment\'s last {TAIL} iterations (mean ± std of their '
               f'evaluations): BREMEN {fmt(ta, sa)} vs ME-TRPO {fmt(tb, sb)}: '
               f'{"higher" if ta > tb else "not higher"}.')
    if episodes and d in episodes[0] and d in episodes[1]:
      (ea, sa, na), (eb, sb, nb) = episodes[0][d], episodes[1][d]
      line += (f' Its exported policies over {na} and {nb} episodes (mean ± std; '
               f'`{os.path.basename(FLAGS.out)}_episodes.md`): BREMEN {fmt(ea, sa)} vs ME-TRPO '
               f'{fmt(eb, sb)}: {"higher" if ea > eb else "not higher"}.')
    lines.append(line)
  return lines


def verdicts(dep_runs, off_runs, earlier=(), cut=()):
  """A plain statement per cell of what the runs show so far (earlier attempts' first)."""
  lines = []
  for env in sorted({r['env'] for r in dep_runs}):
    for label in sorted({e['label'] for e in earlier if e['env'] == env}):
      by_method = {e['method']: e['returns'] for e in earlier
                   if e['env'] == env and e['label'] == label}
      lines += compare_deployments(env, by_method.get('BREMEN', []),
                                   by_method.get('ME-TRPO', []), f' ({label}, run lost)')
    seed_of = lambda r: r['description'].get('seed') or 0
    for seed in sorted({seed_of(r) for r in dep_runs if r['env'] == env}):
      # BREMEN against ME-TRPO of the same seed (a second seed never stands in for the first,
      # nor a run with a deviation for the paper's method)
      by_method = {r['description']['method']: r for r in dep_runs
                   if r['env'] == env and seed_of(r) == seed
                   and not r['description'].get('deviations')}
      bremen, me_trpo = by_method.get('BREMEN'), by_method.get('ME-TRPO')
      if not (bremen and me_trpo):
        continue
      where = f'{env}, seed {seed}' if seed else env
      report = FLAGS.out + '_episodes.md'
      lines += compare_deployments(where, bremen['returns'], me_trpo['returns'],
                                   tails=(tail_returns(bremen), tail_returns(me_trpo)),
                                   episodes=(episode_returns(bremen, report),
                                             episode_returns(me_trpo, report)))
      n = min(len(bremen['returns']), len(me_trpo['returns']))
      planned = bremen['description']['budget']['train_deployment.deployments']
      if n < planned:
        which = f'deployment {planned}' if n + 1 == planned else f'deployments {n + 1}-{planned}'
        lines.append(f'- {where}, {which}: not measured yet (BREMEN '
                     f'{bremen["progress"]["text"]}; ME-TRPO {me_trpo["progress"]["text"]}).')
  for r in off_runs:
    (p_mean, p_std), p_data, size = paper_offline(r)
    returns = [float(m['eval_return_mean']) for m in r['metrics']]
    cell = f'- Offline {r["env"]} {size.upper()} ({method_name(r)})'
    if r['progress']['status'] != 'finished' or len(returns) < 2:
      now = f'; last evaluation {returns[-1]:.0f}' if returns else ''
      lines.append(f'{cell}: {r["progress"]["text"]}{now}{runaway_trend(r["metrics"])}: no '
                   f'verdict until it finishes (paper {fmt(p_mean, p_std)}).'
                   + cut_short_note(r, cut))
      continue
    final, data = returns[-1], r['dataset_return']
    bc = returns[0] if r['description']['method'] != 'me_trpo' else None
    lines.append(f'{cell}: final {final:.0f}'
                 + (f' = {ratio_text(final / data)} x our dataset ({p_mean / p_data:.2f} in the '
                    'paper)'
                    if data and p_mean is not None and p_data else '')
                 + (f'; {"above" if final > bc else "not above"} its BC policy ({bc:.0f})'
                    if bc is not None else '')
                 + (f'; paper {fmt(p_mean, p_std)}' if p_mean is not None else '')
                 + runaway_trend(r['metrics']) + '.' + cut_short_note(r, cut))
  return '\n'.join(lines) + '\n'


def method_color(method):
  """One colour per method, so an earlier attempt (dotted) matches its run."""
  return f'C{labels.deployment_method_rank(method)}'


def plot(dep_runs, off_runs, path, sac_runs=(), earlier=(), cut=()):
  """Left: each deployment run's return after every outer iteration (deployment d's iterations
  spread over (d - 1, d]); middle: each offline run's learning curve with its BC policy, dataset
  and the paper's value; right: the fraction of its imagined paths that ran away to the model's
  clip, per iteration (the columns ImaginedTRPO records since commit ffa0c5f)."""
  plt = launch_common.pyplot()
  fig, (ax, ax_off, ax_clip) = plt.subplots(1, 3, figsize=(19, 4.5))
  for r in dep_runs:
    if r['metrics']:
      deps = [int(m['deployment']) for m in r['metrics']]
      per = r['description']['budget']['train_deployment.iterations_per_deployment']
      xs = [d - 1 + (int(m['iteration']) - (d - 1) * per) / per
            for d, m in zip(deps, r['metrics'])]
      ax.plot(xs, [float(m['eval_return_mean']) for m in r['metrics']], '.-', ms=2, lw=1,
              color=method_color(r['description']['method']),
              label=f'{r["description"]["method"]} ({r["progress"]["status"]})')
    if r['returns']:
      ax.plot(range(1, len(r['returns']) + 1), r['returns'], 'ko', ms=4)
  for e in earlier:
    ax.plot(*zip(*e['curve']), ':', lw=1, color=method_color(e['method']), label=f'{e["method"]} ({e["label"]}, run lost)')
    if e['returns']:
      ax.plot(range(1, len(e['returns']) + 1), e['returns'], 'kx', ms=4)
  for r in sac_runs:
    mine = [d for d in dep_runs if d['env'] == r['env']]
    if r['sac'] and mine:
      size = max(d['description']['budget']['train_deployment.transitions_per_deployment']
                 for d in mine)
      ax.plot([s / size for s in r['sac']['env_steps']], r['sac']['returns'], '-', lw=1,
              color='gray',
              label=f'online SAC, x = env steps / {size:,} ({r["progress"]["status"]})')
  if dep_runs:
    planned = max(r['description']['budget']['train_deployment.deployments'] for r in dep_runs)
    ax.set_xlim(0, planned)
    ax.set_xticks(range(planned + 1))
  ax.set_xlabel('deployment (outer iterations spread within each; dots: end of deployment)')
  ax.set_ylabel('average return (real env, deterministic)')
  ax.set_title('deployment-efficient, full budget')
  reference_lines = set()  # (env, size) whose dataset and paper lines are drawn (once each)
  for i, r in enumerate(off_runs):
    color = f'C{i}'
    cell = (r['env'], paper_offline(r)[2])
    first = cell not in reference_lines
    reference_lines.add(cell)
    if r['metrics']:
      its = [int(m['iteration']) for m in r['metrics']]
      ax_off.plot(its, [float(m['eval_return_mean']) for m in r['metrics']], 'o-', ms=2,
                  color=color, label=f'{r["env"]} {method_name(r)} ({r["progress"]["status"]})')
      if r['dataset_return'] is not None and first:
        ax_off.axhline(r['dataset_return'], color=color, ls=':', lw=1)
    for e in cut:
      if e['name'] == r['name'] and not r.get('label'):
        ax_off.plot(*zip(*e['curve']), ':', lw=1, color=color,
                    label=f'{r["env"]} {method_name(r)} ({e["label"]}, run lost)')
    (p_mean, _), _, _ = paper_offline(r)
    if p_mean is not None and first:
      ax_off.axhline(p_mean, ls='--', lw=1, color=color,
                     label=f'paper, {r["env"]} ({r["progress"]["status"]})')
  if off_runs:
    ax_off.set_xlim(0, max(r['description']['budget']['train_offline.outer_iterations']
                           for r in off_runs))
  ax_off.set_xlabel('outer iteration (0: the BC policy)')
  ax_off.set_ylabel('average return (real env)')
  ax_off.set_title('offline, full budget (dashed: the paper; dotted: our dataset, an attempt lost)')
  for i, r in enumerate(off_runs):
    rows = [m for m in r['metrics'] if m.get('imagined_clipped_path_fraction') not in
            (None, '', 'nan')]
    if rows:
      ax_clip.plot([int(m['iteration']) for m in rows],
                   [100 * float(m['imagined_clipped_path_fraction']) for m in rows], '.-', ms=2,
                   lw=1, color=f'C{i}', label=f'{r["env"]} {method_name(r)}')
  ax_clip.set_xlim(ax_off.get_xlim())
  ax_clip.set_ylim(-2, 102)
  ax_clip.set_xlabel('outer iteration')
  ax_clip.set_ylabel('% of imagined paths at the model clip')
  ax_clip.set_title('offline: imagined paths that ran away in the model')
  for a in (ax, ax_off, ax_clip):
    if a.lines:
      a.legend(fontsize=7)
    else:
      a.text(0.5, 0.5, 'no evaluation yet', ha='center', va='center', transform=a.transAxes)
  fig.tight_layout()
  launch_common.save_png(plt, fig, path)


def csv_rows(all_runs):
  rows = []
  for r in all_runs:
    for m in r['metrics']:
      online = r['description']['kind'] == 'behavior'  # SAC: its gradient step and env steps
      rows.append([r['name'], r['description']['kind'], r['description']['method'], r['env'],
                   m.get('deployment', ''), m['step'] if online else m['iteration'],
                   m['eval_return_mean'], m['eval_return_std'],
                   m.get('kl_to_previous_deployment', ''),
                   m['env_steps'] if online else m.get('real_transitions', '')])
  return rows


def policies_to_copy(run):
  """(exported policy directory, its name under --policies) of every finished deployment of a
  deployment run (copied as each deployment finishes, so a lost run directory keeps them), or of a
  finished offline or SAC run's final policy."""
  if run['description']['kind'] == 'deployment':
    pairs = [(action_change.policy_dir(run['path'], d), os.path.join(run['name'], f'deployment_{d}'))
             for d in range(1, len(run['returns']) + 1)]
  elif run['progress']['status'] == 'finished':
    pairs = [(os.path.join(run['path'], 'policy'), run['name'])]
  else:
    pairs = []
  return [(source, dest) for source, dest in pairs if os.path.isdir(source)]


def copy_policies(all_runs, dest_root):
  """Copies the policies of policies_to_copy to <dest_root>/<name> unless one is there
  (atomically: a temporary copy renamed into place); returns the copies made."""
  made = []
  for run in all_runs:
    for source, name in policies_to_copy(run):
      dest = os.path.join(dest_root, name)
      if os.path.exists(dest):
        continue
      tmp = dest.rstrip('/') + '.tmp'
      shutil.rmtree(tmp, ignore_errors=True)
      shutil.copytree(source, tmp)
      os.replace(tmp, dest)
      made.append(dest)
  return made


# Reports on these runs' policies made by other scripts, written beside this file.
COMPANIONS = {
    '_episodes.md': 'each exported deployment policy\'s episodes: moving, still, flipped or '
                    'turned over',
    '_episodes_noise.md': 'the same policies with the deployments\' exploration noise (mean + '
                          '0.1·ε), as they collected the next batch',
    '_batches.md': 'the episodes of the batches those policies collected for the next '
                   'deployment (with its noise): moving, still, flipped or turned over',
    '_policy_moves.md': 'what moved BREMEN\'s policy in each deployment: TRPO\'s move from its BC '
                        'start against the change from the previous deployment\'s policy (the '
                        'restart from BC), the mean action\'s share at the bounds',
    '_attempt_match.md': 'does BREMEN\'s deployment run repeat attempt 2 (the same kind of CPU)? '
                         'its evaluations compared exactly, its exported policies byte for byte',
    '_offline_halfcheetah_final_episodes.md': 'the offline HalfCheetah cell\'s final policy over '
                                              '20 episodes: moving, still, flipped or turned over',
    '_fit_errors_d3.md': 'where BREMEN\'s deployment-3 dynamics fit has its validation error: '
                         'by batch, validation episode and state dimension (launch/fit_errors.py)',
    '_fit_errors_d3_me_trpo.md': 'the same for ME-TRPO\'s deployment-3 fit, for contrast',
    '_flips.md': 'the offline cells\' policies in the real env and in their own imagination: '
                 'flips, falls and runaway paths, and how far ahead the model sees a real failure',
    '_flips_d1_policy_model1.md': 'BREMEN\'s deployment-1 policy before the model it was trained '
                                  'in (fitted on the uniform-random batch)',
    '_flips_d1_policy_model2.md': 'the same policy before deployment 2\'s model, fitted on its own '
                                  'flips too',
    '_flips_d1_d2_policies_model2.md': 'BREMEN\'s deployment-1 and deployment-2 policies before '
                                       'the model deployment 2 was trained in (fitted on both '
                                       'batches, 40.9% of deployment 2\'s states past 90°)',
    '_flips_d2_policy_model3.md': 'BREMEN\'s deployment-2 policy before deployment 3\'s model, '
                                  'fitted on its own flips too',
    '_flips_d3_policy_model3.md': 'BREMEN\'s deployment-3 policy before the model it was trained '
                                  'in (fitted on deployments 1-3\'s batches)',
    '_flips_released_hopper.md': 'the offline Hopper cell\'s BC policy and π_θ beside the '
                                 'authors\' released Hopper policy (released_policies.md), in '
                                 'the real env and in this run\'s model',
    '_trpo_from_released_hopper.md': 'TRPO in the offline Hopper cell\'s model started from the '
                                     'authors\' released Hopper policy: does the model keep its '
                                     'gait?',
}


def companions(out):
  """The section linking the companion reports that exist beside `out` (with the command that
  made each, from its provenance header), or '' if none does."""
  lines = []
  for suffix, what in COMPANIONS.items():
    path = out + suffix
    if not os.path.isfile(path):
      continue
    with open(path) as f:
      header = [l for l in f if l.startswith('- ')]
    field = lambda name: next((l.split(name, 1)[1].strip() for l in header
                               if l.startswith(name)), None)
    command, date = field('- command: '), field('- date: ')
    lines.append(f'- [`{os.path.basename(path)}`]({os.path.basename(path)}): {what}'
                 + (f' ({date[:10]}: {command})' if command and date else
                    f' ({command})' if command else ''))
  return ('## Looking into the policies\n\nReports by other scripts, each on the runs of its date '
          '(the run directories they name may be an earlier attempt\'s, now lost).\n\n'
          + '\n'.join(lines) + '\n\n') if lines else ''


def readme_path():
  """The file whose verdicts block gets the statement ('' for none)."""
  if FLAGS.readme is not None:
    return FLAGS.readme
  return os.path.join(launch_common.REPO_ROOT, 'README.md') if FLAGS.out == DEFAULT_OUT else ''


def planned_runs(root):
  """--planned as {run path: [gin files]}; ConfigError naming a malformed entry or missing file."""
  planned = {}
  for entry in FLAGS.planned:
    where, sep, gin_files = entry.partition(':')
    if not (where and sep and gin_files):
      raise errors.ConfigError(f'--planned entry {entry!r}: expected <run dir under --runs>:<gin '
                               'files joined by +>, e.g. deployment/halfcheetah_200k/seed0:'
                               'gin/deployment/halfcheetah_200k.gin')
    for gin_file in gin_files.split('+'):
      if not os.path.exists(os.path.join(launch_common.REPO_ROOT, gin_file)):
        raise errors.ConfigError(f'--planned entry {entry!r}: {gin_file} does not exist.')
    planned[os.path.normpath(os.path.join(root, where))] = gin_files.split('+')
  return planned


def main(argv):
  del argv
  launch_common.quiet_logs()
  root = fixed_prefix(FLAGS.runs)
  planned = planned_runs(root)
  readme = readme_path()
  if FLAGS['reduced'].present and not os.path.exists(FLAGS.reduced):
    raise errors.ConfigError(f'--reduced={FLAGS.reduced} does not exist.')
  if readme and results.read_block(readme, 'full-budget-verdicts') is None:
    raise errors.ConfigError(f'--readme {readme}: no such file, or it has no '
                             '<!-- full-budget-verdicts:start/end --> block to write the statement '
                             'into.')
  paths = sorted({os.path.normpath(p) for p in glob.glob(FLAGS.runs) if os.path.isdir(p)}
                 | set(planned))
  all_runs = [r for p in paths if (r := read_run(p, os.path.relpath(p, root), planned.get(p)))]
  if FLAGS.variants:
    variant_root = fixed_prefix(FLAGS.variants)
    all_runs += [r for p in sorted(glob.glob(FLAGS.variants)) if os.path.isdir(p) and
                 (r := read_run(p, os.path.join('variants', os.path.relpath(p, variant_root))))]
  by_path = {r['path']: r['name'] for r in all_runs}
  for run in all_runs:
    if run['description']['kind'] != 'behavior' and os.path.isdir(run['path']):
      run['remaining'] = progress.estimate(run['path'], run['description'], list(by_path))
      if run['remaining'] and run['remaining'].get('like'):
        run['remaining']['like'] = by_path[run['remaining']['like']]
  kind_order = {'deployment': 0, 'behavior': 1, 'offline': 2}
  all_runs.sort(key=lambda r: (kind_order[r['description']['kind']],
                               labels.deployment_method_rank(r['description']['method']),
                               r['name']))
  dep_runs = [r for r in all_runs if r['description']['kind'] == 'deployment']
  off_runs = [r for r in all_runs if r['description']['kind'] == 'offline']
  sac_runs = [r for r in all_runs if r['description']['kind'] == 'behavior']
  earlier = earlier_attempts(dep_runs)
  cut = earlier_offline_cut(off_runs)  # earlier attempts lost midway: curves and sentences
  off_runs = earlier_offline(off_runs) + off_runs  # finished earlier attempts first, as runs
  plot(dep_runs, off_runs, FLAGS.out + '.png', sac_runs, earlier, cut)
  found = sum(os.path.isdir(r['path']) for r in all_runs)
  statement = verdicts(dep_runs, off_runs, earlier, cut)
  text = ('# Full-budget runs: BREMEN at the paper\'s settings\n\n'
          + results.provenance_header(f'the runs matching `{FLAGS.runs}`'
                                      + (f' and `{FLAGS.variants}`' if FLAGS.variants else '')
                                      + f' ({found} run '
                                      f'directories) and the planned runs '
                                      f'{", ".join(sorted(FLAGS.planned))}')
          + '\nThe paper\'s budgets, no reduced-budget overlay, one seed each. Runs still going '
          'are shown as far as they got; this file is regenerated as they progress.\n\n'
          f'![full-budget runs]({os.path.basename(FLAGS.out)}.png)\n\n'
          '## Runs\n\n' + status_table(all_runs)
          + '\nWall time since the first start: from the first session in provenance.json to the '
          'last write of train_state.json, metrics.csv or deployments.csv (it includes any time '
          'the run was stopped). Stage time: the dynamics fits\' seconds recorded in '
          'train_state.json plus the iteration_seconds of metrics.csv (TRPO and evaluation), '
          'summed over sessions; data collection and BC are not in it. Commit: the git revision '
          'each session (start or resume) ran, from provenance.json. Time left: an estimate at '
          'the speeds the run timed itself (the median of its last 10 outer iterations; its fits\' '
          'seconds per epoch and training transition), every fit still to come running to its '
          'epoch maximum, and in brackets stopping at epoch '
          f'{progress.SHORT_FIT_EPOCHS} instead (warm-started refits have stopped at 25-180, a fit '
          'from scratch near its maximum) (`bremen_tf/reporting/progress.py`, '
          '`launch/run_progress.py`); a run that '
          'has timed no outer iteration yet borrows that of a listed run with the same env, '
          'imagined batch and updates per iteration, and says so; "—" until there is a fit '
          'and an outer iteration to time.\n\n'
          '## Deployment-efficient: real return after each deployment\n\n'
          + (deployment_section(dep_runs, sac_runs, earlier) if dep_runs
             else 'No deployment runs.\n\n')
          + '## Offline cells\n\n' + (offline_section(off_runs) if off_runs else 'No offline runs.\n\n')
          + companions(FLAGS.out)
          + '## What reproduces, cell by cell\n\n' + statement)
  fileio.write_text(FLAGS.out + '.md', text)
  if readme:  # the README quotes the statement, never a hand-copied number
    results.replace_block(readme, 'full-budget-verdicts', statement)
  results.write_csv(FLAGS.out + '.csv', ['run', 'kind', 'method', 'env', 'deployment',
                                         'iteration', 'eval_return_mean', 'eval_return_std',
                                         'kl_to_previous_deployment', 'real_transitions'],
                    csv_rows(all_runs))
  print(f'Wrote {FLAGS.out}.md, .csv and .png ({len(all_runs)} runs)')
  for dest in copy_policies(all_runs, FLAGS.policies) if FLAGS.policies else []:
    print(f'Copied a finished policy to {dest}')


if __name__ == '__main__':
  launch_common.run(main)
