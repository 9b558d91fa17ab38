"""What a run says about the Hub it talks to: the endpoint never shown with its password, and
a pinned repo, revision or file the Hub no longer serves named for what it is. Against the fake
Hub (tests/fakehub.py), with the real huggingface_hub client."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.cli import commands
from scanner.cli.options import build_options
from scanner.output.server_report import print_setup
from scanner.setup.preflight import ServerSetup, SuitePython
from tests.fakehub import FakeHub, GeneratedFile
from tests.helpers import invoke_command, run_fetch, suite_for, write_suite

PASSWORD = "Pr0xyPassw0rd"
QUERY_TOKEN = "QueryT0ken"


def with_credentials(url: str, password: str = PASSWORD) -> str:
    """The fake Hub's URL as a pull-through proxy's, with a user and password in it."""
    return url.replace("http://", f"http://proxy-user:{password}@")


def test_the_endpoint_s_password_is_sent_and_never_shown(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_hub.add_repo("org/ok-GGUF", {"ok-Q4_K_M.gguf": GeneratedFile(10_000, 1)})
    monkeypatch.setenv("MODEL_ENDPOINT", with_credentials(fake_hub.url))
    caplog.set_level(logging.DEBUG)
    root = suite_for(tmp_path / "p", "org/ok-GGUF", "org/missing")
    code, out, err = run_fetch(root, capsys, json=True)
    assert code == 1
    document = json.loads(out)
    shown = with_credentials(fake_hub.url, "***")
    assert document["endpoint"] == shown
    assert [m["status"] for m in document["models"]] == ["failed", "downloaded"]
    assert {r.headers.get("authorization") for r in fake_hub.requests if r.kind != "other"} == {
        "Basic cHJveHktdXNlcjpQcjB4eVBhc3N3MHJk"}, "the user and password are sent"
    texts = [out, err, caplog.text]
    code, out, err = run_fetch(root, capsys, verbosity="verbose", latest=True)
    assert f"listing 2 repo(s) at {shown} ..." in out
    texts += [out, err, caplog.text]
    fake_hub.stop()  # "cannot reach the Hub", from a run in its own process
    run = subprocess.run(invoke_command("models.fetch", "--root", str(root), "--cache-dir",
                                        str(tmp_path / "cold")),
                         env={**os.environ, "MODEL_ENDPOINT": with_credentials(fake_hub.url)
                              + f"/?token={QUERY_TOKEN}"},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "cannot reach the Hub" in run.stdout + run.stderr
    assert f"{shown}/?token=***" in run.stdout
    for text in (*texts, run.stdout, run.stderr):
        assert PASSWORD not in text and QUERY_TOKEN not in text


def test_a_url_to_the_endpoint_s_host_is_recognised_when_the_endpoint_has_a_password(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_hub.add_repo("org/ok-GGUF", {"ok-Q4_K_M.gguf": GeneratedFile(10_000, 1)})
    monkeypatch.setenv("MODEL_ENDPOINT", with_credentials(fake_hub.url))
    url = f"{fake_hub.url}/org/ok-GGUF/resolve/main/ok-Q4_K_M.gguf"
    root = write_suite(tmp_path / "p", f"def test_a():\n    url = {url!r}\n")
    code, out, _ = run_fetch(root, capsys, json=True, dry_run=True)
    assert code == 0, out
    assert [m["hf_repo"] for m in json.loads(out)["models"]] == ["org/ok-GGUF"]


def test_test_server_s_first_screen_shows_the_endpoint_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    setup = ServerSetup(python=SuitePython(Path(sys.executable), "this interpreter"),
                        pytest_version="9", xdist=True, server=None, server_version=None,
                        cache=tmp_path, free_bytes=None, token_set=False,
                        endpoint=f"http://proxy-user:{PASSWORD}@proxy:8080/?token={QUERY_TOKEN}")
    print_setup(setup, "pytest -x", tmp_path)
    out = capsys.readouterr().out
    assert "hub          http://proxy-user:***@proxy:8080/?token=***, token not set" in out
    assert PASSWORD not in out and QUERY_TOKEN not in out


def test_a_malformed_endpoint_is_refused_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODEL_ENDPOINT", f"proxy-user:{PASSWORD}@proxy.example")  # no scheme
    code, _, err = run_fetch(suite_for(tmp_path / "p", "org/m-GGUF"), capsys)
    assert code == 2
    assert "MODEL_ENDPOINT: 'proxy-user:***@proxy.example' is not an http(s)://host" in err
    assert PASSWORD not in err


# -- a pinned repo, revision or file the Hub no longer has ---------------------------------

def test_a_locked_repo_deleted_revision_gone_or_closed_is_named_for_what_it_is(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """A lock pins commits and files: its fetch asks for the files alone, and the Hub's
    `X-Error-Code` says which of the repo, the revision or the access is missing."""
    for seed, name in enumerate(("deleted", "pushed", "closed")):
        fake_hub.add_repo(f"org/{name}-GGUF", {f"{name}-Q4_K_M.gguf": GeneratedFile(2000, seed)})
    old = fake_hub.commit("org/pushed-GGUF")
    root = suite_for(tmp_path / "p", "org/deleted-GGUF", "org/pushed-GGUF", "org/closed-GGUF")
    assert commands.lock_models(build_options({}, root=str(root))) == 0
    capsys.readouterr()
    fake_hub.remove_repo("org/deleted-GGUF")
    fake_hub.add_repo("org/pushed-GGUF", {"pushed-Q4_K_M.gguf": GeneratedFile(2000, 9)})
    fake_hub.remove_revision("org/pushed-GGUF", old)  # a force-push
    fake_hub.add_repo("org/closed-GGUF", {"closed-Q4_K_M.gguf": GeneratedFile(2000, 2)},
                      gated=True)
    fake_hub.reset_counts()
    code, out, _ = run_fetch(root, capsys, locked=True, json=True)
    assert code == 1
    errors = {m["hf_repo"]: m["error"] for m in json.loads(out)["models"]}
    ask = "set HF_TOKEN to a token that has access"
    assert errors == {
        "org/deleted-GGUF": "org/deleted-GGUF deleted-Q4_K_M.gguf: repository not found on the "
                            f"Hub (HTTP 404; if it is private, {ask})",
        "org/pushed-GGUF": "org/pushed-GGUF pushed-Q4_K_M.gguf: revision not found (Invalid "
                           f"rev id: {old})",
        "org/closed-GGUF": f"org/closed-GGUF closed-Q4_K_M.gguf: the repo is gated or private: "
                           f"{ask}",
    }
    assert fake_hub.count(kind="resolve") == 3, "none is retried: a retry cannot bring it back"
