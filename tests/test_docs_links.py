"""Every relative link in README.md and docs/*.md points at a file that exists, and every #anchor at
a heading of its page (GitHub's slugs), so moving a section cannot leave a dead link behind."""
import glob
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINK = re.compile(r'\]\(([^)\s]+)\)')


def prose(text):
  """The text outside fenced code blocks (links inside them are examples, not links)."""
  return re.sub(r'(?ms)^```.*?^```', '', text)


def slug(heading):
  """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
  return re.sub(r'[^\w\- ]', '', heading.strip().lower()).replace(' ', '-')


def anchors(path):
  with open(path, encoding='utf-8') as f:
    return {slug(m.group(1)) for m in re.finditer(r'(?m)^#{1,6} (.+)$', prose(f.read()))}


def links(path):
  with open(path, encoding='utf-8') as f:
    return [m.group(1) for m in LINK.finditer(prose(f.read()))
            if not m.group(1).startswith(('http://', 'https://', 'mailto:'))]


PAGES = [os.path.join(REPO, 'README.md')] + sorted(glob.glob(os.path.join(REPO, 'docs', '*.md')))


def test_slug_follows_github():
  assert slug("The paper's remaining rows (issue 20; runs to come)") == (
      'the-papers-remaining-rows-issue-20-runs-to-come')
  assert slug('Environments (`bremen_tf/envs`)') == 'environments-bremen_tfenvs'


@pytest.mark.parametrize('page', PAGES, ids=lambda p: os.path.relpath(p, REPO))
def test_relative_links_resolve(page):
  broken = []
  for target in links(page):
    path, _, anchor = target.partition('#')
    resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
    if not os.path.exists(resolved):
      broken.append(f'{target}: no such file')
    elif anchor and resolved.endswith('.md') and anchor not in anchors(resolved):
      broken.append(f'{target}: no heading with that anchor in {os.path.relpath(resolved, REPO)}')
  assert not broken, f'{os.path.relpath(page, REPO)}: ' + '; '.join(broken)


def test_readme_lists_every_docs_page():
  with open(os.path.join(REPO, 'README.md'), encoding='utf-8') as f:
    readme = f.read()
  for page in PAGES[1:]:
    assert f'(docs/{os.path.basename(page)})' in readme, page
