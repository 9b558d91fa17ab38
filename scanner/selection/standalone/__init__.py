"""Modules that run inside the suite's own interpreter, where this package may not be
installed: each imports nothing but the standard library and pytest. The folder itself is put
on that interpreter's path, so each module here is importable by its own (unique) name."""
