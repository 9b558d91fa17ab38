"""Reliability with caches that are shared, read-only or already hold the bytes, and Hubs that
answer something else than the Hub API; against the fake Hub on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.fetch import run as fetch_run
from tests.downloads import wait_for
from tests.fakehub import FakeHub, Fault, GeneratedFile
from tests.helpers import (
    invoke_command,
    llama_offline_lookup,
    run_fetch,
    suite_for,
    write_suite,
)

REPO = "org/shared-GGUF"
MODEL = "shared-Q4_K_M.gguf"


def read_only(cache: Path, *command: str) -> list[str]:
    """`command` run with `cache` bind-mounted read-only over itself, in a private mount
    namespace (nothing outlives the process): what a CI runner with a `:ro` cache sees."""
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return ["unshare", "-rm", "sh", "-c", script, str(cache), *command]


@pytest.fixture
def mount_namespaces(tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    probe = tmp_path / "probe"
    probe.mkdir()
    run = subprocess.run(read_only(probe, "touch", str(probe / "x")), capture_output=True,
                         text=True, check=False)
    if "Read-only file system" not in run.stderr:
        pytest.skip(f"no private read-only mounts here: {run.stderr.strip()}")


def tree_state(cache: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(cache)), p.lstat().st_mtime_ns) for p in cache.rglob("*"))


def test_a_warm_read_only_cache_works_and_a_cold_one_says_so_once(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    mount_namespaces: None,
) -> None:
    fake_hub.add_repo(REPO, {MODEL: GeneratedFile(4000, 3)})
    root, cache = tmp_path / "p", tmp_path / "cache"
    write_suite(root, f"class S:\n    pass\n\ndef test_a():\n    s = S()\n"
                      f"    s.model_hf_repo = '{REPO}:Q4_K_M'\n")
    code, _, _ = run_fetch(root, capsys, cache_dir=str(cache))
    assert code == 0
    before = tree_state(cache)
    for task, *flags in (["models.fetch"], ["models.fetch", "--verify"],
                         ["models.fetch", "--offline"], ["test.server", "--workers", "1"]):
        run = subprocess.run(read_only(cache, *invoke_command(
            task, "--root", str(root), *flags)), capture_output=True, text=True, timeout=120,
            check=False, env=dict(os.environ, LLAMA_CACHE=str(cache)))
        assert run.returncode == 0, f"{task} {flags}: {run.stdout}{run.stderr}"
        assert "Traceback" not in run.stderr
    assert tree_state(cache) == before, "a warm cache is not written to"
    fake_hub.add_repo("org/new-GGUF", {"new-Q4_K_M.gguf": GeneratedFile(1000, 4)})
    suite_for(root, f"{REPO}:Q4_K_M", "org/new-GGUF")
    fake_hub.reset_counts()
    run = subprocess.run(read_only(cache, *invoke_command(
        "models.fetch", "--root", str(root))), capture_output=True, text=True, timeout=120,
        check=False, env=dict(os.environ, LLAMA_CACHE=str(cache)))
    assert run.returncode == 1
    assert run.stderr.count("cannot be written to") == 1, run.stderr
    assert f"error: the cache {cache} cannot be written to (a read-only mount?)" in run.stderr
    assert "Traceback" not in run.stderr
    assert fake_hub.count("GET", "resolve") == 0, "nothing is requested that cannot be stored"
    assert llama_offline_lookup(cache, REPO, MODEL) is not None


def test_refs_main_is_rewritten_only_when_it_changes(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.add_repo(REPO, {MODEL: GeneratedFile(4000, 3)})
    root, cache = suite_for(tmp_path / "p", f"{REPO}:Q4_K_M"), tmp_path / "cache"
    assert run_fetch(root, capsys, cache_dir=str(cache))[0] == 0
    ref = cache / "models--org--shared-GGUF/refs/main"
    os.utime(ref, ns=(1, 1))
    assert run_fetch(root, capsys, cache_dir=str(cache))[0] == 0
    assert ref.stat().st_mtime_ns == 1


def test_an_html_page_instead_of_the_api_is_named_and_the_cache_is_used(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.add_repo(REPO, {MODEL: GeneratedFile(4000, 3)})
    fake_hub.add_repo("org/uncached-GGUF", {"u-Q4_K_M.gguf": GeneratedFile(1000, 5)})
    root = suite_for(tmp_path / "p", f"{REPO}:Q4_K_M")
    assert run_fetch(root, capsys)[0] == 0
    suite_for(root, f"{REPO}:Q4_K_M", "org/uncached-GGUF")
    fake_hub.add_fault("/api/", Fault("html"), times=None)
    code, out, err = run_fetch(root, capsys, latest=True)
    assert code == 1, "the uncached model cannot be had"
    assert "JSONDecodeError" not in out + err and "Traceback" not in err
    assert (f"org/uncached-GGUF: {fake_hub.url} answered an HTML page, not the Hub API: is a "
            "proxy or a captive portal in the way?") in out
    assert "note: org/shared-GGUF:Q4_K_M: Hub unavailable, using the cached snapshot" in out


class SilentHub:
    """Accepts connections on 127.0.0.1 and never answers: a hung Hub or a black-holing proxy."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self.server.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_hub() -> Iterator[SilentHub]:
    hub = SilentHub()
    yield hub
    hub.close()


def test_a_hub_that_never_answers_ends_the_run_and_the_cache_is_used(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_hub.add_repo(REPO, {MODEL: GeneratedFile(4000, 3)})
    root = suite_for(tmp_path / "p", f"{REPO}:Q4_K_M")
    assert run_fetch(root, capsys)[0] == 0
    suite_for(root, f"{REPO}:Q4_K_M", "org/a-GGUF", "org/b-GGUF", "org/c-GGUF")
    silent = SilentHub()
    try:
        monkeypatch.setenv("HF_ENDPOINT", silent.url)
        monkeypatch.setenv("MODEL_ENDPOINT", silent.url)
        code, out, err = run_fetch(root, capsys, timeout=0.5, jobs=1, latest=True)
        connections = len(silent.accepted)
    finally:
        silent.close()
    assert code == 1 and "Traceback" not in err
    assert f"{silent.url} did not answer in time to send the next bytes" in out
    assert "not asked: " + silent.url + " did not answer earlier in this run" in out
    assert "note: org/shared-GGUF:Q4_K_M: Hub unavailable, using the cached snapshot" in out
    assert connections == 2, "one try and one retry, then the silent Hub is not asked again"


def test_ctrl_c_while_a_listing_hangs_ends_the_run_at_once(
    silent_hub: SilentHub, hub_env: Path, tmp_path: Path
) -> None:
    root = suite_for(tmp_path / "p", "org/a-GGUF", "org/b-GGUF", "org/c-GGUF")
    run = subprocess.Popen(invoke_command("models.fetch", "--root", str(root), "--jobs", "1"),
                           env=dict(os.environ, HF_HUB_CACHE=str(hub_env), TERM="dumb",
                                    HF_ENDPOINT=silent_hub.url, MODEL_ENDPOINT=silent_hub.url),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not silent_hub.accepted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert silent_hub.accepted, "the first listing never started"
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=5)  # the default timeout (10 s) is not waited for
    assert run.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
    assert len(silent_hub.accepted) == 1, "no listing was sent after Ctrl-C"
    assert "listing 3 repo(s) at " + silent_hub.url in out


def test_a_new_main_that_changed_only_its_readme_costs_no_download(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    weights = GeneratedFile(400_000, 3)
    fake_hub.add_repo(REPO, {MODEL: weights, "README.md": b"v1"})
    root = suite_for(tmp_path / "p", f"{REPO}:Q4_K_M")
    assert run_fetch(root, capsys)[0] == 0
    new_commit = fake_hub.add_repo(REPO, {MODEL: weights, "README.md": b"v2, typo fixed"})
    fake_hub.reset_counts()
    monkeypatch.setattr(fetch_run, "free_space", lambda path: 1000)  # a nearly full disk
    code, out, err = run_fetch(root, capsys, latest=True)
    assert code == 0, out + err
    assert "to download: 0 files, 0 B; already cached: 1 files, 400.0 kB" in out
    assert "1 models: 1 cached; downloaded 0 B" in out
    assert fake_hub.count("GET", "resolve") == 0 and fake_hub.count("HEAD") == 0
    assert (hub_env / "models--org--shared-GGUF/refs/main").read_text() == new_commit
    assert llama_offline_lookup(hub_env, REPO, MODEL) == weights.read()


def test_offline_a_file_the_snapshot_lacks_is_not_in_the_cache(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.add_repo("org/files", {"a.gguf": GeneratedFile(100, 1),
                                    "b.gguf": GeneratedFile(100, 2)})
    root = tmp_path / "p"
    write_suite(root, 'def test_a():\n    s.model_hf_repo = "org/files"\n'
                      '    s.model_hf_file = "a.gguf"\n')
    assert run_fetch(root, capsys)[0] == 0
    write_suite(root, 'def test_a():\n    s.model_hf_repo = "org/files"\n'
                      '    s.model_hf_file = "b.gguf"\n')
    code, out, _ = run_fetch(root, capsys, offline=True)
    assert code == 1
    assert "org/files: file 'b.gguf': not in the cache (offline: no such file in the cached " \
           "snapshot)" in out


def test_a_full_disk_names_the_cache_once(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, mount_namespaces: None
) -> None:
    """The cache is a tmpfs with room for a few inodes only: free bytes look plenty, so the
    free-space check passes and the write itself fails with ENOSPC, as on a full disk."""
    fake_hub.add_repo("org/full-GGUF", {"full-Q4_K_M.gguf": GeneratedFile(100_000, 1)})
    root, cache = suite_for(tmp_path / "p", "org/full-GGUF"), tmp_path / "cache"
    cache.mkdir()
    script = 'mount -t tmpfs -o size=50m,nr_inodes=9 tmpfs "$0" && exec "$@"'
    run = subprocess.run(["unshare", "-rm", "sh", "-c", script, str(cache), *invoke_command(
        "models.fetch", "--root", str(root), "--cache-dir", str(cache))],
        capture_output=True, text=True, timeout=120, check=False,
        env=dict(os.environ, TERM="dumb"))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    cause = (f"org/full-GGUF full-Q4_K_M.gguf: no space left on the device of the cache {cache} "
             "(No space left on device)")
    assert f"    cause: {cause}" in run.stdout
    assert f"failed      {cause}" in run.stdout, "the file is named once"


#: In a private tmpfs of 10 MB: a fetch of a 6 MB file, which the fake Hub holds after 1 MiB;
#: once the partial's record (its last line: one range) says that MiB is written, a filler
#: takes the rest of the space and says so in `$CACHE.filled` (outside the tmpfs) for the test
#: to release the Hub; the next write finds the disk full. Then the filler goes and the fetch
#: runs again.
FILL_MID_FILE = r"""
mount -t tmpfs -o size=10m tmpfs "$CACHE" || exit 99
"$@" > "$CACHE.first" 2>&1 &
fetch=$!
until [ "$(tail -c 21 "$CACHE"/models--*/blobs/*.resume.incomplete 2>/dev/null)" = \
        00000000000001048576 ] || ! kill -0 $fetch 2>/dev/null
do sleep 0.05; done
head -c 20000000 /dev/zero > "$CACHE/filler" 2>/dev/null
touch "$CACHE.filled"
wait $fetch; echo "first exit $?"; cat "$CACHE.first"
rm "$CACHE/filler"
"$@"; echo "rerun exit $?"
sha256sum "$CACHE"/models--*/snapshots/*/*.gguf
"""


def test_a_disk_full_mid_file_keeps_the_bytes_and_the_rerun_resumes(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, mount_namespaces: None
) -> None:
    fake_hub.add_repo("org/full-GGUF", {"full-Q4_K_M.gguf": GeneratedFile(6_000_000, 1)})
    hold = Fault("hold", after=1024 * 1024)
    fake_hub.add_fault("full-Q4_K_M.gguf", hold, times=1)
    root, cache = suite_for(tmp_path / "p", "org/full-GGUF"), tmp_path / "cache"
    cache.mkdir()
    # a timeout long enough that the held response is never retried before the disk is full
    fetch = invoke_command("models.fetch", "--root", str(root), "--cache-dir", str(cache),
                           "--timeout", "60")
    run = subprocess.Popen(["unshare", "-rm", "sh", "-c", FILL_MID_FILE, "sh", *fetch],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=dict(os.environ, TERM="dumb", CACHE=str(cache)))
    try:
        wait_for(Path(f"{cache}.filled").exists, "the filler to fill the disk", timeout=60)
        hold.release.set()
        out, err = run.communicate(timeout=120)
    finally:
        hold.release.set()
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert "first exit 1" in out and "Traceback" not in out + err, out + err
    first = " ".join(out[:out.index("rerun exit")].split())  # long lines wrap at 200 columns
    assert (f"cause: org/full-GGUF full-Q4_K_M.gguf: no space left on the device of the cache "
            f"{cache} (No space left on device); 17 % kept, the next run resumes it") in first
    rerun = out[out.index("rerun exit") - 2000:]
    assert "resuming   org/full-GGUF full-Q4_K_M.gguf: " in out and "rerun exit 0" in out
    assert f"{fake_hub.sha256('org/full-GGUF', 'full-Q4_K_M.gguf')}  {cache}/" in rerun
    resumed = [r.headers["range"] for r in fake_hub.requests
               if r.method == "GET" and "range" in r.headers]
    assert resumed == ["bytes=1048576-5999999"], "the rerun asked for the missing bytes only"


def test_a_refused_endpoint_is_tried_for_one_repo_only(
    hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: refused
    monkeypatch.setenv("MODEL_ENDPOINT", "http://127.0.0.1:9")
    root = suite_for(tmp_path / "p", "org/a-GGUF", "org/b-GGUF", "org/c-GGUF")
    code, out, err = run_fetch(root, capsys, jobs=1)
    assert code == 1 and "Traceback" not in err
    causes = [line for line in out.splitlines() if line.startswith("    cause: ")]
    assert len(causes) == 3
    assert causes[0].startswith("    cause: org/a-GGUF: cannot reach the Hub (")
    for later in causes[1:]:
        assert later.endswith(": cannot reach the Hub: not asked, http://127.0.0.1:9 refused or "
                              "dropped the connection earlier in this run")
