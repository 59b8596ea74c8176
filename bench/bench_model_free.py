"""Benchmark of one gradient step of the model-free agents (SAC, BC, BCQ, BRAC); writes
results/performance_model_free.md.

  python bench/bench_model_free.py                     # 1 TF thread, 5 timed repeats
  python bench/bench_model_free.py --repeats=1 --steps_scale=0.2 --out=/tmp/perf.md

Each agent is timed for two implementations side by side in this one process, alternating
repeats (so a machine shared with other work slows both alike and the ratio stays meaningful):
  reference  the step as first written (`reference_update=True`: Adam in ~14 elementwise ops per
             variable; BC's likelihood and BRAC's N divergence samples on forward passes of
             their own)
  ours       the default: fused Adam (one ApplyAdam op per variable), each network run once
             per state set (same mathematics, float32 round-off; tests/test_model_free_speed.py)
beside the FLOP floor: the minimal floating-point operations of one step, counted from the layer
sizes and batch below (for any faithful implementation), over the matmul rate measured here.
Steps run as in training: many steps inside one tf.function (model_free.make_trainer), batches
drawn uniformly from 10,000 random transitions at the HalfCheetah shape (17-dim observations,
6-dim actions); the timing does not depend on the data.
"""
import os
import sys
import time

from absl import app, flags
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'launch'))
import launch_common  # noqa: E402  (REPO_ROOT, quiet logs)
from bench_common import matmul_rate  # noqa: E402

flags.DEFINE_integer('repeats', 5, 'Timed repeats per implementation (the median is reported).')
flags.DEFINE_float('steps_scale', 1.0, 'Scales the steps per timed call (below 1: quicker).')
flags.DEFINE_string('out', None, 'Markdown output (default results/performance_model_free.md).')
flags.DEFINE_list('agents', ['sac', 'bc', 'bcq', 'brac'], 'Agents to time.')
flags.DEFINE_bool('idle', False, 'Say in the file that nothing else ran (you stopped other work); '
                  'by default it says the cores may have been shared and only the ratios count.')
FLAGS = flags.FLAGS

OBS, ACT, N_DATA = 17, 6, 10_000
STEPS = {'sac': 200, 'bc': 500, 'bcq': 60, 'brac': 100}  # per timed call (about a second)


def fwd(sizes):
  """FLOPs (2 per multiply-add) of one forward pass of a dense stack, per row."""
  return 2 * sum(i * o for i, o in zip(sizes[:-1], sizes[1:]))


def bwd_params(sizes):
  """Backprop for the weights' gradients: every layer's dW, every layer's dX but the first's."""
  return 2 * fwd(sizes) - 2 * sizes[0] * sizes[1]


def bwd_input(sizes, n_inputs):
  """Backprop for the gradient of `n_inputs` of the inputs only (no weight gradients)."""
  return fwd(sizes) - 2 * (sizes[0] - n_inputs) * sizes[1]


def minimal_flops(name, agent):
  """Minimal FLOPs of one step of `agent` (elementwise work not counted)."""
  if name in ('sac', 'bc', 'brac'):
    actor = [OBS, *agent.actor.hidden, 2 * ACT]
  if name == 'bc':  # π forward, backprop, π forward again for α_e (the updated policy)
    return agent.batch_size * (2 * fwd(actor) + bwd_params(actor))
  if name in ('sac', 'brac'):
    q = [OBS + ACT, *[int(k.shape[1]) for k in agent.qs[0].net.kernels]]
    n_q, b = len(agent.qs), agent.batch_size
    target = fwd(actor) + n_q * fwd(q)
    q_step = n_q * (fwd(q) + bwd_params(q))
    policy = fwd(actor) + bwd_params(actor) + n_q * (fwd(q) + bwd_input(q, ACT))
    if name == 'sac':  # + π forward for the temperature (the updated policy)
      return b * (target + q_step + policy + fwd(actor))
    behavior = [OBS, *agent.behavior_actor.hidden, 2 * ACT]  # π_b on s′ and on s
    return b * (target + q_step + policy + 2 * fwd(behavior))
  # BCQ: N decoded and perturbed samples per s′ for the target; ξ and the VAE on the batch.
  q = [OBS + ACT, *[int(k.shape[1]) for k in agent.qs[0].net.kernels]]
  dec = [OBS + agent.vae.latent_dim, *[int(k.shape[1]) for k in agent.vae.decoder.kernels]]
  enc = [OBS + ACT, *[int(k.shape[1]) for k in agent.vae.encoder.kernels]]
  pert = [OBS + ACT, *[int(k.shape[1]) for k in agent.perturber.net.kernels]]
  n, b = agent.n_samples, agent.batch_size
  target = n * (fwd(dec) + fwd(pert) + len(agent.q_targets) * fwd(q))
  q_step = len(agent.qs) * (fwd(q) + bwd_params(q))
  policy = fwd(dec) + fwd(pert) + bwd_params(pert) + fwd(q) + bwd_input(q, ACT)
  vae = (fwd(enc) + fwd(dec) + bwd_params(enc) + bwd_params(dec)
         + 2 * agent.vae.latent_dim * dec[1])  # + dz for the encoder's gradient
  return b * (target + q_step + policy + vae)


def make_agent(name, reference):
  from bremen_tf.agents.bc import BCAgent  # pylint: disable=g-import-not-at-top
  from bremen_tf.agents.bcq import BCQAgent  # pylint: disable=g-import-not-at-top
  from bremen_tf.agents.brac import BRACAgent  # pylint: disable=g-import-not-at-top
  from bremen_tf.agents.sac import Sac  # pylint: disable=g-import-not-at-top
  if name == 'sac':
    agent = Sac(OBS, ACT, seed=0, reference_update=reference)
    agent.batch_size = 256  # BRAC's train_online batch
    return agent
  if name == 'bc':
    return BCAgent(OBS, ACT, seed=0, reference_update=reference)
  if name == 'bcq':
    return BCQAgent(OBS, ACT, seed=0, reference_update=reference)
  behavior = BCAgent(OBS, ACT, seed=1000, name='behavior')
  return BRACAgent(OBS, ACT, behavior.actor, seed=0, reference_update=reference)


class _SacBatch:
  """Sac's update takes positional arrays; make_trainer passes a batch dict."""

  def __init__(self, agent):
    self.agent, self.batch_size = agent, agent.batch_size

  def update(self, batch):
    return self.agent.update(batch['s1'], batch['a1'], batch['r'], batch['s2'],
                             batch['discount'])


def trainer(name, reference, tf):
  from bremen_tf.agent_stages import make_trainer  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  data = {'s1': rng.standard_normal((N_DATA, OBS)), 'a1': rng.uniform(-1, 1, (N_DATA, ACT)),
          'r': rng.standard_normal(N_DATA), 's2': rng.standard_normal((N_DATA, OBS)),
          'discount': np.ones(N_DATA)}
  data = {k: tf.constant(v, tf.float32) for k, v in data.items()}
  agent = make_agent(name, reference)
  steppable = _SacBatch(agent) if name == 'sac' else agent
  return agent, make_trainer(steppable, data, tf.random.Generator.from_seed(0))


def time_agent(name, tf, repeats):
  """(median seconds per step of the reference and of ours, minimal FLOPs per step)."""
  steps = max(1, int(STEPS[name] * FLAGS.steps_scale))
  impls = {impl: trainer(name, impl == 'reference', tf) for impl in ('reference', 'ours')}
  for _, train in impls.values():
    train(steps)  # trace and warm up
  times = {impl: [] for impl in impls}
  for _ in range(repeats):
    for impl, (_, train) in impls.items():
      t0 = time.perf_counter()
      train(steps)
      times[impl].append((time.perf_counter() - t0) / steps)
  return ({impl: float(np.median(t)) for impl, t in times.items()},
          minimal_flops(name, impls['ours'][0]))


def main(argv):
  del argv
  launch_common.quiet_logs()
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.threading.set_intra_op_parallelism_threads(1)
  tf.config.threading.set_inter_op_parallelism_threads(1)
  from bremen_tf import fileio, results  # pylint: disable=g-import-not-at-top

  load_before = os.getloadavg()[0]
  rate = matmul_rate(tf, FLAGS.repeats, n=1024)
  print(f'matmul rate: {rate / 1e9:.1f} GFLOP/s', flush=True)
  rows = []
  for name in FLAGS.agents:
    sec, flops = time_agent(name, tf, FLAGS.repeats)
    floor = flops / rate
    rows.append([name.upper(), f'{flops / 1e6:,.0f}',
                 f'{sec["reference"] * 1e3:.2f}', f'{sec["ours"] * 1e3:.2f}',
                 f'{1 / sec["reference"]:,.0f}', f'{1 / sec["ours"]:,.0f}',
                 f'**{sec["reference"] / sec["ours"]:.2f}x**', f'{floor * 1e3:.2f}',
                 f'{sec["ours"] / floor:.2f}x'])
    print(' | '.join(rows[-1]), flush=True)
  load = f'{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end'
  header = ['agent', 'minimal MFLOP / step', 'reference ms / step', 'ours ms / step',
            'reference steps/s', 'ours steps/s', 'speed-up', 'floor ms / step',
            'ours / floor']
  text = ('# Model-free agents: one gradient step (SAC, BC, BCQ, BRAC)\n\n'
          + results.provenance_header() +
          f'\nOne TF thread; HalfCheetah shape (obs {OBS}, act {ACT}); the agents\' default '
          'sizes and batches (SAC, BC, BRAC: 256; BCQ: 100, 10 samples per state); medians of '
          f'{FLAGS.repeats} repeats, reference and ours alternating in one process. '
          f'Matmul rate measured in the run: {rate / 1e9:.1f} GFLOP/s (floor = minimal FLOPs / '
          'that rate; elementwise work not counted). '
          + (f'Nothing else ran (the long runs were stopped; 1-minute load average {load}, '
             'which decays slowly from earlier work).\n\n' if FLAGS.idle else
             '**The machine\'s two cores may have been shared with other work (1-minute load '
             f'average {load}) while this ran, so absolute times may be noisy and slower than '
             'on an idle machine; the ratios, measured side by side, are the result.**\n\n')
          + results.markdown_table(header, rows) +
          '\n- reference: the step as first written (`reference_update=True`: Adam in ~14 '
          'elementwise passes per variable; BC\'s likelihood on a second forward pass; BRAC\'s '
          'π and π_b run again on the N = 4 tiled copies of the states for the divergence).\n'
          '- ours (default): one fused ApplyAdam op per variable, each network run once per '
          'state set (tiled parameters instead of tiled forward passes); same draws from the '
          'same generators; equal to the reference to float32 round-off '
          '(tests/test_model_free_speed.py).\n'
          '- minimal FLOPs: forward passes, weight-gradient and needed input-gradient '
          'backprops of each network, once per state set (bench/bench_model_free.py, '
          '`minimal_flops`).\n')
  out = FLAGS.out or os.path.join(launch_common.REPO_ROOT, 'results',
                                  'performance_model_free.md')
  fileio.write_text(out, text)
  print(f'Wrote {out}')


if __name__ == '__main__':
  app.run(main)
