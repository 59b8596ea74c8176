"""Where a result came from: code revision, command, machine, package versions, date."""
import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys

_PACKAGES = ('tensorflow', 'tensorflow-probability', 'gymnasium', 'mujoco', 'numpy', 'gin-config')
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def git_revision():
  """The checkout's commit, with '-dirty' if tracked files differ from it; 'unknown' outside git."""
  try:
    rev = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=REPO_ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()
    dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'],
                           cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    return rev + ('-dirty' if dirty else '')
  except (OSError, subprocess.CalledProcessError):
    return 'unknown'


def package_versions():
  versions = {}
  for name in _PACKAGES:
    try:
      versions[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      versions[name] = None
  return versions


def machine():
  return {'host': platform.node(), 'platform': platform.platform(),
          'processor': platform.processor() or platform.machine(), 'cpus': os.cpu_count(),
          'python': platform.python_version()}


def record(**extra):
  """A provenance dict for a run or an artefact."""
  return {'git_revision': git_revision(), 'command': ' '.join(sys.argv),
          'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
          'machine': machine(), 'packages': package_versions(), **extra}
