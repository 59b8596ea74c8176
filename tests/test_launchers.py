"""The launchers end to end, as a user runs them: artefacts, resume, refusal to clobber, errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bremen_tf.data import shipped_policies
import conftest
from conftest import write_untrained_policy

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_SAC = ['--gin_file=gin/behavior/hopper.gin',
            '--gin_bindings=train_behavior_policy.initial_random_steps=300',
            '--gin_bindings=train_behavior_policy.eval_every=100',
            '--gin_bindings=train_behavior_policy.eval_episodes=2',
            '--gin_bindings=train_behavior_policy.checkpoint_every=100',
            '--gin_bindings=Sac.q_hidden=(32, 32)', '--gin_bindings=Sac.actor_hidden=(32, 32)']


def launch(name, *args):
  env = {**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'}
  return subprocess.run([sys.executable, os.path.join('launch', name), *args], cwd=REPO,
                        capture_output=True, text=True, env=env, timeout=300)


def run_here(capsys, name, *args):
  """launch/<name>.py's main in this process (conftest.run_here); returns what it printed."""
  capsys.readouterr()
  conftest.run_here(name, *args)
  return capsys.readouterr().out


def test_train_behavior_resumes_then_finishes_and_refuses_to_clobber(tmp_path):
  root = str(tmp_path / 'sac')
  # Unreachable threshold, 200 steps: no partial policy, the run stays unfinished.
  out = launch('train_behavior.py', *TINY_SAC, f'--root_dir={root}',
               '--gin_bindings=train_behavior_policy.total_steps=200',
               '--gin_bindings=train_behavior_policy.target_return=1e9')
  assert out.returncode == 1, out.stderr
  assert 'no partial policy' in out.stdout
  assert os.path.exists(os.path.join(root, 'train_state.json'))
  assert not os.path.exists(os.path.join(root, 'DONE'))
  # What the run is, for the report scripts (run.json, as every launcher writes it).
  first = json.load(open(os.path.join(root, 'run.json')))['description']
  assert (first['kind'], first['env_id'], first['seed']) == ('behavior', 'bremen/Hopper-v0', 0)
  assert first['budget']['train_behavior_policy.total_steps'] == 200

  # Same run, reachable threshold: resumes from step 200 and finds the partial policy.
  out = launch('train_behavior.py', *TINY_SAC, f'--root_dir={root}',
               '--gin_bindings=train_behavior_policy.total_steps=1000',
               '--gin_bindings=train_behavior_policy.target_return=-1e9')
  assert out.returncode == 0, out.stderr
  assert 'Resuming bremen/Hopper-v0 from step 200' in out.stdout
  # The eval at step 200 (before the restart) and the one at 300 make two in a row.
  assert 'partial policy found at step 300' in out.stdout
  for name in ('DONE', 'metrics.csv', 'provenance.json', 'config.gin', 'operative_config.gin',
               'partial_policy/policy.json', 'partial_policy/policy.index'):
    assert os.path.exists(os.path.join(root, name)), name
  steps = [int(r.split(',')[0]) for r in open(os.path.join(root, 'metrics.csv')).read().split()[1:]]
  assert steps == [100, 200, 300]
  meta = json.load(open(os.path.join(root, 'partial_policy', 'policy.json')))
  assert meta['sac_steps'] == 300 and meta['env_steps'] == 600
  assert meta['actor']['hidden'] == [32, 32]
  actor, _ = shipped_policies.load_behavior_policy('bremen/Hopper-v0', os.path.join(root, 'partial_policy'))
  assert actor.mode(np.zeros((2, 11), np.float32)).shape == (2, 3)
  assert len(json.load(open(os.path.join(root, 'provenance.json')))['sessions']) == 2
  # The resume changed the config: run.json stays as written; the reader describes config.gin.
  assert json.load(open(os.path.join(root, 'run.json')))['description'] == first
  from bremen_tf.reporting import run_reader  # pylint: disable=g-import-not-at-top
  assert run_reader.description(root)['budget']['train_behavior_policy.total_steps'] == 1000

  out = launch('train_behavior.py', *TINY_SAC, f'--root_dir={root}')
  assert out.returncode != 0 and 'finished run' in out.stderr


def test_collect_data_writes_datasets_and_rejects_bad_flags(tmp_path, capsys):
  policy_dir = str(tmp_path / 'policy')
  write_untrained_policy(policy_dir, 'bremen/Walker2d-v0')
  stdout = run_here(capsys, 'collect_data', '--env_id=bremen/Walker2d-v0', '--noise=pure,random',
                    '--size=3k', f'--data_dir={tmp_path / "data"}',
                    f"--gin_bindings=get_dataset.behavior_policy_dir='{policy_dir}'")
  for noise in ('pure', 'random'):
    path = tmp_path / 'data' / 'bremen_Walker2d-v0' / f'{noise}_3000_seed0.npz'
    with np.load(path) as f:
      assert f['observations'].shape == (3000, 17)
  assert 'bremen/Walker2d-v0 pure 3,000: 3,000 transitions' in stdout

  out = launch('collect_data.py', '--noise=bogus', f'--data_dir={tmp_path}')
  assert out.returncode != 0 and "Unknown noise 'bogus'" in out.stderr
  out = launch('collect_data.py', '--gin_file=gin/nonexistent.gin')
  assert out.returncode != 0 and 'gin/nonexistent.gin does not exist' in out.stderr


def test_report_scripts_write_their_tables(tmp_path, capsys):
  run_here(capsys, 'reward_match', '--episodes=1', '--env_id=bremen/Hopper-v0,Hopper-v5',
           f'--out={tmp_path / "match.md"}', '--noupdate_docs')
  text = (tmp_path / 'match.md').read_text()
  assert 'git revision' in text and text.count('| bremen/Hopper-v0 |') == 2
  assert (tmp_path / 'match.csv').exists()

  run_here(capsys, 'behavior_report', '--size=2k', f'--data_dir={tmp_path / "data"}',
           f'--out={tmp_path / "behavior.md"}')
  text = (tmp_path / 'behavior.md').read_text()
  for env in ('Ant', 'HalfCheetah', 'Hopper', 'Walker2d'):
    assert f'| bremen/{env}-v0 |' in text


def test_report_scripts_refuse_bad_flags_before_any_episode(tmp_path, capsys):
  from bremen_tf.errors import ConfigError  # pylint: disable=g-import-not-at-top
  for name, argv, message in (
      ('reward_match', ['--env_id=bremen/Hopper-v0,Hoper-v5'],
       "--env_id: Unknown env_id 'Hoper-v5'"),
      ('reward_match', [f'--out={tmp_path}/match.txt'], '--out must end in .md'),
      ('behavior_report', [f'--out={tmp_path}/b.txt'], '--out must end in .md')):
    with pytest.raises(ConfigError, match=message):
      run_here(capsys, name, '--episodes=1' if name == 'reward_match' else '--size=2k',
               '--noupdate_docs' if name == 'reward_match' else f'--data_dir={tmp_path}', *argv)
    assert 'bremen/Hopper-v0 | random' not in capsys.readouterr().out  # no episode ran
  assert os.listdir(tmp_path) == []


def test_a_launcher_runs_the_library_of_its_own_checkout(tmp_path):
  """A run started from a frozen copy of the repository imports that copy's bremen_tf, not the
  tree `pip install -e` points at; a process that has already imported another one is refused."""
  import shutil  # pylint: disable=g-import-not-at-top
  copy = tmp_path / 'frozen'
  shutil.copytree(os.path.join(REPO, 'bremen_tf'), copy / 'bremen_tf',
                  ignore=shutil.ignore_patterns('__pycache__'))
  (copy / 'launch').mkdir()
  shutil.copy(os.path.join(REPO, 'launch', 'launch_common.py'), copy / 'launch')
  (copy / 'launch' / 'which.py').write_text(
      'import launch_common\nimport bremen_tf\nprint(bremen_tf.__file__)\n')
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  out = subprocess.run([sys.executable, 'launch/which.py'], cwd=copy, capture_output=True,
                       text=True, env=env, timeout=120)
  assert out.returncode == 0, out.stderr
  assert out.stdout.strip() == str(copy / 'bremen_tf' / '__init__.py')
  mixed = ('import sys, bremen_tf; sys.path.insert(0, sys.argv[1]); import launch_common')
  out = subprocess.run([sys.executable, '-c', mixed, str(copy / 'launch')], cwd=tmp_path,
                       capture_output=True, text=True, env=env, timeout=120)
  assert out.returncode == 1
  assert f'This launcher is in {copy}, but bremen_tf was already imported from' in out.stderr
