"""Scan: find the test files, read their module-level names, and collect every model
reference and diagnostic with Python `ast` (`suite.scan_suite` is the entry point)."""
