"""What moved a BREMEN deployment run's policy: TRPO in imagination, or the restart from BC?

Each BREMEN deployment d starts π_θ from π̂_β cloned afresh on the newest batch (collected by
π_{d−1}), then takes its TRPO updates. So the deterministic action changes from one deployment to
the next by the restart's error (π̂_β,d − π_{d−1}) plus TRPO's move (π_d − π̂_β,d). Two RMS sizes
(over states and action dimensions) compare them:
  - TRPO's move, from the KL the run logs at its last iteration, KL(π_d ‖ π̂_β,d) averaged over the
    updates' imagined states: for two diagonal Gaussians of equal σ the KL per state is
    Σ_j Δμ_j² / (2σ²), so the RMS Δμ is σ·sqrt(2·KL / act_dim) (BREMEN's log σ sits at its floor,
    −5, for both; the run logs π_θ's);
  - the whole change from π_{d−1}, read from the two exported policies on deployment d's batch
    (action_change.py).
When the whole change is many times TRPO's move, the deployments' policies are a chain of BC
copies, and what BC does not reproduce decides where the chain goes. TF-free: the exported
policies are read by the caller (launch/policy_moves.py).
"""
import math

import numpy as np

from bremen_tf.reporting import run_reader

SATURATED = 0.99  # |μ_j| at or above this: a tanh-squashed mean at its bound (the bounds are ±1)


def trpo_move(kl, log_std, act_dim):
  """RMS Δμ over states and dimensions implied by a mean KL between diagonal Gaussians of equal
  σ = e^log_std (None for a missing or nan KL: runs without π̂_β)."""
  if kl is None or not math.isfinite(kl) or not math.isfinite(log_std):
    return None
  return math.exp(log_std) * math.sqrt(2.0 * max(kl, 0.0) / act_dim)


def trpo_move_of_row(row, act_dim):
  """trpo_move from a metrics.csv row (its kl_to_behavior and policy_log_std_mean)."""
  return trpo_move(_number(row, 'kl_to_behavior'), _number(row, 'policy_log_std_mean'), act_dim)


def _number(row, column):
  value = row.get(column)
  return float(value) if value not in (None, '', 'nan') else float('nan')


def deployment_rows(path, act_dim):
  """Per finished deployment of the run in `path`, from its CSVs: d, the real return at its first
  and last iteration, the imagined return (mean path) at both, TRPO's move (RMS Δμ, or None) and
  the return of the batch its policy collected next (None for the last). [] before deployment 1
  has finished."""
  deployments = run_reader.read_csv(path, 'deployments.csv')
  metrics = run_reader.read_csv(path, 'metrics.csv')
  # deployments.csv gets a deployment's row when it finishes; train_state.json has its batch's
  # return as soon as the batch is collected (the batch the last finished policy collected).
  data_returns = {int(r['deployment']): float(r['data_return_mean'])
                  for r in run_reader.read_state(path).get('deployments') or []
                  if r.get('data_return_mean') is not None}
  data_returns.update({int(r['deployment']): float(r['data_return_mean']) for r in deployments})
  rows, updates_before = [], 0
  for record in deployments:
    d = int(record['deployment'])
    its = [r for r in metrics if int(r['deployment']) == d]
    if not its or record.get('eval_return_mean') in (None, ''):  # not finished
      continue
    first, last = its[0], its[-1]
    rows.append({
        'deployment': d, 'updates': int(last['trpo_updates']) - updates_before,
        'eval_first': _number(first, 'eval_return_mean'),
        'eval_last': _number(last, 'eval_return_mean'),
        'imagined_first': _number(first, 'imagined_return_mean'),
        'imagined_last': _number(last, 'imagined_return_mean'),
        'trpo_move': trpo_move_of_row(last, act_dim),
        'next_batch_return': data_returns.get(d + 1)})
    updates_before = int(last['trpo_updates'])
  return rows


def saturation(means):
  """(RMS of μ, fraction of μ's entries at |μ| >= SATURATED) of deterministic actions."""
  means = np.asarray(means, np.float64)
  return float(np.sqrt(np.mean(np.square(means)))), float(np.mean(np.abs(means) >= SATURATED))


def ratio_text(value):
  """A ratio of moves: two significant digits below 10 (0.72, 3.1), whole numbers above (33)."""
  return f'{value:.0f}' if value >= 10 else f'{value:.2g}'


def statements(rows):
  """Plain sentences on the rows (each with 'trpo_move', 'change' and 'saturated' filled in or
  None)."""
  lines = []
  ratios = [(r['deployment'], r['change'] / r['trpo_move']) for r in rows
            if r.get('change') is not None and r.get('trpo_move')]
  if ratios:
    values = [v for _, v in ratios]
    span = (f'In deployment {ratios[0][0]}, the deterministic action moved '
            f'{ratio_text(values[0])} times' if len(ratios) == 1 else
            f'From deployment {ratios[0][0]} to {ratios[-1][0]}, the deterministic action moved '
            f'{ratio_text(min(values))} to {ratio_text(max(values))} times')
    median = '' if len(ratios) == 1 else f' (median {ratio_text(np.median(values))}x)'
    lines.append(
        f'- {span} as far from the previous deployment\'s policy{median} as TRPO moved it from '
        'its BC start in the same deployment: ' + (
            'the restart from BC, not TRPO, is what changed the policy.' if min(values) > 3
            else 'both contribute.'))
  moves = [r['trpo_move'] for r in rows if r.get('trpo_move') is not None]
  if moves:
    lines.append(f'- TRPO\'s move from the BC start at the end of a deployment: RMS Δμ '
                 f'{min(moves):.4f} to {max(moves):.4f} over {rows[0]["updates"]} updates.')
  saturated = [(r['deployment'], r['saturated']) for r in rows if r.get('saturated') is not None]
  if len(saturated) > 1:
    lines.append(f'- Mean actions at their bounds (|μ| >= {SATURATED}) on the batch each '
                 f'deployment was cloned from: {100 * saturated[0][1]:.1f}% (deployment '
                 f'{saturated[0][0]}) -> {100 * saturated[-1][1]:.1f}% (deployment '
                 f'{saturated[-1][0]}), at most {100 * max(s for _, s in saturated):.1f}%.')
  batches = [(r['deployment'] + 1, r['next_batch_return']) for r in rows
             if r['next_batch_return'] is not None]
  if len(batches) > 1:
    lines.append(f'- The return of the batches the policies collected: {batches[0][1]:.3g} '
                 f'(batch {batches[0][0]}) -> {batches[-1][1]:.3g} (batch {batches[-1][0]}), best '
                 f'{max(b for _, b in batches):.3g}, worst {min(b for _, b in batches):.3g}.')
  return lines
