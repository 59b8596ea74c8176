"""Datasets: the .npz format and its validating loader, BRAC-protocol collection, data on demand."""
from bremen_tf.data.dataset import (Dataset, DatasetError, episode_returns, load_dataset,
                                    return_stats, save_dataset)
from bremen_tf.data.noise import NOISES
from bremen_tf.data.on_demand import (SUBSET_RULES, dataset_path, default_data_dir, get_dataset,
                                      parse_size)
