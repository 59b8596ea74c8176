"""Every committed gin file parses against the package's configurables and passes the validator
(a typo in a binding or an include, or a value the launchers would refuse, fails here, not an hour
into a sweep)."""
import glob
import os

import gin
import pytest

from bremen_tf import experiments, sac_data_policies, validation  # noqa: F401 (gin)
from bremen_tf.data import on_demand  # noqa: F401 (gin)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GIN_FILES = sorted(os.path.relpath(p, REPO_ROOT)
                   for p in glob.glob(os.path.join(REPO_ROOT, 'gin', '**', '*.gin'), recursive=True))


def test_the_gin_tree_is_found():
  assert 'gin/hopper_100k.gin' in GIN_FILES and 'gin/budget/table.gin' in GIN_FILES


@pytest.mark.parametrize('path', GIN_FILES)
def test_gin_file_parses_and_validates(path):
  gin.clear_config()
  gin.add_config_file_search_path(REPO_ROOT)
  try:
    gin.parse_config_files_and_bindings([os.path.join(REPO_ROOT, path)], [])
    validation.validate_gin_config()
    if os.path.dirname(path) in ('gin', 'gin/d4rl'):  # an experiment of launch/offline.py's
      validation.check_required('train_offline')
    elif os.path.dirname(path) == 'gin/deployment' and 'train_deployment.env_id' in open(
        os.path.join(REPO_ROOT, path)).read():  # one of launch/deployment.py's (not an overlay)
      validation.check_required('train_deployment')
  finally:
    gin.clear_config()


def test_a_misspelled_binding_is_an_error(tmp_path):
  bad = tmp_path / 'bad.gin'
  bad.write_text('train_deployment.transitions_per_deploymnet = 5000\n')
  gin.clear_config()
  try:
    with pytest.raises(ValueError, match='transitions_per_deploymnet'):
      gin.parse_config_files_and_bindings([str(bad)], [])
  finally:
    gin.clear_config()


def coverage_grids():
  """The grids launch/coverage_runs.sh sweeps: (kind, cell gin files, algos, seeds, extra gin)."""
  with open(os.path.join(REPO_ROOT, 'launch', 'coverage_runs.sh')) as f:
    text = f.read().replace('\\\n', ' ')
  grids = []
  for line in text.splitlines():
    words = line.split()
    if words[:1] == ['sweep'] and words[1] in ('offline', 'deployment'):
      kind, cells, algos, seeds, *extra = words[1:]
      grids.append((kind, cells.split(','), algos.split(','), seeds.split(','), extra))
  return grids


def test_every_combination_of_the_coverage_runs_parses_and_validates():
  """Issue 20's runs: each cell x algorithm x budget the script sweeps parses and validates as
  one config (the order launch/sweep.py gives the launcher), and is run by the nice-19 sweep."""
  from bremen_tf.sweep_algos import SWEEP_ALGOS  # pylint: disable=g-import-not-at-top
  grids = coverage_grids()
  combos = {(kind, cell, algo, tuple(extra)) for kind, cells, algos, _, extra in grids
            for cell in cells for algo in algos}
  envs = {cell.split('/')[-1].split('_')[0] for kind, cell, _, _ in combos if kind == 'offline'}
  assert envs == {'walker2d', 'ant'}
  assert {a for kind, _, a, _ in combos if kind == 'offline'} == set(SWEEP_ALGOS['offline'])
  assert len([c for c in combos if c[0] == 'offline']) == 4 * 5
  assert ('deployment', 'gin/deployment/handreach.gin', 'bremen',
          ('gin/budget/handreach.gin',)) in combos
  for budget in ('gin/budget/fetchreach.gin', 'gin/budget/fetchreach_small_batch.gin'):
    assert ('deployment', 'gin/deployment/fetchreach.gin', 'me_trpo', (budget,)) in combos
  for algo in ('bremen', 'alpha_0.1', 'alpha_1.0'):
    assert ('deployment', 'gin/deployment/halfcheetah_200k.gin', algo,
            ('gin/budget/deployment.gin',)) in combos
  assert all(seeds == ['0', '1', '2'] for kind, _, _, seeds, _ in grids if kind == 'offline')
  for kind, cell, algo, extra in sorted(combos):
    files = [cell] + ([SWEEP_ALGOS[kind][algo]] if SWEEP_ALGOS[kind][algo] else []) + list(extra)
    gin.clear_config()
    gin.add_config_file_search_path(REPO_ROOT)
    try:
      gin.parse_config_files_and_bindings([os.path.join(REPO_ROOT, f) for f in files], [])
      validation.validate_gin_config()
      validation.check_required({'offline': 'train_offline', 'deployment': 'train_deployment'}[kind])
      if 'table.gin' in ' '.join(extra):
        assert gin.query_parameter('train_offline.outer_iterations') == 4
      if algo.startswith('alpha_'):
        assert gin.query_parameter('ImaginedTRPO.alpha') == float(algo.split('_')[1])
        assert gin.query_parameter('train_deployment.policy_init') == 'random'
    finally:
      gin.clear_config()
  with open(os.path.join(REPO_ROOT, 'launch', 'coverage_runs.sh')) as f:
    script = f.read()
  assert 'nice -n 19 "$PY" launch/sweep.py' in script and '--threads_per_run=1' in script
