"""The git revision recorded with results: clean/dirty, and fixed at the process's first ask."""
import subprocess

from bremen_tf import provenance


def _git(root, *args):
  subprocess.run(['git', '-c', 'user.name=t', '-c', 'user.email=t@t', *args], cwd=root,
                 check=True, capture_output=True)


def committed_repo(path, files):
  """A git repository at `path` with `files` (relative paths) committed; returns its HEAD."""
  _git(str(path), 'init', '-q')
  for name in files:
    (path / name).parent.mkdir(parents=True, exist_ok=True)
    (path / name).write_text('old\n')
  _git(str(path), 'add', '.')
  _git(str(path), 'commit', '-q', '-m', 'first')
  return subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=str(path), capture_output=True,
                        text=True, check=True).stdout.strip()


def test_revision_is_read_once_so_a_scripts_own_outputs_do_not_make_it_dirty(tmp_path):
  root = str(tmp_path)
  head = committed_repo(tmp_path, ('results/table.csv', 'README.md', 'code.py'))
  assert provenance.git_revision(root) == head
  (tmp_path / 'code.py').write_text('edited\n')
  assert provenance.git_revision(root) == head  # what the process ran
  assert provenance.git_revision.__wrapped__(root) == head + '-dirty'  # a fresh read sees it


def test_generated_results_and_prose_do_not_make_the_tree_dirty(tmp_path):
  """launch/full_budget_reports.sh runs several reports, each a process: a later one must not
  record the earlier ones' outputs as a dirty tree."""
  root = str(tmp_path)
  head = committed_repo(tmp_path, ('results/table.csv', 'README.md', 'gin/cell.gin'))
  (tmp_path / 'results' / 'table.csv').write_text('regenerated\n')
  (tmp_path / 'README.md').write_text('regenerated\n')
  assert provenance.git_revision.__wrapped__(root) == head
  (tmp_path / 'gin' / 'cell.gin').write_text('edited\n')  # a config makes results: it counts
  assert provenance.git_revision.__wrapped__(root) == head + '-dirty'


def test_revision_outside_git_is_unknown(tmp_path):
  assert provenance.git_revision(str(tmp_path)) == 'unknown'


def test_the_cpu_model_is_recorded_in_every_result_header(monkeypatch):
  """Timings depend on the CPU, and the machine under the project can change between sessions."""
  from bremen_tf import results  # pylint: disable=g-import-not-at-top
  real_open = open
  cpuinfo = 'processor\t: 0\nvendor_id\t: X\nmodel name\t: Test CPU 9000 @ 3 GHz\nflags\t: fpu\n'

  def fake_open(path, *args, **kwargs):
    if path == '/proc/cpuinfo':
      import io  # pylint: disable=g-import-not-at-top
      return io.StringIO(cpuinfo)
    return real_open(path, *args, **kwargs)

  monkeypatch.setattr('builtins.open', fake_open)
  assert provenance.cpu_model() == 'Test CPU 9000 @ 3 GHz'
  assert provenance.machine()['cpu_model'] == 'Test CPU 9000 @ 3 GHz'
  header = results.provenance_header('x')
  assert '- machine: ' in header and ' CPUs (Test CPU 9000 @ 3 GHz), ' in header
  cpuinfo = 'processor\t: 0\n'  # no model name (e.g. some ARM kernels): left out, no error
  assert provenance.cpu_model() is None
  assert ' CPUs, ' in results.provenance_header('x')
