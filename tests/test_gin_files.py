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
