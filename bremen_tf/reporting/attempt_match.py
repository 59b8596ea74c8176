"""Does a run repeat an earlier attempt of itself? Its evaluations against the attempt's report
(the attempt's full_budget.csv rows) iteration by iteration, compared exactly, and its exported
deployment policies against the attempt's committed ones byte for byte (launch/attempt_match.py).
A lost attempt's run directory is gone, so its report and its committed policies are all there is
to compare with. No TensorFlow."""
import collections
import filecmp
import math
import os

# The files of an exported policy that hold its weights (the graph may differ between commits).
WEIGHT_FILES = (os.path.join('variables', 'variables.data-00000-of-00001'),
                os.path.join('variables', 'variables.index'))


def evaluations(rows):
  """deployment -> {iteration: eval_return_mean} of metrics.csv or full_budget.csv rows (rows
  without an iteration or an evaluation are skipped)."""
  found = collections.defaultdict(dict)
  for r in rows:
    if r.get('iteration') in (None, '') or r.get('eval_return_mean') in (None, ''):
      continue
    found[int(r['deployment'])][int(r['iteration'])] = float(r['eval_return_mean'])
  return found


def _equal(a, b):
  return a == b or (math.isnan(a) and math.isnan(b))


def compare(run_rows, attempt_rows):
  """Per deployment that both have evaluated: deployment, run_iterations, attempt_iterations,
  compared (iterations in both), equal, first_difference (the first iteration whose evaluations
  differ, or None) and largest_difference (0.0 if none differ)."""
  run, attempt = evaluations(run_rows), evaluations(attempt_rows)
  table = []
  for d in sorted(set(run) & set(attempt)):
    common = sorted(set(run[d]) & set(attempt[d]))
    differ = [(i, abs(run[d][i] - attempt[d][i])) for i in common
              if not _equal(run[d][i], attempt[d][i])]
    table.append({'deployment': d, 'run_iterations': len(run[d]),
                  'attempt_iterations': len(attempt[d]), 'compared': len(common),
                  'equal': len(common) - len(differ),
                  'first_difference': differ[0][0] if differ else None,
                  'largest_difference': max((x for _, x in differ), default=0.0)})
  return table


def still_to_come(run_rows, attempt_rows):
  """{deployment: the attempt's evaluated iterations} for the deployments the attempt evaluated
  and this run has not yet."""
  run, attempt = evaluations(run_rows), evaluations(attempt_rows)
  return {d: len(attempt[d]) for d in sorted(set(attempt) - set(run))}


def same_weights(policy_a, policy_b):
  """True if two exported policies' weight files are byte-identical, False if they differ, None
  if either policy (or a weight file) is missing."""
  paths = [(os.path.join(policy_a, f), os.path.join(policy_b, f)) for f in WEIGHT_FILES]
  if not all(os.path.isfile(a) and os.path.isfile(b) for a, b in paths):
    return None
  return all(filecmp.cmp(a, b, shallow=False) for a, b in paths)


def statement(table, weights, to_come=None):
  """One plain sentence per deployment (`weights`: deployment -> same_weights's answer; `to_come`:
  still_to_come's answer)."""
  lines = []
  for row in table:
    d, same = row['deployment'], weights.get(row['deployment'])
    if row['first_difference'] is None:
      text = (f'- Deployment {d}: ' + ('the one evaluation compared is equal'
                                        if row['compared'] == 1 else
                                        f'all {row["compared"]} evaluations compared are equal'))
    else:
      text = (f'- Deployment {d}: {row["equal"]} of {row["compared"]} evaluations equal; the '
              f'first to differ is iteration {row["first_difference"]} (largest difference '
              f'{row["largest_difference"]:.6g})')
    text += {True: '; the exported policies\' weights are byte-identical.',
             False: '; the exported policies\' weights differ.',
             None: '; no exported policy of both to compare.'}[same]
    lines.append(text)
  for d, iterations in (to_come or {}).items():
    lines.append(f'- Deployment {d}: not evaluated by this run yet (the attempt evaluated '
                 f'{iterations} iteration{"s" if iterations != 1 else ""} of it).')
  return lines
