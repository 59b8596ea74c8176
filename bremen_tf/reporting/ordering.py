"""Comparing the order of methods in our tables with the paper's."""
from bremen_tf.paper_results import METHOD_NAMES


def describe_order(values):
  """{'bremen': 5000, ...} -> 'BREMEN > BC > ...' (highest first)."""
  ordered = sorted(values, key=lambda m: -values[m])
  return ' > '.join(METHOD_NAMES[m] for m in ordered)


def pair_agreement(ours, paper):
  """Of the method pairs both have, how many are ordered the same way: (agree, total)."""
  methods = [m for m in ours if m in paper]
  agree = total = 0
  for i, a in enumerate(methods):
    for b in methods[i + 1:]:
      total += 1
      agree += (ours[a] - ours[b]) * (paper[a] - paper[b]) > 0
  return agree, total
