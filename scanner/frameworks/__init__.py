"""Which files of a Hub repo each framework reads for one load call (llama.cpp's `-hf` rules
stay in `scanner/llama/resolve.py`).

`plan_files(call, listing, read)` is the entry point: `call` is the load's shape (a
`scanner.models.LoadCall`), `listing` the repo at one commit, `read` fetches a small file the
rules must see first (an index, `model_index.json`, `modules.json`). Pure: no request of its own.
"""

from __future__ import annotations

from .common import FilePlan, FrameworkError, PlannedFile, ReadFile
from .plan import Overrides, conservative, overridden, plan_files

__all__ = [
    "FilePlan", "FrameworkError", "Overrides", "PlannedFile", "ReadFile", "conservative",
    "overridden",
    "plan_files",
]  # fmt: skip
