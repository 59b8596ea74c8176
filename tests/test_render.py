"""launch/render.py end to end: a tiny exported policy rendered headless to .gif and .mp4."""
import os
import re
import subprocess
import sys

import pytest

from bremen_tf import export
from bremen_tf.policies import GaussianPolicy

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def render(*args):
  env = {**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2', 'MUJOCO_GL': 'egl'}
  return subprocess.run([sys.executable, os.path.join('launch', 'render.py'), *args], cwd=REPO,
                        capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope='module')
def policy_dir(tmp_path_factory):
  path = str(tmp_path_factory.mktemp('export') / 'policy')
  return export.export_policy(GaussianPolicy(11, 3, hidden=(8,)), path,
                              {'env_id': 'bremen/Hopper-v0'})


def episode_length(stdout):
  return int(re.search(r'length (\d+) ', stdout).group(1))


def test_gif(policy_dir, tmp_path):
  from PIL import Image
  out = render(f'--policy_dir={policy_dir}', f'--out={tmp_path / "x.gif"}', '--max_steps=20',
               '--width=64', '--height=64')
  assert out.returncode == 0, out.stderr
  assert 'MUJOCO_GL=egl' in out.stdout
  # Hopper renders at 125 fps; a GIF keeps every 3rd of the 21 states (reset + 20 steps).
  assert episode_length(out.stdout) == 20 and ': 7 frames 64x64' in out.stdout
  with Image.open(tmp_path / 'x.gif') as gif:
    assert gif.format == 'GIF' and gif.size == (64, 64)
    assert 1 <= gif.n_frames <= 7  # Pillow may merge identical consecutive frames
  assert os.listdir(tmp_path) == ['x.gif']  # no temporary file left behind


def test_mp4(policy_dir, tmp_path):
  pytest.importorskip('imageio_ffmpeg')
  import imageio.v2 as imageio
  path = tmp_path / 'sub' / 'x.mp4'
  out = render(f'--policy_dir={policy_dir}', f'--out={path}', '--max_steps=20', '--width=64',
               '--height=64', '--camera=free')
  assert out.returncode == 0, out.stderr
  with imageio.get_reader(path, format='FFMPEG') as reader:
    assert reader.get_meta_data()['size'] == (64, 64)
    assert reader.get_meta_data()['fps'] == 125
    assert reader.count_frames() == episode_length(out.stdout) + 1
  assert os.listdir(path.parent) == ['x.mp4']


def test_errors(policy_dir, tmp_path):
  out = render(f'--policy_dir={policy_dir}', f'--out={tmp_path / "x.avi"}')
  assert out.returncode != 0 and '.mp4 or .gif' in out.stderr
  out = render(f'--policy_dir={tmp_path / "missing"}', f'--out={tmp_path / "x.gif"}')
  assert out.returncode != 0 and f'{tmp_path / "missing"} does not exist' in out.stderr
  out = render(f'--policy_dir={tmp_path}', f'--out={tmp_path / "x.gif"}')
  assert out.returncode != 0 and f'{tmp_path} is not an exported policy' in out.stderr
  # A Hopper policy (11 observations) cannot drive HalfCheetah (17).
  out = render(f'--policy_dir={policy_dir}', f'--out={tmp_path / "x.gif"}',
               '--env_id=bremen/HalfCheetah-v0')
  assert out.returncode != 0 and 'obs_dim=11' in out.stderr and 'obs_dim=17' in out.stderr
  assert os.listdir(tmp_path) == []
