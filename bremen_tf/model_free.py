"""Model-free offline baselines (BC, BCQ, BRAC) on a BREMEN dataset: one table cell each.

Reached through `train_offline(algorithm=...)` (bremen_tf/experiments.py), so every algorithm
shares launch/offline.py, the run directory, metrics, resume and export. The loop is BRAC's
`train_eval_offline` (reference/brac_protocol.md §4): uniform minibatches with replacement, one
optimisation step per train step, an evaluation of every test policy every `eval_every` steps,
checkpoints. BRAC first clones its fixed behaviour policy π_b with the BC agent
(`behavior_steps`), as the BRAC scripts do. The stages are in agent_stages.py.

Stages (train_state.json): start → behavior (BRAC's π_b cloned) → train (at `step`) → done.
metrics.csv: one row per evaluation, `step` = train steps so far (row 0 = the initial policy);
`eval_return_*` is the main test policy, `eval_max_q_return_*` BRAC's max-Q policy.
"""
import time

import gin
import tensorflow as tf

from bremen_tf import envs, runs
from bremen_tf.agent_stages import (ALGORITHMS, clone_behavior, describe_evaluation,
                                    evaluate_test_policies, export_agent, make_trainer, setup_run,
                                    train_in_chunks, transition_tensors)
from bremen_tf.data.external import add_normalized_scores
from bremen_tf.run_state import record_dataset

# BRAC protocol: BC 300k steps (run_bc.sh), BCQ and BRAC 500k.
DEFAULT_TRAIN_STEPS = {'bc': 300_000, 'bcq': 500_000, 'brac': 500_000}


@gin.configurable(denylist=['run', 'data', 'record', 'seed', 'algorithm', 'log'])
def train_model_free(run, data, record, seed, algorithm, train_steps=None, behavior_steps=300_000,
                     eval_every=5000, eval_episodes=20, checkpoint_every=20_000, log=print):
  """Runs (or resumes) one model-free offline run on `data` (a Dataset; `record` what
  train_state.json keeps of it) in `run`. Returns a summary dict.

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
  env_id, refs = data.metadata['env_id'], data.metadata.get('reference_scores')
  spec = envs.get_spec(env_id)
  agent, behavior, rng, step, run_state = setup_run(run, algorithm, spec, seed, log)
  state, save = run_state.state, run_state.save
  record_dataset(run_state, record)
  tensors = transition_tensors(data)

  if state['stage'] == 'start':  # 1. BRAC's behaviour policy π_b
    if behavior is not None:
      t0 = time.time()
      info = clone_behavior(behavior, tensors, rng, behavior_steps, eval_every, log)
      state['behavior'] = {'steps': behavior_steps, 'final_nll': info['nll'],
                           'seconds': time.time() - t0}
    save('behavior')

  policies = {name: tf.function(fn, autograph=False)
              for name, fn in agent.test_policies().items()}

  def evaluate(n_done):
    return add_normalized_scores(evaluate_test_policies(
        env_id, policies, eval_episodes, seed=10_000 * (seed + 1) + n_done // eval_every * 100),
        refs)

  report = lambda row: log(describe_evaluation(algorithm, row, train_steps, policies))

  if state['stage'] == 'behavior':  # 2. the initial policy, evaluated
    row = {'iteration': 0, 'step': 0, 'train_steps': 0, **evaluate(0)}
    run.log_metrics(row, step=0)
    report(row)
    save('train')

  progress = runs.Progress(int(step.numpy()), train_steps)

  def on_eval(done, info, steps_per_s):
    row = {'iteration': -(-done // eval_every), 'step': done, 'train_steps': done,
           **evaluate(done), **info, 'train_steps_per_s': steps_per_s}
    run.log_metrics(row, step=done)
    save('train')
    report(row)
    log(f'[{algorithm}]   losses ' + ', '.join(f'{k} {v:.4g}' for k, v in info.items())
        + f' | {steps_per_s:,.0f} steps/s | ETA {progress.eta(done)}')

  # 3. training, evaluated every eval_every steps
  train_in_chunks(make_trainer(agent, tensors, rng), step, train_steps, eval_every,
                  checkpoint_every, on_eval, lambda: save('train'))

  # 4. the test policies, as a SavedModel
  return export_agent(run, agent, {'env_id': env_id, 'act_dim': spec.act_dim,
                                   'algorithm': algorithm, 'train_steps': train_steps,
                                   'seed': seed}, refs, log)
