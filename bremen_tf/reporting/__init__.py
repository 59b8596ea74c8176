"""Reading run directories for the table and plot scripts: what a run is (describe.py, from its
gin config), what it logged (run_reader.py), how far it got (progress.py), and the labels the
result files use (labels.py, ordering.py)."""
