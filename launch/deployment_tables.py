"""Deployment runs -> results/deployment.md (+ .csv) and return-vs-deployment plots.

  python launch/deployment_tables.py                           # runs/deployment/*/seed*
  python launch/deployment_tables.py --runs='runs/deployment/*halfcheetah*/seed*' --out=/tmp/dep

Per env and batch size, a table with a row per method and budget: the budget per deployment and the
evaluation return at the end of each deployment (mean ± std over seeds), plus online SAC's return
at the same number of env steps if SAC runs exist; one plot panel per env and batch
size (mean ± std over seeds against the deployment), like the paper's figure; each run's return
after every outer iteration (`_iterations.png`: the trend within a deployment, which the
end-of-deployment values hide when evaluation is noisy or the policy exploits the model); and, for
the ablation, the KL of the policy to the previous deployment's policy per outer iteration.

The α ablation (runs of a 'KL penalty α=...' method beside BREMEN in one env and batch size) gets
its own figure (`_ablation.png`: return per deployment, and the KL of each deployment's policy to
the previous deployment's, per outer iteration, mean ± std over seeds, log scale) and a plain
statement of whether BREMEN's implicit regularisation made the smaller (more conservative)
updates.

--earlier keeps the rows of an earlier generation of the table whose run directories are not
here: a (env, batch, method, budget) group of that CSV with no runs matching --runs is shown from
it (mean ± std per deployment, marked "earlier table"); groups with runs are always recomputed.
  python launch/deployment_tables.py --earlier=results/deployment.csv
"""
import collections
import csv
import glob
import math
import os

from absl import flags
import numpy as np

import launch_common
launch_common.quiet_tensorflow()  # before anything imports TF
from bremen_tf import fileio, results
from bremen_tf.reporting import action_change, labels, run_reader
from bremen_tf.reporting.labels import deployment_method_rank as method_rank, short_budget

flags.DEFINE_string('runs', 'runs/deployment/*/seed*', 'Glob of deployment run directories.')
flags.DEFINE_string('sac_runs', 'runs/deployment_sac/*/seed*',
                    'Glob of online SAC runs (launch/train_behavior.py), plotted against samples.')
flags.DEFINE_string('out', 'results/deployment', 'Output path without extension.')
flags.DEFINE_string('earlier', '', 'CSV of an earlier generation of the table (e.g. '
                    'results/deployment.csv): its groups without runs here are kept. Empty: none.')
FLAGS = flags.FLAGS


def cell(mean, std, decimals):
  return f'{mean:.{decimals}f} ± {std:.{decimals}f}'


def panel_tables(tables, heading, columns, column_name):
  """Markdown: per (env, batch size) a heading and a table, one column per deployment."""
  return ''.join(f'{heading} {env}, {size:,} transitions per deployment\n\n'
                 + results.markdown_table(
                     columns + [f'{column_name} {d}'
                                for d in range(1, len(rows[0]) - len(columns) + 1)], rows)
                 + '\n' for (env, size), rows in sorted(tables.items()))


def within_deployment_x(deployments):
  """x for each outer iteration: deployment d's k-th of n iterations sits at d - 1 + k / n.

  So every method's last iteration of deployment d is at x = d, whatever its iteration count.
  """
  counts = collections.Counter(deployments)
  seen = collections.Counter()
  xs = []
  for d in deployments:
    seen[d] += 1
    xs.append(d - 1 + seen[d] / counts[d])
  return xs


def plot_iterations(plt, data, path):
  """One panel per env and batch size: each run's real return after every outer iteration."""
  panels = sorted({(r['env'], r['size']) for r in data if r['curve']})
  if not panels:
    return False
  fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.2), squeeze=False)
  for ax, (env, size) in zip(axes[0], panels):
    panel = sorted((r for r in data if (r['env'], r['size']) == (env, size) and r['curve']),
                   key=lambda r: (method_rank(r['method']), r['method'], r['budget'], r['path']))
    for r in panel:
      deployments, returns = zip(*r['curve'])
      ax.plot(within_deployment_x(deployments), returns, '.-', ms=3, lw=1,
              label=f'{r["method"]}, {short_budget(r["budget"])} '
                    f'({os.path.basename(r["path"])})')
    n_dep = max(max(d for d, _ in r['curve']) for r in panel)
    for d in range(1, n_dep):
      ax.axvline(d, color='grey', lw=0.5, ls=':')
    ax.set_xticks(range(0, n_dep + 1))
    ax.set_xlabel('deployment (outer iterations spread evenly within each)')
    ax.set_ylabel('average return (real env, deterministic)')
    ax.set_title(f'{env}, {size:,} transitions per deployment: every outer iteration')
    ax.legend(fontsize=7)
  fig.tight_layout()
  launch_common.save_png(plt, fig, path)
  return True


def read_earlier(path, groups):
  """(env, batch, method, budget) -> per-deployment rows of the earlier CSV, for the groups that
  have no runs here ({} without --earlier)."""
  if not path or not os.path.exists(path):
    return {}
  with open(path, newline='') as f:
    rows = list(csv.DictReader(f))
  kept = collections.defaultdict(list)
  for r in rows:
    key = (r['env'], int(r['batch']), r['method'], r['budget'])
    if key not in groups:
      kept[key].append(r)
  for key in kept:
    kept[key].sort(key=lambda r: int(r['deployment']))
  return dict(kept)


def is_ablation(method):
  return method.startswith('KL penalty')


def kl_by_deployment(run):
  """deployment -> the KL to the previous deployment's policy after each of its outer
  iterations, in order (from metrics.csv's kl_to_previous_deployment)."""
  per = run['description']['budget']['train_deployment.iterations_per_deployment']
  out = collections.defaultdict(list)
  for it, kl in run['kl']:
    if math.isfinite(kl):
      out[math.ceil(it / per)].append(kl)
  return dict(out)


def end_kls(group):
  """deployment -> the KL of each seed's deployed policy to its previous one (the last outer
  iteration of that deployment), for the deployments every seed of the group finished."""
  per_run = [kl_by_deployment(r) for r in group]
  done = [set(d for d in k if d <= len(r['returns'])) for k, r in zip(per_run, group)]
  common = set.intersection(*done) if done else set()
  return {d: [k[d][-1] for k in per_run] for d in sorted(common)}


def end_action_changes(group):
  """deployment -> each seed's RMS action change from the previous deployment's policy
  (bremen_tf/reporting/action_change.py), for the deployments d >= 2 where every seed has it."""
  out = {}
  for d in range(2, min(len(r['returns']) for r in group) + 1):
    changes = [action_change.action_change(r['path'], d) for r in group]
    if all(c is not None for c in changes):
      out[d] = changes
  return out


def smaller_update_verdict(bremen, other, measure):
  """A plain answer, from per-deployment means of `measure` for BREMEN and the penalty run."""
  smaller = sum(bremen[d] < other[d] for d in bremen)
  level = sum(bremen[d] == other[d] for d in bremen)
  if level:
    return (f'by {measure}, not decided: the two updates were level at {level} of {len(bremen)} '
            f'deployments (BREMEN\'s the smaller at {smaller})')
  if smaller == len(bremen):
    return (f'by {measure}, yes: BREMEN\'s implicit regularisation made the smaller update at '
            'every deployment compared')
  if smaller == 0:
    return (f'by {measure}, no: the explicit KL penalty made the smaller update at every '
            'deployment compared')
  return (f'by {measure}, mixed: BREMEN\'s update was the smaller at {smaller} of '
          f'{len(bremen)} deployments')


def ablation_statements(groups, panels):
  """Per env and batch size with BREMEN and a KL-penalty method: their update sizes (KL of each
  deployed policy to the previous one) and returns, and a plain answer to the paper's question."""
  lines = []
  for env, size in panels:
    here = {(m, b): g for (e, s, m, b), g in groups.items() if (e, s) == (env, size)}
    bremen = {b: g for (m, b), g in here.items() if m == 'BREMEN'}
    for (m, budget), group in sorted(here.items()):
      if not is_ablation(m):
        continue
      # BREMEN at the same TRPO schedule (the budget without its BC part), else any BREMEN.
      same = [g for b, g in bremen.items() if b.startswith(budget)]
      other_budget = None if same else next(iter(bremen), None)
      ref = same[0] if same else bremen.get(other_budget)
      ours = end_kls(group)
      head = f'- {env}, {size:,} per deployment, {m} ({len(group)} seed(s))'
      if ref is None:
        lines.append(f'{head}: no BREMEN run in this panel to compare with.')
        continue
      theirs = end_kls(ref)
      common = [d for d in ours if d in theirs]
      if not common:
        lines.append(f'{head}: no deployment after the first finished by both it and BREMEN '
                     'yet; no statement.')
        continue
      a = {d: float(np.mean(ours[d])) for d in common}
      b = {d: float(np.mean(theirs[d])) for d in common}
      verdict = smaller_update_verdict(b, a, 'the KL (the paper\'s measure)')
      # The KL compares policies of different σ (BREMEN's log σ is -5, the penalty runs learn
      # theirs): the action change, read from the exported policies, has no σ in it.
      ours_c, theirs_c = end_action_changes(group), end_action_changes(ref)
      common_c = [d for d in ours_c if d in theirs_c]
      a_c = {d: float(np.mean(ours_c[d])) for d in common_c}
      b_c = {d: float(np.mean(theirs_c[d])) for d in common_c}
      changes = ('; RMS change of the deterministic action from the previous deployment\'s '
                 'policy (no σ in it), deployments '
                 + ', '.join(f'{d}: {a_c[d]:.3g} vs {b_c[d]:.3g}' for d in common_c)
                 if common_c else '')
      if common_c:
        verdict += '; ' + smaller_update_verdict(b_c, a_c, 'the action change')
      n = min(len(r['returns']) for r in group + ref)
      ret_a = np.mean([r['returns'][n - 1] for r in group])
      ret_b = np.mean([r['returns'][n - 1] for r in ref])
      lines.append(
          f'{head} against BREMEN ({len(ref)} seed(s)'
          + (f'; at another budget, {other_budget}: no BREMEN run at this one' if other_budget
             else '') + '): KL of each deployed policy to the '
          'previous one (mean over seeds), deployments '
          + ', '.join(f'{d}: {a[d]:.3g} vs {b[d]:.3g}' for d in common) + changes
          + f'. Is implicit regularisation the more conservative update here? {verdict}. '
          f'Return after deployment {n}: {ret_a:.{1 if abs(ret_b) < 100 else 0}f} vs BREMEN '
          f'{ret_b:.{1 if abs(ret_b) < 100 else 0}f} '
          f'({"higher" if ret_a > ret_b else "level with" if ret_a == ret_b else "not higher"} '
          'than BREMEN; the paper: lower).')
  return '\n'.join(lines) + ('\n' if lines else '')


def plot_ablation(plt, groups, panels, path):
  """Per env and batch size with a KL-penalty method: return per deployment and the KL to the
  previous deployment's policy per outer iteration (mean ± std over seeds, log scale), BREMEN and
  each KL-penalty method (the paper's ablation figure)."""
  panels = [p for p in panels if any(is_ablation(m) for (e, s, m, _) in groups if (e, s) == p)]
  if not panels:
    return False
  fig, axes = plt.subplots(2, len(panels), figsize=(6.5 * len(panels), 8), squeeze=False)
  for ax, ax_kl, (env, size) in zip(axes[0], axes[1], panels):
    keys = sorted(((m, b) for (e, s, m, b) in groups if (e, s) == (env, size)
                   and (m == 'BREMEN' or is_ablation(m))),
                  key=lambda mb: (method_rank(mb[0]), mb))
    for m, budget in keys:
      group = groups[(env, size, m, budget)]
      label = f'{m}, {short_budget(budget)} (n={len(group)})'
      n = max(len(r['returns']) for r in group)
      values = [[r['returns'][d] for r in group if len(r['returns']) > d] for d in range(n)]
      mean = np.array([np.mean(v) for v in values])
      std = np.array([np.std(v) for v in values])
      ax.plot(range(1, n + 1), mean, 'o-', label=label)
      ax.fill_between(range(1, n + 1), mean - std, mean + std, alpha=0.15)
      per_run = [kl_by_deployment(r) for r in group]
      deployments = sorted({d for k in per_run for d in k})
      xs, means, stds = [], [], []
      for d in deployments:
        count = max(len(k.get(d, [])) for k in per_run)
        for i in range(count):
          v = [k[d][i] for k in per_run if len(k.get(d, [])) > i]
          xs.append(d - 1 + (i + 1) / count)
          means.append(np.mean(v))
          stds.append(np.std(v))
      if xs:
        means, stds = np.array(means), np.array(stds)
        ax_kl.plot(xs, means, '.-', ms=3, label=label)
        ax_kl.fill_between(xs, np.maximum(means - stds, means * 1e-3), means + stds, alpha=0.15)
    ax.set_title(f'{env}, {size:,} per deployment: implicit vs explicit KL', fontsize=10)
    ax.set_xlabel('deployment')
    ax.set_xticks(range(1, max(len(r['returns']) for (e, s, _, _), g in groups.items()
                                if (e, s) == (env, size) for r in g) + 1))
    ax.set_ylabel('average return (real env, deterministic)')
    ax.legend(fontsize=7)
    ax_kl.set_yscale('log')
    ax_kl.set_xlabel('deployment (outer iterations spread evenly within each)')
    ax_kl.set_ylabel('KL(π ‖ previous deployment\'s policy)')
    ax_kl.legend(fontsize=7)
  fig.tight_layout()
  launch_common.save_png(plt, fig, path)
  return True


def main(argv):
  del argv
  launch_common.quiet_logs()
  if FLAGS.earlier and not os.path.exists(FLAGS.earlier):  # before the table is overwritten
    raise SystemExit(f'error: --earlier={FLAGS.earlier} does not exist.')
  plt = launch_common.pyplot()
  data = [r for p in sorted(glob.glob(FLAGS.runs)) if (r := run_reader.deployment_record(p))]
  if not data:
    raise SystemExit(f'error: no deployment runs with deployments.csv match {FLAGS.runs!r}.')
  # Runs of one method at different budgets are separate rows and curves, never averaged.
  groups = collections.defaultdict(list)
  for r in data:
    groups[(r['env'], r['size'], r['method'], r['budget'])].append(r)
  earlier = read_earlier(FLAGS.earlier, set(groups))
  panels = sorted({(r['env'], r['size']) for r in data} | {(e, s) for e, s, _, _ in earlier})
  sac = [r for p in sorted(glob.glob(FLAGS.sac_runs)) if (r := run_reader.sac_record(p))]
  fig, axes = plt.subplots(2, len(panels), figsize=(6 * len(panels), 8.4), squeeze=False)
  tables, data_tables, csv_rows = collections.defaultdict(list), collections.defaultdict(list), []
  for ax, ax_samples, (env, size) in zip(axes[0], axes[1], panels):
    kept = {(m, b): rows for (e, s, m, b), rows in earlier.items() if (e, s) == (env, size)}
    panel_deps = max([len(r['returns']) for r in data if (r['env'], r['size']) == (env, size)]
                     + [len(rows) for rows in kept.values()])
    pad = lambda cells: cells + ['–'] * (panel_deps - len(cells))
    keys = sorted({(m, b) for e, s, m, b in groups if (e, s) == (env, size)} | set(kept),
                  key=lambda mb: (method_rank(mb[0]), mb))
    # FetchReach's returns are about -10: keep a decimal where returns are small.
    decimals = 0 if max([abs(v) for r in data if (r['env'], r['size']) == (env, size)
                         for v in r['returns']]
                        + [abs(float(r['return_mean'])) for rows in kept.values()
                           for r in rows]) >= 100 else 1
    for m, budget in keys:
      # Name the budget in the legend when the method runs at more than one in this panel.
      label = m if sum(k[0] == m for k in keys) == 1 else f'{m}, {short_budget(budget)}'
      if (m, budget) in kept:  # an earlier table's row: its means and stds as they were
        rows = kept[(m, budget)]
        means = [float(r['return_mean']) for r in rows]
        stds = [float(r['return_std']) for r in rows]
        seeds = [int(r['seeds']) for r in rows]
        samples = [float(r['real_transitions']) for r in rows]
        for r in rows:
          csv_rows.append([env, size, m, budget, int(r['deployment']), float(r['real_transitions']),
                           float(r['return_mean']), float(r['return_std']), int(r['seeds']),
                           float(r['data_return_mean'])])
        x = np.arange(1, len(rows) + 1)
        ax.plot(x, means, 'o--', label=f'{label} (n={max(seeds)}, earlier table)')
        ax.fill_between(x, np.array(means) - stds, np.array(means) + stds, alpha=0.1)
        ax_samples.plot(samples, means, 'o--', label=f'{label} ({len(rows)} deployments, '
                        'earlier table)')
        cells = [cell(mu, sd, decimals) + (f' (n={c})' if c != max(seeds) else '')
                 for mu, sd, c in zip(means, stds, seeds)]
        tables[(env, size)].append([m, max(seeds), 'earlier table', budget] + pad(cells))
        data_tables[(env, size)].append(
            [f'{m} (earlier table: means only)', short_budget(budget)]
            + pad([f'{float(r["data_return_mean"]):.{decimals}f}' for r in rows]))
        continue
      group = groups[(env, size, m, budget)]
      n_dep = max(len(r['returns']) for r in group)
      means, stds, counts, samples, data_cells = [], [], [], [], []
      for d in range(n_dep):
        values = [r['returns'][d] for r in group if len(r['returns']) > d]
        data_values = [r['data_returns'][d] for r in group if len(r['data_returns']) > d]
        means.append(np.mean(values))
        stds.append(np.std(values))
        counts.append(len(values))
        samples.append(np.mean([r['transitions'][d] for r in group if len(r['transitions']) > d]))
        data_mean = np.mean(data_values)
        data_cells.append(cell(data_mean, np.std(data_values), decimals))
        csv_rows.append([env, size, m, budget, d + 1, samples[-1], means[-1], stds[-1],
                         len(values), data_mean])
      x = np.arange(1, n_dep + 1)
      ax.plot(x, means, 'o-', label=f'{label} (n={len(group)})')
      ax.fill_between(x, np.array(means) - stds, np.array(means) + stds, alpha=0.15)
      ax_samples.plot(samples, means, 'o-', label=f'{label} ({n_dep} deployments)')
      cells = [cell(mu, sd, decimals) + (f' (n={c})' if c != len(group) else '')
               for mu, sd, c in zip(means, stds, counts)]
      unfinished = sum(not r['finished'] for r in group)
      tables[(env, size)].append([m, len(group), unfinished, budget] + pad(cells))
      data_tables[(env, size)].append([m, short_budget(budget)] + pad(data_cells))
    ax.set_title(f'{env}, {size:,} transitions per deployment')
    ax.set_xlabel('deployment')
    ax.set_xticks(range(1, panel_deps + 1))
    ax.set_ylabel('average return (real env, deterministic)')
    ax.legend(fontsize=8)
    env_sac = [r for r in sac if r['env'] == env]
    by_label = collections.defaultdict(list)  # a run with a deviation gets a row of its own
    for r in env_sac:
      by_label[labels.with_deviations('online SAC', r['description'].get('deviations'))].append(r)
    for label, group in sorted(by_label.items()):  # the reference at each nominal sample count
      cells = []
      for d in range(1, panel_deps + 1):
        values = [v for r in group if (v := run_reader.sac_return_at(r, d * size)) is not None]
        cells.append(cell(np.mean(values), np.std(values), decimals)
                     + (f' (n={len(values)})' if len(values) != len(group) else '')
                     if values else '–')
      tables[(env, size)].append(
          [f'{label} at {size:,} x d env steps', len(group),
           sum(not r['finished'] for r in group), 'a new policy after every gradient step '
           '(deployment-unconstrained)'] + cells)
    for r in env_sac:
      ax_samples.plot(r['env_steps'], r['returns'], '-', lw=1,
                      label=f'online SAC, a new policy every step ({os.path.basename(r["path"])})')
    ax_samples.set_xlabel('real transitions')
    ax_samples.set_ylabel('average return')
    ax_samples.set_title(f'{env}: against real transitions')
    ax_samples.legend(fontsize=7)
  fig.tight_layout()
  launch_common.save_png(plt, fig, FLAGS.out + '.png')

  has_iterations = plot_iterations(plt, data, FLAGS.out + '_iterations.png')
  kl_runs = [r for r in data if r['kl']]
  if kl_runs:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for r in kl_runs:
      its, kls = zip(*r['kl'])
      ax.plot(its, kls, '.-', ms=3, label=f'{r["env"]} {r["method"]}, '
              f'{short_budget(r["budget"])} ({os.path.basename(r["path"])})')
    ax.set_yscale('log')
    ax.set_xlabel('outer iteration')
    ax.set_ylabel('KL(π ‖ previous deployment\'s policy)')
    ax.legend(fontsize=7)
    fig.tight_layout()
    launch_common.save_png(plt, fig, FLAGS.out + '_kl.png')

  has_ablation = plot_ablation(plt, groups, panels, FLAGS.out + '_ablation.png')
  statements = ablation_statements(groups, panels)
  base = os.path.basename(FLAGS.out)
  text = ('# Deployment-efficient RL: return after each deployment\n\n'
          + results.provenance_header(
              f'the runs matching `{FLAGS.runs}` ({len(data)} run directories)'
              + (f'; {len(earlier)} method/budget group(s) without runs here from the earlier table '
                 f'`{FLAGS.earlier}`' if earlier else ''))
          + f'\n![return per deployment]({base}.png)\n\n'
          + panel_tables(tables, '##', ['method', 'seeds', 'unfinished', 'budget per deployment'],
                         'deployment')
          + 'Returns are mean ± std over seeds (the population std: ± 0 for one seed; n: seeds '
          'that reached that deployment, if not all). The return is the deterministic policy\'s real-env evaluation at the end of each '
          'deployment\'s training (before the next batch is collected).\n'
          + (f'\n![return after every outer iteration]({base}_iterations.png)\n'
             if has_iterations else '')
          + (f'\n![KL to the previous deployment]({base}_kl.png)\n' if kl_runs else '')
          + ('\n## The α ablation: implicit (BREMEN) against explicit KL regularisation\n\n'
             f'![ablation]({base}_ablation.png)\n\n'
             'Top: return after each deployment; bottom: KL of the policy to the previous '
             'deployment\'s policy after every outer iteration (mean ± std over seeds, log '
             'scale), as in the paper\'s ablation figure. The explicit penalty runs start from '
             'a random policy (no BC initialisation) and carry it over. The paper: the explicit '
             'penalty lets the policy move farther from the last deployed policy and does '
             'worse. The KL compares policies of different σ here (BREMEN\'s log σ stays at -5, '
             'the penalty runs learn theirs, near -2.5; for a change Δμ of the mean the KL grows '
             'as Δμ²/(2σ²)), so the same KL is a far larger move of the mean for a penalty run; '
             'each statement also gives the RMS change of the '
             'deterministic action, which has no σ in it, where the runs\' exported policies '
             'are on this machine.\n\n' + statements if has_ablation else '')
          + '\n## What the deployed policies collected\n\n'
          'The average episode return of each deployment\'s batch, over all its episodes: '
          'deployment 1 collects with uniform-random actions, deployment d > 1 with deployment '
          'd - 1\'s policy plus its exploration noise. Mean ± std over seeds. Over many episodes, '
          'this is a steadier measure of the deployed policy than the evaluation above.\n\n'
          + panel_tables(data_tables, '###', ['method', 'budget per deployment'], 'batch'))
  fileio.write_text(FLAGS.out + '.md', text)
  results.write_csv(FLAGS.out + '.csv', ['env', 'batch', 'method', 'budget', 'deployment',
                                         'real_transitions', 'return_mean', 'return_std',
                                         'seeds', 'data_return_mean'], csv_rows)
  print(f'Wrote {FLAGS.out}.md, .csv and .png' + (
      f' ({len(earlier)} group(s) from {FLAGS.earlier})' if earlier else ''))


if __name__ == '__main__':
  launch_common.run(main)
