"""A fake Hugging Face Hub on 127.0.0.1 for tests.

Answers the subset of the Hub HTTP API that huggingface_hub and llama.cpp use (see
/work/shared/hub-api.md): refs, tree, model info, resolve (HEAD/GET with Range) and
agent-harnesses. Adds a request log, bandwidth throttling (`rate_limit_bytes_per_s`, per
connection), a delay before every answer (`response_delay_s`, a distant Hub) and fault injection.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import random
import socket
import struct
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

CHUNK = 64 * 1024  # body write size (and throttling granularity)
BLOCK = 1 << 20  # GeneratedFile block size
LFS_SUFFIXES = (".gguf", ".bin", ".safetensors")
DATE = "2024-01-01T00:00:00.000Z"
Kind = Literal["refs", "tree", "info", "resolve", "other"]
FaultKind = Literal[
    "status", "cut", "reset", "slow", "stall", "hold", "corrupt", "wrong_length", "html",
    "whole"]

_digests: dict[tuple[str, int, int], str] = {}  # (algo, size, seed) -> hex, shared by instances

#: What /api/agent-harnesses answers; pre-written into HF_HOME so huggingface_hub never asks.
EMPTY_HARNESSES: dict[str, Any] = {"standardEnvVars": [], "harnesses": {}}
#: A developer's own settings that would change what a run under test does or where it writes.
USER_SETTINGS = (
    "HF_TOKEN", "HF_TOKEN_PATH", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
    "LLAMA_CACHE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", "LLAMA_BIN",
    "LLAMA_CLI_BIN_PATH",
)  # fmt: skip
USER_SETTING_PREFIXES = ("INVOKE_", "LLAMA_ARG_")  # Invoke's config and llama.cpp's arguments


def user_settings(env: Mapping[str, str]) -> list[str]:
    """The names in `env` to drop before a test or benchmark run, so that it is hermetic."""
    return [name for name in env
            if name in USER_SETTINGS or name.startswith(USER_SETTING_PREFIXES)]


def write_harnesses(hf_home: Path) -> None:
    """Pre-write huggingface_hub's agent-harness registry so it is never fetched."""
    hf_home.mkdir(parents=True, exist_ok=True)
    (hf_home / ".agent_harnesses.json").write_text(json.dumps(EMPTY_HARNESSES))


class GeneratedFile:
    """`size` bytes of deterministic pseudo-random content, generated on the fly in 1 MiB blocks.

    Block i is a distinct rotation of one random block seeded by `seed`, so big files never
    sit in memory, every block differs and offset bugs change the sha256.
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size, self.seed = size, seed
        self._base: bytes | None = None

    def __repr__(self) -> str:
        return f"GeneratedFile(size={self.size}, seed={self.seed})"

    def _block(self, index: int) -> bytes:
        if self._base is None:
            self._base = random.Random(self.seed).randbytes(BLOCK)
        shift = (index * 104_729) % BLOCK  # odd step => distinct rotation per block
        return self._base[shift:] + self._base[:shift]

    def iter_bytes(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the bytes of [start, end) in pieces of at most one block."""
        end = self.size if end is None else min(end, self.size)
        while start < end:
            index, offset = divmod(start, BLOCK)
            piece = self._block(index)[offset : offset + end - start]
            yield piece
            start += len(piece)

    def read(self) -> bytes:
        return b"".join(self.iter_bytes())

    def digest(self, algo: Literal["sha256", "git"]) -> str:
        """sha256 of the content, or its git blob sha1; computed once by streaming."""
        key = (algo, self.size, self.seed)
        if key not in _digests:
            h = hashlib.sha256() if algo == "sha256" else hashlib.sha1(b"blob %d\0" % self.size)
            for piece in self.iter_bytes():
                h.update(piece)
            _digests[key] = h.hexdigest()
        return _digests[key]


class _File:
    """One file of a repo revision with its lazily computed ids."""

    def __init__(self, src: bytes | GeneratedFile, lfs: bool) -> None:
        self.src, self.lfs = src, lfs
        self.size = src.size if isinstance(src, GeneratedFile) else len(src)

    def iter_bytes(self, start: int, end: int) -> Iterator[bytes]:
        if isinstance(self.src, GeneratedFile):
            yield from self.src.iter_bytes(start, end)
        else:
            yield self.src[start:end]

    @functools.cached_property
    def sha256(self) -> str:
        """Kept once computed: every listing carries it, and hashing a file of hundreds of MB
        at each one would make the listing the slowest request."""
        if isinstance(self.src, GeneratedFile):
            return self.src.digest("sha256")
        return hashlib.sha256(self.src).hexdigest()

    @property
    def pointer(self) -> bytes:
        """The git-lfs pointer file committed in place of an LFS file."""
        spec = "version https://git-lfs.github.com/spec/v1"
        return f"{spec}\noid sha256:{self.sha256}\nsize {self.size}\n".encode()

    @property
    def git_oid(self) -> str:
        """Git blob sha1 of what git stores: the pointer for LFS files, else the content."""
        if self.lfs:
            return _git_sha1(self.pointer)
        if isinstance(self.src, GeneratedFile):
            return self.src.digest("git")
        return _git_sha1(self.src)

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.git_oid

    @property
    def content_id(self) -> str:
        if isinstance(self.src, GeneratedFile):
            return f"gen:{self.size}:{self.src.seed}"
        return hashlib.sha1(self.src).hexdigest()


def _file_entry(path: str, f: _File) -> dict[str, Any]:
    """One file of a tree listing, as the Hub writes it."""
    entry: dict[str, Any] = {"type": "file", "oid": f.git_oid, "size": f.size, "path": path}
    if f.lfs:
        entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": len(f.pointer)}
    return entry


def _git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class _Repo:
    repo_id: str
    revisions: dict[str, dict[str, _File]]  # commit -> path -> file
    main: str
    gated: bool = False
    private: bool = False
    tree_override: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Fault:
    """One injected failure, applied to a matching request (by default GET only).

    kind: "status" (answer `code`, with `Retry-After: retry_after` if set); "cut" (full
    Content-Length, `after` body bytes, then FIN); "reset" (up to `after` bytes, then RST);
    "slow" (wait `seconds` before the body); "stall" (`after` body bytes, then wait `seconds`
    before the rest); "hold" (`after` body bytes, then wait until the test sets `release`: a
    download paused at a known byte, with no clock involved; `after` is met at a 64 KiB write,
    so a multiple of CHUNK is exact, as for "stall"); "corrupt" (XOR 0xFF `count` body bytes from
    `offset`, same size); "wrong_length" (advertise real + `delta` in Content-Length and
    X-Linked-Size: delta < 0 sends exactly the advertised bytes and keeps the connection;
    delta > 0 sends the real body then closes, like a truncated response); "html" (200 with a
    login page, as a captive portal or a proxy answers); "whole" (the request's `Range` is
    ignored: 200 with the whole file, as a server that does not honour it).
    """

    kind: FaultKind
    code: int = 503
    retry_after: int | None = None
    after: int = 0
    seconds: float = 1.0
    offset: int = 0
    count: int = 1
    delta: int = 1024
    methods: tuple[str, ...] = ("GET",)
    #: only requests whose `Range` starts at this byte (None: any request)
    range_start: int | None = None
    #: what a "hold" waits for
    release: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Request:
    """A logged request: percent-decoded path, last value per query key, lower-cased headers,
    and when it arrived (`time.monotonic()`), to check waits such as `Retry-After`."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    kind: Kind
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    file: _File | None = None
    start: int = 0
    end: int = 0

    @property
    def length(self) -> int:
        return self.end - self.start if self.file is not None else len(self.body)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> _Response:
    body = json.dumps(data).encode()
    return _Response(
        status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, body
    )


def _error(
    status: int, code: str | None, message: str, headers: dict[str, str] | None = None
) -> _Response:
    extra = {"X-Error-Message": message, **(headers or {})}
    if code:
        extra["X-Error-Code"] = code
    return _json({"error": message}, status, extra)


class FakeHub:
    """Threaded HTTP/1.1 fake of the Hub; `with FakeHub() as hub:` or start()/stop()."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.valid_token = "hf_test_token"
        self.tree_page_size: int | None = None
        #: where a tree page's `Link: next` points (default: this hub)
        self.tree_next_base: str | None = None
        self.rate_limit_bytes_per_s: float | None = None
        #: seconds every answer waits before its status line, as a distant Hub's round trip
        self.response_delay_s = 0.0
        #: answer every file request with the whole body (200), as servers without Range do
        self.ignore_range = False
        #: redirect LFS files to this origin (another FakeHub holding the repo), as the Hub does
        self.lfs_redirect: str | None = None
        self.requests: list[Request] = []
        self._repos: dict[str, _Repo] = {}
        self._faults: list[tuple[str, Fault, list[int | None]]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("FakeHub not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeHub:
        """Listen (again, on the same port after a stop()) and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler)
        self._server.hub = self
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection (the Hub goes down)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with server.conns_lock:
            conns = list(server.conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- content ---------------------------------------------------------------------------
    def add_repo(
        self,
        repo_id: str,
        files: dict[str, bytes | GeneratedFile],
        *,
        gated: bool = False,
        private: bool = False,
    ) -> str:
        """Add a repo or a new main revision (old commits stay served); return the commit."""
        entries = {path: _File(src, path.endswith(LFS_SUFFIXES)) for path, src in files.items()}
        h = hashlib.sha1(repo_id.encode())
        for path in sorted(entries):
            h.update(f"\0{path}\0{entries[path].content_id}".encode())
        commit = h.hexdigest()
        with self._lock:
            repo = self._repos.get(repo_id)
            if repo is None:
                self._repos[repo_id] = _Repo(repo_id, {commit: entries}, commit, gated, private)
            else:
                repo.revisions[commit], repo.main = entries, commit
                repo.gated, repo.private = gated, private
        return commit

    def remove_repo(self, repo_id: str) -> None:
        """Delete the repo: every request about it is answered 404 `RepoNotFound`."""
        with self._lock:
            del self._repos[repo_id]

    def remove_revision(self, repo_id: str, commit: str) -> None:
        """Forget a commit other than main's (a force-push): 404 `RevisionNotFound`."""
        with self._lock:
            del self._repos[repo_id].revisions[commit]

    def override_tree(self, repo_id: str, entries: list[dict[str, Any]] | None) -> None:
        """Serve these raw entries as the repo's tree listing (None restores the real one)."""
        self._repos[repo_id].tree_override = entries

    def commit(self, repo_id: str) -> str:
        return self._repos[repo_id].main

    def file_entries(self, repo_id: str) -> list[dict[str, Any]]:
        """The file entries of main's recursive tree listing: a base to edit for `override_tree`."""
        files = self._repos[repo_id].revisions[self.commit(repo_id)]
        return [_file_entry(path, files[path]) for path in sorted(files)]

    def _file(self, repo_id: str, path: str, revision: str) -> _File:
        repo = self._repos[repo_id]
        return repo.revisions[repo.main if revision == "main" else revision][path]

    def content(self, repo_id: str, path: str, revision: str = "main") -> bytes:
        """The whole content of a file (meant for small files)."""
        f = self._file(repo_id, path, revision)
        return b"".join(f.iter_bytes(0, f.size))

    def sha256(self, repo_id: str, path: str, revision: str = "main") -> str:
        return self._file(repo_id, path, revision).sha256

    # -- request log and faults ----------------------------------------------------------
    def count(
        self, method: str | None = None, kind: Kind | None = None, path_contains: str | None = None
    ) -> int:
        """Number of logged requests matching all the given filters."""
        with self._lock:
            return sum(
                (method is None or r.method == method.upper())
                and (kind is None or r.kind == kind)
                and (path_contains is None or path_contains in r.path)
                for r in self.requests
            )

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()

    def add_fault(self, match: str, fault: Fault, times: int | None = 1) -> None:
        """Apply `fault` to the next `times` (None: all) requests whose decoded path contains
        `match` and whose method is in `fault.methods`; faults are tried in insertion order."""
        with self._lock:
            self._faults.append((match, fault, [times]))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> int:
        """Remaining uses of finite faults (consumption check for tests)."""
        with self._lock:
            return sum(left[0] or 0 for _, _, left in self._faults)

    def _take_fault(self, method: str, path: str, range_header: str | None) -> Fault | None:
        start = (range_header or "").removeprefix("bytes=").partition("-")[0]
        with self._lock:
            for match, fault, left in self._faults:
                if fault.range_start is not None and start != str(fault.range_start):
                    continue
                if match in path and method in fault.methods and left[0] != 0:
                    if left[0] is not None:
                        left[0] -= 1
                    return fault
        return None

    # -- routes ----------------------------------------------------------------------------
    def _route(self, segs: list[str]) -> tuple[Kind, str | None, list[str]]:
        """Split a raw path into (kind, repo_id, remaining raw segments)."""
        if segs[:2] == ["api", "models"] and len(segs) > 2:
            rest = segs[2:]
            two = "/".join(unquote(s) for s in rest[:2])
            if len(rest) >= 2 and (two in self._repos or unquote(rest[0]) not in self._repos):
                repo_id, rest = two, rest[2:]
            else:
                repo_id, rest = unquote(rest[0]), rest[1:]
            if not rest or (rest[0] == "revision" and len(rest) == 2):
                return "info", repo_id, rest[1:]
            if rest == ["refs"]:
                return "refs", repo_id, []
            if rest[0] == "tree" and len(rest) >= 2:
                return "tree", repo_id, rest[1:]
        for i in (1, 2):
            if len(segs) > i + 2 and segs[i] == "resolve":
                return "resolve", "/".join(unquote(s) for s in segs[:i]), segs[i + 1 :]
        return "other", None, []

    def _answer(
        self, kind: Kind, repo_id: str | None, rest: list[str], req: Request, raw_path: str
    ) -> _Response:
        if kind == "other":
            if req.path == "/api/agent-harnesses":
                return _json(EMPTY_HARNESSES)
            return _error(404, None, "Sorry, we can't find the page you are looking for.")
        assert repo_id is not None
        repo = self._repos.get(repo_id)
        authorized = req.headers.get("authorization") == f"Bearer {self.valid_token}"
        if repo is None:
            return _error(404, "RepoNotFound", "Repository not found")
        if repo.private and not authorized:
            return _error(401, "RepoNotFound", "Invalid username or password.")
        if repo.gated and kind == "resolve" and not authorized:
            msg = f"Access to model {repo_id} is restricted. You must have access to it and be authenticated to access it. Please log in."  # noqa: E501
            return _error(403 if "authorization" in req.headers else 401, "GatedRepo", msg)
        rev = unquote(rest[0]) if rest else "main"
        commit = repo.main if rev in ("main", "refs/heads/main") else rev
        files = repo.revisions.get(commit)
        if files is None:
            return _error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        sub = unquote("/".join(rest[1:]))
        if kind == "refs":
            branch = {"name": "main", "ref": "refs/heads/main", "targetCommit": repo.main}
            return _json({"branches": [branch], "tags": [], "converts": []})
        if kind == "info":
            return _json(self._info(repo, commit, files, req.query.get("blobs") == "true"))
        if kind == "tree":
            return self._tree(repo, commit, files, sub.strip("/"), req, raw_path)
        f = files.get(sub)
        if f is None:
            headers = {"X-Repo-Commit": commit}  # the client caches the miss in .no_exist/
            return _error(404, "EntryNotFound", f"{sub} does not exist on {rev!r}", headers)
        if self.lfs_redirect is not None and f.lfs:  # the real Hub sends LFS files to its CDN
            return _Response(302, {"Location": f"{self.lfs_redirect}/{repo_id}/resolve/main/{sub}",
                                   "X-Repo-Commit": commit, "X-Linked-Etag": f'"{f.sha256}"',
                                   "X-Linked-Size": str(f.size), "ETag": f'"{f.etag}"'})
        return self._resolve(f, commit, None if self.ignore_range else req.headers.get("range"))

    def _info(
        self, repo: _Repo, commit: str, files: dict[str, _File], blobs: bool
    ) -> dict[str, Any]:
        siblings: list[dict[str, Any]] = []
        for path in sorted(files):
            f, sib = files[path], dict[str, Any](rfilename=path)
            if blobs:
                sib.update(size=f.size, blobId=f.git_oid)
                if f.lfs:
                    sib["lfs"] = {"sha256": f.sha256, "size": f.size, "pointerSize": len(f.pointer)}
            siblings.append(sib)
        rid = repo.repo_id
        return {
            "_id": hashlib.sha1(rid.encode()).hexdigest()[:24], "id": rid, "modelId": rid,
            "author": rid.split("/")[0], "sha": commit, "lastModified": DATE, "createdAt": DATE,
            "private": repo.private, "gated": "auto" if repo.gated else False, "disabled": False,
            "downloads": 0, "likes": 0, "tags": [], "siblings": siblings,
        }  # fmt: skip

    def _tree(
        self, repo: _Repo, commit: str, files: dict[str, _File], sub: str, req: Request, path: str
    ) -> _Response:
        if repo.tree_override is not None:
            entries = list(repo.tree_override)
        else:
            prefix = f"{sub}/" if sub else ""
            below = [p for p in files if p.startswith(prefix)]
            if sub and not below:
                return _error(404, "EntryNotFound", f"{sub} does not exist on {commit!r}")
            recursive = req.query.get("recursive", "false").lower() == "true"
            dirs: set[str] = set()
            paths: set[str] = set()
            for p in below:
                parts = p[len(prefix) :].split("/")
                depth = len(parts) if recursive else 1
                top = min(depth, len(parts) - 1)
                dirs.update(prefix + "/".join(parts[:i]) for i in range(1, top + 1))
                if recursive or len(parts) == 1:
                    paths.add(p)
            entries = [
                {"type": "directory", "oid": _git_sha1(f"tree {commit} {d}".encode()), "size": 0,
                 "path": d}
                for d in sorted(dirs)
            ]  # fmt: skip
            entries.extend(_file_entry(p, files[p]) for p in sorted(paths))
        page, headers = self.tree_page_size, dict[str, str]()
        if page:
            cursor = int(req.query.get("cursor") or 0)
            if cursor + page < len(entries):
                query = urlencode({**req.query, "cursor": cursor + page})
                headers["Link"] = f'<{self.tree_next_base or self.url}{path}?{query}>; rel="next"'
            entries = entries[cursor : cursor + page]
        return _json(entries, 200, headers)

    @staticmethod
    def _resolve(f: _File, commit: str, range_header: str | None) -> _Response:
        headers = {
            "Content-Type": "application/octet-stream", "ETag": f'"{f.etag}"',
            "X-Repo-Commit": commit, "Accept-Ranges": "bytes",
        }  # fmt: skip
        if f.lfs:
            headers.update({"X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": str(f.size)})
        start, end, status = 0, f.size, 200
        spec = (range_header or "").strip()
        if spec.startswith("bytes=") and "," not in spec:
            first, _, last = spec[6:].strip().partition("-")
            try:
                if first:
                    start, end = int(first), f.size if not last else min(int(last) + 1, f.size)
                else:
                    start = max(0, f.size - int(last)) if int(last) > 0 else f.size
                valid = end > start or start >= f.size
            except ValueError:
                valid = False
            if not valid:  # syntactically wrong: ignore the header, as RFC 9110 allows
                start, end = 0, f.size
            elif start >= f.size:
                unsatisfiable = {"Content-Range": f"bytes */{f.size}"}
                return _error(416, None, "Range Not Satisfiable", unsatisfiable)
            else:
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{f.size}"
        return _Response(status, headers, file=f, start=start, end=end)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    hub: FakeHub

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.conns: set[socket.socket] = set()
        self.conns_lock = threading.Lock()
        super().__init__(*args, **kwargs)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.conns_lock:
            self.server.conns.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.conns_lock:
                self.server.conns.discard(self.connection)

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        hub = self.server.hub
        split = urlsplit(self.path)
        kind, repo_id, rest = hub._route(split.path.split("/")[1:])
        req = Request(
            self.command, unquote(split.path), dict(parse_qsl(split.query, keep_blank_values=True)),
            {k.lower(): v for k, v in self.headers.items()}, kind,
        )  # fmt: skip
        with hub._lock:
            hub.requests.append(req)
        fault = hub._take_fault(self.command, req.path, req.headers.get("range"))
        try:
            if hub._stopping.wait(hub.response_delay_s):
                raise ConnectionAbortedError("hub stopped")
            if fault is not None and fault.kind == "status":
                extra = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
                resp = _error(fault.code, None, f"Injected HTTP {fault.code}", extra)
            elif fault is not None and fault.kind == "html":
                resp = _Response(200, {"Content-Type": "text/html; charset=utf-8"},
                                 b"<!DOCTYPE html><html><body>Sign in to continue</body></html>")
            elif fault is not None and fault.kind == "whole":
                whole = {k: v for k, v in req.headers.items() if k != "range"}
                resp = hub._answer(kind, repo_id, rest, replace(req, headers=whole), split.path)
            else:
                resp = hub._answer(kind, repo_id, rest, req, split.path)
            self._send(resp, fault)
        except OSError:  # client went away, or a stop() shut the socket
            self.close_connection = True

    def _pause(self, fault: Fault) -> None:
        """A "stall" waits `seconds`, a "hold" until released; either ends when the hub stops."""
        stopping = self.server.hub._stopping
        if fault.kind == "stall":
            if stopping.wait(fault.seconds):
                raise ConnectionAbortedError("hub stopped")
            return
        while not fault.release.wait(0.05):
            if stopping.is_set():
                raise ConnectionAbortedError("hub stopped")

    def _send(self, resp: _Response, fault: Fault | None) -> None:
        hub, length = self.server.hub, resp.length
        fkind = fault.kind if fault is not None else None
        advertised = length
        if fault is not None and fkind == "wrong_length":
            advertised = max(0, length + fault.delta)
            if "X-Linked-Size" in resp.headers:
                resp.headers["X-Linked-Size"] = str(advertised)
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(advertised))
        self.end_headers()
        if self.command == "HEAD":
            return
        limit = length
        if fault is not None and fkind in ("cut", "reset"):
            limit = min(fault.after, length)
        elif fkind == "wrong_length":
            limit = min(advertised, length)
        if fault is not None and fkind == "slow" and hub._stopping.wait(fault.seconds):
            raise ConnectionAbortedError("hub stopped")
        chunks = resp.file.iter_bytes(resp.start, resp.end) if resp.file else iter([resp.body])
        sent, started, stalled = 0, time.monotonic(), False
        for piece in chunks:
            view = memoryview(piece)
            for i in range(0, len(view), CHUNK):
                chunk = view[i : i + CHUNK][: limit - sent]
                if not chunk:
                    break
                if fault is not None and fkind == "corrupt":
                    lo = max(fault.offset, sent)
                    hi = min(fault.offset + fault.count, sent + len(chunk))
                    if lo < hi:
                        buf = bytearray(chunk)
                        for j in range(lo - sent, hi - sent):
                            buf[j] ^= 0xFF
                        chunk = memoryview(bytes(buf))
                if fkind in ("stall", "hold") and sent >= fault.after and not stalled:
                    stalled = True
                    self._pause(fault)
                rate = hub.rate_limit_bytes_per_s
                delay = started + (sent + len(chunk)) / rate - time.monotonic() if rate else 0
                if hub._stopping.wait(max(delay, 0)):
                    raise ConnectionAbortedError("hub stopped")
                self.wfile.write(chunk)
                sent += len(chunk)
            if sent >= limit:
                break
        if fkind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif fkind == "cut" or (fkind == "wrong_length" and advertised > length):
            self.close_connection = True
