"""The model-free baselines' stages (BC, BCQ, BRAC; reference/brac_protocol.md §4), shared by the
offline recipe (model_free.py) and the deployment recipe (deployment_model_free.py): the agent
and its checkpoint, BRAC's behaviour policy π_b, training in tf.function chunks between
evaluations, and the evaluation of every test policy.
"""
import time

import numpy as np
import tensorflow as tf

from bremen_tf import evaluation, export
from bremen_tf.data.external import normalized_score
from bremen_tf.agents.bc import BCAgent
from bremen_tf.agents.bcq import BCQAgent
from bremen_tf.agents.brac import BRACAgent
from bremen_tf.run_state import RunState
from bremen_tf.runs import seed_everything

ALGORITHMS = ('bc', 'bcq', 'brac')


def transition_tensors(dataset):
  """The dataset as BRAC's batch keys; discount is 0 after a true termination, 1 otherwise."""
  return {'s1': tf.constant(dataset.observations, tf.float32),
          'a1': tf.constant(dataset.actions, tf.float32),
          'r': tf.constant(dataset.rewards, tf.float32),
          's2': tf.constant(dataset.next_observations, tf.float32),
          'discount': tf.constant(1.0 - dataset.terminals.astype(np.float32))}


def make_trainer(agent, data, rng):
  """A tf.function running n >= 1 train steps of `agent` on uniform batches (with replacement)
  drawn with `rng`; returns the mean of each diagnostic over the steps."""
  n_data = int(data['r'].shape[0])

  def step():
    idx = rng.uniform([agent.batch_size], 0, n_data, dtype=tf.int32)
    return agent.update({k: tf.gather(v, idx) for k, v in data.items()})

  # autograph=False: an explicit loop, so tracing neither converts nor reads the agents' source.
  # The diagnostics' names and shapes come from a trace of the step that is never run (as
  # autograph's dry run found them); they start at zero, the sums of the converted loop.
  zeros = {k: tf.zeros(v.shape, v.dtype)
           for k, v in tf.function(step, autograph=False).get_concrete_function()
           .structured_outputs.items()}

  @tf.function(autograph=False)
  def train(n_steps):
    def body(i, totals):
      info = step()
      return i + 1, {k: totals[k] + info[k] for k in totals}
    _, totals = tf.while_loop(lambda i, _: i < n_steps, body, (tf.constant(0), zeros))
    return {k: v / tf.cast(n_steps, tf.float32) for k, v in totals.items()}

  def run(n_steps):
    if n_steps < 1:
      raise ValueError(f'make_trainer runs at least one step, not {n_steps}.')
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
  seed_everything(seed)
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


def describe_evaluation(algorithm, row, train_steps, policies):
  """The progress line of an evaluation row: the main policy's return (normalised score where
  the dataset has reference scores), then every other test policy's."""
  extra = ''.join(f' | {n}: {row[f"eval_{n}_return_mean"]:.1f}' for n in policies if n != 'main')
  score = row.get('eval_normalized_score')
  score = f' (normalised {score:.1f})' if score is not None else ''
  return (f'[{algorithm}] step {row["step"]:,}/{train_steps:,}: real return '
          f'{row["eval_return_mean"]:.1f} ± {row["eval_return_std"]:.1f}{score}{extra}')


def export_agent(run, agent, metadata, refs, log):
  """The agent's test policies exported to <run>/policy; returns the run's summary (final
  returns of the last evaluation row, normalised where `refs` has reference scores)."""
  export_dir = run.file('policy')
  export.export_test_policies(agent.export_modules(), agent.test_policies(), agent.obs_dim,
                              export_dir, metadata)
  log(f'Exported the policy to {export_dir}')
  final = run.read_metrics()[-1]
  summary = {'final_eval_return_mean': float(final['eval_return_mean']),
             'train_steps': metadata['train_steps'], 'export_dir': export_dir}
  if 'eval_max_q_return_mean' in final:
    summary['final_eval_max_q_return_mean'] = float(final['eval_max_q_return_mean'])
  if refs:
    for key in [k for k in summary if k.endswith('_return_mean')]:
      summary[key.replace('_return_mean', '_normalized_score')] = normalized_score(summary[key],
                                                                                   refs)
  return summary
