"""Shared fixtures. The environment block below runs before anything imports huggingface_hub."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

# -- Hermetic environment: huggingface_hub reads HF_HOME / HF_ENDPOINT once, at import. -------
_SESSION_HF_HOME = tempfile.mkdtemp(prefix="ftm-hf-home-")
atexit.register(shutil.rmtree, _SESSION_HF_HOME, ignore_errors=True)
_CLOSED_PORT = "http://127.0.0.1:9"  # nothing listens there: a stray request fails fast
_EMPTY_HARNESSES = {"standardEnvVars": [], "harnesses": {}}


def _write_harnesses(hf_home: str | Path) -> None:
    """Pre-write the agent-harness registry so huggingface_hub never fetches it."""
    Path(hf_home).mkdir(parents=True, exist_ok=True)
    (Path(hf_home) / ".agent_harnesses.json").write_text(json.dumps(_EMPTY_HARNESSES))


_write_harnesses(_SESSION_HF_HOME)
os.environ["HF_HOME"] = _SESSION_HF_HOME
os.environ["HF_ENDPOINT"] = _CLOSED_PORT
os.environ["MODEL_ENDPOINT"] = _CLOSED_PORT
for _var in (
    "HF_TOKEN", "HF_TOKEN_PATH", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "LLAMA_CACHE",
    "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "LLAMA_ARG_OFFLINE", "XDG_CACHE_HOME",
):  # fmt: skip
    os.environ.pop(_var, None)
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"

import pytest  # noqa: E402

from tests import fakehub  # noqa: E402

sys.modules.setdefault("fakehub", fakehub)  # `from fakehub import ...` gets the same classes


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
    _write_harnesses(hf_home)
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("HF_ENDPOINT", fake_hub.url)
    monkeypatch.setenv("MODEL_ENDPOINT", fake_hub.url)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("LLAMA_CACHE", raising=False)
    return hf_home / "hub"
