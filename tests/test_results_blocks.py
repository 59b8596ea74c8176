"""Script-owned blocks of Markdown files (bremen_tf/results.py): replaced in place, appended under
a heading when asked, read back; a missing block without a heading is an error."""
import pytest

from bremen_tf import results


def test_a_block_is_replaced_appended_and_read_back(tmp_path):
  readme = tmp_path / 'README.md'
  readme.write_text('# Title\n\nbefore\n<!-- hours:start -->\nold\n<!-- hours:end -->\nafter\n')
  results.replace_block(str(readme), 'hours', 'new 1\nnew 2\n')
  assert readme.read_text() == ('# Title\n\nbefore\n<!-- hours:start -->\nnew 1\nnew 2\n'
                                '<!-- hours:end -->\nafter\n')
  assert results.read_block(str(readme), 'hours') == 'new 1\nnew 2\n'

  perf = tmp_path / 'performance.md'
  perf.write_text('# Performance\n\n| a |\n')
  with pytest.raises(ValueError, match='has no <!-- hours:start/end --> block'):
    results.replace_block(str(perf), 'hours', 'x\n')
  assert perf.read_text() == '# Performance\n\n| a |\n'  # nothing written
  results.replace_block(str(perf), 'hours', 'table\n', heading='## Hours')
  results.replace_block(str(perf), 'hours', 'table 2\n', heading='## Hours')  # no second block
  assert perf.read_text() == ('# Performance\n\n| a |\n\n## Hours\n\n<!-- hours:start -->\n'
                              'table 2\n<!-- hours:end -->\n')
  assert results.read_block(str(perf), 'other') is None
  assert results.read_block(str(tmp_path / 'absent.md'), 'hours') is None
