"""The names and budget strings result files show for runs, from their descriptions."""
import os
import re

from bremen_tf.model_free import DEFAULT_TRAIN_STEPS

# The deployment figure's methods in table order; anything else (the ablation) comes after.
DEPLOYMENT_METHOD_ORDER = ('bremen', 'me_trpo', 'bcq', 'brac', 'bc')


def env_name(env_id):
  """'bremen/Hopper-v0' -> 'Hopper'."""
  return re.sub(r'-v\d+$', '', env_id.split('/')[-1])


def dataset_label(binding):
  """A file-name-safe label: 'minari:bremen-d4rl/hopper/medium-v0' ->
  'bremen-d4rl_hopper_medium-v0', 'd4rl:/data/hopper_medium-v2.hdf5' -> 'hopper_medium-v2'."""
  kind, name = binding.split(':', 1)
  if kind == 'd4rl' or os.path.isabs(name):
    name = os.path.splitext(os.path.basename(name.rstrip('/')))[0]
  return re.sub(r'[^\w.-]+', '_', name).strip('_')


def model_free_steps(description, last_row):
  """The gradient steps a model-free offline run trains: its binding, else (None) the BRAC
  protocol's default for its algorithm (model_free.DEFAULT_TRAIN_STEPS), so an unfinished run
  shows its planned budget; the last metrics row's steps for an algorithm without one."""
  steps = description['budget']['train_model_free.train_steps']
  default = DEFAULT_TRAIN_STEPS.get(description['algorithm'])
  return int(steps or 0) or default or int(float(last_row['train_steps']))


def offline_budget(description, last_row):
  """'100 TRPO updates (4 x 25, batches of 50,000 imagined steps), dynamics <= 10 epochs, BC 100k
  steps' (BREMEN, ME-TRPO) or '30k gradient steps (+ 30k for π_b)' (BC, BCQ, BRAC)."""
  b = description['budget']
  if description['algorithm'] == 'bremen':
    iterations, per_it = b['train_offline.outer_iterations'], b['train_offline.updates_per_iteration']
    return (f'{iterations * per_it} TRPO updates ({iterations} x {per_it}, batches of '
            f'{b["ImaginedTRPO.batch_size"]:,} imagined steps), dynamics <= '
            f'{b["DynamicsEnsemble.max_epochs"]} epochs'
            + ('' if description['method'] == 'me_trpo'
               else f', BC {b["behavior_clone.steps"] // 1000}k steps'))
  budget = f'{model_free_steps(description, last_row) // 1000}k gradient steps'
  if description['algorithm'] == 'brac':
    budget += f' (+ {b["train_model_free.behavior_steps"] // 1000}k for π_b)'
  return budget


def deployment_budget(description):
  """The training budget per deployment: '2000 TRPO updates (80 x 25) on 50,000-step imagined
  batches, dynamics <= 200 epochs, BC 300,000 steps', or the model-free gradient steps."""
  b = description['budget']
  if description['algorithm'] != 'bremen':
    budget = f'{b["train_deployment_model_free.train_steps"]:,} gradient steps'
    if description['algorithm'] == 'brac':
      budget += f' (+ {b["train_deployment_model_free.behavior_steps"]:,} for π_b)'
    return budget
  iterations = b['train_deployment.iterations_per_deployment']
  updates = b['train_deployment.updates_per_iteration']
  budget = (f'{iterations * updates} TRPO updates ({iterations} x {updates}) on '
            f'{b["ImaginedTRPO.batch_size"]:,}-step imagined batches, dynamics <= '
            f'{b["DynamicsEnsemble.max_epochs"]} epochs')
  if description['policy_init'] != 'random':
    budget += f', BC {b["behavior_clone.steps"]:,} steps'
  return budget


def short_budget(budget):
  """'500 TRPO updates (20 x 25) on ...' -> '500 TRPO updates' (for plot legends)."""
  return budget.split(' (')[0]


def deployment_method_rank(method):
  """BREMEN first, then the baselines in DEPLOYMENT_METHOD_ORDER, then the rest (the ablation)."""
  name = method.lower().replace('-', '_')
  return (DEPLOYMENT_METHOD_ORDER.index(name) if name in DEPLOYMENT_METHOD_ORDER
          else len(DEPLOYMENT_METHOD_ORDER))


def with_deviations(method, deviations):
  """'BREMEN' -> 'BREMEN + data box 0.1 (deviation)' for a run with opt-in deviations."""
  return method + (f' + {", ".join(deviations)} (deviation)' if deviations else '')


def left_out_note(left_out):
  """A result file's sentence on the runs a table left out for their opt-in deviations (reader
  records; a run's records counted once; '' for none)."""
  found = {r['path']: r['description'].get('deviations') or [] for r in left_out}
  if not found:
    return ''
  runs = '; '.join(f'`{path}` ({", ".join(d)})' for path, d in sorted(found.items()))
  return (f'Left out of this table: {len(found)} run(s) with an opt-in deviation from the '
          f'original (README, "Deviations and options"), which are not the paper\'s methods: '
          f'{runs}.')
