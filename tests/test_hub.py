"""The Hub client: how often a failing request is tried and how long it waits in between, when
an endpoint is no longer asked, what a listing keeps and refuses, and what a file request sends.
Against the fake Hub in tests/fakehub.py, with the real huggingface_hub client."""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

import pytest

from scanner.hub.client import HubClient, with_retries
from scanner.hub.errors import Cancelled, HubError
from tests.fakehub import FakeHub, Fault, GeneratedFile

REPO = "org/m-GGUF"
CLOSED = "http://127.0.0.1:9"  # nothing listens there: connections are refused at once


class Waits(threading.Event):
    """A cancel event that records how long each backoff would wait, without waiting."""

    def __init__(self, cancel_at: int | None = None) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self.cancel_at = cancel_at

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.seconds.append(timeout)
        return len(self.seconds) == self.cancel_at


class Calls:
    """A call that fails with the given errors in turn, then answers "ok"; `written` is the
    progress (bytes) each attempt leaves behind."""

    def __init__(self, *errors: BaseException, written: list[int] | None = None) -> None:
        self.errors, self.made = list(errors), 0
        self.written = written

    def __call__(self) -> str:
        self.made += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"

    def progress(self) -> int:
        assert self.written is not None
        return self.written[min(self.made, len(self.written) - 1)]


def retried(call: Calls, waits: Waits, *, attempts: int = 4, backoff: float = 1.0,
            progress: bool = False, total: int | None = None) -> str:
    return with_retries(call, attempts=attempts, backoff=backoff, classify_error=lambda e: e
                        if isinstance(e, HubError) else HubError("other", str(e)),
                        cancel=waits, progress=call.progress if progress else None, total=total)


def server_error() -> HubError:
    return HubError("server", "org/m-GGUF: Hub server error (HTTP 503)")


def test_retriable_failures_back_off_exponentially() -> None:
    waits, call = Waits(), Calls(server_error(), server_error(), server_error())
    assert retried(call, waits, backoff=0.5) == "ok"
    assert (call.made, waits.seconds) == (4, [0.5, 1.0, 2.0])


def test_retry_after_is_waited_for_up_to_a_minute() -> None:
    waits = Waits()
    call = Calls(HubError("rate_limited", "429", retry_after=3.0),
                 HubError("rate_limited", "429", retry_after=600.0))
    assert retried(call, waits) == "ok"
    assert waits.seconds == [3.0, 60.0]


def test_attempts_bound_the_failures_and_the_last_error_is_raised() -> None:
    waits, call = Waits(), Calls(*[server_error() for _ in range(9)])
    with pytest.raises(HubError, match="HTTP 503") as raised:
        retried(call, waits, attempts=3)
    assert (call.made, len(waits.seconds)) == (3, 2)
    assert raised.value.__cause__ is not None


def test_a_failure_that_is_not_retriable_is_raised_at_once() -> None:
    waits, call = Waits(), Calls(HubError("auth", "denied"))
    with pytest.raises(HubError, match="denied"):
        retried(call, waits)
    assert (call.made, waits.seconds) == (1, [])


def test_an_unknown_exception_is_classified() -> None:
    with pytest.raises(HubError, match=r"^odd$"):
        retried(Calls(ValueError("odd")), Waits())


def test_a_silent_hub_is_tried_twice() -> None:
    waits, call = Waits(), Calls(*[HubError("timeout", "silent") for _ in range(5)])
    with pytest.raises(HubError, match="silent"):
        retried(call, waits, attempts=4)
    assert call.made == 2


def test_progress_restarts_the_count_up_to_the_total() -> None:
    # every attempt brings new bytes: retried until `total`, each wait the first backoff
    call = Calls(*[server_error() for _ in range(9)], written=[0, 10, 20, 30, 40, 50, 60])
    waits = Waits()
    with pytest.raises(HubError):
        retried(call, waits, attempts=2, progress=True, total=5)
    assert (call.made, waits.seconds) == (5, [1.0] * 4)


def test_a_download_that_stalls_fails_after_attempts_in_a_row() -> None:
    # bytes on the first attempt only: then 2 attempts in a row without any
    call = Calls(*[server_error() for _ in range(9)], written=[0, 10, 10, 10, 10])
    waits = Waits()
    with pytest.raises(HubError):
        retried(call, waits, attempts=2, progress=True, total=9)
    assert (call.made, waits.seconds) == (3, [1.0, 1.0])


def test_a_silent_download_that_still_brings_bytes_is_tried_again() -> None:
    call = Calls(*[HubError("timeout", "t") for _ in range(3)], written=[5, 10, 20, 30])
    assert retried(call, Waits(), attempts=4, progress=True, total=9) == "ok"
    assert call.made == 4
    stalled = Calls(*[HubError("timeout", "t") for _ in range(3)], written=[5, 5])
    with pytest.raises(HubError):
        retried(stalled, Waits(), attempts=4, progress=True, total=9)
    assert stalled.made == 2


def test_without_a_total_attempts_bound_a_download_too() -> None:
    call = Calls(*[server_error() for _ in range(9)], written=[0, 10, 20, 30, 40, 50])
    with pytest.raises(HubError):
        retried(call, Waits(), attempts=3, progress=True)
    assert call.made == 3


def test_cancel_stops_a_wait_and_a_call() -> None:
    waits, call = Waits(cancel_at=2), Calls(*[server_error() for _ in range(9)])
    with pytest.raises(Cancelled, match=r"^interrupted$"):
        retried(call, waits)
    assert call.made == 2
    with pytest.raises(Cancelled):
        retried(Calls(Cancelled("stop")), Waits())


def test_sockets_are_read_a_mebibyte_at_a_time_by_our_client_alone(
        repo_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """1 MiB reads (a third less CPU time, bench/fetch.py) through a transport of our own:
    the HTTP stack's class attribute, which every client of the process reads, is left as it
    was."""
    from httpcore2._sync.http11 import HTTP11Connection

    asked: list[int] = []
    recv = socket.socket.recv

    def recording(sock: socket.socket, size: int, *flags: int) -> bytes:
        asked.append(size)
        return recv(sock, size, *flags)

    monkeypatch.setattr(socket.socket, "recv", recording)
    client_of(repo_hub, tmp_path).listing(REPO)
    assert asked and set(asked) == {1024 * 1024}
    assert HTTP11Connection.READ_NUM_BYTES == 64 * 1024


def test_a_proxy_named_in_the_environment_is_used(repo_hub: FakeHub, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALL_PROXY", CLOSED)  # a proxy that refuses: the Hub is not reached
    with pytest.raises(HubError, match="cannot reach the Hub"):
        HubClient(repo_hub.url, None, tmp_path, attempts=1).listing(REPO)
    assert repo_hub.requests == []


@pytest.fixture
def repo_hub(fake_hub: FakeHub) -> FakeHub:
    fake_hub.add_repo(REPO, {"m-Q4_K_M.gguf": GeneratedFile(3000, 1), "sub/notes.txt": b"notes",
                             "empty.txt": b""})
    return fake_hub


def client_of(hub_: FakeHub | str, tmp_path: Path, token: str | None = None,
              timeout: float = 10.0) -> HubClient:
    return HubClient(hub_ if isinstance(hub_, str) else hub_.url, token, tmp_path,
                     timeout=timeout)


def test_a_listing_of_main_at_its_commit(repo_hub: FakeHub, tmp_path: Path) -> None:
    listing, problems = client_of(repo_hub, tmp_path).listing(REPO)
    assert (listing.repo, listing.commit, problems) == (REPO, repo_hub.commit(REPO), [])
    by_path = {f.path: f for f in listing.files}
    assert sorted(by_path) == ["empty.txt", "m-Q4_K_M.gguf", "sub/notes.txt"]  # recursive
    gguf = by_path["m-Q4_K_M.gguf"]
    assert (gguf.size, gguf.sha256) == (3000, repo_hub.sha256(REPO, "m-Q4_K_M.gguf"))
    assert by_path["sub/notes.txt"].sha256 is None and by_path["empty.txt"].size == 0
    refs = [r for r in repo_hub.requests if r.kind == "refs"]
    trees = [r for r in repo_hub.requests if r.kind == "tree"]
    assert len(refs) == 1 and len(trees) == 1
    assert f"/tree/{repo_hub.commit(REPO)}" in trees[0].path


def test_a_commit_is_not_looked_up(repo_hub: FakeHub, tmp_path: Path) -> None:
    commit = repo_hub.commit(REPO)
    assert client_of(repo_hub, tmp_path).commit_of(REPO, commit) == commit
    assert repo_hub.requests == []


def test_an_unknown_branch(repo_hub: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(HubError) as raised:
        client_of(repo_hub, tmp_path).listing(REPO, "v9")
    assert (raised.value.kind, str(raised.value)) == (
        "revision_not_found", f"{REPO}: no branch or tag named 'v9'")


def test_listing_entries_that_are_refused(repo_hub: FakeHub, tmp_path: Path) -> None:
    good = repo_hub.file_entries(REPO)
    lfs = next(e for e in good if "lfs" in e)
    plain = next(e for e in good if "lfs" not in e and e["size"])
    bad = [
        {"type": "directory", "oid": "0" * 40, "size": 0, "path": "sub"},
        {**plain, "path": "../escape.txt"},
        {**plain, "path": "bell\x07.txt"},
        {**plain, "path": "neg.txt", "size": -1},
        {**lfs, "path": "badsha.gguf", "lfs": {**lfs["lfs"], "oid": "nothex"}},
        {**plain, "path": "badoid.txt", "oid": "xyz"},
        {**plain, "path": "nooid.txt", "oid": ""},
    ]
    repo_hub.override_tree(REPO, bad + good)
    listing, problems = client_of(repo_hub, tmp_path).listing(REPO)
    assert sorted(f.path for f in listing.files) == sorted(e["path"] for e in good)
    assert problems[1:] == [
        f"{REPO}: listing entry 'bell\\x07.txt' refused: control or unprintable characters in "
        "the path",
        f"{REPO}: listing entry 'neg.txt' refused: invalid size -1",
        f"{REPO}: listing entry 'badsha.gguf' refused: invalid LFS sha256 'nothex'",
        f"{REPO}: listing entry 'badoid.txt' refused: invalid git oid 'xyz'",
        f"{REPO}: listing entry 'nooid.txt' refused: invalid git oid ''",
    ]
    assert problems[0].startswith(f"{REPO}: listing entry '../escape.txt' refused: ")


def test_an_lfs_entry_is_checked_by_its_sha256_not_its_oid(repo_hub: FakeHub,
                                                           tmp_path: Path) -> None:
    lfs = next(e for e in repo_hub.file_entries(REPO) if "lfs" in e)
    repo_hub.override_tree(REPO, [{**lfs, "oid": "not-a-commit"}])
    listing, problems = client_of(repo_hub, tmp_path).listing(REPO)
    assert problems == [] and [f.path for f in listing.files] == [lfs["path"]]


def test_a_failing_endpoint_is_tried_four_times(repo_hub: FakeHub, tmp_path: Path) -> None:
    repo_hub.add_fault("/refs", Fault("status", code=503), times=None)
    with pytest.raises(HubError, match="HTTP 503"):
        client_of(repo_hub, tmp_path).listing(REPO)
    assert repo_hub.count(kind="refs") == 4


def test_a_silent_endpoint_is_not_asked_again(repo_hub: FakeHub, tmp_path: Path) -> None:
    silent = Fault("hold")  # no byte of the answer until the test ends: no clock involved
    repo_hub.add_fault("/refs", silent, times=2)
    client = client_of(repo_hub, tmp_path, timeout=0.2)
    try:
        with pytest.raises(HubError) as first:
            client.listing(REPO)
    finally:
        silent.release.set()
    assert first.value.kind == "timeout" and repo_hub.count(kind="refs") == 2
    with pytest.raises(HubError) as later:
        client.listing("org/other")
    assert (later.value.kind, later.value.endpoint_down, str(later.value)) == (
        "unreachable", True, f"org/other: not asked: {repo_hub.url} did not answer earlier in "
                             "this run (timeout: --timeout)")
    assert repo_hub.count(kind="refs") == 2


def test_a_refusing_endpoint_is_not_asked_again(tmp_path: Path) -> None:
    client = client_of(CLOSED, tmp_path)
    with pytest.raises(HubError) as first:
        client.listing(REPO)
    assert first.value.kind == "unreachable" and first.value.endpoint_down
    with pytest.raises(HubError) as later:
        client.listing("org/other")
    assert str(later.value) == (f"org/other: cannot reach the Hub: not asked, {CLOSED} refused "
                                "or dropped the connection earlier in this run")


def test_a_missing_repo_does_not_silence_the_endpoint(repo_hub: FakeHub, tmp_path: Path) -> None:
    client = client_of(repo_hub, tmp_path)
    with pytest.raises(HubError, match="repository not found"):
        client.listing("org/missing")
    assert client.listing(REPO)[0].repo == REPO


def test_a_cancelled_client_asks_nothing(repo_hub: FakeHub, tmp_path: Path) -> None:
    client = client_of(repo_hub, tmp_path)
    assert not client.cancelled
    client.cancel()
    assert client.cancelled
    with pytest.raises(Cancelled, match=r"^interrupted$"):
        client.listing(REPO)
    assert repo_hub.requests == []


def test_the_token_is_sent(repo_hub: FakeHub, tmp_path: Path) -> None:
    client = client_of(repo_hub, tmp_path, token="hf_secret")
    client.listing(REPO)
    assert {r.headers.get("authorization") for r in repo_hub.requests} == {"Bearer hf_secret"}
    assert client.file_headers()["authorization"] == "Bearer hf_secret"
    assert "authorization" not in client_of(repo_hub, tmp_path, token="").file_headers()


@pytest.mark.parametrize("userinfo", [False, True], ids=["token", "password-in-endpoint"])
def test_a_listing_page_on_another_host_gets_no_credentials(
    repo_hub: FakeHub, tmp_path: Path, userinfo: bool
) -> None:
    """A tree page's `Link: next` naming another origin is followed (the listing is whole)
    without the token or the endpoint's password, as a redirect leaving the origin is."""
    repo_hub.tree_page_size = 1
    with FakeHub() as other:  # the same repo, on another port: another origin
        other.add_repo(REPO, {"m-Q4_K_M.gguf": GeneratedFile(3000, 1),
                              "sub/notes.txt": b"notes", "empty.txt": b""})
        other.tree_page_size = 1
        repo_hub.tree_next_base = other.url
        endpoint = repo_hub.url.replace("://", "://user:pw-secret@") if userinfo \
            else repo_hub.url
        listing, _ = client_of(endpoint, tmp_path, token="hf_secret").listing(REPO)
        assert sorted(f.path for f in listing.files) == [
            "empty.txt", "m-Q4_K_M.gguf", "sub/notes.txt"]
        assert other.requests and all("authorization" not in r.headers
                                      for r in other.requests)
    assert all(r.headers.get("authorization") for r in repo_hub.requests), "the endpoint's"

def test_a_file_request(repo_hub: FakeHub, tmp_path: Path,
                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="scanner.hub.client")
    with FakeHub() as cdn:
        cdn.add_repo(REPO, {"m-Q4_K_M.gguf": GeneratedFile(3000, 1)})
        repo_hub.lfs_redirect = cdn.url
        client = client_of(repo_hub, tmp_path)
        commit = repo_hub.commit(REPO)
        url = client.file_url(REPO, commit, "m-Q4_K_M.gguf")
        assert url == f"{repo_hub.url}/{REPO}/resolve/{commit}/m-Q4_K_M.gguf"
        headers = {**client.file_headers(), "Range": "bytes=10-"}
        with client.stream(url, headers) as response:
            body = response.read()
        assert (response.status_code, len(body)) == (206, 2990)  # from the CDN
        assert cdn.requests[0].headers["accept-encoding"] == "identity"
        assert [r.method for r in repo_hub.requests] == ["GET"]
        with client.stream(url, client.file_headers()) as whole:
            assert whole.read() == cdn.content(REPO, "m-Q4_K_M.gguf")
    assert [r.getMessage() for r in caplog.records] == [
        f"GET {url} (bytes=10-)", f"GET {url}"]


def test_requests_are_logged_when_verbose(repo_hub: FakeHub, tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="scanner.hub.client")
    client = client_of(repo_hub, tmp_path)
    client.listing(REPO)
    client.request(lambda: None, REPO, "m-Q4_K_M.gguf")
    assert [r.getMessage() for r in caplog.records] == [
        f"asking {repo_hub.url} about {REPO}"] * 2 + [
        f"asking {repo_hub.url} about {REPO} m-Q4_K_M.gguf"]
