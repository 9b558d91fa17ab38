"""The selection plugin's hand-off to the tests it holds: what the tool adds once it said go
reaches every session's first test, also when one interpreter runs pytest more than once
(a runner that calls `pytest.main` per shard, pytest's own `pytester` in-process runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scanner.selection.collect import PLUGIN, PLUGIN_DIR
from scanner.selection.standalone import fetch_test_models_selection as plugin

#: Two sessions in one interpreter, each held until "go" with its own pipes and its own
#: variables added (the tool's side, played here: `selection/live.py` writes the same files).
SESSIONS = """
import json, os, sys
import pytest

folder = sys.argv[1]
for session in ("first", "second"):
    ready_read, ready_write = os.pipe()
    go_read, go_write = os.pipe()
    os.write(go_write, b"go\\n")
    output = os.path.join(folder, session + ".json")
    with open(output + ".env", "w") as added:
        json.dump({"ADDED_FOR": session}, added)
    os.environ.update({OUTPUT: output, READY: str(ready_write), GO: str(go_read)})
    pytest.main([os.path.join(folder, "test_env.py"), "-q", "-p", "no:cacheprovider",
                 "-p", PLUGIN])
"""

TEST_ENV = """
import os

def test_records_what_it_was_given():
    with open(os.path.join(os.path.dirname(__file__), "seen.txt"), "a") as seen:
        seen.write(os.environ.get("ADDED_FOR", "nothing") + "\\n")
"""


def test_each_session_in_one_interpreter_takes_the_variables_added_for_it(
        tmp_path: Path) -> None:
    (tmp_path / "test_env.py").write_text(TEST_ENV)
    names = {"OUTPUT": plugin.OUTPUT_VAR, "READY": plugin.READY_FD_VAR,
             "GO": plugin.GO_FD_VAR, "PLUGIN": PLUGIN}
    script = "".join(f"{name} = {json.dumps(value)}\n" for name, value in names.items())
    env = {**os.environ, "PYTHONPATH": PLUGIN_DIR}
    env.pop("PYTEST_ADDOPTS", None)
    run = subprocess.run([sys.executable, "-c", script + SESSIONS, str(tmp_path)], env=env,
                         cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "seen.txt").read_text().split() == ["first", "second"]
