"""Entry points, each options in and an exit code out: the Invoke collection (`tasks`, each
flag declared once in `declarations`) and the `fetch-test-models` command on it (`program`);
the work of `models.list/fetch/lock/prune` (`commands`), of `--backend llama`
(`llama_backend`) and of `test.server` (`server_tests`), each computing an outcome
(`scanner/output/outcomes.py`) that `scanner/output/show.py` shows and turns into the exit
code, or a usage error (`usage`); the scan they work on, narrowed to a selection
(`selected`); the pytest plugin (`pytest_plugin`, its work in `pytest_fetch`)."""
