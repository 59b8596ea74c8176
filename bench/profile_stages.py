"""Where the time of imagination and of an ensemble training step goes, at one TF thread.

  python bench/profile_stages.py

Imagination (issue 14 item 2), at both update shapes (Hopper 50 paths x H 1000, HalfCheetah
200 x 250, 50,000 steps, termination off): the whole rollout + assembly (ImaginedTRPO.imagine),
the same with both networks cut to 8 units (what is not a matmul: member switch, normalisation,
sampling, reward and done functions, TensorArray writes, assembly), the rollout alone, and, looped
for the same number of steps, the raw dynamics matmuls of one member, the member predictor
(switch_case, normalisation), the predictor with a fixed member, and the policy's sample. Then the
matmul rate of [M, 1024] x [1024, 1024] at the row counts M an imagination step feeds its one member
(50 at Hopper's shape, 200 at HalfCheetah's) against large M. Ensemble training (item 3),
HalfCheetah shape, 5 x 1000 batch: the whole step, forward + backward only, Adam only (fused by
XLA, as the step), the forward only, and the big layer's five 2-D matmuls. Prints milliseconds;
time it with the machine otherwise idle.
"""
import os
import sys

import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

from bremen_tf import envs, imagination  # noqa: E402
from bremen_tf.stages import reset_observations  # noqa: E402
from bremen_tf.dynamics import DynamicsEnsemble  # noqa: E402
from bremen_tf.imagined_trpo import ImaginedTRPO  # noqa: E402
from bremen_tf.policies import GaussianPolicy  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import fastest  # noqa: E402  pylint: disable=g-import-not-at-top


def make_trainer(env_id, dynamics_hidden=(1024, 1024), policy_hidden=(200, 200)):
  spec = envs.get_spec(env_id)
  never = lambda s: tf.zeros(tf.shape(s)[:1], tf.bool)
  dyn = DynamicsEnsemble(spec.obs_dim, spec.act_dim, hidden=dynamics_hidden)
  policy = GaussianPolicy(spec.obs_dim, spec.act_dim, hidden=policy_hidden)
  behavior = GaussianPolicy(spec.obs_dim, spec.act_dim, hidden=policy_hidden, name='bc')
  starts = reset_observations(env_id, 1000, 0)
  return ImaginedTRPO(policy, behavior, dyn, spec.reward_fn, never, starts, spec.horizon,
                      target_kl=0.05), starts


def profile_imagination(env_id, paths, horizon):
  spec = envs.get_spec(env_id)
  never = lambda s: tf.zeros(tf.shape(s)[:1], tf.bool)
  trainer, starts = make_trainer(env_id)
  dyn, policy = trainer.dynamics, trainer.policy
  assert trainer.n_parallel == paths
  imagine_tiny = tf.function(make_trainer(env_id, (8, 8), (8, 8))[0].imagine)
  start_obs = tf.constant(starts, tf.float32)
  rng = tf.random.Generator.from_seed(0)
  steps = 50_000 // paths
  imagine = tf.function(trainer.imagine)
  rollout = tf.function(lambda: imagination.rollout(policy, dyn, spec.reward_fn, never, start_obs,
                                                    rng, paths, horizon, 50_000).obs)
  in_dim = spec.obs_dim + spec.act_dim
  kernels = [w[0] for w in dyn.net.kernels]
  predict = dyn.member_predictor()
  members = [(w[0], b[0, 0]) for w, b in zip(dyn.net.kernels, dyn.net.biases)]

  @tf.function
  def raw_matmuls():
    x, out = tf.random.normal([paths, in_dim]), tf.zeros([paths, spec.obs_dim])
    for _ in tf.range(steps):
      h = tf.nn.relu(tf.matmul(tf.nn.relu(tf.matmul(x, kernels[0])), kernels[1]))
      out += tf.matmul(h, kernels[2])
    return out

  @tf.function
  def predictor():
    obs, act = start_obs[:paths], tf.zeros([paths, spec.act_dim])
    for i in tf.range(steps):
      obs = predict(obs, act, i % dyn.n_models) * 0.5
    return obs

  @tf.function
  def fixed_member():
    obs, act = start_obs[:paths], tf.zeros([paths, spec.act_dim])
    for _ in tf.range(steps):
      x = dyn._inputs(obs, act)  # pylint: disable=protected-access
      for k, (w, b) in enumerate(members):
        x = tf.matmul(x, w) + b
        if k < len(members) - 1:
          x = tf.nn.relu(x)
      obs = dyn._denormalize(obs, x) * 0.5  # pylint: disable=protected-access
    return obs

  @tf.function
  def policy_sample():
    obs, out = start_obs[:paths], tf.zeros([paths, spec.act_dim])
    for _ in tf.range(steps):
      out += policy.sample(obs, rng.normal([paths, spec.act_dim]))
    return out

  parts = {'imagine (rollout + assembly)': lambda: imagine().obs.numpy(),
           'imagine, both networks cut to 8 units': lambda: imagine_tiny().obs.numpy(),
           'rollout': lambda: rollout().numpy(), 'raw dynamics matmuls': raw_matmuls,
           'member predictor (switch_case)': predictor, 'one fixed member': fixed_member,
           'policy sample': policy_sample}
  return {name: fastest(fn) for name, fn in parts.items()}


def skinny_matmul_rates(rows=(50, 200, 1000, 4000)):
  """{M: FLOP/s} of chained [M, 1024] x [1024, 1024] matmuls (~2.6 GFLOP per timed call)."""
  w = tf.random.normal([1024, 1024])
  rates = {}
  for m in rows:
    x, reps = tf.random.normal([m, 1024]), max(1, 1250 // max(1, m // 50))

    @tf.function
    def chain(x=x, reps=reps):
      y = x
      for _ in tf.range(reps):
        y = tf.matmul(y, w) * 1e-3
      return tf.reduce_sum(y)
    rates[m] = 2 * m * 1024 * 1024 * reps / fastest(lambda chain=chain: chain().numpy())
  return rates


def profile_training():
  model = DynamicsEnsemble(17, 6)
  n_batches, batch = 10, 1000
  x = tf.random.normal([n_batches * batch, 23])
  y = tf.random.normal([n_batches * batch, 17])
  index = tf.constant(np.stack([np.random.default_rng(k).permutation(n_batches * batch).reshape(
      n_batches, batch) for k in range(model.n_models)], axis=1), tf.int32)
  active = tf.ones([model.n_models], tf.bool)
  grads = [tf.random.normal(v.shape) * 1e-3 for v in model.net.trainable_variables]
  big_w = [tf.random.normal([1024, 1024]) for _ in range(5)]
  big_h = [tf.random.normal([batch, 1024]) for _ in range(5)]

  @tf.function
  def forward_backward():
    total = 0.0
    for i in tf.range(n_batches):
      with tf.GradientTape() as tape:
        loss = model._active_loss(tf.gather(x, index[i]), tf.gather(y, index[i]), active, 1e5)  # pylint: disable=protected-access
      gs = tape.gradient(loss, model.net.trainable_variables)
      total += tf.add_n([tf.reduce_sum(g[:, :1]) for g in gs])
    return total

  @tf.function
  def adam():
    for _ in tf.range(n_batches):
      model.optimizer.apply_fused(grads, active)

  @tf.function
  def forward():
    total = 0.0
    for i in tf.range(n_batches):
      total += model._active_loss(tf.gather(x, index[i]), tf.gather(y, index[i]), active, 1e5)  # pylint: disable=protected-access
    return total

  @tf.function
  def big_matmul():
    out = tf.zeros([batch, 1024])
    for _ in tf.range(n_batches):
      for h, w in zip(big_h, big_w):
        out += tf.matmul(h, w)
    return out

  parts = {'whole step': lambda: model._train_epoch(x, y, index, active, tf.constant(1e5)),  # pylint: disable=protected-access
           'forward + backward': forward_backward, 'EnsembleAdam (fused)': adam,
           'forward': forward, '5 x [1000,1024]x[1024,1024] 2-D matmuls': big_matmul}
  return {name: fastest(fn) / n_batches for name, fn in parts.items()}


def main():
  for env_id, paths, horizon in (('bremen/Hopper-v0', 50, 1000),
                                 ('bremen/HalfCheetah-v0', 200, 250)):
    for name, seconds in profile_imagination(env_id, paths, horizon).items():
      print(f'imagination {env_id}: {name}: {seconds * 1e3:.0f} ms', flush=True)
  rates = skinny_matmul_rates()
  for m, rate in rates.items():
    print(f'[{m},1024]x[1024,1024] matmul: {rate / 1e9:.0f} GFLOP/s '
          f'({rate / max(rates.values()):.0%} of the fastest M)', flush=True)
  for name, seconds in profile_training().items():
    print(f'ensemble training step: {name}: {seconds * 1e3:.1f} ms', flush=True)


if __name__ == '__main__':
  main()
