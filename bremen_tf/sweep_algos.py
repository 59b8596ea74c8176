"""The names launch/sweep.py's --algos take, per kind of run: an algorithm (experiments.ALGORITHMS)
plus the gin file that configures it, None for BREMEN's defaults (ME-TRPO is BREMEN with
policy_init='random'; the alpha ablation is BREMEN with an explicit KL penalty). Kept apart from
experiments.py, the registry, and free of TensorFlow, so that the sweep checks its flags before TF
is imported."""

SWEEP_ALGOS = {
    'offline': {'bremen': None, 'me_trpo': 'gin/algos/me_trpo.gin', 'bc': 'gin/algos/bc.gin',
                'bcq': 'gin/algos/bcq.gin', 'brac': 'gin/algos/brac.gin'},
    'deployment': {'bremen': None, 'me_trpo': 'gin/deployment/me_trpo.gin',
                   'bcq': 'gin/deployment/bcq.gin', 'brac': 'gin/deployment/brac.gin',
                   'alpha_0.1': 'gin/deployment/ablation/alpha_0.1.gin',
                   'alpha_1.0': 'gin/deployment/ablation/alpha_1.0.gin'},
}
