"""Finding the test files under a root and reading them into syntax trees.

Walks the tree itself (instead of `Path.glob`) so that symlink loops, directories with a
`.py` name, FIFOs, huge and unreadable files become diagnostics instead of hangs or tracebacks.
"""

from __future__ import annotations

import ast
import io
import os
import re
import stat
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..models import Diagnostic
from .discover import pruned

_GLOB_PARTS = re.compile(r"\*\*/|\*\*|\*|\?|\[[^\]/]*\]|[^*?\[]+|\[")
#: Real test files are far smaller, and parsing costs about a hundred times the source's size
#: in memory (docs/performance.md), so a bigger file is reported instead of parsed.
MAX_SOURCE_BYTES = 4 * 1024 * 1024


def printable_path(rel: str) -> str:
    """A path as we show it: file names come from the suite, so control characters (which a
    terminal would act on) and bytes that are not UTF-8 (which JSON cannot carry) are escaped."""
    if rel.isprintable():
        return rel
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in rel)


def _escape(ch: str) -> str:
    if 0xDC80 <= ord(ch) <= 0xDCFF:  # an undecodable byte, as os.fsdecode keeps it
        return f"\\x{ord(ch) - 0xDC00:02x}"
    return ch.encode("unicode_escape").decode("ascii")


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Translate a root-relative glob where `**/` spans any number of folders (zero too)."""
    out = []
    for token in _GLOB_PARTS.findall(pattern):
        if token == "**/":
            out.append("(?:.*/)?")
        elif token == "**":
            out.append(".*")
        elif token == "*":
            out.append("[^/]*")
        elif token == "?":
            out.append("[^/]")
        elif token.startswith("[") and len(token) > 1:
            out.append("[" + token[1:-1].replace("!", "^", 1) + "]")
        else:
            out.append(re.escape(token))
    return re.compile("".join(out))


def _literal_prefix(pattern: str) -> str:
    """The folder part of a glob before its first wildcard: where walking can start."""
    parts = []
    for part in pattern.split("/")[:-1]:
        if any(ch in part for ch in "*?["):
            break
        parts.append(part)
    return "/".join(parts)


@dataclass
class FoundFiles:
    paths: list[str]  # relative to the root, `/`-separated, sorted
    diagnostics: list[Diagnostic]


def find_test_files(root: Path, patterns: Sequence[str],
                    skipped: tuple[str, ...] = ()) -> FoundFiles:
    """Files under `root` matching any pattern, sorted, each once; folders `skipped` names
    (and virtualenvs) are not walked into when it names any (see `discover.py`)."""
    patterns = [p[2:] if p.startswith("./") else p for p in patterns]
    regexes = [glob_to_regex(p) for p in patterns]
    found: set[str] = set()  # strings, not Paths: building 10,000 Paths cost a tenth of a scan
    diagnostics: dict[str, Diagnostic] = {}
    for start in sorted({_literal_prefix(p) for p in patterns}):
        for rel, is_dir, problem in _walk(root, start, skipped):
            if not any(rx.fullmatch(rel) for rx in regexes) and problem is None:
                continue
            if problem is not None or is_dir:
                message = problem or "is a directory, not a file"
                diagnostics[rel] = Diagnostic(
                    file=printable_path(rel), line=None, severity="error", message=message
                )
            else:
                found.add(rel)
    return FoundFiles(sorted(found), [diagnostics[k] for k in sorted(diagnostics)])


def _walk(root: Path, start: str,
          skipped: tuple[str, ...] = ()) -> Iterator[tuple[str, bool, str | None]]:
    """Yield (relative path, is a directory, problem) for everything under `root/start`."""
    top = root / start if start else root
    if not top.is_dir():
        return
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        st = os.stat(dirpath)
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        prefix = "" if rel_dir == "." else rel_dir + "/"
        if (st.st_dev, st.st_ino) in seen:
            dirnames.clear()
            yield rel_dir, True, "symlink loop: this folder was already scanned, not entered again"
            continue
        seen.add((st.st_dev, st.st_ino))
        if skipped:
            dirnames[:] = [d for d in dirnames if not pruned(d, dirpath, skipped)]
        for name in sorted(dirnames):
            yield prefix + name, True, None
        for name in sorted(filenames):
            yield prefix + name, False, None


@dataclass
class ParsedFile:
    rel: str
    source: str
    tree: ast.Module


def parse_file(path: str, rel: str) -> ParsedFile | Diagnostic:
    """Read and parse one file; every way that can fail is one diagnostic."""

    def problem(message: str, line: int | None = None) -> Diagnostic:
        return Diagnostic(file=rel, line=line, severity="error", message=message)

    try:
        data = _read_regular_file(path)
    except OSError as exc:
        return problem(f"cannot read: {exc.strerror or exc}")
    except _NotScanned as exc:
        return problem(str(exc))
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        return problem("contains NUL bytes, not Python source", line)
    try:
        source = _decode(data)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        return problem(f"cannot decode as Python source: {exc}")
    try:
        tree = ast.parse(source, filename=rel)  # warnings: silenced once, by the caller
    except SyntaxError as exc:
        return problem(f"syntax error: {exc.msg}", exc.lineno)
    except (RecursionError, MemoryError):
        return problem("nested too deeply to parse")
    except ValueError as exc:
        return problem(f"cannot parse: {exc}")
    return ParsedFile(rel=rel, source=source, tree=tree)


def _decode(data: bytes) -> str:
    """PEP 263: UTF-8 unless a BOM or a coding cookie in the first two lines says otherwise
    (`tokenize.detect_encoding` decides then; the common case skips it)."""
    head = data[:2048].split(b"\n", 2)[:2]
    if data.startswith(b"\xef\xbb\xbf") or any(b"coding" in line for line in head):
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    return data.decode("utf-8")


class _NotScanned(Exception):
    """A file that is read no further, with why."""


def _read_regular_file(path: str) -> bytes:
    """The bytes of a regular file of reasonable size. Opened non-blocking and checked with
    `fstat` on the same descriptor: reading a FIFO would wait forever for a writer."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _NotScanned(f"not a regular file ({_file_type(info.st_mode)}), skipped")
        if info.st_size > MAX_SOURCE_BYTES:
            raise _NotScanned(f"larger than {MAX_SOURCE_BYTES // 2**20} MiB "
                              f"({info.st_size / 2**20:.1f} MiB): not scanned")
        chunks = []  # plain reads: a buffered file object per file cost more than the read
        while chunk := os.read(fd, info.st_size + 1):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a file"
