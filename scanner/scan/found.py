"""What the scan of one file finds, in the form a worker process sends back (its own module:
the visitor and its mixin in `calls.py` both record it, and neither imports the other for it)."""

from __future__ import annotations

from ..models import Loader, ReferenceKind

#: One reference as the scan finds it: (hf_repo, hf_file, revision, line, test, kind, loader,
#: call, options). A plain tuple, which a worker process sends back at C speed (a named tuple
#: is rebuilt in Python on arrival: docs/performance.md has the figures); the suite makes the
#: model objects, one per distinct model.
Found = tuple[str, str | None, str | None, int, str, ReferenceKind, Loader | None, str | None,
              tuple[tuple[str, str], ...]]
