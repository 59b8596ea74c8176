"""TRPO in a run's model from another starting policy (launch/trpo_from_policy.py).

Does a run's model keep, raise or drag down a policy that runs well in the real env, e.g. the
authors' released Hopper policy (results/released_policies.md)? The run's checkpoint gives the
model and the TRPO trainer (its value baseline, its BC policy for the KL it reports); the starting
policy replaces π_θ, and each outer iteration's TRPO updates are followed by a real-env
evaluation, as in the run itself. Nothing is written to the run.
"""
from bremen_tf import stages
from bremen_tf.policies import mean_action_fn


def continue_trpo(run, start_policy, iterations, updates_per_iteration, eval_min_steps, seed,
                  log=print):
  """Rows for iterations 0 (start_policy as it is) .. `iterations` of TRPO in `run`'s model
  (run_models.RunModels): each the real-env evaluation (stages.evaluate_policy, deterministic)
  and, after iteration 0, the iteration's imagined statistics (stages.trpo_iteration)."""
  policy, trainer = run.policy, run.trainer
  policy.copy_from(start_policy)  # both heads and the observation statistics
  trainer.data_box = None  # a guarded run's box is set from its data at each start, never saved
  eval_fn = mean_action_fn(policy)

  def evaluate(it):
    return stages.evaluate_policy(run.env_id, eval_fn, eval_min_steps, seed=seed + 100 * it)

  rows = [{'iteration': 0, 'trpo_updates': 0, **evaluate(0)}]
  log(f'[start] real return {stages.describe_return(rows[0])}')
  for it in range(1, iterations + 1):
    stats = stages.trpo_iteration(trainer, updates_per_iteration)
    rows.append({'iteration': it, 'trpo_updates': it * updates_per_iteration, **evaluate(it),
                 **stats['row']})
    log(f'[trpo] iteration {it}/{iterations}: {stages.describe_iteration(rows[-1])}')
  return rows
