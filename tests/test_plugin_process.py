"""The pytest plugin runs inside the user's own test process: it leaves the libraries that
process shares with its tests as it found them, and reads the offline switches of the
environment as llama.cpp and huggingface_hub read them. The example suite (llama-server is a
stand-in: tests/llama_standin.py) against the fake Hub."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.example_suite import copy_example, serve_example_repos
from tests.fakehub import FakeHub
from tests.test_pytest_plugin import SUITE, pytest_in

#: A test module that notes, as it is collected (before the plugin's fetch), what of
#: huggingface_hub and its HTTP stack every client of the process shares, and compares it with
#: what its test finds after the fetch.
PROBE = """
from httpcore2._sync.http11 import HTTP11Connection
from huggingface_hub.utils import _http


def shared():
    session = _http.get_session()
    return (id(session), repr(session.timeout), session.follow_redirects,
            _http._GLOBAL_CLIENT_FACTORY, HTTP11Connection.READ_NUM_BYTES)


AT_COLLECTION = shared()


def test_the_fetch_left_the_process_s_http_stack_as_it_was():
    assert shared() == AT_COLLECTION
"""


def test_a_fetch_leaves_huggingface_hub_s_session_and_the_http_stack_as_they_were(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    (root / SUITE / "unit/test_shared_state.py").write_text(PROBE)
    run = pytest_in(root, "--fetch-models", "unit/test_basic.py", "unit/test_shared_state.py")
    assert "5 models: 5 downloaded" in run.stdout, run.stdout + run.stderr
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 passed" in run.stdout


@pytest.mark.parametrize(("env", "offline"), [
    ({"LLAMA_ARG_OFFLINE": "false", "HF_HUB_OFFLINE": "off"}, False),
    ({"LLAMA_ARG_OFFLINE": "yes", "HF_HUB_OFFLINE": "no"}, False),  # llama.cpp: not "on"
    ({"HF_HUB_OFFLINE": "yes"}, True),  # huggingface_hub: yes is on
])
def test_the_offline_switches_are_read_as_llama_cpp_and_huggingface_hub_read_them(
    env: dict[str, str], offline: bool, fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    serve_example_repos(fake_hub)
    root = copy_example(tmp_path)
    run = pytest_in(root, "--fetch-models", "unit/test_basic.py", **env)
    if offline:  # a check of the cold cache: no request, every model missing
        assert run.returncode == 1 and fake_hub.requests == [], run.stdout + run.stderr
        assert "5 models: 5 missing" in run.stdout, run.stdout
    else:
        assert run.returncode == 0, run.stdout + run.stderr
        assert "5 models: 5 downloaded" in run.stdout and "3 passed" in run.stdout
