"""What went wrong talking to the Hub: every failure becomes a `HubError` whose message names
the repo (and file) and says what to do, with a kind that says whether a retry may help."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Literal

import httpx2 as httpx
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from ..models import file_label
from ..setup.environment import shown_text

ErrorKind = Literal[
    "unreachable", "timeout", "rate_limited", "server", "not_hub", "auth", "repo_not_found",
    "revision_not_found", "file_not_found", "integrity", "disk_full", "other",
]
RETRIABLE: frozenset[ErrorKind] = frozenset({"unreachable", "timeout", "rate_limited", "server"})
#: What makes a complete cached snapshot worth using instead: the Hub could not be asked.
UNAVAILABLE: frozenset[ErrorKind] = RETRIABLE | {"not_hub"}


class Cancelled(Exception):
    """The run was interrupted (Ctrl-C): stop this call, it is not a failure of the Hub."""


class HubError(Exception):
    def __init__(self, kind: ErrorKind, message: str, retry_after: float | None = None,
                 *, endpoint_down: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after
        #: the endpoint itself could not be reached (refused, silent): so will the next request
        self.endpoint_down = endpoint_down

    @property
    def retriable(self) -> bool:
        return self.kind in RETRIABLE

    @property
    def unavailable(self) -> bool:
        return self.kind in UNAVAILABLE


def classify(exc: BaseException, repo: str, path: str | None = None,
             has_token: bool = False, endpoint: str = "the endpoint",
             cache: Path | None = None) -> HubError:
    """Turn a huggingface_hub / transport exception into a message a user can act on."""
    what = file_label(repo, path) if path else repo
    token_hint = _token_hint(has_token)
    if isinstance(exc, HubError):
        return exc
    if isinstance(exc, json.JSONDecodeError):  # a 200 that is not the API's JSON
        page = "an HTML page" if exc.doc.lstrip()[:1] == "<" else "something that is not JSON"
        return HubError("not_hub", f"{what}: {endpoint} answered {page}, not the Hub API: is a "
                        "proxy or a captive portal in the way?")
    for raised, code in _RAISED_FOR:
        if isinstance(exc, raised):
            server = getattr(exc, "response", None)
            detail = server.headers.get("X-Error-Message") if server is not None else None
            said = refused(code, _status(exc) or 404, repo, what, token_hint,
                           detail or _short(exc))
            assert said is not None  # each code of `_RAISED_FOR` has its message
            return said
    if isinstance(exc, HfHubHTTPError):
        return status_error(_status(exc), _retry_after(exc), what, token_hint, _short(exc))
    if isinstance(exc, httpx.TimeoutException):
        doing = " to accept the connection" if isinstance(exc, httpx.ConnectTimeout) else (
            " to send the next bytes" if isinstance(exc, httpx.ReadTimeout) else "")
        return HubError("timeout", f"{what}: {endpoint} did not answer in time{doing}: "
                        "is it up, or is the network filtered? (timeout: --timeout)",
                        endpoint_down=True)
    if isinstance(exc, httpx.RemoteProtocolError):
        return HubError("unreachable", f"{what}: the Hub's response ended before its advertised "
                        f"size ({_short(exc)})")
    if isinstance(exc, httpx.NetworkError) and not isinstance(exc, httpx.ConnectError):
        return HubError("unreachable", f"{what}: the connection to the Hub broke ({_short(exc)})")
    if isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError)):
        return HubError("unreachable", f"{what}: cannot reach the Hub ({_short(exc)})",
                        endpoint_down=isinstance(exc, (httpx.ConnectError, ConnectionError)))
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f"the cache {cache}" if cache else "the cache"
        return HubError("disk_full", f"{what}: no space left on the device of {where} "
                        f"({exc.strerror or 'full'})")
    return HubError("other", f"{what}: {type(exc).__name__}: {_short(exc)}")


#: The Hub's `X-Error-Code` for each exception huggingface_hub's `hf_raise_for_status` raises
#: from it (a gated repo's first: its exception is also a `RepositoryNotFoundError`)
_RAISED_FOR = ((GatedRepoError, "GatedRepo"), (RepositoryNotFoundError, "RepoNotFound"),
               (RevisionNotFoundError, "RevisionNotFound"),
               (RemoteEntryNotFoundError, "EntryNotFound"))


def refused(code: str | None, status: int, repo: str, what: str, token_hint: str,
            detail: str) -> HubError | None:
    """What the Hub says is missing or closed by its answer's `X-Error-Code`: the repo, the
    revision, the file, or access to a gated repo; None for another code or none."""
    if code == "GatedRepo":
        return HubError("auth", f"{what}: the repo is gated or private: {token_hint}")
    if code == "RepoNotFound":
        return HubError("repo_not_found", f"{repo}: repository not found on the Hub "
                        f"(HTTP {status}; if it is private, {token_hint})")
    if code == "RevisionNotFound":
        return HubError("revision_not_found", f"{repo}: revision not found ({detail})")
    if code == "EntryNotFound":
        return HubError("file_not_found", f"{what}: file not found in the repo (HTTP {status})")
    return None


def response_error(response: httpx.Response, what: str, has_token: bool) -> HubError:
    """A file request answered with an error status, or with a page instead of the file.
    The Hub's `X-Error-Code` says which of the repo, the revision or the file is missing."""
    if response.headers.get("content-type", "").startswith("text/html"):
        return HubError("not_hub", f"{what}: the endpoint answered an HTML page, not the file: "
                        "is a proxy or a captive portal in the way?")
    headers = response.headers
    said = refused(headers.get("X-Error-Code"), response.status_code, what, what,
                   _token_hint(has_token), headers.get("X-Error-Message") or "")
    if said is not None:
        return said
    if response.status_code == 404:
        return HubError("file_not_found", f"{what}: file not found in the repo (HTTP 404)")
    return status_error(response.status_code, _retry_after(response), what, _token_hint(has_token),
                        response.reason_phrase)


def file_response_error(response: httpx.Response, start: int, size: int, what: str,
                        has_token: bool) -> HubError | None:
    """What is wrong with the answer to a request for a file from byte `start`: an error status,
    a page instead of the file, or a 206 that holds other bytes than those asked for or is
    part of a file of another size than the listed one."""
    if response.status_code not in (200, 206) or response.headers.get(
            "content-type", "").startswith("text/html"):
        return response_error(response, what, has_token)
    content_range = response.headers.get("content-range", "")
    total = content_range.rpartition("/")[2]
    if response.status_code == 206 and (not content_range.startswith(f"bytes {start}-")
                                        or total not in ("*", str(size))):
        return HubError("integrity", f"{what}: asked for bytes from {start}, the Hub sent "
                        f"{content_range or 'no Content-Range'} (listed size {size})")
    return None


def lock_size_error(response: httpx.Response, size: int, what: str,
                    fix: str) -> HubError | None:
    """The Hub's file, by the size its answer gives (a 206's or 416's `Content-Range` total, a
    200's `Content-Length`), is not the `size` a lock pinned."""
    headers = response.headers
    if response.status_code in (206, 416):
        total = headers.get("content-range", "").rpartition("/")[2]
    elif response.status_code == 200 and "content-encoding" not in headers:
        total = headers.get("content-length", "")
    else:
        return None
    if not total.isdigit() or int(total) == size:
        return None
    return HubError("integrity", f"{what}: the lock says size {size}, the Hub's file is {total} "
                    f"bytes: the lock and the Hub disagree; {fix}")


def _token_hint(has_token: bool) -> str:
    return ("the token in HF_TOKEN has no access to it" if has_token
            else "set HF_TOKEN to a token that has access")


def status_error(status: int | None, retry_after: float | None, what: str, token_hint: str,
                 detail: str) -> HubError:
    if status in (401, 403):
        return HubError("auth", f"{what}: access denied (HTTP {status}): the repo is gated or "
                        f"private: {token_hint}")
    if status == 429:
        return HubError("rate_limited", f"{what}: rate limited by the Hub (HTTP 429); limits "
                        "are per IP address, an HF_TOKEN raises them", retry_after)
    if status is not None and status >= 500:
        return HubError("server", f"{what}: Hub server error (HTTP {status})")
    if status == 404:
        return HubError("file_not_found", f"{what}: not found (HTTP 404)")
    return HubError("other", f"{what}: HTTP {status}: {detail}")


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _retry_after(source: BaseException | httpx.Response) -> float | None:
    response = source if isinstance(source, httpx.Response) else getattr(source, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _short(exc: BaseException) -> str:
    """The first line of what the exception says, with any URL in it as `shown_url` shows it."""
    text = shown_text(str(exc)).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
