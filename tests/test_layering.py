"""The library's import graph has no cycles, and the lower layers never import the layers that
run experiments (issue 19): the data layer and the envs know nothing of trainers or recipes."""
import ast
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'bremen_tf')

# Modules that run experiments or train (a lower layer importing one of these runs back up).
UPPER = ('bremen_tf.experiments', 'bremen_tf.bremen', 'bremen_tf.deployment',
         'bremen_tf.deployment_model_free', 'bremen_tf.model_free', 'bremen_tf.stages',
         'bremen_tf.agent_stages', 'bremen_tf.sac_data_policies', 'bremen_tf.d4rl_recipe',
         'bremen_tf.agents.sac', 'bremen_tf.agents.bc', 'bremen_tf.agents.bcq',
         'bremen_tf.agents.brac')
LOWER = ('bremen_tf.data', 'bremen_tf.envs', 'bremen_tf.agents.networks', 'bremen_tf.networks',
         'bremen_tf.policies', 'bremen_tf.dynamics', 'bremen_tf.runs', 'bremen_tf.run_state')


def module_name(path):
  rel = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].replace(os.sep, '.')
  return rel[:-len('.__init__')] if rel.endswith('.__init__') else rel


def import_graph():
  """{module: set of bremen_tf modules it imports at its top level or inside functions}."""
  modules = {}
  for root, _, files in os.walk(PACKAGE):
    for f in files:
      if f.endswith('.py'):
        modules[module_name(os.path.join(root, f))] = os.path.join(root, f)
  graph = {}
  for name, path in modules.items():
    edges = set()
    for node in ast.walk(ast.parse(open(path).read())):
      if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith('bremen_tf'):
        for alias in node.names:  # `from bremen_tf import x` imports the module bremen_tf.x
          full = f'{node.module}.{alias.name}'
          edges.add(full if full in modules else node.module)
      elif isinstance(node, ast.Import):
        edges.update(a.name for a in node.names if a.name.startswith('bremen_tf'))
    graph[name] = {e for e in edges if e in modules and e != name}
  return graph


def find_cycle(graph):
  """One import cycle as a list of modules, or None."""
  state, stack = {}, []

  def visit(node):
    state[node] = 'open'
    stack.append(node)
    for nxt in sorted(graph[node]):
      if state.get(nxt) == 'open':
        return stack[stack.index(nxt):] + [nxt]
      if nxt not in state:
        found = visit(nxt)
        if found:
          return found
    stack.pop()
    state[node] = 'done'
    return None

  for node in sorted(graph):
    if node not in state:
      found = visit(node)
      if found:
        return found
  return None


def test_no_import_cycle():
  cycle = find_cycle(import_graph())
  assert cycle is None, 'import cycle: ' + ' -> '.join(cycle)


def test_cycle_finder_finds_a_planted_cycle():
  assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': set()}) == ['a', 'b', 'c', 'a']


@pytest.mark.parametrize('lower', LOWER)
def test_lower_layers_import_no_trainer_or_recipe(lower):
  graph = import_graph()
  assert any(m == lower or m.startswith(lower + '.') for m in graph), f'{lower}: no such module'
  for module, edges in graph.items():
    if module == lower or module.startswith(lower + '.'):
      upward = sorted(e for e in edges if e in UPPER)
      assert not upward, f'{module} imports {upward}'


def test_every_upper_layer_module_exists():  # a renamed one would leave the check above empty
  assert set(UPPER) <= set(import_graph()), set(UPPER) - set(import_graph())


def test_algorithm_dispatch_is_the_registry():
  """Both experiments dispatch through experiments.ALGORITHMS; no recipe imports another."""
  graph = import_graph()
  recipes = ('bremen_tf.bremen', 'bremen_tf.deployment', 'bremen_tf.model_free',
             'bremen_tf.deployment_model_free')
  for recipe in recipes:
    assert not graph[recipe] & set(recipes), f'{recipe} imports {graph[recipe] & set(recipes)}'
  assert set(recipes) <= graph['bremen_tf.experiments']
