"""`invoke -r <this clone> TASK` from any checkout: the collection lives in the package
(`scanner/cli/tasks.py`), which `fetch-test-models` runs too."""

from scanner.cli.tasks import namespace

__all__ = ["namespace"]
