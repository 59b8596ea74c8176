"""What tracing costs a process, with and without autograph.

Every run traces its hot functions when it starts, and again whenever an input shape changes (the
dynamics fit retraces each deployment: the data grow). The library traces them without autograph
(their loops are explicit tf.while_loops); this times, for each, the first call of a fresh process
(trace + one execution) minus the second call (the execution), with autograph on (how the
function was traced before) and off (now), in alternating fresh processes:
  - one TRPO update (`ImaginedTRPO.update`, HalfCheetah, the paper's 50,000-step batch):
    `tf.function(trainer._update)` against `trainer.update`;
  - one dynamics epoch (`DynamicsEnsemble._train_epoch`, HalfCheetah, the ensemble's defaults,
    two minibatches): the `for i in tf.range(n)` loop it replaced against the tf.while_loop.
Both variants give the same numbers bit for bit (tests/test_imagination.py, test_dynamics.py).
Writes results/trace_time.md.

  python bench/bench_trace.py [--repeats=3] [--out=results/trace_time]
"""
import json
import os
import subprocess
import sys
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

flags.DEFINE_integer('repeats', 3, 'Fresh processes per variant (medians are reported).')
flags.DEFINE_string('out', 'results/trace_time', 'Output path without extension.')
flags.DEFINE_string('child', None, 'Internal: time one "<target>:<autograph 0/1>" and print it.')
FLAGS = flags.FLAGS

TARGETS = ('trpo_update', 'dynamics_epoch')
ENV = 'bremen/HalfCheetah-v0'


def update_call(tf, autograph):
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bremen_tf import envs  # pylint: disable=g-import-not-at-top
  from bremen_tf.dynamics import DynamicsEnsemble  # pylint: disable=g-import-not-at-top
  from bremen_tf.imagined_trpo import ImaginedTRPO  # pylint: disable=g-import-not-at-top
  from bremen_tf.policies import GaussianPolicy  # pylint: disable=g-import-not-at-top
  spec = envs.get_spec(ENV)
  rng = np.random.default_rng(0)
  obs = rng.standard_normal((1000, spec.obs_dim)).astype(np.float32)
  dynamics = DynamicsEnsemble(spec.obs_dim, spec.act_dim)
  dynamics.set_normalization(obs, rng.uniform(-1, 1, (1000, spec.act_dim)).astype(np.float32),
                             obs + 0.01)
  policy = GaussianPolicy(spec.obs_dim, spec.act_dim)
  trainer = ImaginedTRPO(policy, GaussianPolicy(spec.obs_dim, spec.act_dim, name='bc'), dynamics,
                         spec.reward_fn, spec.done_fn, obs[:64], horizon=250)
  update = tf.function(trainer._update) if autograph else trainer.update  # pylint: disable=protected-access
  return lambda: update()['kl_after'].numpy()


def epoch_call(tf, autograph):
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bremen_tf import envs  # pylint: disable=g-import-not-at-top
  from bremen_tf.dynamics import DynamicsEnsemble  # pylint: disable=g-import-not-at-top
  spec = envs.get_spec(ENV)
  model = DynamicsEnsemble(spec.obs_dim, spec.act_dim)
  rng = np.random.default_rng(0)
  batch = model.fit_defaults['batch_size']
  n, width = 4 * batch, spec.obs_dim + spec.act_dim
  x = tf.constant(rng.standard_normal((n, width)).astype(np.float32))
  y = tf.constant(rng.standard_normal((n, spec.obs_dim)).astype(np.float32))
  index = tf.constant(np.stack([rng.permutation(n)[:2 * batch].reshape(2, -1)
                                for _ in range(model.n_models)], 1), tf.int32)
  active, n_train = tf.constant([True] * model.n_models), tf.constant(float(n))

  @tf.function
  def autograph_epoch():  # the loop as it was written before: converted by autograph
    for i in tf.range(tf.shape(index)[0]):
      model._train_step(x, y, index[i], active, n_train)  # pylint: disable=protected-access
  epoch = autograph_epoch if autograph else (
      lambda: model._train_epoch(x, y, index, active, n_train))  # pylint: disable=protected-access
  return lambda: (epoch(), model.net.kernels[0].numpy())


def child(spec):
  target, autograph = spec.split(':')
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.threading.set_intra_op_parallelism_threads(1)
  tf.config.threading.set_inter_op_parallelism_threads(1)
  call = {'trpo_update': update_call, 'dynamics_epoch': epoch_call}[target](tf, autograph == '1')
  times = []
  for _ in range(2):
    t0 = time.perf_counter()
    call()
    times.append(time.perf_counter() - t0)
  print(json.dumps({'first': times[0], 'second': times[1]}))


def timed(target, autograph):
  out = subprocess.run([sys.executable, os.path.abspath(__file__),
                        f'--child={target}:{int(autograph)}'], capture_output=True, text=True,
                       check=True)
  return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv):
  del argv
  if FLAGS.child:
    return child(FLAGS.child)
  import numpy as np  # pylint: disable=g-import-not-at-top
  from bremen_tf import fileio, results  # pylint: disable=g-import-not-at-top
  runs = {(t, a): [] for t in TARGETS for a in (True, False)}
  for r in range(FLAGS.repeats):
    for target in TARGETS:
      for autograph in ((True, False) if r % 2 == 0 else (False, True)):  # alternate the order
        runs[target, autograph].append(timed(target, autograph))
        print(target, 'autograph' if autograph else 'no autograph', runs[target, autograph][-1],
              flush=True)
  rows = []
  for target in TARGETS:
    trace = {a: float(np.median([t['first'] - t['second'] for t in runs[target, a]]))
             for a in (True, False)}
    execute = float(np.median([t['second'] for t in runs[target, False] + runs[target, True]]))
    rows.append([target.replace('_', ' '), f'{trace[True]:.2f} s', f'{trace[False]:.2f} s',
                 f'{trace[True] / trace[False]:.2f}x', f'{execute:.2f} s'])
  text = ('# Tracing with and without autograph\n\n'
          + results.provenance_header(f'{FLAGS.repeats} fresh processes per variant, medians, '
                                      f'one TF thread; {ENV} shapes')
          + '\n' + results.markdown_table(
              ['function', 'trace with autograph (before)', 'without (now)', 'speed-up',
               'one execution (for scale)'], rows)
          + '\nTrace = a fresh process\'s first call minus its second call. The TRPO update is '
          'traced once per run; the dynamics epoch once per data size (every deployment). The '
          'variants compute the same numbers bit for bit (tests/test_imagination.py, '
          'tests/test_dynamics.py). Measured on a machine whose other core may be busy.\n')
  fileio.write_text(FLAGS.out + '.md', text)
  print(text)


if __name__ == '__main__':
  app.run(main)
