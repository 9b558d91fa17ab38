"""Defaults the tests import: kept in the package, outside the test folder."""

import os

DEFAULT_MODEL_FOR_TEST = "example-org/tiny-llama-chat"
DEFAULT_EMBEDDING_MODEL = os.environ.get("MYLIB_EMBEDDING_MODEL", "example-org/tiny-embedder")
