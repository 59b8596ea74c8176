"""The documentation does not rot: every relative link in README.md and docs/*.md points at a file
that exists and every #anchor at a heading of its page (GitHub's slugs); every repository file the
pages name exists; every flag their commands give a launcher is one it defines."""
import glob
import itertools
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


# Named on purpose though absent: the bad-inputs table shows the error for a missing --gin_file.
ABSENT_ON_PURPOSE = {'gin/nope.gin'}
NAMED = re.compile(r'(?:gin|launch|bench|bremen_tf|tests|results|examples)/[\w/.{},*<>-]+?'
                   r'\.(?:gin|py|sh|md|csv|png)\b')


def expand(name):
  """'gin/{a,b}_{1m,100k}.gin' -> the four names; 'x.gin,y.gin' (a flag's list) -> both."""
  names = []
  for part in re.split(r',(?![^{]*})', name):
    pieces = re.split(r'({[^}]*})', part)
    # {a,b} is a choice; {size} (no comma) a placeholder, kept as it is
    choices = [p[1:-1].split(',') if p.startswith('{') and ',' in p else [p] for p in pieces]
    names += [''.join(c) for c in itertools.product(*choices)]
  return names


def test_expand():
  assert expand('gin/{a,b}_{1m,100k}.gin') == ['gin/a_1m.gin', 'gin/a_100k.gin', 'gin/b_1m.gin',
                                               'gin/b_100k.gin']
  assert expand('gin/x.gin,gin/y.gin') == ['gin/x.gin', 'gin/y.gin']
  assert expand('results/offline_{size}.csv') == ['results/offline_{size}.csv']


@pytest.mark.parametrize('page', PAGES, ids=lambda p: os.path.relpath(p, REPO))
def test_the_files_a_page_names_exist(page):
  with open(page, encoding='utf-8') as f:
    text = f.read()
  missing = set()
  for name in NAMED.findall(text):
    for path in expand(name):
      if any(c in path for c in '*<>{') or path in ABSENT_ON_PURPOSE:
        continue  # a pattern or a placeholder, not a file
      if not os.path.exists(os.path.join(REPO, path)):
        missing.add(path)
  assert not missing, f'{os.path.relpath(page, REPO)} names files that do not exist: {sorted(missing)}'


def defined_flags(script):
  """The absl flags a launcher defines, with launch_common's and those of the launch/ modules it
  imports (read from the source: importing the launchers would import TensorFlow)."""
  def of(path):
    with open(path, encoding='utf-8') as f:
      return f.read()
  source = of(os.path.join(REPO, script))
  modules = re.findall(r'^(?:import|from) (\w+)', source, re.M) + ['launch_common']
  texts = [source] + [of(p) for p in (os.path.join(REPO, 'launch', m + '.py') for m in modules)
                      if os.path.exists(p)]
  return {n for t in texts for n in re.findall(r"DEFINE_\w+\(\s*'(\w+)'", t)}


@pytest.mark.parametrize('page', PAGES, ids=lambda p: os.path.relpath(p, REPO))
def test_the_flags_a_page_gives_launchers_exist(page):
  with open(page, encoding='utf-8') as f:
    text = f.read().replace('\\\n', ' ')  # a command continued over lines is one line
  unknown = []
  for script, rest in re.findall(r'python ((?:launch|bench)/\w+\.py)([^\n`#]*)', text):
    names = defined_flags(script)
    for flag in re.findall(r'(?:^|\s)--(\w+)', rest):
      if flag not in names and not (flag.startswith('no') and flag[2:] in names):
        unknown.append(f'{script} --{flag}')
  assert not unknown, f'{os.path.relpath(page, REPO)}: flags no launcher defines: {unknown}'
