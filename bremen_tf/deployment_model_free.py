"""Recursive model-free baselines under the deployment limit (BCQ, BRAC, BC): the paper's
comparison for the deployment-efficient setting.

  deployment 1: uniform-random actions
  every deployment d: train the agent `train_steps` more gradient steps on all data so far (BRAC
  also re-fits π_b on it for `behavior_steps`), evaluating every `eval_every` steps; export; the
  next batch is collected with the main test policy plus N(0, exploration_std²) noise, clipped.

The agent is trained on, not re-created, between deployments (the same networks keep learning on
the growing data). Same run directory, metrics (deployment, real_transitions, eval_return_*) and
resume as the BREMEN recipe (bremen_tf/deployment.py); reached through `train_deployment`
(bremen_tf/experiments.py). The stages are in agent_stages.py.
"""
import gin
import numpy as np
import tensorflow as tf

from bremen_tf import envs, export, runs
from bremen_tf.agent_stages import (ALGORITHMS, clone_behavior, evaluate_test_policies,
                                    make_trainer, setup_run, train_in_chunks, transition_tensors)
from bremen_tf.deployment_batches import (collect_deployment, concat_batches, load_batches,
                                          write_deployments)


@gin.configurable(denylist=['run', 'seed', 'env_id', 'algorithm', 'deployments',
                            'transitions_per_deployment', 'collect_envs', 'log'])
def train_deployment_model_free(run, seed, env_id, algorithm, deployments,
                                transitions_per_deployment, collect_envs, train_steps=500_000,
                                behavior_steps=300_000, eval_every=5000, eval_episodes=10,
                                exploration_std=0.1, log=print):
  """`train_steps` and `behavior_steps` (BRAC's π_b) are per deployment: the BRAC protocol's
  500k and 300k by default; `exploration_std` is the Gaussian noise of the collecting policy."""
  if algorithm not in ALGORITHMS:
    raise ValueError(f'algorithm must be bremen or one of {ALGORITHMS}, got {algorithm!r}.')
  spec = envs.get_spec(env_id)
  agent, behavior, rng, step, run_state = setup_run(run, algorithm, spec, seed, log)
  state, save = run_state.state, run_state.save
  state.setdefault('deployment', 0)
  batches = load_batches(run, env_id, state['deployment'])
  policies = {name: tf.function(fn, autograph=False)
              for name, fn in agent.test_policies().items()}
  main = policies['main']

  def collect(d):
    action_fn = lambda obs, r: np.clip(
        main(tf.constant(obs, tf.float32)).numpy()
        + exploration_std * r.standard_normal((len(obs), spec.act_dim)), -1.0, 1.0)
    return collect_deployment(run, state, env_id, d, deployments, action_fn,
                              f'the deployment-{d - 1} policy + N(0, {exploration_std}²)',
                              transitions_per_deployment, seed, collect_envs, log)

  progress = runs.Progress(int(step.numpy()), deployments * train_steps)
  while True:
    d = state['deployment']
    if state['stage'] in ('start', 'trained'):
      if d == deployments:
        break
      d += 1
      batches.append(collect(d))
      save('collected')
    data = transition_tensors(concat_batches(batches))
    if state['stage'] == 'collected':
      if behavior is not None:
        clone_behavior(behavior, data, rng, behavior_steps, eval_every, log)
      save('behavior')
    real = sum(len(b) for b in batches)

    def on_eval(done, info, steps_per_s, d=d, real=real):
      row = {'iteration': -(-done // eval_every), 'step': done, 'deployment': d,
             'real_transitions': real, 'train_steps': done,
             **evaluate_test_policies(env_id, policies, eval_episodes,
                                      seed=10_000 * (seed + 1) + done // eval_every * 100),
             **info, 'train_steps_per_s': steps_per_s}
      run.log_metrics(row, step=done)
      save('behavior')
      log(f'[{algorithm}] deployment {d}/{deployments}, step {done:,}: real return '
          f'{row["eval_return_mean"]:.1f} ± {row["eval_return_std"]:.1f} | '
          f'{steps_per_s:,.0f} steps/s | ETA {progress.eta(done)}')

    train_in_chunks(make_trainer(agent, data, rng), step, d * train_steps, eval_every,
                    10 ** 12, on_eval, lambda: None)
    final = run.read_metrics()[-1]
    state['deployments'][-1].update(
        real_transitions=real, eval_return_mean=float(final['eval_return_mean']),
        eval_return_std=float(final['eval_return_std']), iteration=int(final['iteration']))
    export_dir = run.file('policies', f'deployment_{d}')
    export.export_test_policies(agent.export_modules(), agent.test_policies(), spec.obs_dim,
                                export_dir, {'env_id': env_id, 'act_dim': spec.act_dim,
                                             'algorithm': algorithm, 'deployment': d,
                                             'seed': seed})
    write_deployments(run, state['deployments'])
    save('trained')
    log(f'[deployment {d}/{deployments}] done: real return '
        f'{state["deployments"][-1]["eval_return_mean"]:.1f} after {real:,} real transitions')

  last = state['deployments'][-1]
  return {'final_eval_return_mean': last['eval_return_mean'], 'deployments': deployments,
          'real_transitions': last['real_transitions'],
          'export_dir': run.file('policies', f'deployment_{deployments}')}
