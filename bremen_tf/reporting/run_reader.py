"""One reader of run directories for every table and plot script.

A run's description (what it is: method, env, dataset, budget) comes from its run.json, or, for
runs written before run.json existed, from its config.gin parsed by gin and described by the same
code (describe.py). Its numbers come from metrics.csv, deployments.csv and train_state.json. Each
reader returns the record a script formats, or None / [] for a directory it cannot use.
"""
import csv
import os

import numpy as np

from bremen_tf import errors, fileio, runs
from bremen_tf.reporting import describe, labels

RUN_FILE = 'run.json'


def exists(path, name):
  return os.path.exists(os.path.join(path, name))


def read_state(path):
  """train_state.json ({} before the run saved one)."""
  return fileio.read_json(os.path.join(path, 'train_state.json')) if exists(
      path, 'train_state.json') else {}


def read_sessions(path):
  """The provenance sessions of a run ([] before it started)."""
  return fileio.read_json(os.path.join(path, 'provenance.json'))['sessions'] if exists(
      path, 'provenance.json') else []


def description(path, kind=None):
  """What the run in `path` is (describe.describe's dict), or None if it has neither run.json
  nor config.gin, or (`kind` given) is a run of another kind. run.json's description is used
  while config.gin is the text it was made from; otherwise (no run.json: a run from before it
  existed; or a config.gin changed since) config.gin is described, its kind guessed."""
  text = None
  if exists(path, 'config.gin'):
    with open(os.path.join(path, 'config.gin')) as f:
      text = f.read()
  saved = fileio.read_json(os.path.join(path, RUN_FILE)) if exists(path, RUN_FILE) else {}
  found = saved.get('description')
  try:
    if text is not None and saved.get('config_sha256') != describe.config_digest(text):
      sessions = read_sessions(path)
      found = describe.describe_config(text, seed=sessions[0].get('seed') if sessions else None)
    elif found is not None and 'deviations' not in found:  # a run.json from before they were kept
      found = dict(found, deviations=describe.config_deviations(text) if text is not None else [])
  except (ValueError, TypeError, KeyError) as e:  # gin's errors for an unknown binding or value
    raise errors.ConfigError(f'{os.path.join(path, "config.gin")} does not parse with this code '
                             f'({e}); leave the run out of --runs or describe it in run.json.')
  return found if found and kind in (None, found['kind']) else None


def deviations(record):
  """The opt-in deviations (describe.DEVIATIONS' words) of the run a reader's record is of; []
  for a run of the original methods."""
  return record['description'].get('deviations') or []


def leave_out_deviations(records):
  """(the records of runs without opt-in deviations, the records left out): a paper table's cells
  average runs of the original methods only."""
  return [r for r in records if not deviations(r)], [r for r in records if deviations(r)]


def finished(path):
  return exists(path, runs.DONE_FILE)


def _float(text):
  return float(text) if text not in (None, '') else None


def _median_speed(metrics, column, unit):
  speed = [float(r[column]) for r in metrics if r.get(column)]
  return f'{np.median(speed):,.0f} {unit}' if speed else ''


def offline_records(path):
  """An offline run -> its table records (BRAC gives two: its mode and its max-Q policy), or []
  if it has no description or no metrics. Keys: path, env, size, noise, external,
  reference_scores, finished, dataset_return, method, budget, curve (budget fraction, return),
  final, normalized, start, start_normalized (the first evaluation, before any update: BREMEN's
  BC policy, which TRPO starts from; a model-free agent's untrained network; None if the
  metrics do not begin there), speed, description."""
  metrics = runs.read_metrics(path)
  if not metrics:
    return []
  desc = description(path, 'offline')
  if desc is None:
    return []
  data = read_state(path).get('dataset') or {}
  external = data.get('dataset')  # 'minari:...' / 'd4rl:...': grouped by dataset, not by size
  base = {'path': path, 'env': labels.env_name(data.get('env_id') or desc['env_id']),
          'size': (labels.dataset_label(external) if external
                   else str(desc['dataset_size']).lower()),
          'noise': desc['noise'], 'external': external,
          'reference_scores': data.get('reference_scores'), 'finished': finished(path),
          'dataset_return': (data.get('behavior_returns') or {}).get('mean'),
          'description': desc}
  last = metrics[-1]
  budget = labels.offline_budget(desc, last)
  if desc['algorithm'] == 'bremen':
    iterations = desc['budget']['train_offline.outer_iterations']
    curve = [(int(r['iteration']) / iterations, float(r['eval_return_mean'])) for r in metrics]
    first = metrics[0] if int(metrics[0]['iteration']) == 0 else {}
    return [dict(base, method=desc['method'], budget=budget, curve=curve,
                 final=float(last['eval_return_mean']),
                 normalized=_float(last.get('eval_normalized_score')),
                 start=_float(first.get('eval_return_mean')),
                 start_normalized=_float(first.get('eval_normalized_score')),
                 speed=_median_speed(metrics, 'imagined_steps_per_s', 'imagined steps/s'))]
  steps = labels.model_free_steps(desc, last)
  base['speed'] = _median_speed(metrics, 'train_steps_per_s', 'gradient steps/s')
  records = []
  for method, key in ((desc['algorithm'], 'eval_return_mean'),
                      ('brac_max_q', 'eval_max_q_return_mean')):
    if method == 'brac_max_q' and desc['algorithm'] != 'brac':
      continue
    curve = [(int(float(r['step'])) / steps, float(r[key])) for r in metrics]
    score = key.replace('_return_mean', '_normalized_score')
    first = metrics[0] if int(float(metrics[0]['step'])) == 0 else {}
    records.append(dict(base, method=method, budget=budget, curve=curve, final=float(last[key]),
                        normalized=_float(last.get(score)), start=_float(first.get(key)),
                        start_normalized=_float(first.get(score))))
  return records


def offline_curve(path):
  """A BREMEN/ME-TRPO offline run's return per outer iteration, or None without metrics. Keys:
  path, env_id, external, size, noise, policy_init, budget (outer iterations),
  updates_per_iteration, finished, iterations, returns, stds, dataset_return, dynamics_epochs,
  description."""
  metrics = runs.read_metrics(path)
  desc = description(path, 'offline') if metrics else None
  if desc is None:
    return None
  state = read_state(path)
  record = state.get('dataset') or {}
  return {
      'path': path, 'env_id': record.get('env_id') or desc['env_id'],
      'external': record.get('dataset'),  # 'minari:...' / 'd4rl:...' (None: BRAC protocol)
      'size': desc['dataset_size'], 'noise': desc['noise'], 'policy_init': desc['policy_init'],
      'budget': desc['budget']['train_offline.outer_iterations'],
      'updates_per_iteration': desc['budget']['train_offline.updates_per_iteration'],
      'finished': finished(path),
      'iterations': [int(r['iteration']) for r in metrics],
      'returns': [float(r['eval_return_mean']) for r in metrics],
      'stds': [float(r['eval_return_std']) for r in metrics],
      'dataset_return': (record.get('behavior_returns') or {}).get('mean'),
      'dynamics_epochs': (state.get('dynamics_fit') or {}).get('stop_epoch'),
      'description': desc}


def model_free_curves(path, columns):
  """A model-free offline run's `columns` of metrics.csv (those it logs) per evaluation, or None
  without metrics. Keys: path, algorithm, env_id, size, columns, rows ([step, *values]),
  finished, description."""
  metrics = runs.read_metrics(path)
  desc = description(path, 'offline') if metrics else None
  if desc is None:
    return None
  present = [c for c in columns if c in metrics[0]]
  rows = [[int(float(r['step']))] + [float(r[c]) if r.get(c) not in (None, '') else None
                                      for c in present] for r in metrics]
  data = read_state(path).get('dataset') or {}
  return {'path': path, 'algorithm': desc['algorithm'],
          'env_id': desc['env_id'] or data.get('env_id'), 'size': desc['dataset_size'],
          'columns': present, 'rows': rows, 'finished': finished(path), 'description': desc}


def read_csv(path, name):
  with open(os.path.join(path, name), newline='') as f:
    return list(csv.DictReader(f))


def deployment_record(path):
  """A deployment run with at least one finished deployment -> its record, else None. Keys: path,
  env, size, method, budget, planned, finished, returns, data_returns, transitions (per finished
  deployment), kl and curve (per outer iteration), description."""
  if not exists(path, 'deployments.csv'):
    return None
  desc = description(path, 'deployment')
  if desc is None:
    return None
  deployments = read_csv(path, 'deployments.csv')
  metrics = runs.read_metrics(path)
  return {'path': path, 'env': labels.env_name(desc['env_id']),
          'size': desc['budget']['train_deployment.transitions_per_deployment'],
          'method': labels.with_deviations(desc['method'], desc.get('deviations')),
          'budget': labels.deployment_budget(desc),
          'planned': desc['budget']['train_deployment.deployments'],
          'finished': finished(path),
          'returns': [float(r['eval_return_mean']) for r in deployments],
          # What the deployed policy (with its exploration noise) earned on the batch it collected:
          # deployment d's batch comes from deployment d - 1's policy (d = 1: uniform random).
          'data_returns': [float(r['data_return_mean']) for r in deployments],
          'transitions': [int(r['real_transitions']) for r in deployments],
          'kl': [(int(r['iteration']), float(r['kl_to_previous_deployment'])) for r in metrics
                 if r.get('kl_to_previous_deployment') not in (None, '', 'nan')],
          'curve': [(int(r['deployment']), float(r['eval_return_mean'])) for r in metrics
                    if r.get('eval_return_mean') not in (None, '', 'nan')],
          'description': desc}


def sac_record(path):
  """An online SAC run (launch/train_behavior.py): its evaluation return against the env steps
  it had taken, or None without metrics. Keys: path, env, env_steps, returns, description,
  finished."""
  metrics = runs.read_metrics(path)
  desc = description(path, 'behavior') if metrics else None
  if desc is None:
    return None
  return {'path': path, 'env': labels.env_name(desc['env_id']),
          'env_steps': [int(float(r['env_steps'])) for r in metrics],
          'returns': [float(r['eval_return_mean']) for r in metrics], 'description': desc,
          'finished': os.path.exists(os.path.join(path, runs.DONE_FILE))}


def sac_return_at(record, env_steps):
  """A sac_record's last evaluation return with at most `env_steps` env steps (None if none, or
  if the run is unfinished and has not reached `env_steps` yet: never a return from earlier)."""
  if not record['finished'] and record['env_steps'][-1] < env_steps:
    return None
  seen = [ret for steps, ret in zip(record['env_steps'], record['returns']) if steps <= env_steps]
  return seen[-1] if seen else None
