"""What a user reads when the Hub fails: each failure's message, its kind (retried or not, a
cached snapshot used instead or not), and what a file answer or a lock's size is checked for."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import httpx2 as httpx
import pytest
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from scanner.hub.errors import (
    HubError,
    classify,
    file_response_error,
    lock_size_error,
    response_error,
    status_error,
)

REPO, PATH = "org/m-GGUF", "m-Q4_K_M.gguf"
WHAT = f"{REPO} {PATH}"
ASK = "set HF_TOKEN to a token that has access"
NO_ACCESS = "the token in HF_TOKEN has no access to it"


def answer(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("GET", "http://hub/f"))


def hub_http_error(kind: type[HfHubHTTPError], status: int, message: str = "boom",
                   **headers: str) -> HfHubHTTPError:
    return kind(message, response=answer(status, **headers))


def test_kinds_say_what_is_retried_and_what_a_cached_snapshot_stands_in_for() -> None:
    retried = {"unreachable", "timeout", "rate_limited", "server"}
    for kind in (*retried, "not_hub", "auth", "repo_not_found", "revision_not_found",
                 "file_not_found", "integrity", "disk_full", "other"):
        error = HubError(kind, "x")  # type: ignore[arg-type]
        assert error.retriable is (kind in retried), kind
        assert error.unavailable is (kind in retried | {"not_hub"}), kind
    plain = HubError("other", "x")
    assert plain.endpoint_down is False and plain.retry_after is None


def test_a_hub_error_passes_through() -> None:
    error = HubError("integrity", "already said")
    assert classify(error, REPO) is error


@pytest.mark.parametrize(("doc", "page"), [
    ("  <html>login</html>", "an HTML page"),
    ("plain text", "something that is not JSON"),
    ("", "something that is not JSON"),
])
def test_an_answer_that_is_not_the_api_s_json(doc: str, page: str) -> None:
    error = classify(json.JSONDecodeError("Expecting value", doc, 0), REPO, PATH,
                     endpoint="http://proxy")
    assert error.kind == "not_hub" and error.unavailable
    assert str(error) == (f"{WHAT}: http://proxy answered {page}, not the Hub API: is a proxy "
                          "or a captive portal in the way?")


def test_the_default_endpoint_name_and_no_token() -> None:
    error = classify(json.JSONDecodeError("x", "<p>", 0), REPO)
    assert str(error).startswith(f"{REPO}: the endpoint answered an HTML page,")
    gated = classify(hub_http_error(GatedRepoError, 403), REPO)
    assert str(gated) == f"{REPO}: the repo is gated or private: {ASK}"


@pytest.mark.parametrize(("has_token", "hint"), [(False, ASK), (True, NO_ACCESS)])
def test_gated_and_missing_repos_say_what_to_do_about_the_token(has_token: bool,
                                                                 hint: str) -> None:
    gated = classify(hub_http_error(GatedRepoError, 403), REPO, PATH, has_token)
    assert (gated.kind, str(gated)) == ("auth", f"{WHAT}: the repo is gated or private: {hint}")
    missing = classify(hub_http_error(RepositoryNotFoundError, 401), REPO, PATH, has_token)
    assert missing.kind == "repo_not_found" and not missing.retriable
    assert str(missing) == (f"{REPO}: repository not found on the Hub (HTTP 401; if it is "
                            f"private, {hint})")


def test_a_missing_repo_without_a_status_is_a_404() -> None:
    error = RepositoryNotFoundError("gone", response=answer(404))
    error.response = None  # type: ignore[assignment]
    assert "(HTTP 404; if it is private," in str(classify(error, REPO))


def test_missing_revision_and_file() -> None:
    revision = classify(hub_http_error(RevisionNotFoundError, 404, "no rev v9\ndetails"),
                        REPO, PATH)
    assert (revision.kind, str(revision)) == ("revision_not_found",
                                              f"{REPO}: revision not found (no rev v9)")
    file = classify(hub_http_error(RemoteEntryNotFoundError, 404), REPO, PATH)
    assert (file.kind, str(file)) == ("file_not_found",
                                      f"{WHAT}: file not found in the repo (HTTP 404)")


def test_http_statuses_through_classify_keep_retry_after() -> None:
    limited = classify(hub_http_error(HfHubHTTPError, 429, **{"Retry-After": "7"}), REPO, PATH)
    assert (limited.kind, limited.retry_after) == ("rate_limited", 7.0)
    assert str(limited) == (f"{WHAT}: rate limited by the Hub (HTTP 429); limits are per IP "
                            "address, an HF_TOKEN raises them")
    odd = classify(hub_http_error(HfHubHTTPError, 418, "teapot\nbody"), REPO, PATH)
    assert (odd.kind, str(odd), odd.retry_after) == ("other", f"{WHAT}: HTTP 418: teapot", None)
    unparsable = classify(hub_http_error(HfHubHTTPError, 429, **{"Retry-After": "soon"}), REPO)
    assert unparsable.retry_after is None


@pytest.mark.parametrize(("exc", "doing"), [
    (httpx.ConnectTimeout("t"), " to accept the connection"),
    (httpx.ReadTimeout("t"), " to send the next bytes"),
    (httpx.WriteTimeout("t"), ""),
])
def test_timeouts_say_what_the_hub_did_not_do(exc: Exception, doing: str) -> None:
    error = classify(exc, REPO, PATH, endpoint="http://hub")
    assert error.kind == "timeout" and error.endpoint_down and error.retriable
    assert str(error) == (f"{WHAT}: http://hub did not answer in time{doing}: is it up, or is "
                          "the network filtered? (timeout: --timeout)")


def test_broken_and_refused_connections() -> None:
    cut = classify(httpx.RemoteProtocolError("peer closed\nmore"), REPO, PATH)
    assert (cut.kind, cut.endpoint_down) == ("unreachable", False)
    assert str(cut) == f"{WHAT}: the Hub's response ended before its advertised size (peer closed)"
    broke = classify(httpx.ReadError("reset by peer"), REPO, PATH)
    assert (broke.kind, broke.endpoint_down) == ("unreachable", False)
    assert str(broke) == f"{WHAT}: the connection to the Hub broke (reset by peer)"
    for refused in (httpx.ConnectError("refused"), ConnectionRefusedError("refused")):
        error = classify(refused, REPO, PATH)
        assert (error.kind, error.endpoint_down) == ("unreachable", True)
        assert str(error) == f"{WHAT}: cannot reach the Hub (refused)"
    other = classify(httpx.UnsupportedProtocol("ftp"), REPO, PATH)
    assert (other.kind, other.endpoint_down, str(other)) == (
        "unreachable", False, f"{WHAT}: cannot reach the Hub (ftp)")
    slow = classify(TimeoutError("slow"), REPO)
    assert (slow.kind, slow.endpoint_down) == ("unreachable", False)


def test_a_full_disk_names_the_cache(tmp_path: Path) -> None:
    for number in (errno.ENOSPC, errno.EDQUOT):
        error = classify(OSError(number, "No space left on device"), REPO, PATH, cache=tmp_path)
        assert (error.kind, str(error)) == ("disk_full", f"{WHAT}: no space left on the device "
                                            f"of the cache {tmp_path} (No space left on device)")
    unnamed = classify(OSError(errno.ENOSPC, ""), REPO, PATH)
    assert str(unnamed) == f"{WHAT}: no space left on the device of the cache (full)"


def test_anything_else_is_named_by_its_type() -> None:
    error = classify(OSError(errno.EACCES, "denied"), REPO, PATH)
    assert (error.kind, str(error)) == ("other", f"{WHAT}: PermissionError: [Errno 13] denied")
    assert str(classify(ValueError(), REPO)) == f"{REPO}: ValueError: ValueError"
    assert str(classify(ValueError("x" * 300), REPO)) == f"{REPO}: ValueError: {'x' * 200}"
    assert not classify(ValueError("v"), REPO).endpoint_down


@pytest.mark.parametrize(("status", "kind", "message"), [
    (401, "auth", f"{WHAT}: access denied (HTTP 401): the repo is gated or private: {ASK}"),
    (403, "auth", f"{WHAT}: access denied (HTTP 403): the repo is gated or private: {ASK}"),
    (429, "rate_limited", f"{WHAT}: rate limited by the Hub (HTTP 429); limits are per IP "
                          "address, an HF_TOKEN raises them"),
    (500, "server", f"{WHAT}: Hub server error (HTTP 500)"),
    (503, "server", f"{WHAT}: Hub server error (HTTP 503)"),
    (404, "file_not_found", f"{WHAT}: not found (HTTP 404)"),
    (402, "other", f"{WHAT}: HTTP 402: detail"),
    (499, "other", f"{WHAT}: HTTP 499: detail"),
    (None, "other", f"{WHAT}: HTTP None: detail"),
])
def test_status_errors(status: int | None, kind: str, message: str) -> None:
    error = status_error(status, 3.0, WHAT, ASK, "detail")
    assert (error.kind, str(error)) == (kind, message)
    assert error.retry_after == (3.0 if kind == "rate_limited" else None)


def test_file_answers_that_are_errors() -> None:
    page = response_error(answer(200, **{"content-type": "text/html; charset=utf-8"}), WHAT, False)
    assert (page.kind, str(page)) == ("not_hub", f"{WHAT}: the endpoint answered an HTML page, "
                                      "not the file: is a proxy or a captive portal in the way?")
    gone = response_error(answer(404, **{"content-type": "application/json"}), WHAT, False)
    assert (gone.kind, str(gone)) == ("file_not_found",
                                      f"{WHAT}: file not found in the repo (HTTP 404)")
    limited = response_error(answer(429, **{"Retry-After": "2"}), WHAT, True)
    assert (limited.kind, limited.retry_after) == ("rate_limited", 2.0)
    denied = response_error(answer(403), WHAT, True)
    assert str(denied).endswith(NO_ACCESS)
    odd = response_error(answer(405), WHAT, False)
    assert str(odd) == f"{WHAT}: HTTP 405: Method Not Allowed"


@pytest.mark.parametrize(("status", "code", "kind", "message"), [
    (404, "RepoNotFound", "repo_not_found",
     f"{WHAT}: repository not found on the Hub (HTTP 404; if it is private, {ASK})"),
    (401, "RepoNotFound", "repo_not_found",
     f"{WHAT}: repository not found on the Hub (HTTP 401; if it is private, {ASK})"),
    (404, "RevisionNotFound", "revision_not_found",
     f"{WHAT}: revision not found (Invalid rev id: {'f' * 40})"),
    (404, "EntryNotFound", "file_not_found", f"{WHAT}: file not found in the repo (HTTP 404)"),
    (401, "GatedRepo", "auth", f"{WHAT}: the repo is gated or private: {ASK}"),
    (403, "GatedRepo", "auth", f"{WHAT}: the repo is gated or private: {ASK}"),
])
def test_a_file_answer_says_which_of_repo_revision_or_file_is_missing(
        status: int, code: str, kind: str, message: str) -> None:
    """By the Hub's `X-Error-Code`, as huggingface_hub's `hf_raise_for_status` reads it: a
    repo deleted from the Hub is no missing file."""
    said = f"Invalid rev id: {'f' * 40}" if code == "RevisionNotFound" else "whatever"
    error = response_error(answer(status, **{"X-Error-Code": code, "X-Error-Message": said}),
                           WHAT, False)
    assert (error.kind, str(error)) == (kind, message)
    assert not error.retriable


def test_a_missing_revision_says_what_the_hub_said_of_it() -> None:
    error = hub_http_error(RevisionNotFoundError, 404, "404 Client Error.\n\nfor url: x",
                           **{"X-Error-Message": "Invalid rev id: v9"})
    assert str(classify(error, REPO)) == f"{REPO}: revision not found (Invalid rev id: v9)"


def test_an_error_text_shows_no_password_or_query_value_of_a_url() -> None:
    error = hub_http_error(HfHubHTTPError, 418, "Client error for url "
                           "'http://user:PASSWORD@proxy/api/models/x?token=T0KEN'")
    assert str(classify(error, REPO)) == (f"{REPO}: HTTP 418: Client error for url "
                                          "'http://user:***@proxy/api/models/x?token=***'")


def test_the_file_answer_a_download_accepts() -> None:
    assert file_response_error(answer(200), 0, 10, WHAT, False) is None
    assert file_response_error(answer(200, **{"content-range": "junk"}), 4, 10, WHAT,
                               False) is None
    for content_range in ("bytes 4-9/10", "bytes 4-9/*"):
        assert file_response_error(answer(206, **{"content-range": content_range}), 4, 10,
                                   WHAT, False) is None


def test_a_file_answer_that_is_an_error_or_a_page() -> None:
    for response in (answer(500), answer(201), answer(207), answer(404),
                     answer(200, **{"content-type": "text/html"}),
                     answer(206, **{"content-type": "text/html",
                                    "content-range": "bytes 0-9/10"})):
        error = file_response_error(response, 0, 10, WHAT, False)
        assert error is not None and error.kind != "integrity", response


@pytest.mark.parametrize(("content_range", "sent"), [
    ("bytes 0-9/10", "bytes 0-9/10"),  # from the start, when byte 4 was asked for
    ("bytes 14-19/20", "bytes 14-19/20"),
    ("bytes 4-9/20", "bytes 4-9/20"),  # the file is not the listed size
    ("bytes 4-9", "bytes 4-9"),
    ("", "no Content-Range"),
])
def test_a_206_with_other_bytes_than_asked_for(content_range: str, sent: str) -> None:
    headers = {"content-range": content_range} if content_range else {}
    error = file_response_error(answer(206, **headers), 4, 10, WHAT, False)
    assert error is not None
    assert (error.kind, str(error)) == ("integrity", f"{WHAT}: asked for bytes from 4, the Hub "
                                        f"sent {sent} (listed size 10)")


FIX = "run `fetch-test-models models.lock`"


@pytest.mark.parametrize(("status", "headers"), [
    (206, {"content-range": "bytes 0-0/99"}),
    (416, {"content-range": "bytes */99"}),
    (200, {"content-length": "99"}),
])
def test_a_hub_file_of_another_size_than_the_lock_s(status: int, headers: dict[str, str]) -> None:
    error = lock_size_error(answer(status, **headers), 10, WHAT, FIX)
    assert error is not None
    assert (error.kind, str(error)) == ("integrity", f"{WHAT}: the lock says size 10, the Hub's "
                                        f"file is 99 bytes: the lock and the Hub disagree; {FIX}")


@pytest.mark.parametrize(("status", "headers"), [
    (206, {"content-range": "bytes 0-0/10"}),
    (416, {"content-range": "bytes */10"}),
    (200, {"content-length": "10"}),
    (200, {"content-length": "99", "content-encoding": "gzip"}),  # the length of the gzip
    (206, {"content-range": "bytes 0-0/*"}),  # the Hub does not say
    (206, {"content-length": "99"}),
    (200, {}),
    (302, {"content-length": "99"}),
    (207, {"content-range": "bytes 0-0/99"}),
    (417, {"content-range": "bytes */99"}),
])
def test_what_lock_size_checks_let_through(status: int, headers: dict[str, str]) -> None:
    assert lock_size_error(answer(status, **headers), 10, WHAT, FIX) is None
