"""Shared fixtures. The environment block below runs before anything imports huggingface_hub."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import fakehub  # standard library only: nothing here imports huggingface_hub

# -- Hermetic environment: huggingface_hub reads HF_HOME / HF_ENDPOINT once, at import. -------
_SESSION_HF_HOME = Path(tempfile.mkdtemp(prefix="ftm-hf-home-"))
atexit.register(shutil.rmtree, _SESSION_HF_HOME, ignore_errors=True)
_CLOSED_PORT = "http://127.0.0.1:9"  # nothing listens there: a stray request fails fast

fakehub.write_harnesses(_SESSION_HF_HOME)
for _var in fakehub.user_settings(os.environ):
    del os.environ[_var]
os.environ["HF_HOME"] = str(_SESSION_HF_HOME)
os.environ["HF_ENDPOINT"] = _CLOSED_PORT
os.environ["MODEL_ENDPOINT"] = _CLOSED_PORT
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process clients back off 0.01 s instead of 0.5, 1, 2 s: the count of attempts is what
    the tests check, not the wait (subprocess runs keep the real backoff)."""
    from scanner.hub import client as hub

    monkeypatch.setattr(hub, "RETRY_BACKOFF_S", 0.01)


@pytest.fixture
def fake_hub() -> Iterator[fakehub.FakeHub]:
    """A started FakeHub on an ephemeral port, stopped after the test."""
    with fakehub.FakeHub() as hub:
        yield hub


@pytest.fixture
def hub_env(fake_hub: fakehub.FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HF_ENDPOINT/MODEL_ENDPOINT (for subprocesses) at fake_hub with a fresh HF_HOME;
    return the hub cache dir `tmp_path/"hf-home"/"hub"` (not created)."""
    hf_home = tmp_path / "hf-home"
    fakehub.write_harnesses(hf_home)
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("HF_ENDPOINT", fake_hub.url)
    monkeypatch.setenv("MODEL_ENDPOINT", fake_hub.url)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("LLAMA_CACHE", raising=False)
    return hf_home / "hub"
