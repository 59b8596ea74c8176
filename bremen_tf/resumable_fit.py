"""A run's dynamics fit, checkpointed as it goes so that a killed run resumes it mid-fit.

While the fit runs, the run's stage is 'dynamics_fit' and train_state.json holds the fit's loop
state (DynamicsEnsemble.fit's progress dict) beside the name of a checkpoint of everything; both are
written by one RunState.save, so they always agree. A restarted run restores the mid-fit weights,
Adam state and normalisation from that checkpoint (in the deployment loop: not the previous
deployment's) and fit(resume=...) ends bit-identical to an uninterrupted fit.
"""
import time

FIT_STAGE = 'dynamics_fit'


def fit_dynamics(run_state, dynamics, train, validation, log):
  """dynamics.fit(train, validation), resumed if the run was killed during it. Returns the fit's
  summary plus 'seconds', the fit's wall time summed over sessions."""
  state = run_state.state
  saved = state.get('dynamics_progress') if run_state.stage == FIT_STAGE else None
  t0 = time.time() - (saved['seconds'] if saved else 0.0)

  def checkpoint(progress):
    state['dynamics_progress'] = {'fit': progress, 'seconds': time.time() - t0}
    run_state.save(FIT_STAGE)
    log(f'[dynamics] checkpointed the fit at epoch {progress["epoch"]}')

  fit = dynamics.fit(train, validation, log=lambda m: log(f'[dynamics] {m}'),
                     checkpoint_fn=checkpoint, resume=saved and saved['fit'])
  state.pop('dynamics_progress', None)  # the caller's next save records the finished fit
  return {**fit, 'seconds': time.time() - t0}
