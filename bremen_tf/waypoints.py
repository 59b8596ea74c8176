"""An unfinished deployment run carried to a new machine: its waypoint, small enough for the repo.

A full-budget deployment run needs 40-60 core-hours, many sessions, and this project's machines
have been replaced every one to three days, each time with the run directories on them (three
attempts of the same runs lost so). A finished run survives through bremen_tf/run_archive.py; an
unfinished one through this: at a session's stop `save` writes the run's state into a directory of
the repo (results/waypoints/<run path>/, committed), and on a new machine `restore` makes the run
directory again, so the run resumes there instead of from the start.

A waypoint holds
  - the run's light files (train_state.json, metrics.csv, deployments.csv, run.json, config.gin,
    provenance.json, ...: run_archive.light_files);
  - the tensors of the checkpoint train_state.json names: the dynamics ensemble's in
    dynamics.npz, the rest (policies, baseline, RNG, iteration: ~1 MB) in state.npz, except, by
    default, the ensemble's Adam moments: they are two thirds of the checkpoint (44 of 66 MB at
    HalfCheetah's size), and `restore` sets them and Adam's step counts to zero: a fresh Adam for
    the rest of the fit under way or the next one, which is what the authors' code meant to give
    every deployment's fit (its reset is a no-op, reference/bremen.md §3). keep_adam=True keeps
    them: then the restored run is the uninterrupted one, bit for bit (tests/test_waypoints.py);
  - the exported policies of the finished deployments (policies/deployment_<k>);
  - each data batch's sha1, not the batch (34 MB at 200K transitions): `restore` collects it again
    with the same policy and seed (deployment_batches.collect_batch) and records whether it came out
    bit-identical. On the same machine it does (tests/test_waypoints.py). On another, deployment
    1's uniform-random batch did (attempts 2 and 4 of the full-budget run, two machines: the same
    sha1); a batch collected by a policy may not (attempt 2's deployment-2 batch, collected again
    from its exported deployment-1 policy on attempt 4's machine, came out with another sha1): TF's
    kernels round differently there, and a gait amplifies it. Then the batch is a new draw of the
    same policy with the same seed, and the run trains on it from there.
What a restore changed is recorded in the run directory's waypoint_restores.json.

The ensemble (~22 MB at HalfCheetah's size) changes only in a fit; through BC and TRPO, and the
next deployment's collection, it stays as the fit left it. Its file is written byte-for-byte
reproducibly (`_write_npz`), so a waypoint taken while the run still holds the ensemble of the
last waypoint (no fit between them) stores the same dynamics.npz, and git keeps one copy: such a
waypoint costs the repository about 1 MB, one with a new ensemble about 22 MB. `due_after` asks more
unsaved hours of the second (launch/waypoint.py).

Only BREMEN / ME-TRPO deployment runs (launch/deployment.py's model-based loop) are carried: an
offline run fits in a machine's life, and a model-free deployment run collects with other policies.
"""
import datetime
import fcntl
import filecmp
import os
import shutil
import zipfile

import numpy as np

from bremen_tf import fileio, run_archive
from bremen_tf.errors import RunDirError
from bremen_tf.resumable_fit import FIT_STAGE
from bremen_tf.run_models import ensemble_fit

FORMAT = 2  # 1: every tensor in state.npz (restored still); 2: the ensemble's in dynamics.npz
MANIFEST = 'waypoint.json'
ENSEMBLE = 'dynamics.npz'  # the dynamics ensemble's tensors
TENSORS = 'state.npz'  # the other tensors
OBJECT_GRAPH = 'object_graph.pb'  # the checkpoint's object graph, byte for byte
GRAPH_KEY = '_CHECKPOINTABLE_OBJECT_GRAPH'
RESTORES = 'waypoint_restores.json'  # in the run directory: what each restore changed
ADAM_PREFIXES = ('dynamics/optimizer/m/', 'dynamics/optimizer/v/', 'dynamics/optimizer/steps/')


def _now():
  return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


def unfinished_deployment_runs(root):
  """Relative paths (sorted) of the runs under `root` that a waypoint carries: BREMEN or ME-TRPO
  deployment runs (run.json: kind 'deployment', algorithm 'bremen'; the model-free loop's name
  their agent) with a checkpoint, and no DONE."""
  found = []
  for directory, subdirs, files in os.walk(root):
    subdirs[:] = sorted(d for d in subdirs if not d.startswith('.') and not d.endswith('.restoring'))
    if run_archive.DONE_FILE in files:
      subdirs[:] = []
      continue
    if 'train_state.json' in files:
      subdirs[:] = []
      if 'run.json' not in files or 'checkpoint' not in _read_state(directory):
        continue
      try:
        description = fileio.read_json(os.path.join(directory, 'run.json'))['description']
      except (ValueError, KeyError, TypeError):
        continue  # not described (yet): nothing a waypoint would know how to restore
      if description.get('kind') == 'deployment' and description.get('algorithm') == 'bremen':
        found.append(os.path.relpath(directory, root))
  return found


def _read_state(run_dir):
  try:
    return fileio.read_json(os.path.join(run_dir, 'train_state.json'))
  except ValueError as e:
    raise RunDirError(f'{run_dir}/train_state.json is not readable ({e}).') from e


def stage_seconds(run_dir):
  """The seconds of fits and TRPO iterations the run has recorded (progress.timing's stage_s)."""
  from bremen_tf.reporting import progress  # pylint: disable=g-import-not-at-top
  facts = progress.timing(run_dir)
  return facts['stage_s'] if facts else 0.0


def read_manifest(waypoint):
  path = os.path.join(waypoint, MANIFEST)
  try:
    manifest = fileio.read_json(path)
  except (OSError, ValueError) as e:
    raise RunDirError(f'{path}: not a readable waypoint ({e}).') from e
  if not isinstance(manifest, dict) or manifest.get('format') not in (1, FORMAT):
    raise RunDirError(f'{path}: not a waypoint of format 1 or {FORMAT} (launch/waypoint.py writes '
                      'them).')
  return manifest


def tensor_files(manifest):
  """{file name: the checkpoint keys it holds, in its order}."""
  if manifest['format'] == 1:
    return {TENSORS: manifest['tensors']}
  return manifest['tensor_files']


def hours_unsaved(run_dir, waypoint):
  """The hours of fits and TRPO (stage time) `run_dir` has recorded since its waypoint was taken
  (all of them if it has none): what a lost machine would cost it."""
  taken = read_manifest(waypoint)['stage_seconds'] if os.path.isdir(waypoint) else 0.0
  return (stage_seconds(run_dir) - taken) / 3600.0


def same_ensemble(run_dir, waypoint):
  """Whether `run_dir`'s ensemble is the one its (format-2) waypoint holds: both after the same
  deployment's finished fit. Then a new waypoint's dynamics.npz is the same bytes."""
  if not os.path.isdir(waypoint):
    return False
  manifest, state = read_manifest(waypoint), _read_state(run_dir)
  fitted, finished = ensemble_fit(state)
  return manifest['format'] == FORMAT and finished and ensemble_fit(manifest) == (fitted, True)


def due_after(run_dir, waypoint, min_hours, min_hours_same_ensemble):
  """(hours, same): `run_dir` is due a new waypoint once it would lose `hours` or more of fits and
  TRPO without one (hours_unsaved): `min_hours_same_ensemble` if its ensemble is the one the
  waypoint holds already (`same`), else `min_hours` (a waypoint with a new ensemble costs the
  repository ~22 MB, one without ~1 MB)."""
  same = same_ensemble(run_dir, waypoint)
  return (min_hours_same_ensemble if same else min_hours), same


def exported_at(run_dir, policy_dir):
  """When `run_dir`'s exported policy `policy_dir` was written (a POSIX time): its
  bremen_policy.json's mtime, or, for one a waypoint restore wrote (copied from the waypoint byte
  for byte), the time that waypoint was taken: the policy was there then. A report on the policy
  made in between is about this very policy (launch/full_budget.py)."""
  written = os.path.getmtime(os.path.join(policy_dir, 'bremen_policy.json'))
  restores = os.path.join(run_dir, RESTORES)
  for record in fileio.read_json(restores) if os.path.isfile(restores) else []:
    # a restore copies the policies before it dates its record (to the second)
    if written <= datetime.datetime.fromisoformat(record['date']).timestamp() + 1:
      return min(written, datetime.datetime.fromisoformat(record['waypoint_date']).timestamp())
  return written


def _require_stopped(run_dir):
  """RunDirError if a process holds the run (runs.RunDir's lock): it replaces its checkpoint as it
  goes, so a waypoint is taken from a stopped run only."""
  lock = os.path.join(run_dir, '.lock')
  if not os.path.exists(lock):
    return
  with open(lock) as f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
      fcntl.flock(f, fcntl.LOCK_UN)
    except BlockingIOError:
      raise RunDirError(f'{run_dir} is running: stop it first (launch/long_runs.sh stop takes the '
                        'waypoints once the runs have stopped).') from None


def _write_npz(path, arrays):
  """An .npz of `arrays` ([(name, array)]) whose bytes depend on the arrays only (np.savez stamps
  each member with the time): the same ensemble saved twice is the same file, one copy in git.
  Stored uncompressed: trained float32 weights deflate by ~1%."""
  with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as archive:
    for name, array in arrays:
      member = zipfile.ZipInfo(name + '.npy', date_time=(1980, 1, 1, 0, 0, 0))
      with archive.open(member, 'w', force_zip64=True) as f:
        np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)


def _bytes_new(tmp, waypoint):
  """The bytes of `tmp`'s files that `waypoint` does not hold identically at the same path: what
  replacing it adds to the repository's history."""
  total = 0
  for directory, _, files in os.walk(tmp):
    for name in files:
      path = os.path.join(directory, name)
      old = os.path.join(waypoint, os.path.relpath(path, tmp))
      if not (os.path.isfile(old) and filecmp.cmp(path, old, shallow=False)):
        total += os.path.getsize(path)
  return total


def save(run_dir, waypoint, keep_adam=False):
  """Writes `run_dir`'s waypoint to `waypoint` (a directory, replaced whole: a kill leaves the old
  one or the new one); returns (its manifest, the bytes in it that the waypoint it replaced did
  not hold). Run it while the run is stopped (a running run replaces its checkpoint under it)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from bremen_tf.data.dataset import load_dataset  # pylint: disable=g-import-not-at-top
  from bremen_tf.deployment_batches import batch_file  # pylint: disable=g-import-not-at-top
  from bremen_tf.dynamics_cache import data_digest  # pylint: disable=g-import-not-at-top
  state = _read_state(run_dir)
  _require_stopped(run_dir)
  if os.path.exists(os.path.join(run_dir, run_archive.DONE_FILE)):
    raise RunDirError(f'{run_dir} has finished: launch/run_archive.py keeps it, not a waypoint.')
  if 'deployment' not in state or 'checkpoint' not in state:
    raise RunDirError(f'{run_dir} is not a deployment run with a checkpoint (stage '
                      f'{state.get("stage")!r}): nothing for a waypoint to carry.')
  prefix = os.path.join(run_dir, 'checkpoints', os.path.basename(state['checkpoint']))
  reader = tf.train.load_checkpoint(prefix)
  shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
  if not any(k.startswith('dynamics/') for k in shapes):
    raise RunDirError(f'{run_dir} has no dynamics ensemble in its checkpoint: waypoints carry '
                      'BREMEN and ME-TRPO deployment runs only.')
  dropped = {k: {'shape': list(shapes[k]), 'dtype': dtypes[k].name} for k in sorted(shapes)
             if not keep_adam and k.startswith(ADAM_PREFIXES)}
  kept = [k for k in sorted(shapes) if k != GRAPH_KEY and k not in dropped]
  files = {ENSEMBLE: [k for k in kept if k.startswith('dynamics/')],
           TENSORS: [k for k in kept if not k.startswith('dynamics/')]}
  policies = sorted(n for n in os.listdir(os.path.join(run_dir, 'policies'))
                    if n.startswith('deployment_')) if os.path.isdir(
                        os.path.join(run_dir, 'policies')) else []
  env_id = fileio.read_json(os.path.join(run_dir, 'run.json'))['description']['env_id']
  batches = [load_dataset(batch_file(run_dir, k), env_id)
             for k in range(1, state['deployment'] + 1)]
  manifest = {
      'format': FORMAT, 'date': _now(), 'run': os.path.abspath(run_dir),
      'stage': state['stage'], 'deployment': state['deployment'],
      'iteration': int(reader.get_tensor('iteration/.ATTRIBUTES/VARIABLE_VALUE')),
      'stage_seconds': stage_seconds(run_dir), 'checkpoint': state['checkpoint'],
      'light_files': run_archive.light_files(run_dir), 'policies': policies,
      'tensor_files': files, 'dropped': dropped, 'keep_adam': keep_adam,
      'batch_sha1': [data_digest([b]) for b in batches],
      'batch_lengths': [len(b) for b in batches]}
  tmp = waypoint + '.writing'
  shutil.rmtree(tmp, ignore_errors=True)
  os.makedirs(tmp)
  for name in manifest['light_files']:
    shutil.copyfile(os.path.join(run_dir, name), os.path.join(tmp, 'files_' + name))
  for name in policies:
    shutil.copytree(os.path.join(run_dir, 'policies', name), os.path.join(tmp, 'policies', name))
  for name, keys in files.items():
    _write_npz(os.path.join(tmp, name),
               [(f't{i}', reader.get_tensor(k)) for i, k in enumerate(keys)])
  with open(os.path.join(tmp, OBJECT_GRAPH), 'wb') as f:
    f.write(reader.get_tensor(GRAPH_KEY))
  fileio.write_json(os.path.join(tmp, MANIFEST), manifest)  # last: a waypoint without it is cut
  for name in (*files, OBJECT_GRAPH, MANIFEST):
    fileio.fsync(os.path.join(tmp, name))
  added = _bytes_new(tmp, waypoint)
  fileio.replace_directory(tmp, waypoint)
  return manifest, added


def _write_checkpoint(prefix, waypoint, manifest):
  """The checkpoint file pair at `prefix` from the waypoint's tensors (dropped ones as zeros),
  written with the saved object graph, so the run's own code restores it as its checkpoint."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tensors = {}
  for name, keys in tensor_files(manifest).items():
    with np.load(os.path.join(waypoint, name)) as arrays:
      tensors.update({k: arrays[f't{i}'] for i, k in enumerate(keys)})
  for k, spec in manifest['dropped'].items():
    tensors[k] = np.zeros(spec['shape'], spec['dtype'])
  with open(os.path.join(waypoint, OBJECT_GRAPH), 'rb') as f:
    tensors[GRAPH_KEY] = f.read()
  names = sorted(tensors)
  os.makedirs(os.path.dirname(prefix), exist_ok=True)
  tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[''] * len(names),
                    tensors=[tf.constant(tensors[k]) for k in names])


def _collect_batches(run_dir, waypoint, manifest, log):
  """Deployments 1..d's batches collected again into run_dir/data, as the run collected them (the
  run's gin config, seed, and each deployment's exported policy); returns (sha1s, lengths)."""
  import gin  # pylint: disable=g-import-not-at-top
  from bremen_tf import envs, experiments, export  # pylint: disable=g-import-not-at-top,unused-import
  from bremen_tf.data.dataset import save_dataset  # pylint: disable=g-import-not-at-top
  from bremen_tf.deployment import policy_functions  # pylint: disable=g-import-not-at-top
  from bremen_tf.deployment_batches import batch_file, collect_batch  # pylint: disable=g-import-not-at-top
  from bremen_tf.dynamics_cache import data_digest  # pylint: disable=g-import-not-at-top
  from bremen_tf.policies import GaussianPolicy  # pylint: disable=g-import-not-at-top
  from bremen_tf.run_models import bound, run_seed, setting  # pylint: disable=g-import-not-at-top
  gin.clear_config()
  gin.parse_config_file(os.path.join(run_dir, 'config.gin'))
  try:
    env_id = bound('train_deployment.env_id', None)
    size = bound('train_deployment.transitions_per_deployment', None)
    n_envs = setting('train_deployment', 'collect_envs')
    seed = run_seed(run_dir)
    spec = envs.get_spec(env_id)
    like = GaussianPolicy(spec.obs_dim, spec.act_dim, name='policy')
    digests, lengths = [], []
    for d in range(1, manifest['deployment'] + 1):
      action_fn = None
      if d > 1:
        policy, _ = export.load_exported_gaussian(
            os.path.join(waypoint, 'policies', f'deployment_{d - 1}'), like)
        action_fn = policy_functions(policy, policy)[1]
      log(f'[waypoint] collecting deployment {d}\'s batch again ({size:,} transitions, '
          f'{"uniform-random actions" if d == 1 else f"the deployment-{d - 1} policy"})')
      batch = collect_batch(env_id, d, action_fn, size, seed, n_envs, log=lambda *_: None)
      save_dataset(batch_file(run_dir, d), batch)
      digests.append(data_digest([batch]))
      lengths.append(len(batch))
  finally:
    gin.clear_config()
  return digests, lengths


def restore(waypoint, run_dir, log=print):
  """Makes `run_dir` (which must not exist) from `waypoint`: light files, checkpoint, exported
  policies, the batches collected again; returns the restore's record (also appended to the run's
  waypoint_restores.json). Built in a sibling directory and renamed at the end, so a kill leaves
  no half run (the next restore starts over)."""
  from bremen_tf import checkpoints, provenance  # pylint: disable=g-import-not-at-top
  manifest = read_manifest(waypoint)
  if os.path.exists(run_dir):
    raise RunDirError(f'{run_dir} exists: a waypoint restores a run only where this machine has '
                      'none (move it away to restore the waypoint instead).')
  missing = [n for n in [*tensor_files(manifest), OBJECT_GRAPH]
             + ['files_' + f for f in manifest['light_files']]
             + [os.path.join('policies', p) for p in manifest['policies']]
             if not os.path.exists(os.path.join(waypoint, n))]
  if missing:
    raise RunDirError(f'{waypoint} lacks {", ".join(missing)}: a damaged waypoint; nothing was '
                      'restored.')
  tmp = run_dir.rstrip('/') + '.restoring'
  shutil.rmtree(tmp, ignore_errors=True)
  os.makedirs(tmp)
  for name in manifest['light_files']:
    shutil.copyfile(os.path.join(waypoint, 'files_' + name), os.path.join(tmp, name))
  state = fileio.read_json(os.path.join(tmp, 'train_state.json'))
  prefix = os.path.join(tmp, 'checkpoints', os.path.basename(state['checkpoint']))
  _write_checkpoint(prefix, waypoint, manifest)
  checkpoints.mark_latest(prefix)
  for name in manifest['policies']:
    shutil.copytree(os.path.join(waypoint, 'policies', name), os.path.join(tmp, 'policies', name))
  digests, lengths = _collect_batches(tmp, waypoint, manifest, log)
  # A fit saved mid-way cannot go on over batches of other lengths (an env with terminations, a
  # new draw): it starts again, warm, from the weights it had reached.
  fit_restarted = state['stage'] == FIT_STAGE and lengths != manifest['batch_lengths']
  if fit_restarted:
    state['stage'] = 'collected'
    state.pop('dynamics_progress', None)
    fileio.write_json(os.path.join(tmp, 'train_state.json'), state)
  record = {'date': _now(), 'git_revision': provenance.git_revision(),
            'machine': provenance.machine(), 'waypoint_date': manifest['date'],
            'stage': manifest['stage'], 'deployment': manifest['deployment'],
            'iteration': manifest['iteration'],
            'dynamics_adam': 'kept' if manifest['keep_adam'] else 'reset to zero (a fresh Adam)',
            'fit_restarted': fit_restarted,
            'batches': [{'deployment': d, 'sha1_saved': a, 'sha1_collected': b, 'identical': a == b,
                         'transitions_saved': n, 'transitions_collected': m}
                        for d, (a, b, n, m) in enumerate(zip(
                            manifest['batch_sha1'], digests, manifest['batch_lengths'], lengths),
                            start=1)]}
  restores_path = os.path.join(tmp, RESTORES)
  earlier = fileio.read_json(restores_path) if os.path.exists(restores_path) else []
  fileio.write_json(restores_path, earlier + [record])
  os.makedirs(os.path.dirname(os.path.abspath(run_dir)), exist_ok=True)
  os.rename(tmp, run_dir)
  return record
