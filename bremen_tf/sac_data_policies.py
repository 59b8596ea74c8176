"""Training the partially trained SAC policies that collect the BRAC-protocol datasets
(reference/brac_protocol.md §2). Not BREMEN's behaviour cloning (policies.behavior_clone) nor the
BC baseline (agents/bc.py); the shipped policies and their I/O are data/shipped_policies.py.

`train_behavior_policy` runs SAC until the first time `target_consecutive` (2) consecutive
evaluations (20 deterministic episodes every 5k steps) all reach the env's threshold (HalfCheetah
4000, the others 1000); that actor is the partially trained policy. It is resumable, exactly:
every `checkpoint_every` steps the agent (with its noise generator), the replay buffer, the
batch sampler's state and the environment's (MuJoCo integration state, time-limit count, reset
RNG, the pending observation and action) are saved, crash-safely (bremen_tf/checkpoints.py), and
a restarted run continues from there as if it had never stopped.
"""
import os
import time

import gin
import gymnasium
import mujoco
import numpy as np
import tensorflow as tf

from bremen_tf import checkpoints, envs, evaluation, fileio, provenance, runs
from bremen_tf.agents.sac import Sac
from bremen_tf.data.shipped_policies import write_policy
from bremen_tf.replay import ReplayBuffer



@gin.configurable(denylist=['run'])
def train_behavior_policy(run, env_id=gin.REQUIRED, seed=0, total_steps=500_000,
                          initial_random_steps=10_000, batch_size=256,
                          replay_capacity=1_000_000, eval_every=5_000, eval_episodes=20,
                          target_return=None, target_consecutive=2, checkpoint_every=20_000,
                          stop_at_target=True, log=print):
  """SAC on `env_id` until the partial-policy rule fires; writes `<run>/partial_policy/`.

  Steps count gradient updates (BRAC's global step); the env has seen
  `initial_random_steps + step` transitions. With `stop_at_target=False` training goes on to
  `total_steps` like BRAC's (the final agent is not needed for the datasets).
  Returns the partial policy's metadata, or None if the threshold was never reached.
  """
  spec = envs.get_spec(env_id)
  target_return = spec.behavior_threshold if target_return is None else target_return
  np_rng = np.random.default_rng(seed)
  tf.random.set_seed(seed)
  agent = Sac(spec.obs_dim, spec.act_dim, seed=seed)
  replay = ReplayBuffer(spec.obs_dim, spec.act_dim, replay_capacity)
  step_var = tf.Variable(0, dtype=tf.int64)
  ckpt = tf.train.Checkpoint(agent=agent, step=step_var)
  state_path = run.file('train_state.json')
  state = {'evals': [], 'partial': None, 'elapsed_s': 0.0}
  if os.path.exists(state_path):  # resume from the last consistent save
    state = fileio.read_json(state_path)
    saved = checkpoints.named_in(run.path, state)
    ckpt.restore(saved).assert_existing_objects_matched()
    # Runs saved before saves were crash-safe kept one replay file beside the checkpoints.
    replay.load(_replay_path(saved) if 'saves' in state else run.file('replay.npz'))
    run.truncate_metrics(int(step_var.numpy()))
    log(f'Resuming {env_id} from step {int(step_var.numpy())} '
        f'({replay.size} transitions in replay).')
  if state['partial'] is not None and stop_at_target:
    log(f'{env_id}: partial policy already found at step {state["partial"]["sac_steps"]}.')
    return state['partial']

  env = envs.make(env_id)
  obs, _ = env.reset(seed=seed + 1000 * len(state['evals']) + int(step_var.numpy()))
  obs, action = obs.astype(np.float32), None
  if 'resume' in state:  # where the saved run stood: it goes on exactly from there
    obs, action = _restore_loop(state['resume'], env, np_rng)

  def env_step(action):
    nonlocal obs
    next_obs, reward, terminated, truncated, _ = env.step(action)
    next_obs = next_obs.astype(np.float32)
    # A true termination ends the bootstrap; a time-limit truncation does not (BRAC semantics).
    replay.add(obs, action, reward, next_obs, 0.0 if terminated else 1.0)
    obs = env.reset()[0].astype(np.float32) if (terminated or truncated) else next_obs

  if replay.size < initial_random_steps:
    log(f'{env_id}: {initial_random_steps} uniform-random transitions before training.')
    while replay.size < initial_random_steps:
      env_step(np_rng.uniform(-1.0, 1.0, spec.act_dim).astype(np.float32))

  step = int(step_var.numpy())
  if action is None:
    action = agent.act_sample(obs[None]).numpy()[0]
  t_start, steps_at_start, info = time.time(), step, None
  elapsed_before = state['elapsed_s']
  while step < total_steps:
    env_step(action)
    batch = replay.sample(np_rng, batch_size)
    action, info = agent.train_and_act(*batch, obs[None])
    action = action.numpy()[0]
    step += 1

    if step % eval_every == 0:
      returns, _ = evaluation.run_episodes(
          env_id, lambda o: agent.act_mode(o).numpy(), eval_episodes,
          seed=10_000 + step)
      stats = evaluation.summarize(returns)
      state['evals'].append({'step': step, **stats})
      elapsed = elapsed_before + time.time() - t_start
      rate = (step - steps_at_start) / max(time.time() - t_start, 1e-9)
      row = {'step': step, 'env_steps': step + initial_random_steps,
             'eval_return_mean': stats['return_mean'], 'eval_return_std': stats['return_std'],
             'eval_return_min': stats['return_min'], 'eval_return_max': stats['return_max'],
             **{k: float(v) for k, v in info.items()}, 'steps_per_s': rate,
             'elapsed_s': elapsed}
      run.log_metrics(row, step)
      recent = [e['return_mean'] for e in state['evals'][-target_consecutive:]]
      hits = sum(r >= target_return for r in recent)
      log(f'[{env_id}] step {step:7d} | eval {stats["return_mean"]:8.1f} '
          f'± {stats["return_std"]:6.1f} | last {len(recent)} evals >= {target_return:g}: '
          f'{hits}/{target_consecutive} | alpha {float(info["alpha"]):.3f} | '
          f'{rate:5.0f} steps/s | {runs.format_duration(elapsed)}')
      found_now = (state['partial'] is None and len(recent) == target_consecutive
                   and hits == target_consecutive)
      if found_now:
        state['partial'] = _save_partial(run, agent, env_id, step, state['evals'],
                                         target_return, initial_random_steps, seed, elapsed)
        log(f'[{env_id}] partial policy found at step {step}: {run.file("partial_policy")}')
      if step % checkpoint_every == 0 or found_now:
        state['elapsed_s'] = elapsed
        _checkpoint(ckpt, step_var, step, replay, run, state,
                    _loop_state(obs, action, env, np_rng))
        if found_now and stop_at_target:
          break
  else:
    state['elapsed_s'] = elapsed_before + time.time() - t_start
    _checkpoint(ckpt, step_var, step, replay, run, state, _loop_state(obs, action, env, np_rng))
  env.close()
  if state['partial'] is None:
    log(f'[{env_id}] no partial policy: the threshold {target_return:g} was not reached in '
        f'{total_steps} steps.')
  return state['partial']


def _checkpoint(ckpt, step_var, step, replay, run, state, loop_state):
  """Saves agent, step and replay under a new name, then names them (and the loop state) in
  train_state.json atomically, then deletes the older ones: a kill at any instant leaves a run
  that resumes from one consistent save (as RunState.save does for the offline runs)."""
  directory = run.file('checkpoints')
  checkpoints.remove_all_but(directory, checkpoints.named_in(run.path, state))  # a killed save's
  step_var.assign(step)
  saves = state.get('saves', 0) + 1
  path = checkpoints.write(ckpt, os.path.join(directory, f'save-{saves}'))
  replay.save(_replay_path(path))  # 'save-<n>.replay.npz': kept and deleted with its checkpoint
  state.update(checkpoint=os.path.relpath(path, run.path), saves=saves, step=int(step),
               resume=loop_state)
  fileio.write_json(run.file('train_state.json'), state)
  checkpoints.mark_latest(path)
  checkpoints.remove_all_but(directory, path)


def last_save(run_dir):
  """(checkpoint path, replay file, SAC step) of a SAC run directory's last save; the step is None
  for runs saved before it was recorded."""
  state = fileio.read_json(os.path.join(run_dir, 'train_state.json'))
  checkpoint = checkpoints.named_in(run_dir, state)
  replay_file = (_replay_path(checkpoint) if 'saves' in state
                 else os.path.join(run_dir, 'replay.npz'))
  return checkpoint, replay_file, state.get('step')


def _replay_path(checkpoint):
  return checkpoint + '.replay.npz'


_MUJOCO_STATE = mujoco.mjtState.mjSTATE_INTEGRATION  # all that mj_step reads: exact replay


def _time_limit(env):
  while not isinstance(env, gymnasium.wrappers.TimeLimit):
    env = env.env
  return env


def _loop_state(obs, action, env, np_rng):
  """What the training loop holds outside TF, as JSON: the pending observation and action, the
  replay sampler's state and the env's (simulator, time-limit count, reset RNG)."""
  sim = env.unwrapped
  physics = np.empty(mujoco.mj_stateSize(sim.model, _MUJOCO_STATE))
  mujoco.mj_getState(sim.model, sim.data, physics, _MUJOCO_STATE)
  return {'obs': obs.tolist(), 'action': action.tolist(),
          'np_rng': np_rng.bit_generator.state, 'env_physics': physics.tolist(),
          'env_elapsed_steps': _time_limit(env)._elapsed_steps,  # pylint: disable=protected-access
          'env_np_random': sim.np_random.bit_generator.state}


def _restore_loop(saved, env, np_rng):
  """Puts env and np_rng back where _loop_state found them (env already reset once);
  returns (obs, action)."""
  sim = env.unwrapped
  mujoco.mj_setState(sim.model, sim.data, np.asarray(saved['env_physics'], np.float64),
                     _MUJOCO_STATE)
  _time_limit(env)._elapsed_steps = saved['env_elapsed_steps']  # pylint: disable=protected-access
  sim.np_random.bit_generator.state = saved['env_np_random']
  np_rng.bit_generator.state = saved['np_rng']
  return (np.asarray(saved['obs'], np.float32), np.asarray(saved['action'], np.float32))


def _save_partial(run, agent, env_id, step, evals, target_return, initial_random_steps, seed,
                  elapsed):
  last = evals[-1]
  meta = {
      'env_id': env_id, 'algorithm': 'SAC (BRAC train_online recipe)', 'seed': seed,
      'sac_steps': step, 'env_steps': step + initial_random_steps,
      'threshold': target_return, 'eval_episodes': last['episodes'],
      'eval_return_mean': last['return_mean'], 'eval_return_std': last['return_std'],
      'eval_history': evals, 'training_time_s': elapsed,
      'provenance': provenance.record(),
  }
  return write_policy(run.file('partial_policy'), agent.actor, meta)
