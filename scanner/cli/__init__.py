"""Entry points: the Invoke collection (`tasks.py`) and the `fetch-test-models` command built
on it (`program.py`)."""
