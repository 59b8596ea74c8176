"""The errors a user can cause and fix: a bad setting, dataset, run directory or checkpoint.

Each message names the file or setting, what was expected and what was found, and how to recover.
The launchers print such an error in a line or two and exit with status 2 (the traceback only
with --verbose); any other exception is a bug and keeps its traceback.
"""


class BremenError(Exception):
  """Base of the errors the launchers report without a traceback."""


class ConfigError(BremenError, ValueError):
  """A gin binding or command-line flag of the wrong type or out of range."""


class RunDirError(BremenError):
  """A run directory that cannot be started or resumed as asked."""


class CheckpointError(BremenError):
  """A run's train_state.json or checkpoint that cannot be read."""
