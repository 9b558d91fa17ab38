"""Finding the test files under a root and reading them into syntax trees.

Walks the tree itself (instead of `Path.glob`) so that symlink loops, directories with a
`.py` name and unreadable files become diagnostics instead of hangs or tracebacks.
"""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .models import Diagnostic

_GLOB_PARTS = re.compile(r"\*\*/|\*\*|\*|\?|\[[^\]/]*\]|[^*?\[]+|\[")


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
    paths: list[Path]
    diagnostics: list[Diagnostic]


def find_test_files(root: Path, patterns: Sequence[str]) -> FoundFiles:
    """Files under `root` matching any pattern, sorted, each once."""
    patterns = [p[2:] if p.startswith("./") else p for p in patterns]
    regexes = [glob_to_regex(p) for p in patterns]
    found: dict[str, Path] = {}
    diagnostics: dict[str, Diagnostic] = {}
    for start in sorted({_literal_prefix(p) for p in patterns}):
        for rel, is_dir, problem in _walk(root, start):
            if not any(rx.fullmatch(rel) for rx in regexes) and problem is None:
                continue
            if problem is not None:
                diagnostics[rel] = Diagnostic(
                    file=rel, line=None, severity="error", message=problem
                )
            elif is_dir:
                diagnostics[rel] = Diagnostic(
                    file=rel, line=None, severity="error", message="is a directory, not a file"
                )
            else:
                found[rel] = root / rel
    return FoundFiles(
        [found[k] for k in sorted(found)], [diagnostics[k] for k in sorted(diagnostics)]
    )


def _walk(root: Path, start: str) -> Iterator[tuple[str, bool, str | None]]:
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
        for name in sorted(dirnames):
            yield prefix + name, True, None
        for name in sorted(filenames):
            yield prefix + name, False, None


@dataclass
class ParsedFile:
    rel: str
    source: str
    tree: ast.Module


def parse_file(path: Path, rel: str) -> ParsedFile | Diagnostic:
    """Read and parse one file; every way that can fail is one diagnostic."""

    def problem(message: str, line: int | None = None) -> Diagnostic:
        return Diagnostic(file=rel, line=line, severity="error", message=message)

    try:
        data = path.read_bytes()
    except OSError as exc:
        return problem(f"cannot read: {exc.strerror or exc}")
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        return problem("contains NUL bytes, not Python source", line)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        source = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        return problem(f"cannot decode as Python source: {exc}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=rel)
    except SyntaxError as exc:
        return problem(f"syntax error: {exc.msg}", exc.lineno)
    except (RecursionError, MemoryError):
        return problem("nested too deeply to parse")
    except ValueError as exc:
        return problem(f"cannot parse: {exc}")
    return ParsedFile(rel=rel, source=source, tree=tree)
