"""How far a run got, how long it took and which commits ran it: for reports on runs that are
still going (results/full_budget.md)."""
import datetime
import os

import numpy as np

from bremen_tf import runs
from bremen_tf.reporting import run_reader

# The files a run rewrites as it goes: the newest of them is its last sign of life.
PROGRESS_FILES = ('train_state.json', 'metrics.csv', 'deployments.csv', runs.DONE_FILE)


def _fit_text(state, description):
  fit = (state.get('dynamics_progress') or {}).get('fit') or {}
  epochs = (fit.get('settings') or {}).get('max_epochs') or description['budget'][
      'DynamicsEnsemble.max_epochs']
  return f'dynamics fit, epoch {fit["epoch"]} of at most {epochs}' if 'epoch' in fit else (
      'dynamics fit, starting')


def sac_env_steps(description):
  """The env steps an online SAC run (launch/train_behavior.py) takes in all."""
  b = description['budget']
  return b['train_behavior_policy.total_steps'] + b['train_behavior_policy.initial_random_steps']


def _sac_progress(path, description):
  """progress's dict for an online SAC run, by env steps."""
  record = run_reader.sac_record(path)
  if run_reader.finished(path):
    return {'status': 'finished', 'text': 'finished'}
  if record is None:
    return {'status': 'not started', 'text': 'not started'}
  return {'status': 'in progress', 'text': f'in progress: {record["env_steps"][-1]:,} of '
                                           f'{sac_env_steps(description):,} env steps'}


def progress(path, description):
  """{'status': 'not started' | 'in progress' | 'finished', 'text': a phrase for a table,
  'iteration': outer iterations evaluated, 'iterations': planned} (an online SAC run: status and
  text only, by env steps)."""
  if description is None or not os.path.isdir(path):
    return {'status': 'not started', 'text': 'not started', 'iteration': 0, 'iterations': None}
  if description['kind'] == 'behavior':
    return _sac_progress(path, description)
  state = run_reader.read_state(path)
  metrics = runs.read_metrics(path)
  done = int(metrics[-1]['iteration']) if metrics else 0
  b = description['budget']
  if description['kind'] == 'deployment':
    per = b['train_deployment.iterations_per_deployment']
    planned, total = b['train_deployment.deployments'], b['train_deployment.deployments'] * per
  else:
    per, planned, total = None, None, b['train_offline.outer_iterations']
  info = {'iteration': done, 'iterations': total}
  if run_reader.finished(path):
    return dict(info, status='finished', text='finished')
  if not state:
    sessions = run_reader.read_sessions(path)
    since = f' (directory opened {sessions[0]["date"]})' if sessions else ''
    return dict(info, status='not started', text=f'not started: no stage saved{since}')
  stage = state.get('stage')
  if description['kind'] == 'deployment':
    d = state.get('deployment', 0)
    where = f'deployment {max(d, 1)} of {planned}'
    if stage in ('start', 'collected'):
      what = 'collecting data' if stage == 'start' else 'batch collected'
    elif stage == 'dynamics_fit':
      what = _fit_text(state, description)
    elif stage in ('dynamics', 'bc'):
      what = 'behaviour cloning' if stage == 'dynamics' else 'BC done'
    elif stage == 'trpo':
      what = f'iteration {done - (d - 1) * per} of {per}'
    else:  # trpo_done
      what = 'done'
    text = f'in progress: {where}, {what}' + (
        f' (outer iteration {done} of {total})' if done else '')
  elif stage == 'trpo':
    text = f'in progress at iteration {done} of {total}'
  elif stage in ('start', 'dynamics_fit'):
    text = f'in progress: {_fit_text(state, description)}'
  else:
    text = 'in progress: behaviour cloning'
  return dict(info, status='in progress', text=text)


def _median_iteration_seconds(metrics, last=10):
  """The median seconds of the last `last` outer iterations (25 TRPO updates and an evaluation),
  or None before the first."""
  seconds = [float(r['iteration_seconds']) for r in metrics if r.get('iteration_seconds')]
  return float(np.median(seconds[-last:])) if seconds else None


def _full_epochs(stop_epoch, epoch=None):
  """Epochs of all members that a fit's training amounted to: each member trains until its stop
  epoch (or `epoch`, the fit's progress), and an epoch costs about its share of members training
  (results/performance.md: one of five still training takes 0.24 of the time of five)."""
  return sum(min(s, epoch) if epoch is not None else s for s in stop_epoch) / len(stop_epoch)


def _fit_rate(state, n_train_of):
  """Seconds per epoch (of all members) per training transition of this run's dynamics fits: the
  fit in progress if it has done an epoch, else the newest finished fit; None before either.
  Epochs in which early-stopped members no longer train count as the members' share of one
  (_full_epochs), so a fit whose members mostly stopped early does not make a full epoch look
  cheap. `n_train_of(deployment)` is the training-split size of that deployment's fit."""
  progress = state.get('dynamics_progress') or {}
  fit = progress.get('fit') or {}
  n_train = (fit.get('settings') or {}).get('n_train')
  if fit.get('epoch') and n_train and progress.get('seconds'):
    epochs = (_full_epochs(fit['stop_epoch'], fit['epoch']) if fit.get('stop_epoch')
              else fit['epoch'])
    return progress['seconds'] / epochs / n_train
  done = [(d.get('deployment', 1), d['dynamics_fit']) for d in state.get('deployments', [])
          if d.get('dynamics_fit')]
  if state.get('dynamics_fit'):
    done.append((1, state['dynamics_fit']))
  if not done or not done[-1][1].get('seconds') or not done[-1][1].get('stop_epoch'):
    return None
  deployment, record = done[-1]
  n_train = n_train_of(deployment)
  return record['seconds'] / _full_epochs(record['stop_epoch']) / n_train if n_train else None


def _slowest_refit(state):
  """(deployment, seconds) of this run's finished warm-started fit (deployment >= 2; the first
  fit starts from scratch and runs far longer) that took longest per training transition, or
  None. The slowest, not the newest: early stopping can end one refit far sooner than the others
  (BREMEN's full-budget deployment 3 stopped after 25 epochs on one far-off validation episode,
  docs/full_budget.md)."""
  done = [(d.get('deployment', 1), d['dynamics_fit'].get('seconds'))
          for d in state.get('deployments', []) if d.get('dynamics_fit')]
  done = [(k, seconds) for k, seconds in done if k >= 2 and seconds]
  return max(done, key=lambda fit: fit[1] / fit[0]) if done else None  # batches grow alike


def same_trpo_shape(a, b):
  """Do two run descriptions time alike per outer iteration: the same kind, env, imagined batch
  and TRPO updates per iteration (e.g. BREMEN and ME-TRPO of one deployment config)?"""
  kind = a['kind']
  keys = ('ImaginedTRPO.batch_size', f'train_{kind}.updates_per_iteration')
  return (kind == b['kind'] and a['env_id'] == b['env_id']
          and all(a['budget'].get(k) == b['budget'].get(k) for k in keys))


# The short end of the estimate: every fit to come stopping at this epoch (early stopping) instead
# of its maximum, as bench/reproduction_time.py's second column. Warm-started refits have stopped
# at 25-50 (BREMEN's full-budget deployment 3), a fit from scratch near its 200-epoch maximum.
SHORT_FIT_EPOCHS = 50


def remaining(path, description, like=None):
  """An estimate of the wall time an unfinished BREMEN/ME-TRPO run still needs at the speeds it
  measured itself (iteration_seconds, the fits' seconds per epoch and transition), with every
  fit still to come running to its epoch maximum (early stopping can only shorten it): {'seconds',
  'seconds_short' (the fits to come stopping at SHORT_FIT_EPOCHS instead; = 'seconds' when no fit
  is to come or the maximum is no higher), 'seconds_like_refit' (a deployment run with a finished
  warm-started fit and fits to come: each fit to come as long per training transition as the
  slowest such fit, the one under way that long in all; else None), 'text'}, or None for a
  finished or SAC run or one that has not measured an iteration and a fit yet. `like`: a run of
  the same TRPO shape (same_trpo_shape) whose iteration time stands in until this run has timed
  one (the text says so). Data collection and BC (minutes) are not counted."""
  if (description is None or description['kind'] not in ('offline', 'deployment')
      or description.get('algorithm') != 'bremen' or not os.path.isdir(path)
      or run_reader.finished(path)):
    return None
  state = run_reader.read_state(path)
  metrics = runs.read_metrics(path)
  b = description['budget']
  max_epochs = b['DynamicsEnsemble.max_epochs']
  fit = (state.get('dynamics_progress') or {}).get('fit') or {}
  stage = state.get('stage', 'start')
  done = int(metrics[-1]['iteration']) if metrics else 0
  iteration_s = _median_iteration_seconds(metrics)
  borrowed = iteration_s is None and like is not None
  if borrowed:
    iteration_s = _median_iteration_seconds(runs.read_metrics(like))
  active = fit.get('active') or [True]  # members of the fit under way still training

  def epochs_left(cap):
    """The fit under way's epochs still to come, in epochs of all members (as `rate` counts):
    the members that stopped early train no more."""
    return max(min(cap, max_epochs) - fit.get('epoch', 0), 0) * sum(active) / len(active)

  like_refit = refit = None
  if description['kind'] == 'offline':
    n_train = (fit.get('settings') or {}).get('n_train')
    rate = _fit_rate(state, lambda d: n_train) if n_train else None
    fits_to_come = stage in ('start', 'dynamics_fit')
    if (fits_to_come and not (rate and n_train)) or iteration_s is None:
      return None
    fit_s = lambda cap: epochs_left(cap) * rate * n_train if fits_to_come else 0.0
    trpo_s = (b['train_offline.outer_iterations'] - done) * iteration_s
  else:
    per = b['train_deployment.iterations_per_deployment']
    planned = b['train_deployment.deployments']
    d = max(state.get('deployment', 0), 1)
    n_train = (fit.get('settings') or {}).get('n_train')
    batch = (n_train / d if n_train
             else 0.85 * b['train_deployment.transitions_per_deployment'])
    rate = _fit_rate(state, lambda k: batch * k)
    fits_done = d if stage in ('dynamics', 'bc', 'trpo', 'trpo_done') else d - 1
    fits_to_come = fits_done < planned
    if iteration_s is None or (fits_to_come and rate is None):
      return None
    trpo_s = (planned * per - done) * iteration_s
    in_fit = stage == 'dynamics_fit'
    later = range(fits_done + (1 if in_fit else 0) + 1, planned + 1)
    fit_s = lambda cap: ((epochs_left(cap) * rate * batch * d if in_fit else 0.0)
                         + sum(min(cap, max_epochs) * rate * batch * k for k in later))
    refit = _slowest_refit(state)
    if refit and fits_to_come:  # early stopping as that fit had it, at its measured speed
      per_transition = refit[1] / (batch * refit[0])
      so_far = (state.get('dynamics_progress') or {}).get('seconds', 0.0) if in_fit else 0.0
      like_refit = trpo_s + ((max(per_transition * batch * d - so_far, 0.0) if in_fit else 0.0)
                            + sum(per_transition * batch * k for k in later))
  seconds, short = trpo_s + fit_s(max_epochs), trpo_s + fit_s(SHORT_FIT_EPOCHS)
  text = f'about {seconds / 3600:.1f} h left at its measured speeds'
  if fits_to_come:
    text += f' (every fit to come at its {max_epochs}-epoch maximum'
    text += (f'; {short / 3600:.1f} h if each stops at epoch {SHORT_FIT_EPOCHS}'
             if SHORT_FIT_EPOCHS < max_epochs else '')
    text += (f'; {like_refit / 3600:.1f} h if each takes as long per transition as deployment '
             f'{refit[0]}\'s, the slowest refit so far)' if like_refit is not None else ')')
  if borrowed:
    text += f'; the iteration time of {like} until it times its own'
  return {'seconds': seconds, 'seconds_short': short, 'seconds_like_refit': like_refit,
          'text': text}


def estimate(path, description, others=()):
  """remaining(path, description), or, for a run in progress that has timed no outer iteration
  yet, remaining(..., like=o) for the first o of `others` (run directories) of the same TRPO
  shape that gives one; its dict then holds 'like': o. None if neither gives an estimate."""
  found = remaining(path, description)
  if found is not None or progress(path, description)['status'] != 'in progress':
    return found
  for other in others:
    like = run_reader.description(other) if other != path and os.path.isdir(other) else None
    if like is not None and same_trpo_shape(description, like):
      found = remaining(path, description, like=other)
      if found:
        return dict(found, like=other)
  return None


def _time(iso):
  return datetime.datetime.fromisoformat(iso).timestamp()


def timing(path):
  """Wall-clock facts of a run: 'sessions' (how many times it was started), 'first_start' (ISO
  date), 'elapsed_s' (first start to the newest of PROGRESS_FILES: includes any time it was
  stopped), 'stage_s' (dynamics fits from train_state.json plus metrics' iteration_seconds:
  the time the recorded stages took, without data collection, BC and evaluation-free gaps) and
  'revisions' ([(git revision, [session numbers])])."""
  sessions = run_reader.read_sessions(path)
  if not sessions:
    return None
  writes = [os.path.getmtime(os.path.join(path, f)) for f in PROGRESS_FILES
            if run_reader.exists(path, f)]
  state = run_reader.read_state(path)
  fits = [d.get('dynamics_fit', {}).get('seconds', 0.0) for d in state.get('deployments', [])]
  fits.append((state.get('dynamics_fit') or {}).get('seconds', 0.0))
  if state.get('stage') == 'dynamics_fit':
    fits.append((state.get('dynamics_progress') or {}).get('seconds', 0.0))
  iterations = sum(float(r['iteration_seconds']) for r in runs.read_metrics(path)
                   if r.get('iteration_seconds'))
  revisions = {}
  for i, s in enumerate(sessions, start=1):
    revisions.setdefault(s.get('git_revision'), []).append(i)
  return {'sessions': len(sessions), 'first_start': sessions[0]['date'],
          'elapsed_s': (max(writes) - _time(sessions[0]['date'])) if writes else None,
          'stage_s': sum(fits) + iterations, 'revisions': list(revisions.items())}
