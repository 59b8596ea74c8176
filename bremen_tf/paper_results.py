"""The BREMEN paper's offline tables (BRAC `pure` datasets; reference/paper_results.md), used by
launch/tables.py to put the paper's numbers and ratios beside ours (mean, std over seeds), and its
D4RL table (normalised scores), used by launch/d4rl_table.py."""

METHODS = ('bc', 'bcq', 'brac', 'brac_max_q', 'bremen', 'me_trpo')
METHOD_NAMES = {'dataset': 'Dataset', 'bc': 'BC', 'bcq': 'BCQ', 'brac': 'BRAC',
                'brac_max_q': 'BRAC (max Q)', 'bremen': 'BREMEN', 'me_trpo': 'ME-TRPO (offline)'}
ENVS = ('Ant', 'HalfCheetah', 'Hopper', 'Walker2d')

# size -> method -> env -> (mean, std); 'dataset' has no std.
OFFLINE = {
    '1m': {
        'dataset': {'Ant': (1191, None), 'HalfCheetah': (4126, None), 'Hopper': (1128, None),
                    'Walker2d': (1376, None)},
        'bc': {'Ant': (1321, 141), 'HalfCheetah': (4281, 12), 'Hopper': (1341, 161),
               'Walker2d': (1421, 147)},
        'bcq': {'Ant': (2021, 31), 'HalfCheetah': (5783, 272), 'Hopper': (1130, 127),
                'Walker2d': (2153, 753)},
        'brac': {'Ant': (2072, 285), 'HalfCheetah': (7192, 115), 'Hopper': (1422, 90),
                 'Walker2d': (2239, 1124)},
        'brac_max_q': {'Ant': (2369, 234), 'HalfCheetah': (7320, 91), 'Hopper': (1916, 343),
                       'Walker2d': (2409, 1210)},
        'bremen': {'Ant': (3328, 275), 'HalfCheetah': (8055, 103), 'Hopper': (2058, 852),
                   'Walker2d': (2346, 230)},
        'me_trpo': {'Ant': (1258, 550), 'HalfCheetah': (1804, 924), 'Hopper': (518, 91),
                    'Walker2d': (211, 154)},
    },
    '100k': {
        'dataset': {'Ant': (1191, None), 'HalfCheetah': (4066, None), 'Hopper': (1128, None),
                    'Walker2d': (1376, None)},
        'bc': {'Ant': (1330, 81), 'HalfCheetah': (4266, 21), 'Hopper': (1322, 109),
               'Walker2d': (1426, 47)},
        'bcq': {'Ant': (1363, 199), 'HalfCheetah': (3915, 411), 'Hopper': (1129, 238),
                'Walker2d': (2187, 196)},
        'brac': {'Ant': (-157, 383), 'HalfCheetah': (2505, 2501), 'Hopper': (1310, 70),
                 'Walker2d': (2162, 1109)},
        'brac_max_q': {'Ant': (-226, 387), 'HalfCheetah': (2332, 2422), 'Hopper': (1422, 101),
                       'Walker2d': (2164, 1114)},
        'bremen': {'Ant': (1633, 127), 'HalfCheetah': (6095, 370), 'Hopper': (2191, 455),
                   'Walker2d': (2132, 301)},
        'me_trpo': {'Ant': (974, 4), 'HalfCheetah': (2, 434), 'Hopper': (307, 170),
                    'Walker2d': (10, 61)},
    },
    '50k': {
        'dataset': {'Ant': (1191, None), 'HalfCheetah': (4138, None), 'Hopper': (1128, None),
                    'Walker2d': (1376, None)},
        'bc': {'Ant': (1270, 65), 'HalfCheetah': (4230, 49), 'Hopper': (1249, 61),
               'Walker2d': (1420, 194)},
        'bcq': {'Ant': (1329, 95), 'HalfCheetah': (1319, 626), 'Hopper': (1178, 235),
                'Walker2d': (1841, 439)},
        'brac': {'Ant': (-878, 244), 'HalfCheetah': (-597, 73), 'Hopper': (1277, 102),
                 'Walker2d': (976, 1207)},
        'brac_max_q': {'Ant': (-843, 279), 'HalfCheetah': (-590, 56), 'Hopper': (1276, 225),
                       'Walker2d': (903, 1137)},
        'bremen': {'Ant': (1347, 283), 'HalfCheetah': (5823, 146), 'Hopper': (1632, 796),
                   'Walker2d': (2280, 647)},
        'me_trpo': {'Ant': (938, 32), 'HalfCheetah': (-73, 95), 'Hopper': (152, 13),
                    'Walker2d': (176, 343)},
    },
}

# The paper's D4RL table (normalised score x100: 0 = D4RL's random, 100 = its expert return), as
# transcribed in reference/paper_results.md, "D4RL". Source: Matsushima et al., ICLR 2021, the D4RL
# table; BREMEN's column is the paper's own, the baselines' are quoted there from prior work. Our
# methods map to its columns as D4RL_PAPER_COLUMN says (our BRAC is the KL value penalty, BRAC-v).
D4RL_SOURCE = ('Matsushima et al., ICLR 2021, the D4RL table (reference/paper_results.md); the '
               'baselines are quoted there from prior work')
D4RL_COLUMNS = ('bc', 'bremen', 'mopo', 'cql', 'bear', 'brac_v', 'awr', 'bcq')
D4RL_COLUMN_NAMES = {'bc': 'BC', 'bremen': 'BREMEN', 'mopo': 'MOPO', 'cql': 'CQL', 'bear': 'BEAR',
                     'brac_v': 'BRAC-v', 'awr': 'AWR', 'bcq': 'BCQ'}
D4RL_PAPER_COLUMN = {'bc': 'bc', 'bremen': 'bremen', 'bcq': 'bcq', 'brac': 'brac_v'}
# task ('<env>-<dataset>') -> column -> normalised score.
D4RL = {
    task: dict(zip(D4RL_COLUMNS, scores)) for task, scores in (
        ('halfcheetah-random', (2.1, 36.9, 31.9, 35.4, 25.1, 31.2, 2.5, 2.2)),
        ('walker2d-random', (1.6, 3.7, 13.0, 7.0, 7.3, 1.9, 1.5, 4.9)),
        ('hopper-random', (9.8, 12.2, 13.3, 10.8, 11.4, 12.2, 10.2, 10.6)),
        ('halfcheetah-medium', (36.1, 55.0, 40.2, 44.4, 41.7, 46.3, 37.4, 40.7)),
        ('walker2d-medium', (6.6, 59.6, 14.0, 79.2, 59.1, 81.1, 17.4, 53.1)),
        ('hopper-medium', (29.0, 69.3, 26.5, 58.0, 52.1, 31.1, 35.9, 54.5)),
        ('halfcheetah-medium-replay', (38.4, 47.2, 54.0, 46.2, 38.6, 47.7, 40.3, 38.2)),
        ('walker2d-medium-replay', (11.3, 7.6, 42.7, 26.7, 19.2, 0.9, 15.5, 15.0)),
        ('hopper-medium-replay', (11.8, 24.1, 92.5, 48.6, 33.7, 0.6, 28.4, 33.1)),
        ('halfcheetah-medium-expert', (35.8, 53.3, 57.9, 62.4, 53.4, 41.9, 52.7, 64.7)),
        ('walker2d-medium-expert', (6.4, 55.2, 55.0, 98.7, 40.1, 81.6, 53.8, 57.5)),
        ('hopper-medium-expert', (111.9, 64.6, 51.7, 111.0, 96.3, 0.8, 27.1, 110.9)),
    )}
