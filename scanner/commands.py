"""The work behind each Invoke task; each returns the process exit code."""

from __future__ import annotations

import sys

from .options import Options
from .report import make_console, print_json, print_scan, scan_json
from .scan import NoTestFiles, scan_suite

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def list_models(options: Options) -> int:
    """`models.list`: exit 1 with --strict and diagnostics, 2 when nothing matched."""
    try:
        result = scan_suite(options.root, options.scan)
    except NoTestFiles as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if options.json_output:
        print_json(scan_json(result))
    else:
        print_scan(result, make_console())
    return EXIT_FAILED if options.strict and result.diagnostics else EXIT_OK
