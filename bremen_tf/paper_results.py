"""The BREMEN paper's offline tables (BRAC `pure` datasets; reference/paper_results.md), used by
launch/tables.py to put the paper's numbers and ratios beside ours. (mean, std over seeds)."""

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
