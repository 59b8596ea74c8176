"""Model-free offline baselines (BC, BCQ, BRAC) on a BREMEN dataset: one table cell each.

Reached through `train_offline(algorithm=...)`, so every algorithm shares launch/offline.py, the
run directory, metrics, resume and export. The loop is BRAC's `train_eval_offline`
(reference/brac_protocol.md §4): uniform minibatches with replacement, one optimisation step per
train step, an evaluation of every test policy every `eval_every` steps, checkpoints. BRAC first
clones its fixed behaviour policy π_b with the BC agent (`behavior_steps`), as the BRAC scripts do.

Stages (train_state.json): start → behavior (BRAC's π_b cloned) → train (at `step`) → done.
metrics.csv: one row per evaluation, `step` = train steps so far (row 0 = the initial policy);
`eval_return_*` is the main test policy, `eval_max_q_return_*` BRAC's max-Q policy.
"""
import time

import gin
import numpy as np
import tensorflow as tf

from bremen_tf import envs, evaluation, export, runs
from bremen_tf.agents.bc import BCAgent
from bremen_tf.agents.bcq import BCQAgent
from bremen_tf.agents.brac import BRACAgent
from bremen_tf.data import sources
from bremen_tf.data.external import add_normalized_scores, normalized_score
from bremen_tf.run_state import RunState, record_dataset

ALGORITHMS = ('bc', 'bcq', 'brac')
# BRAC protocol: BC 300k steps (run_bc.sh), BCQ and BRAC 500k.
DEFAULT_TRAIN_STEPS = {'bc': 300_000, 'bcq': 500_000, 'brac': 500_000}


def transition_tensors(dataset):
  """The dataset as BRAC's batch keys; discount is 0 after a true termination, 1 otherwise."""
  return {'s1': tf.constant(dataset.observations, tf.float32),
          'a1': tf.constant(dataset.actions, tf.float32),
          'r': tf.constant(dataset.rewards, tf.float32),
          's2': tf.constant(dataset.next_observations, tf.float32),
          'discount': tf.constant(1.0 - dataset.terminals.astype(np.float32))}


def make_trainer(agent, data, rng):
  """A tf.function running n train steps of `agent` on uniform batches (with replacement) drawn
  with `rng`; returns the mean of each diagnostic over the steps."""
  n_data = int(data['r'].shape[0])

  @tf.function
  def train(n_steps):
    totals = None
    for _ in tf.range(n_steps):
      idx = rng.uniform([agent.batch_size], 0, n_data, dtype=tf.int32)
      info = agent.update({k: tf.gather(v, idx) for k, v in data.items()})
      totals = info if totals is None else {k: totals[k] + v for k, v in info.items()}
    return {k: v / tf.cast(n_steps, tf.float32) for k, v in totals.items()}

  def run(n_steps):
    return {k: float(v) for k, v in train(tf.constant(n_steps)).items()}
  return run


def train_in_chunks(train, step, until, eval_every, checkpoint_every, on_eval, save):
  """Runs `train` (a make_trainer function) in chunks until `step` reaches `until`. At every
  multiple of `eval_every` and at `until`, calls on_eval(step, mean diagnostics, steps/s), which
  logs and checkpoints; at other multiples of `checkpoint_every`, calls save()."""
  while int(step.numpy()) < until:
    done = int(step.numpy())
    chunk = min(eval_every - done % eval_every, checkpoint_every - done % checkpoint_every,
                until - done)
    t0 = time.time()
    info = train(chunk)
    seconds = time.time() - t0
    step.assign_add(chunk)
    done = int(step.numpy())
    if done % eval_every == 0 or done == until:
      on_eval(done, info, chunk / seconds)
    elif done % checkpoint_every == 0:
      save()


def clone_behavior(behavior, data, rng, steps, log_every, log):
  """Trains BRAC's π_b (a BCAgent) for `steps`; returns the last chunk's diagnostics."""
  train, done = make_trainer(behavior, data, rng), 0
  log(f'[behavior] cloning π_b with the BC agent for {steps:,} steps')
  while done < steps:
    chunk = min(log_every, steps - done)
    info = train(chunk)
    done += chunk
    log(f'[behavior] step {done:,}/{steps:,}: nll {info["nll"]:.3f}, '
        f'entropy {info["entropy"]:.2f}')
  return info


def evaluate_test_policies(env_id, policies, episodes, seed):
  """Each test policy (name -> tf.function obs -> actions) on `episodes` real episodes; keys
  eval_return_* for 'main', eval_<name>_return_* for the others."""
  row = {}
  for name, fn in policies.items():
    returns, lengths = evaluation.run_episodes(
        env_id, lambda o, fn=fn: fn(tf.constant(o)).numpy(), episodes, seed=seed)
    prefix = 'eval' if name == 'main' else f'eval_{name}'
    row.update({f'{prefix}_return_mean': float(returns.mean()),
                f'{prefix}_return_std': float(returns.std()),
                f'{prefix}_return_min': float(returns.min()),
                f'{prefix}_return_max': float(returns.max())})
    if name == 'main':
      row.update(eval_episodes=len(returns), eval_steps=int(lengths.sum()))
  return row


def setup_run(run, algorithm, spec, seed, log):
  """Seeds, the agent (and BRAC's π_b), the batch RNG and the step counter, restored if the run
  is resumed: (agent, behaviour agent or None, rng, step, RunState)."""
  tf.random.set_seed(seed)
  np.random.seed(seed)
  agent, behavior = make_agent(algorithm, spec.obs_dim, spec.act_dim, seed)
  rng = tf.random.Generator.from_seed(seed)
  step = tf.Variable(0, dtype=tf.int64, name='step')
  ckpt = tf.train.Checkpoint(agent=agent, rng=rng, step=step,
                             **({'behavior': behavior} if behavior else {}))
  return agent, behavior, rng, step, RunState(run, ckpt, step, log=log)


def make_agent(algorithm, obs_dim, act_dim, seed):
  """(agent, behaviour agent or None)."""
  if algorithm == 'bc':
    return BCAgent(obs_dim, act_dim, seed=seed), None
  if algorithm == 'bcq':
    return BCQAgent(obs_dim, act_dim, seed=seed), None
  behavior = BCAgent(obs_dim, act_dim, seed=seed + 1000, name='behavior')
  return BRACAgent(obs_dim, act_dim, behavior.actor, seed=seed), behavior


@gin.configurable(denylist=['run', 'seed', 'algorithm', 'env_id', 'noise', 'dataset_size',
                            'data_dir', 'dataset', 'log'])
def train_model_free(run, seed, algorithm, env_id, noise, dataset_size, data_dir=None,
                     dataset=None, train_steps=None, behavior_steps=300_000, eval_every=5000,
                     eval_episodes=20, checkpoint_every=20_000, log=print):
  """Runs (or resumes) one model-free offline run in `run`. Returns a summary dict.

  `train_steps` None = the BRAC protocol's (BC 300k, BCQ and BRAC 500k); `behavior_steps` is the
  BC training of BRAC's fixed π_b (300k, run_bc.sh). Batch sizes are the agents' (BCQ 100, else
  256; gin `BCAgent.batch_size` etc.).
  """
  if algorithm not in ALGORITHMS:
    raise ValueError(f'algorithm must be bremen or one of {ALGORITHMS}, got {algorithm!r}.')
  train_steps = DEFAULT_TRAIN_STEPS[algorithm] if train_steps is None else int(train_steps)
  runs.require_positive(train_steps=train_steps, eval_every=eval_every,
                        eval_episodes=eval_episodes, checkpoint_every=checkpoint_every,
                        behavior_steps=behavior_steps)
  # The data first (see sources.py): its env decides the agent; a bad dataset fails first.
  loaded = sources.load_source(dataset, env_id, noise, dataset_size, data_dir, log=log)
  env_id, refs = loaded.metadata['env_id'], loaded.metadata.get('reference_scores')
  spec = envs.get_spec(env_id)
  agent, behavior, rng, step, run_state = setup_run(run, algorithm, spec, seed, log)
  state, save = run_state.state, run_state.save
  record_dataset(run_state, sources.run_record(loaded, noise))
  data = transition_tensors(loaded)

  # --- BRAC's behaviour policy π_b --------------------------------------------------------------
  if state['stage'] == 'start':
    if behavior is not None:
      t0 = time.time()
      info = clone_behavior(behavior, data, rng, behavior_steps, eval_every, log)
      state['behavior'] = {'steps': behavior_steps, 'final_nll': info['nll'],
                           'seconds': time.time() - t0}
    save('behavior')

  # --- training -----------------------------------------------------------------------------------
  policies = {name: tf.function(fn) for name, fn in agent.test_policies().items()}

  def evaluate(n_done):
    return add_normalized_scores(evaluate_test_policies(
        env_id, policies, eval_episodes, seed=10_000 * (seed + 1) + n_done // eval_every * 100),
        refs)

  def report(row):
    extra = ''.join(f' | {n}: {row[f"eval_{n}_return_mean"]:.1f}' for n in policies
                    if n != 'main')
    score = row.get('eval_normalized_score')
    score = f' (normalised {score:.1f})' if score is not None else ''
    log(f'[{algorithm}] step {row["step"]:,}/{train_steps:,}: real return '
        f'{row["eval_return_mean"]:.1f} ± {row["eval_return_std"]:.1f}{score}{extra}')

  if state['stage'] == 'behavior':
    row = {'iteration': 0, 'step': 0, 'train_steps': 0, **evaluate(0)}
    run.log_metrics(row, step=0)
    report(row)
    save('train')

  session_start, start_step = time.time(), int(step.numpy())

  def on_eval(done, info, steps_per_s):
    row = {'iteration': -(-done // eval_every), 'step': done, 'train_steps': done,
           **evaluate(done), **info, 'train_steps_per_s': steps_per_s}
    run.log_metrics(row, step=done)
    save('train')
    eta = (time.time() - session_start) / (done - start_step) * (train_steps - done)
    report(row)
    log(f'[{algorithm}]   losses ' + ', '.join(f'{k} {v:.4g}' for k, v in info.items())
        + f' | {steps_per_s:,.0f} steps/s | ETA {runs.format_duration(eta)}')

  train_in_chunks(make_trainer(agent, data, rng), step, train_steps, eval_every,
                  checkpoint_every, on_eval, lambda: save('train'))

  export_dir = run.file('policy')
  export.export_test_policies(agent.export_modules(), agent.test_policies(), spec.obs_dim,
                              export_dir, {'env_id': env_id, 'act_dim': spec.act_dim,
                                           'algorithm': algorithm, 'train_steps': train_steps,
                                           'seed': seed})
  log(f'Exported the policy to {export_dir}')
  final = run.read_metrics()[-1]
  summary = {'final_eval_return_mean': float(final['eval_return_mean']),
             'train_steps': train_steps, 'export_dir': export_dir}
  if 'eval_max_q_return_mean' in final:
    summary['final_eval_max_q_return_mean'] = float(final['eval_max_q_return_mean'])
  if refs:
    for key in [k for k in summary if k.endswith('_return_mean')]:
      summary[key.replace('_return_mean', '_normalized_score')] = normalized_score(summary[key],
                                                                                   refs)
  return summary
