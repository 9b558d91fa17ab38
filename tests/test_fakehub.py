"""The fake Hub against the real huggingface_hub client (all traffic stays on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import (
    GatedRepoError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import http_get

from tests.fakehub import BLOCK, CHUNK, FakeHub, Fault, GeneratedFile

REPO = "org/model"
FILES: dict[str, bytes | GeneratedFile] = {
    "model-Q4.gguf": GeneratedFile(3 * BLOCK + 123, seed=1),
    "sub/dir/weights.bin": b"\x00" * 10,
    "preset.ini": b"[model]\nctx=512\n",
    "README.md": b"# hi\n",
}


@pytest.fixture
def hub(fake_hub: FakeHub) -> FakeHub:
    fake_hub.add_repo(REPO, FILES)
    return fake_hub


def raw(hub: FakeHub, method: str, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection; returns (status, lower-cased headers, body)."""
    conn = http.client.HTTPConnection(hub.host, hub.port, timeout=5)
    try:
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_generated_file_is_deterministic_and_streamed() -> None:
    a, b = GeneratedFile(2 * BLOCK + 5, seed=3), GeneratedFile(2 * BLOCK + 5, seed=3)
    data = a.read()
    assert len(data) == a.size and data == b.read() != GeneratedFile(a.size, seed=4).read()
    assert data[:BLOCK] != data[BLOCK : 2 * BLOCK]  # blocks differ: offset bugs show up
    assert b"".join(a.iter_bytes(BLOCK - 7, BLOCK + 9)) == data[BLOCK - 7 : BLOCK + 9]
    assert a.digest("sha256") == hashlib.sha256(data).hexdigest()
    assert a.digest("git") == git_sha1(data)


def test_listing_refs_tree_and_info(hub: FakeHub) -> None:
    api, commit = HfApi(endpoint=hub.url), hub.commit(REPO)
    assert len(commit) == 40 and commit == hub.add_repo(REPO, FILES)  # deterministic
    assert api.list_repo_refs(REPO).branches[0].target_commit == commit

    tree = {e.path: e for e in api.list_repo_tree(REPO, recursive=True, revision=commit)}
    assert set(tree) == {"sub", "sub/dir", *FILES}  # the real Hub lists folders too
    assert not hasattr(tree["sub"], "size")  # RepoFolder
    gguf = tree["model-Q4.gguf"]
    assert gguf.lfs is not None and gguf.lfs.sha256 == hub.sha256(REPO, "model-Q4.gguf")
    assert tree["sub/dir/weights.bin"].lfs is not None  # by suffix, even when tiny
    assert tree["preset.ini"].lfs is None
    assert tree["preset.ini"].blob_id == git_sha1(hub.content(REPO, "preset.ini"))
    top = [e.path for e in api.list_repo_tree(REPO, revision="main")]
    assert sorted(top) == ["README.md", "model-Q4.gguf", "preset.ini", "sub"]
    assert [e.path for e in api.list_repo_tree(REPO, "sub", recursive=True)] == [
        "sub/dir",
        "sub/dir/weights.bin",
    ]

    info = api.model_info(REPO, files_metadata=True)
    assert info.sha == commit
    sizes = {s.rfilename: (s.size, s.lfs.sha256 if s.lfs else None) for s in info.siblings or []}
    assert sizes["model-Q4.gguf"] == (3 * BLOCK + 123, hub.sha256(REPO, "model-Q4.gguf"))
    assert sizes["README.md"] == (5, None)
    assert hub.count(kind="refs") == 1 and hub.count(kind="tree") == 3
    assert hub.count(kind="info") == 1 and hub.count() == 5


def test_tree_pagination_and_override(hub: FakeHub) -> None:
    hub.tree_page_size = 2
    paths = [e.path for e in HfApi(endpoint=hub.url).list_repo_tree(REPO, recursive=True)]
    assert sorted(paths) == sorted({"sub", "sub/dir", *FILES})
    assert hub.count(kind="tree") == 3  # 6 entries / 2 per page, followed via Link: rel="next"
    hostile = [{"type": "file", "path": "../../etc/passwd", "size": 1, "oid": "zz"}]
    hub.override_tree(REPO, hostile)
    assert json.loads(raw(hub, "GET", f"/api/models/{REPO}/tree/main")[2]) == hostile


def test_hf_hub_download_cache_layout(hub: FakeHub, tmp_path: Path) -> None:
    commit, sha = hub.commit(REPO), hub.sha256(REPO, "model-Q4.gguf")
    path = hf_hub_download(REPO, "model-Q4.gguf", endpoint=hub.url, cache_dir=tmp_path)
    repo_dir = tmp_path / "models--org--model"
    assert (repo_dir / "refs" / "main").read_text() == commit
    link = repo_dir / "snapshots" / commit / "model-Q4.gguf"
    assert Path(path) == link and link.is_symlink() and not os.path.isabs(os.readlink(link))
    assert link.resolve() == repo_dir / "blobs" / sha
    assert hashlib.sha256(link.read_bytes()).hexdigest() == sha
    assert [(r.method, r.kind) for r in hub.requests] == [("HEAD", "resolve"), ("GET", "resolve")]

    ini = hf_hub_download(REPO, "preset.ini", endpoint=hub.url, cache_dir=tmp_path)
    assert Path(ini).resolve().name == git_sha1(FILES["preset.ini"])  # type: ignore[arg-type]
    hub.reset_counts()
    hf_hub_download(REPO, "model-Q4.gguf", revision=commit, endpoint=hub.url, cache_dir=tmp_path)
    assert hub.count() == 0  # cached at a commit: no request at all
    hf_hub_download(REPO, "model-Q4.gguf", endpoint=hub.url, cache_dir=tmp_path)
    assert hub.count(method="HEAD") == 1 and hub.count() == 1


def test_range_requests(hub: FakeHub, tmp_path: Path) -> None:
    data, url = hub.content(REPO, "preset.ini"), f"/{REPO}/resolve/main/preset.ini"
    status, headers, body = raw(hub, "HEAD", url)
    assert status == 200 and body == b"" and headers["content-length"] == str(len(data))
    assert headers["etag"] == f'"{git_sha1(data)}"' and headers["accept-ranges"] == "bytes"
    assert headers["x-repo-commit"] == hub.commit(REPO) and "x-linked-etag" not in headers
    status, headers, body = raw(hub, "GET", url, Range="bytes=3-6")
    assert (status, body, headers["content-range"]) == (206, data[3:7], f"bytes 3-6/{len(data)}")
    assert raw(hub, "GET", url, Range="bytes=5-")[2] == data[5:]
    assert raw(hub, "GET", url, Range="bytes=-4")[2] == data[-4:]
    assert raw(hub, "GET", url, Range=f"bytes={len(data)}-")[0] == 416

    # The client's own resume path: http_get(resume_size=...) sends Range and appends.
    whole = hub.content(REPO, "model-Q4.gguf")
    part = tmp_path / "part"
    part.write_bytes(whole[:1000])
    with part.open("ab") as f:
        http_get(f"{hub.url}/{REPO}/resolve/main/model-Q4.gguf", f, resume_size=1000)
    assert part.read_bytes() == whole
    assert hub.requests[-1].headers["range"] == "bytes=1000-"


def test_errors_and_auth(hub: FakeHub, tmp_path: Path) -> None:
    api = HfApi(endpoint=hub.url)
    with pytest.raises(RepositoryNotFoundError):
        api.list_repo_refs("org/missing")
    with pytest.raises(RevisionNotFoundError):
        api.model_info(REPO, revision="f" * 40)
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(REPO, "nope.gguf", endpoint=hub.url, cache_dir=tmp_path)
    status, headers, _ = raw(hub, "GET", "/api/models/org/missing")
    assert (status, headers["x-error-code"]) == (404, "RepoNotFound") and headers["x-error-message"]

    hub.add_repo("org/gated", {"m.gguf": b"g" * 10}, gated=True)
    hub.add_repo("org/private", {"m.gguf": b"p" * 10}, private=True)
    with pytest.raises(GatedRepoError):
        hf_hub_download("org/gated", "m.gguf", endpoint=hub.url, cache_dir=tmp_path)
    assert raw(hub, "HEAD", "/org/gated/resolve/main/m.gguf")[0] == 401
    assert api.model_info("org/gated").gated == "auto"  # metadata of a gated repo is public
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("org/private")
    for repo in ("org/gated", "org/private"):
        p = hf_hub_download(
            repo, "m.gguf", endpoint=hub.url, cache_dir=tmp_path, token=hub.valid_token
        )
        assert Path(p).read_bytes() == hub.content(repo, "m.gguf")


def test_cut_fault_is_recovered_by_client_retry(hub: FakeHub, tmp_path: Path) -> None:
    # huggingface_hub reads 10 MiB chunks, so it resumes from the last 10 MiB boundary.
    hub.add_repo("org/big", {"big.gguf": GeneratedFile(11 * BLOCK, seed=2)})
    hub.add_fault("big.gguf", Fault("cut", after=10 * BLOCK + 5000))
    path = hf_hub_download("org/big", "big.gguf", endpoint=hub.url, cache_dir=tmp_path)
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == hub.sha256("org/big", "big.gguf")
    gets = [r.headers.get("range") for r in hub.requests if r.method == "GET"]
    assert gets == [None, f"bytes={10 * BLOCK}-"] and hub.pending_faults() == 0


def test_body_faults_reset_corrupt_wrong_length(hub: FakeHub, tmp_path: Path) -> None:
    url, data = f"/{REPO}/resolve/main/README.md", hub.content(REPO, "README.md")
    hub.add_fault("README.md", Fault("corrupt", offset=1, count=2))
    body = raw(hub, "GET", url)[2]
    assert len(body) == len(data) and body[0] == data[0] and body[1:3] != data[1:3]
    assert raw(hub, "GET", url)[2] == data  # consumed
    hub.add_fault("README.md", Fault("wrong_length", delta=-2))
    _, headers, body = raw(hub, "GET", url)
    assert headers["content-length"] == str(len(data) - 2) and body == data[:-2]

    # A reset is *not* retried by huggingface_hub 2.4.0 (httpx ReadError escapes http_get).
    hub.add_fault("model-Q4.gguf", Fault("reset", after=1000))
    with pytest.raises(httpx2.ReadError):
        hf_hub_download(REPO, "model-Q4.gguf", endpoint=hub.url, cache_dir=tmp_path)
    # Corruption at the right size is stored under the sha256 name (the client checks sizes only).
    hub.add_fault("model-Q4.gguf", Fault("corrupt", offset=7))
    path = hf_hub_download(REPO, "model-Q4.gguf", endpoint=hub.url, cache_dir=tmp_path)
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() != hub.sha256(REPO, "model-Q4.gguf")


def test_status_faults_and_counts(hub: FakeHub) -> None:
    hub.add_fault("/api/", Fault("status", code=503, retry_after=7), times=2)
    hub.add_fault("/resolve/", Fault("status", code=500, methods=("HEAD",)))
    for _ in range(2):
        status, headers, _ = raw(hub, "GET", f"/api/models/{REPO}/refs")
        assert (status, headers["retry-after"]) == (503, "7")
    assert raw(hub, "GET", f"/api/models/{REPO}/refs")[0] == 200
    assert raw(hub, "GET", f"/{REPO}/resolve/main/README.md")[0] == 200  # GET: not a HEAD fault
    assert raw(hub, "HEAD", f"/{REPO}/resolve/main/README.md")[0] == 500
    assert hub.pending_faults() == 0
    assert hub.count(kind="refs") == 3 and hub.count(method="head", kind="resolve") == 1
    assert hub.count(path_contains="README") == 2 and hub.count(kind="other") == 0
    assert raw(hub, "GET", "/api/agent-harnesses")[2] == b'{"standardEnvVars": [], "harnesses": {}}'
    assert hub.count(kind="other") == 1
    hub.reset_counts()
    assert hub.count() == 0


def test_slow_and_throttle(hub: FakeHub) -> None:
    hub.add_fault("README.md", Fault("slow", seconds=0.3))
    start = time.monotonic()
    assert raw(hub, "GET", f"/{REPO}/resolve/main/README.md")[2] == FILES["README.md"]
    assert time.monotonic() - start >= 0.3
    hub.rate_limit_bytes_per_s = 4 * BLOCK
    start = time.monotonic()
    body = raw(hub, "GET", f"/{REPO}/resolve/main/model-Q4.gguf", Range=f"bytes=0-{BLOCK - 1}")[2]
    assert len(body) == BLOCK and 0.2 <= time.monotonic() - start < 1.0


def test_response_delay_holds_back_every_answer(hub: FakeHub) -> None:
    hub.response_delay_s = 0.2
    asked = (("GET", f"/api/models/{REPO}/refs"), ("HEAD", f"/{REPO}/resolve/main/README.md"),
             ("GET", "/nowhere"))
    for method, path in asked:
        start = time.monotonic()
        status = raw(hub, method, path)[0]
        assert time.monotonic() - start >= 0.2, f"{method} {path} answered at once"
        assert status == (404 if path == "/nowhere" else 200)
    hub.response_delay_s = 0.0
    assert raw(hub, "GET", f"/api/models/{REPO}/refs")[0] == 200
    assert hub.count() == 4


def test_hold_pauses_a_body_at_a_byte_until_released(hub: FakeHub) -> None:
    fault = Fault("hold", after=CHUNK)
    hub.add_fault("model-Q4.gguf", fault)
    request = (f"GET /{REPO}/resolve/main/model-Q4.gguf HTTP/1.1\r\nHost: hub\r\n"
               "Connection: close\r\n\r\n")
    with socket.create_connection((hub.host, hub.port), timeout=10) as sock:
        sock.sendall(request.encode())
        received = b""
        while len(received.partition(b"\r\n\r\n")[2]) < CHUNK:
            received += sock.recv(1 << 16)
        assert select.select([sock], [], [], 0.2)[0] == [], "bytes came past the hold"
        fault.release.set()
        while piece := sock.recv(1 << 20):
            received += piece
    assert received.partition(b"\r\n\r\n")[2] == hub.content(REPO, "model-Q4.gguf")


def test_stop_is_quick_drops_connections_and_restarts(hub: FakeHub) -> None:
    url, errors = hub.url, []
    idle = http.client.HTTPConnection(hub.host, hub.port, timeout=5)
    idle.request("GET", f"/api/models/{REPO}/refs")
    assert idle.getresponse().read()  # an idle keep-alive connection stays open
    hub.add_fault("model-Q4.gguf", Fault("slow", seconds=30))

    def download() -> None:
        try:
            raw(hub, "GET", f"/{REPO}/resolve/main/model-Q4.gguf")
        except (OSError, http.client.HTTPException) as exc:
            errors.append(exc)

    busy = threading.Thread(target=download)
    busy.start()
    while hub.count(kind="resolve") == 0:
        time.sleep(0.01)
    start = time.monotonic()
    hub.stop()  # the Hub goes down mid-response
    busy.join(timeout=5)
    assert time.monotonic() - start < 1.0 and len(errors) == 1
    with pytest.raises((OSError, http.client.HTTPException)):
        idle.request("GET", f"/api/models/{REPO}/refs")
        idle.getresponse().read()
    with pytest.raises(ConnectionRefusedError):
        raw(hub, "GET", "/api/agent-harnesses")
    hub.start()
    assert hub.url == url and raw(hub, "GET", f"/api/models/{REPO}/refs")[0] == 200


def test_hub_env_points_subprocesses_at_the_fake_hub(hub: FakeHub, hub_env: Path) -> None:
    code = (
        "import sys; from huggingface_hub import snapshot_download as s; "
        f"print(s({REPO!r}, allow_patterns=['*.gguf', '*.ini']))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    commit = hub.commit(REPO)
    snapshot = hub_env / "models--org--model" / "snapshots" / commit
    assert Path(out.stdout.strip()) == snapshot
    assert sorted(p.name for p in snapshot.iterdir()) == ["model-Q4.gguf", "preset.ini"]
    assert hub.count(kind="other") == 0  # agent-harness registry pre-written in HF_HOME
    assert [r.kind for r in hub.requests][:2] == ["info", "tree"]
    assert hub.count(method="GET", kind="resolve") == 2
