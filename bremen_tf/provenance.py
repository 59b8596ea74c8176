"""Where a result came from: code revision, command, machine, package versions, date."""
import datetime
import functools
import importlib.metadata
import os
import platform
import subprocess
import sys

_PACKAGES = ('tensorflow', 'tensorflow-probability', 'gymnasium', 'mujoco', 'numpy', 'gin-config')
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.cache
def git_revision(root=REPO_ROOT):
  """The checkout's commit, with '-dirty' if tracked files that make results (code, gin) differ
  from it; 'unknown' outside git. Generated outputs and prose (results/, *.md anywhere) do not
  count: a script of several reports (launch/full_budget_reports.sh) would otherwise record its
  earlier reports as a dirty tree in every later one. Files under results/ that a report reads
  (an earlier attempt's report, committed policies) are written by scripts too and never edited
  by hand, so their changes are outputs of the session, not code.

  Read once per process: the code that runs is the code as it was when the process first asked
  (the launchers ask at import, in launch_common), so a long run does not record commits made
  while it ran.
  """
  try:
    rev = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=root, capture_output=True,
                         text=True, check=True).stdout.strip()
    dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no', '--', '.',
                            ':(exclude)results', ':(exclude)*.md'],
                           cwd=root, capture_output=True, text=True).stdout.strip()
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


def cpu_model():
  """The CPU's model name (/proc/cpuinfo on Linux), else None: timings depend on it, and the
  machine under a project can change between sessions."""
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return None


def machine():
  return {'host': platform.node(), 'platform': platform.platform(),
          'processor': platform.processor() or platform.machine(), 'cpu_model': cpu_model(),
          'cpus': os.cpu_count(), 'python': platform.python_version()}


def record(**extra):
  """A provenance dict for a run or an artefact."""
  return {'git_revision': git_revision(), 'command': ' '.join(sys.argv),
          'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
          'machine': machine(), 'packages': package_versions(), **extra}
