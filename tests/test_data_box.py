"""The opt-in guard against runaway imagined paths (bremen_tf/data_box.py,
`ImaginedTRPO.data_box_margin`): the box's numbers, paths ending at the first state outside it,
checkpoints unchanged by it, clear errors, and the offline recipe setting it from the data."""

import numpy as np
import pytest
import tensorflow as tf

from bremen_tf import validation
from bremen_tf.data_box import DataBox
from bremen_tf.errors import ConfigError
from bremen_tf.dynamics import OUTPUT_CLIP
from bremen_tf.imagined_trpo import ImaginedTRPO
from conftest import run_here
from test_imagined_trpo_numbers import (RunawayDynamics, imagine_and_process, trainer_for)
from test_offline import command, metrics


def test_box_is_the_data_range_widened_by_the_margin():
  box = DataBox(2, margin=0.5)
  box.set_from(np.array([[0.0, -1.0], [2.0, 1.0]]), np.array([[1.0, 3.0]]))
  np.testing.assert_array_equal(box.low.numpy(), [-1.0, -3.0])  # width 2 and 4
  np.testing.assert_array_equal(box.high.numpy(), [3.0, 5.0])
  obs = tf.constant([[0.0, 0.0], [3.0, 5.0], [3.01, 0.0], [0.0, -3.5], [-2.0, 9.0]])
  assert box.outside(obs).numpy().tolist() == [False, False, True, True, True]
  box.set_from(np.array([[0.0, 0.0], [1.0, 1.0]]))  # the data changed: the box follows
  np.testing.assert_array_equal(box.high.numpy(), [1.5, 1.5])


def test_bad_margins_and_data_are_refused():
  with pytest.raises(ConfigError, match='data_box_margin: expected a finite number >= 0'):
    validation.check_binding('ImaginedTRPO', 'data_box_margin', -0.5)  # before a run starts
  validation.check_binding('ImaginedTRPO', 'data_box_margin', None)
  with pytest.raises(ValueError, match='data_box_margin must be >= 0'):
    DataBox(3, -0.1)
  box = DataBox(2, 0.0)
  with pytest.raises(ValueError, match='finite'):
    box.set_from(np.array([[0.0, np.inf]]))
  with pytest.raises(ValueError, match='at least one'):
    box.set_from(np.zeros((0, 2)))


def guarded_trainer(margin):
  plain = trainer_for()
  trainer = ImaginedTRPO(plain.policy, plain.behavior_policy, RunawayDynamics(), plain.reward_fn,
                         plain.done_fn, plain.start_obs.numpy(), horizon=plain.horizon,
                         batch_size=plain.batch_size, gamma=plain.gamma,
                         gae_lambda=plain.gae_lambda, seed=0, data_box_margin=margin)
  return trainer


def test_paths_end_at_the_first_state_outside_the_box():
  """RunawayDynamics sends s[3] to the model's clip once s[2] > 0.6. Unguarded, some paths reach
  it; guarded by a box around the start states, none does, and no path holds a state outside."""
  unguarded = trainer_for()
  unguarded.dynamics = RunawayDynamics()
  _, _, _, plain = imagine_and_process(unguarded)
  assert plain['imagined_clipped_path_fraction'].numpy() > 0.1

  trainer = guarded_trainer(margin=0.0)
  data = np.concatenate([trainer.start_obs.numpy(), np.full((1, trainer.policy.obs_dim), 2.0),
                         np.full((1, trainer.policy.obs_dim), -1.0)])
  with pytest.raises(ValueError, match='call set_data_box'):
    trainer.imagine()
  trainer.set_data_box(data)
  paths, _, _, diagnostics = imagine_and_process(trainer)
  assert diagnostics['imagined_clipped_path_fraction'].numpy() == 0.0
  obs, mask = paths.obs.numpy(), paths.mask.numpy() > 0
  assert np.all((obs[mask] >= -1.0) & (obs[mask] <= 2.0))  # every state a path holds: in [-1, 2]
  # Paths ended early: with the same model, unguarded paths run to done/horizon after the clip.
  assert diagnostics['imagined_path_length'].numpy() < plain['imagined_path_length'].numpy()


def test_without_the_guard_nothing_changes_and_checkpoints_never_hold_the_box(tmp_path):
  """Off (the default) the trainer has no box. On, its checkpoints hold the same variables as
  off, so a run may switch the guard on when resumed from another's checkpoint."""
  assert trainer_for().data_box is None

  def keys(trainer, name):
    path = tf.train.Checkpoint(trainer=trainer).write(str(tmp_path / name))
    return sorted((k, tuple(s)) for k, s in tf.train.list_variables(path))

  guarded = guarded_trainer(0.1)
  guarded.set_data_box(guarded.start_obs.numpy())
  assert keys(guarded, 'on') == keys(trainer_for(), 'off')
  assert not any('data_' in k for k, _ in keys(guarded, 'on2'))


def test_the_offline_recipe_sets_the_box_from_its_data(tmp_path, hopper_3k_data_dir, capsys):
  """A run with the guard imagines and trains (without set_data_box it would raise) and reports
  shorter imagined paths than the horizon on the smoke data's tight box."""
  root = str(tmp_path / 'guarded')
  run_here('offline', *command(root, hopper_3k_data_dir,
                               '--gin_bindings=train_offline.outer_iterations=1',
                               '--gin_bindings=ImaginedTRPO.data_box_margin=0.0')[2:])
  row = metrics(root)[-1]
  assert int(row['iteration']) == 1
  assert 0 < float(row['imagined_path_length']) < 50  # the smoke horizon
  assert float(row['imagined_clipped_path_fraction']) == 0.0
  # The probe reads the guarded run and imagines without the box (where the model goes).
  capsys.readouterr()
  run_here('imagination_probe', f'--run_dir={root}')
  probe = capsys.readouterr().out
  assert 'the probe imagines without it' in probe
  assert sum(line.startswith('| π_θ at iteration 1 |') for line in probe.splitlines()) == 6


def test_the_deployment_loop_sets_the_box_from_all_data_so_far(tmp_path, capsys, monkeypatch):
  """Before each deployment's TRPO, the box is set from every batch collected so far (the data
  the model was refitted on): observations and next observations of 1 batch, then of 2."""
  from test_deployment import run_here as run_deployment_here  # pylint: disable=g-import-not-at-top
  calls = []
  set_data_box = ImaginedTRPO.set_data_box

  def recording(self, *observations):
    calls.append([len(o) for o in observations])
    set_data_box(self, *observations)
  monkeypatch.setattr(ImaginedTRPO, 'set_data_box', recording)
  root = str(tmp_path / 'guarded')
  run_deployment_here(capsys, root, '--gin_bindings=ImaginedTRPO.data_box_margin=0.0')
  rows = metrics(root)
  sizes = [int(r['real_transitions']) for r in rows]
  first, both = sizes[0], sizes[-1]
  assert len(calls) == 2 and calls[0] == [first, first]
  assert sum(calls[1]) == 2 * both and len(calls[1]) == 4 and both > first
  assert all(0 < float(r['imagined_path_length']) <= 50 for r in rows)
