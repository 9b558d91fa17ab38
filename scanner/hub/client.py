"""Talking to the Hub: listings and file bodies over a client of the run's own
(`transport.py`), each retried with backoff when the failure is retriable (connection errors,
timeouts, 429, 5xx); the transfer itself is `fetch/transfer.py`. What went wrong is
`errors.py`'s.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import TypeVar
from urllib.parse import quote

import httpx2 as httpx
from huggingface_hub import hf_api as hf_types
from huggingface_hub import hf_hub_url
from huggingface_hub.utils import (  # type: ignore[attr-defined]  # documented
    build_hf_headers,
    hf_raise_for_status,
)

from .. import limits
from ..cache.layout import is_commit, is_sha256
from ..llama.repo_id import hf_file_problem
from ..models import RepoFile, RepoListing
from ..setup.environment import shown_url
from .errors import Cancelled, HubError, classify
from .transport import own_client

RETRY_BACKOFF_S = 0.5
_log = logging.getLogger(__name__)  # requests, when verbose (`output/log.py`)
T = TypeVar("T")


def with_retries(call: Callable[[], T], *, attempts: int, backoff: float,
                 classify_error: Callable[[BaseException], HubError],
                 cancel: threading.Event, progress: Callable[[], int] | None = None,
                 total: int | None = None) -> T:
    """Run `call`, retrying retriable failures with exponential backoff (or `Retry-After`).

    `attempts` bounds the failures in a row that made no progress: given `progress` (the bytes
    a download has written), a failure that wrote new ones starts a fresh count and backoff, up
    to `total` calls in all (default: `attempts`). `cancel` stops waiting and retrying at once
    (raising `Cancelled`).
    """
    limit = total or attempts
    reached = progress() if progress else 0
    stuck = 0  # failures in a row that wrote nothing new
    for made in range(1, limit + 1):
        try:
            return call()
        except Cancelled:
            raise
        except Exception as exc:  # classified below; anything unknown is not retried
            error = classify_error(exc)
            now = progress() if progress else reached
            stuck, reached = (0 if now > reached else stuck + 1), now
            silent = error.kind == "timeout" and stuck >= 2  # a silent Hub: one retry
            if not error.retriable or made == limit or stuck >= attempts or silent:
                raise error from exc
            delay = error.retry_after
            if delay is None:
                delay = backoff * 2 ** max(stuck - 1, 0)
            _pause(min(delay, 60.0), cancel)
    raise AssertionError("unreachable")


def _pause(seconds: float, cancel: threading.Event) -> None:
    if cancel.wait(seconds):
        raise Cancelled("interrupted")


class HubClient:
    """One endpoint and token, with the retries, Ctrl-C and silent-endpoint state every
    request of a run shares."""

    def __init__(self, endpoint: str, token: str | None, cache: Path, *,
                 attempts: int = 4, backoff: float | None = None,
                 timeout: float = limits.TIMEOUT_S, tries: int = limits.TRIES) -> None:
        url = httpx.URL(endpoint)
        #: where requests go: the endpoint without the user and password it may hold, which
        #: are sent as Basic auth instead, so no URL a request or a log shows carries them
        self.base = str(url.copy_with(username=None, password=None)).rstrip("/")
        #: the endpoint as every message shows it (`environment.shown_url`)
        self.endpoint = shown_url(endpoint)
        self.token, self.cache = token, cache
        #: set once the endpoint timed out after its retry, or refused or dropped connections:
        #: nothing more is sent to it
        self.silent: str | None = None
        #: failures in a row without progress before a request fails
        self.attempts = attempts
        #: attempts at one byte range of a file in all, progress or not
        self.tries = tries
        self.backoff = RETRY_BACKOFF_S if backoff is None else backoff
        auth = (url.username, url.password) if url.userinfo else None
        self.http = own_client(timeout, auth)
        self._cancel = threading.Event()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.http.close()

    def cancel(self) -> None:
        """Make every call in progress stop at its next chunk or wait (raising `Cancelled`)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def request(self, call: Callable[[], T], repo: str, path: str | None = None,
                progress: Callable[[], int] | None = None) -> T:
        """`call`, retried; with `progress` (the bytes a download has written), attempts that
        brought new bytes start a fresh count, up to `tries` in all."""
        if self.cancelled:
            raise Cancelled("interrupted")
        if self.silent is not None:
            raise HubError("unreachable", f"{repo}: {self.silent}", endpoint_down=True)
        _log.debug("asking %s about %s%s", self.endpoint, repo, f" {path}" if path else "")
        try:
            return with_retries(
                call, attempts=self.attempts, backoff=self.backoff,
                classify_error=lambda exc: classify(exc, repo, path, bool(self.token),
                                                    self.endpoint, self.cache),
                cancel=self._cancel, progress=progress,
                total=self.tries if progress else None,
            )
        except HubError as error:
            if error.kind == "timeout":  # every later request would wait as long: none is sent
                self.silent = (f"not asked: {self.endpoint} did not answer earlier in this run "
                               "(timeout: --timeout)")
            elif error.endpoint_down:
                self.silent = (f"cannot reach the Hub: not asked, {self.endpoint} refused or "
                               "dropped the connection earlier in this run")
            raise

    def commit_of(self, repo: str, revision: str) -> str:
        """The commit a branch or tag points at (llama.cpp lists the tree at `main`'s commit)."""
        if is_commit(revision):
            return revision
        refs = self.request(lambda: self._refs(repo), repo)
        if revision in refs:
            return refs[revision]
        raise HubError("revision_not_found", f"{repo}: no branch or tag named {revision!r}")

    def listing(self, repo: str, revision: str = "main") -> tuple[RepoListing, list[str]]:
        """The recursive file tree at `revision`, plus problems with entries that were dropped."""
        commit = self.commit_of(repo, revision)
        entries = self.request(lambda: self._tree(repo, commit), repo)
        files, problems = [], []
        for entry in entries:
            problem = listing_problem(entry)
            if problem:
                problems.append(f"{repo}: listing entry {entry.path!r} refused: {problem}")
                continue
            sha = entry.lfs.sha256 if entry.lfs else None
            files.append(RepoFile(path=entry.path, size=entry.size, oid=entry.blob_id, sha256=sha))
        return RepoListing(repo=repo, commit=commit, files=tuple(files)), problems

    def _refs(self, repo: str) -> dict[str, str]:
        """Each branch's and tag's commit, as `HfApi.list_repo_refs` asks for and reads them
        (a branch first when a tag has its name)."""
        refs = self._api(f"{repo}/refs").json()
        return {ref["name"]: str(ref["targetCommit"])
                for ref in reversed([*refs["branches"], *refs["tags"]])}

    def _tree(self, repo: str, commit: str) -> list[hf_types.RepoFile]:
        """The files of `HfApi.list_repo_tree(recursive=True)`: its request, every page of it
        (`Link: next`), each entry read as it reads them."""
        response = self._api(f"{repo}/tree/{quote(commit, safe='')}",
                             {"recursive": "true", "expand": "false"})
        entries = response.json()
        while "next" in response.links:
            response = self._get(response.links["next"]["url"])
            entries += response.json()
        return [hf_types.RepoFile(**entry)  # type: ignore[no-untyped-call]
                for entry in entries if entry["type"] == "file"]

    def _api(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        return self._get(f"{self.base}/api/models/{path}", params)

    def _get(self, url: str, params: dict[str, str] | None = None) -> httpx.Response:
        """A GET of the Hub API as `HfApi` sends it (its headers: token, user agent); an error
        status raised as huggingface_hub's own exception for it (`hf_raise_for_status`: the
        `X-Error-Code` says repo, revision or file). A URL on another origin than the
        endpoint's (a listing's `Link: next` may name one) gets no credentials at all, as httpx
        sends none where a redirect leaves the origin."""
        if _origin(httpx.URL(url)) == _origin(httpx.URL(self.base)):
            response = self.http.get(url, params=params,
                                     headers=build_hf_headers(token=self.token or None))
        else:
            response = self.http.get(url, params=params, auth=None,
                                     headers=build_hf_headers(token=False))
        hf_raise_for_status(response)
        return response

    def file_url(self, repo: str, commit: str, path: str) -> str:
        """The resolve URL of a file at a commit (the Hub redirects LFS files to its CDN)."""
        return hf_hub_url(repo, path, revision=commit, endpoint=self.base)

    def file_headers(self) -> dict[str, str]:
        """Auth and user agent as huggingface_hub sends them; bodies as stored (no gzip)."""
        headers = build_hf_headers(token=self.token or None)
        headers["Accept-Encoding"] = "identity"
        return headers

    def stream(self, url: str, headers: dict[str, str]) -> AbstractContextManager[httpx.Response]:
        """One GET, its body read as it arrives."""
        _log.debug("GET %s%s", shown_url(url), f" ({headers['Range']})" if "Range" in headers
                   else "")
        return self.http.stream("GET", url, headers=headers)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or {"http": 80, "https": 443}.get(url.scheme)


def listing_problem(entry: hf_types.RepoFile) -> str | None:
    """Paths that would escape the repo's folder and ids that cannot name a blob are refused."""
    problem = hf_file_problem(entry.path)
    if problem:
        return problem
    if not entry.path.isprintable():
        return "control or unprintable characters in the path"
    if entry.size < 0:
        return f"invalid size {entry.size}"
    if entry.lfs is not None and not is_sha256(entry.lfs.sha256 or ""):
        return f"invalid LFS sha256 {entry.lfs.sha256!r}"
    if entry.lfs is None and not is_commit(entry.blob_id or ""):
        return f"invalid git oid {entry.blob_id!r}"
    return None
