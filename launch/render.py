"""Renders one episode of an exported policy to a video (.mp4 or .gif).

  MUJOCO_GL=egl python launch/render.py --policy_dir=runs/offline/hopper_100k/seed0/policy --out=hopper.mp4
  python launch/render.py --policy_dir=runs/offline/hopper_100k/seed0/policy --out=hopper.gif \
      --max_steps=300 --width=320 --height=320 --seed=1

The policy acts deterministically (the exported mean, clipped to the action bounds) from the env
reset with --seed; the episode's return and length are printed. The env defaults to the one in the
policy's bremen_policy.json. The view is the model's 'track' camera, which follows the agent
(--camera=free: gymnasium's default view, which does not). Frames are written to a temporary file
beside --out, which is renamed onto --out only when the video is complete.

Headless rendering: MUJOCO_GL selects the OpenGL backend. Unset, EGL is used and OSMesa is tried if
EGL fails; set it (egl, osmesa, glfw) to use exactly that backend.

Two processes: TensorFlow's shared library exports its own copy of LLVM, and Mesa's software
renderer (llvmpipe, what EGL and OSMesa use without a GPU) links the system LLVM; in one process
the renderer calls into TensorFlow's LLVM and crashes (SIGSEGV in mjr_makeContext). So this process
runs the policy and the physics without ever creating an OpenGL context and records the simulator
state (qpos, qvel) after reset and after every step; a fresh process that never imports TensorFlow
rebuilds the MuJoCo env, renders each recorded state with env.render() and writes the video. A
frame shows the state exactly (gymnasium's own render after a step shows the body positions from
the start of the last physics substep, a few milliseconds earlier).
"""
import ctypes.util
import importlib.util
import json
import math
import multiprocessing
import os
import pickle
import sys
import time

from absl import flags
import numpy as np

import launch_common

VIDEO_FORMATS = ('.mp4', '.gif')
POLICY_METADATA = 'bremen_policy.json'  # = bremen_tf.export.METADATA_FILE (that module loads TF)
GIF_MAX_FPS = 50  # GIF delays are whole centiseconds and browsers slow down delays under 20 ms

flags.DEFINE_string('policy_dir', None, 'An exported policy directory (has bremen_policy.json).')
flags.DEFINE_string('out', None, 'The video to write: a path ending in .mp4 or .gif.')
flags.DEFINE_string('env_id', None, "Environment (default: the policy metadata's env_id).")
flags.DEFINE_integer('max_steps', 1000, 'Episode length cap (the env time limit still applies).')
flags.DEFINE_float('fps', None, "Frames per second (default: the env's render_fps, else 30). A GIF "
                   f'keeps every k-th frame to stay at or below {GIF_MAX_FPS} fps.')
flags.DEFINE_integer('width', 480, 'Frame width in pixels.')
flags.DEFINE_integer('height', 480, 'Frame height in pixels.')
flags.DEFINE_string('camera', 'track', "A camera of the MuJoCo model, or 'free' for gymnasium's "
                    "default view. The default 'track' (every locomotion model here has it) "
                    "follows the agent; gymnasium's default view stays put and the agent soon "
                    'runs out of the frame.')
flags.mark_flags_as_required(['policy_dir', 'out'])
# --seed (default 0: the env reset seed here) and --tf_threads come from launch_common; its gin
# flags are not used.
flags.declare_key_flag('seed')
flags.declare_key_flag('tf_threads')
FLAGS = flags.FLAGS


def check_flags():
  """Everything that can be checked before TensorFlow is imported; returns (format, metadata)."""
  fmt = os.path.splitext(FLAGS.out)[1].lower()
  if fmt not in VIDEO_FORMATS:
    sys.exit(f'error: --out must end in .mp4 or .gif, got {FLAGS.out!r}.')
  if os.path.isdir(FLAGS.out):
    sys.exit(f'error: --out {FLAGS.out} is a directory.')
  if FLAGS.width < 1 or FLAGS.height < 1:
    sys.exit(f'error: --width and --height must be positive, got {FLAGS.width}x{FLAGS.height}.')
  if fmt == '.mp4' and (FLAGS.width % 2 or FLAGS.height % 2):
    sys.exit(f'error: an .mp4 (H.264, yuv420p) needs an even --width and --height, got '
             f'{FLAGS.width}x{FLAGS.height}.')
  if FLAGS.max_steps < 1:
    sys.exit(f'error: --max_steps must be at least 1, got {FLAGS.max_steps}.')
  if FLAGS.fps is not None and not FLAGS.fps > 0:
    sys.exit(f'error: --fps must be positive, got {FLAGS.fps}.')
  needed = ['imageio', 'imageio_ffmpeg'] if fmt == '.mp4' else ['PIL']
  missing = [m for m in needed if importlib.util.find_spec(m) is None]
  if missing:
    pip = {'imageio': 'imageio', 'imageio_ffmpeg': 'imageio-ffmpeg', 'PIL': 'pillow'}
    sys.exit(f'error: writing {fmt} needs {", ".join(missing)}: pip install '
             + ' '.join(pip[m] for m in missing))

  path = FLAGS.policy_dir
  if not os.path.exists(path):
    sys.exit(f'error: --policy_dir {path} does not exist.')
  meta_path = os.path.join(path, POLICY_METADATA)
  if not os.path.isfile(meta_path):
    sys.exit(f'error: {path} is not an exported policy: {POLICY_METADATA} is missing (it is '
             'written by bremen_tf.export.export_policy, e.g. into <run dir>/policy).')
  try:
    with open(meta_path) as f:
      meta = json.load(f)
  except (OSError, ValueError) as e:
    sys.exit(f'error: cannot read {meta_path}: {e}')
  for key in ('obs_dim', 'act_dim'):
    if not isinstance(meta.get(key), int):
      sys.exit(f'error: {meta_path} has no integer {key!r}; is {path} an exported policy?')
  return fmt, meta


def make_env(env_id, width, height, size_given, camera):
  """The env with render_mode='rgb_array', width/height if it takes them and the camera."""
  from bremen_tf import envs
  import mujoco
  try:
    envs.get_spec(env_id)
  except ValueError as e:
    sys.exit(f'error: {e}')
  kwargs = {'render_mode': 'rgb_array'}
  if camera != 'free':
    kwargs['camera_name'] = camera
  try:
    env = envs.make(env_id, width=width, height=height, **kwargs)
  except TypeError as e:
    if 'width' not in str(e) and 'height' not in str(e):
      raise
    if size_given:
      sys.exit(f'error: {env_id} does not take width/height, so --width/--height cannot be used.')
    env = envs.make(env_id, **kwargs)
  model = env.unwrapped.model
  if camera != 'free' and mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera) < 0:
    names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_CAMERA, i) for i in range(model.ncam)]
    sys.exit(f'error: {env_id} has no camera {camera!r}; its cameras: '
             f'{", ".join(repr(n) for n in names) or "none"}, or \'free\'.')
  return env


def run_episode(env, action_fn, seed, max_steps):
  """Deterministic episode; returns (return, length, end reason, qpos [T+1, nq], qvel [T+1, nv])."""
  sim = env.unwrapped
  low, high = env.action_space.low, env.action_space.high
  obs, _ = env.reset(seed=seed)
  qpos, qvel = [sim.data.qpos.copy()], [sim.data.qvel.copy()]
  total, reason = 0.0, f'--max_steps={max_steps}'
  for t in range(max_steps):
    action = action_fn(np.asarray(obs, np.float32)[None])[0]
    if not np.all(np.isfinite(action)):
      sys.exit(f'error: the policy returned a non-finite action at step {t}: {action}')
    obs, reward, terminated, truncated, _ = env.step(np.clip(action, low, high))
    total += float(reward)
    qpos.append(sim.data.qpos.copy())
    qvel.append(sim.data.qvel.copy())
    if terminated or truncated:
      reason = 'terminated' if terminated else 'time limit'
      break
  return total, len(qpos) - 1, reason, np.stack(qpos), np.stack(qvel)


def gif_schedule(n_states, fps):
  """(indices of the states to show, per-frame delays in ms) for a GIF at about `fps`.

  Above GIF_MAX_FPS every k-th state is kept. Delays are multiples of 10 ms chosen so the
  cumulative time stays within 5 ms of real time at `fps`.
  """
  k = max(1, math.ceil(fps / GIF_MAX_FPS - 1e-9))
  index = list(range(0, n_states, k))
  ticks = [round(100.0 * i * k / fps) for i in range(len(index) + 1)]  # centiseconds
  return index, [10 * (b - a) for a, b in zip(ticks[:-1], ticks[1:])]


def _render_worker(conn, backend, env_bytes, qpos, qvel, index, path, fmt, fps, durations):
  """Runs in a fresh process (no TensorFlow): renders the states qpos[i], qvel[i] for i in
  `index` and writes the video to `path`. Reports to `conn`: ('started',) after the first frame,
  then ('done', frames, width, height) or ('error', message); ('backend_error', message) if not
  even the first frame could be rendered."""
  os.environ['MUJOCO_GL'] = backend  # before mujoco is imported (by the unpickling below)
  if backend in ('egl', 'osmesa'):
    os.environ['PYOPENGL_PLATFORM'] = backend
  try:
    env = pickle.loads(env_bytes)  # the bare MuJoCo env, rebuilt from its constructor arguments
    env.set_state(qpos[index[0]], qvel[index[0]])
    first = env.render()
    if first is None or first.ndim != 3:
      raise RuntimeError(f'env.render() returned {type(first).__name__}, not an RGB frame')
  except Exception as e:  # pylint: disable=broad-except
    conn.send(('backend_error', f'{type(e).__name__}: {e}'))
    conn.close()
    os._exit(0)  # skip the env's destructors: they print tracebacks for a half-made GL context
  conn.send(('started',))
  try:
    milestones = {len(index) * q // 4 for q in (1, 2, 3)} if len(index) >= 100 else set()
    if fmt == '.mp4':
      import imageio.v2 as imageio
      writer = imageio.get_writer(path, format='FFMPEG', mode='I', fps=fps, codec='libx264',
                                  pixelformat='yuv420p', quality=7, macro_block_size=2,
                                  ffmpeg_log_level='error')
      with writer:
        writer.append_data(first)
        for n, i in enumerate(index[1:], 2):
          env.set_state(qpos[i], qvel[i])
          writer.append_data(env.render())
          if n in milestones:
            print(f'  {n}/{len(index)} frames', flush=True)
    else:
      from PIL import Image

      def to_gif_frame(frame):  # 1 byte per pixel while all frames wait for the GIF encoder
        return Image.fromarray(frame).convert('P', palette=Image.Palette.ADAPTIVE, colors=256)

      frames = [to_gif_frame(first)]
      for n, i in enumerate(index[1:], 2):
        env.set_state(qpos[i], qvel[i])
        frames.append(to_gif_frame(env.render()))
        if n in milestones:
          print(f'  {n}/{len(index)} frames', flush=True)
      frames[0].save(path, format='GIF', save_all=True, append_images=frames[1:],
                     duration=durations if len(durations) > 1 else durations[0], loop=0)
    env.close()
    conn.send(('done', len(index), first.shape[1], first.shape[0]))
  except Exception as e:  # pylint: disable=broad-except
    conn.send(('error', f'{type(e).__name__}: {e}'))
  conn.close()


def _render_once(ctx, backend, job):
  """One rendering process with MUJOCO_GL=backend: ('done', (frames, width, height)), or
  ('backend', why) if it could not render a single frame, or ('error', why) if it failed later."""
  library = {'egl': 'EGL', 'osmesa': 'OSMesa'}.get(backend)
  if library and ctypes.util.find_library(library) is None:
    return 'backend', f'lib{library} is not installed'
  print(f'Rendering {len(job[3])} frames with MUJOCO_GL={backend}', flush=True)
  receiver, sender = ctx.Pipe(duplex=False)
  os.environ['MUJOCO_GL'] = backend  # inherited by the new process (which sets it again)
  proc = ctx.Process(target=_render_worker, args=(sender, backend, *job))
  proc.start()
  sender.close()
  messages = []
  while not messages or messages[-1][0] not in ('done', 'error', 'backend_error'):
    try:
      messages.append(receiver.recv())
    except EOFError:  # the process ended without a final word: it crashed
      break
  proc.join()
  receiver.close()
  crash = f'the rendering process died with exit code {proc.exitcode}'
  if not messages:
    return 'backend', crash
  kind, *payload = messages[-1]
  if kind == 'done':
    return 'done', tuple(payload)
  if kind == 'backend_error':
    return 'backend', payload[0]
  return 'error', payload[0] if kind == 'error' else crash


def render_video(env, qpos, qvel, index, out, fmt, fps, durations, backends):
  """Renders in a fresh process with the first backend that works; writes `out` atomically.
  Returns ((frames, width, height), backend)."""
  from bremen_tf import fileio  # NumPy only
  try:
    env_bytes = pickle.dumps(env.unwrapped)
  except Exception as e:  # pylint: disable=broad-except
    sys.exit(f'error: cannot hand {type(env.unwrapped).__name__} to the rendering process '
             f'(pickling failed: {e}).')
  ctx = multiprocessing.get_context('spawn')
  failures = []
  with fileio.atomic_path(out) as tmp:
    for n, backend in enumerate(backends):
      status, result = _render_once(ctx, backend, (env_bytes, qpos, qvel, index, tmp, fmt, fps,
                                                   durations))
      if status == 'done':
        return result, backend
      if status == 'error':
        sys.exit(f'error: rendering {out} with MUJOCO_GL={backend} failed: {result}')
      failures.append(f'MUJOCO_GL={backend}: {result}')
      if n + 1 < len(backends):
        print(f'MUJOCO_GL={backend} does not work here ({result}); trying '
              f'MUJOCO_GL={backends[n + 1]}', flush=True)
    sys.exit('error: no headless OpenGL rendering: ' + '; '.join(failures) + '.\n'
             'Install EGL (Debian/Ubuntu: apt-get install libegl1 libgl1-mesa-dri, or a GPU '
             'driver with EGL) or OSMesa (apt-get install libosmesa6), or with a display set '
             'MUJOCO_GL=glfw.')


def main(argv):
  if len(argv) > 1:
    sys.exit(f'error: unexpected arguments {argv[1:]}.')
  launch_common.quiet_logs()
  launch_common.check_tool_flags()
  fmt, meta = check_flags()
  requested_gl = os.environ.get('MUJOCO_GL')
  backends = [requested_gl] if requested_gl else ['egl', 'osmesa']
  # This process never renders: no OpenGL library beside TensorFlow (see the module docstring).
  os.environ['MUJOCO_GL'] = 'disable'

  env_id = FLAGS.env_id or meta.get('env_id')
  if not env_id:
    sys.exit(f'error: {FLAGS.policy_dir}/{POLICY_METADATA} names no env_id; pass --env_id.')
  size_given = FLAGS['width'].present or FLAGS['height'].present
  env = make_env(env_id, FLAGS.width, FLAGS.height, size_given, FLAGS.camera)
  obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
  if (meta['obs_dim'], meta['act_dim']) != (obs_dim, act_dim):
    sys.exit(f'error: the policy in {FLAGS.policy_dir} takes obs_dim={meta["obs_dim"]} '
             f'(act_dim={meta["act_dim"]}) but {env_id} has obs_dim={obs_dim} '
             f'(act_dim={act_dim}); pass the --env_id it was trained on '
             f'(its metadata says {meta.get("env_id")!r}).')
  if meta.get('env_id') and meta['env_id'] != env_id:
    print(f'Note: the policy was exported for {meta["env_id"]}; rendering it in {env_id}.',
          flush=True)
  fps = FLAGS.fps or env.metadata.get('render_fps') or 30

  launch_common.configure_tf()
  from bremen_tf import export
  try:
    action_fn, _ = export.load_policy(FLAGS.policy_dir)
  except Exception as e:  # pylint: disable=broad-except
    sys.exit(f'error: cannot load the SavedModel in {FLAGS.policy_dir}: {type(e).__name__}: {e}')
  print(f'Policy {FLAGS.policy_dir} ({meta.get("env_id", "?")}, obs {obs_dim}, act {act_dim})',
        flush=True)

  start = time.time()
  total, length, reason, qpos, qvel = run_episode(env, action_fn, FLAGS.seed, FLAGS.max_steps)
  env.close()
  print(f'Episode on {env_id} (seed {FLAGS.seed}): return {total:.2f}, length {length} '
        f'({reason}), {time.time() - start:.1f} s', flush=True)

  if fmt == '.gif':
    index, durations = gif_schedule(len(qpos), fps)
    if len(index) < len(qpos):
      k = index[1] - index[0]
      print(f'GIF: every {k} of the {len(qpos)} states at {fps / k:.3g} fps (GIF players show at '
            f'most {GIF_MAX_FPS} fps); real-time playback.', flush=True)
  else:
    index, durations = list(range(len(qpos))), None
  start = time.time()
  (frames, width, height), backend = render_video(env, qpos, qvel, index, FLAGS.out, fmt, fps,
                                                   durations, backends)
  shown_fps = fps / (index[1] - index[0]) if len(index) > 1 else fps
  print(f'Wrote {FLAGS.out}: {frames} frames {width}x{height} at {shown_fps:.3g} fps, '
        f'{os.path.getsize(FLAGS.out) / 1e6:.2f} MB (MUJOCO_GL={backend}, '
        f'{time.time() - start:.1f} s)', flush=True)


if __name__ == '__main__':
  launch_common.run(main)
