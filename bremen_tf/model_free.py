"""Model-free offline baselines (BC, BCQ, BRAC) on a BREMEN dataset: one table cell each.

Reached through `train_offline(algorithm=...)`, so every algorithm shares launch/offline.py, the
run directory, metrics, resume and export (reference/brac_protocol.md §4).
"""
import gin

ALGORITHMS = ('bc', 'bcq', 'brac')


@gin.configurable(denylist=['run', 'seed', 'algorithm', 'env_id', 'noise', 'dataset_size',
                            'data_dir', 'log'])
def train_model_free(run, seed, algorithm, env_id, noise, dataset_size, data_dir=None,
                     train_steps=None, behavior_steps=300_000, batch_size=None,
                     eval_every=5000, eval_episodes=20, checkpoint_every=20_000, log=print):
  """`train_steps` None = the BRAC protocol's (BC 300k, BCQ and BRAC 500k); `behavior_steps` is
  the BC training of BRAC's fixed π_b; `batch_size` None = the protocol's (256, BCQ 100)."""
  raise NotImplementedError(f'{algorithm} is not implemented yet.')
