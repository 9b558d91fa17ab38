"""`models.lock`: the exact files a test suite's models resolved to, pinned by commit and hash.

One line per file a model needs, tab-separated, sorted, after a version line: a lock that
nothing changed is byte-identical, and a diff shows exactly which file of which model moved.

    version<TAB>1
    <hf_repo><TAB><hf_file or -><TAB><repo>@<commit><TAB><path><TAB><size><TAB><sha256:…|git:…>

A model that a framework loads (transformers, huggingface_hub, ...) adds a seventh field, its
loader (`transformers`, `hub_file`, ...): one repo loaded two ways is two models, each with
the files its rules chose. llama.cpp's lines keep six fields, so a lock written before reads,
and is written again, the same.

Every reader (`--locked`, `--check`, `models.prune`) goes through `parse`, so they accept and
refuse the same files. A line may end in CRLF (a checkout on Windows): it is read as LF, and
`render` writes LF. The same line twice (a merge that took it from both sides) pins nothing
new: it is read, and the lock is stale until rewritten; two lines that pin one file of one
model differently are refused.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple, get_args

from ..cache import atomic
from ..cache.layout import is_commit, is_sha256
from ..llama.repo_id import hf_file_problem, model_problem
from ..models import HuggingFaceModel, Loader, RepoFile, RepoListing

VERSION = "1"
HEADER = f"version\t{VERSION}"
NO_FILE = "-"
LOADERS: dict[str, Loader] = {loader: loader for loader in get_args(Loader)}


class LockError(ValueError):
    """A lock file that cannot be read; the message names the file and line."""


class LockEntry(NamedTuple):
    model: HuggingFaceModel
    commit: str
    file: RepoFile

    def line(self) -> str:
        digest = f"sha256:{self.file.sha256}" if self.file.sha256 else f"git:{self.file.oid}"
        fields = (self.model.hf_repo, self.model.hf_file or NO_FILE,
                  f"{self.model.repo}@{self.commit}", self.file.path, str(self.file.size), digest)
        return "\t".join((*fields, self.model.loader) if self.model.loader else fields)


def render(entries: Iterable[LockEntry]) -> str:
    lines = sorted({entry.line() for entry in entries})
    return "\n".join([HEADER, *lines]) + "\n"


def lines(text: str) -> list[str]:
    """The lock's lines, whether they end in LF or CRLF (only those end a line: a stray
    control character stays in its line, where the field check refuses it)."""
    rows = text.split("\n")
    if rows[-1] == "":  # after the newline that ends the last line
        rows.pop()
    return [row.removesuffix("\r") for row in rows]


def changes(on_disk: str, now: str) -> list[str]:
    """What writing `now` would change in the lock `on_disk`, as a unified diff; none when
    their lines are the same (a lock checked out with CRLF is up to date when its lines are)."""
    return list(difflib.unified_diff(lines(on_disk), lines(now), "on disk", "now", lineterm="",
                                     n=0))


def parse(text: str, where: Path) -> list[LockEntry]:
    """Every entry of a lock file; a malformed line is a LockError naming `where` and the line."""
    rows = lines(text)
    if not rows or rows[0] != HEADER:
        raise LockError(f"{where}:1: not a models.lock of version {VERSION} "
                        f"(first line should be {HEADER!r})")
    numbered = [(number, _entry(line, where, number))
                for number, line in enumerate(rows[1:], start=2) if line.strip()]
    commits: dict[HuggingFaceModel, str] = {}
    files: dict[tuple[HuggingFaceModel, str], tuple[int, LockEntry]] = {}
    for number, entry in numbered:  # one model is one listing: its files at one commit
        if commits.setdefault(entry.model, entry.commit) != entry.commit:
            raise LockError(f"{where}:{number}: {entry.model.label()} is pinned at two commits "
                            f"({commits[entry.model][:12]} and {entry.commit[:12]})")
        first, pinned = files.setdefault((entry.model, entry.file.path), (number, entry))
        if pinned != entry:
            raise LockError(f"{where}:{number}: {entry.model.label()} {entry.file.path} is "
                            f"pinned differently on line {first}")
    return [entry for _, entry in files.values()]


def _entry(line: str, where: Path, number: int) -> LockEntry:
    def bad(why: str) -> LockError:
        return LockError(f"{where}:{number}: {why}")

    fields = line.split("\t")
    if len(fields) not in (6, 7):
        raise bad(f"expected 6 tab-separated fields (7 for a framework's model), found "
                  f"{len(fields)}")
    hf_repo, hf_file, pinned, path, size, digest = fields[:6]
    loader = LOADERS.get(fields[6]) if len(fields) == 7 else None
    if len(fields) == 7 and loader is None:
        raise bad(f"loader {fields[6]!r} is none of {', '.join(LOADERS)}")
    repo, _, commit = pinned.partition("@")
    model = HuggingFaceModel(hf_repo=hf_repo, hf_file=None if hf_file == NO_FILE else hf_file,
                             loader=loader)
    problem = model_problem(model.hf_repo, model.hf_file)
    if problem:
        raise bad(problem)
    if repo != model.repo or not is_commit(commit):
        raise bad(f"{pinned!r} is not {model.repo}@<40 hex commit>")
    path_problem = hf_file_problem(path)  # the lock is input: a path must not leave the repo
    if path_problem:
        raise bad(f"file {path!r}: {path_problem}")
    kind, _, value = digest.partition(":")
    if not size.isdigit() or not ((kind == "sha256" and is_sha256(value))
                                  or (kind == "git" and is_commit(value))):
        raise bad(f"{size!r} {digest!r} is not a size and sha256:<64 hex> or git:<40 hex>")
    sha256 = value if kind == "sha256" else None
    return LockEntry(model, commit, RepoFile(path=path, size=int(size), oid=value, sha256=sha256))


def listings(entries: Iterable[LockEntry]) -> dict[HuggingFaceModel, RepoListing]:
    """Each locked model's pinned files as the listing its resolution reads: resolving it
    again finds exactly these files, at the locked commit, without asking the Hub."""
    found: dict[HuggingFaceModel, list[LockEntry]] = {}
    for entry in entries:
        found.setdefault(entry.model, []).append(entry)
    return {model: RepoListing(repo=model.repo, commit=group[0].commit,
                               files=tuple(e.file for e in group))
            for model, group in found.items()}


def read(path: Path) -> list[LockEntry]:
    """The entries of the lock at `path`, which must exist."""
    return parse(read_text(path, missing=None), path)


def read_text(path: Path, *, missing: str | None) -> str:
    """The lock file's text; `missing` stands in for a file that does not exist (None: that is
    an error). Any other failure to read it is a LockError naming the file. Read as bytes: the
    lock's own rules say what ends a line (`lines`), not Python's universal newlines."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        if missing is not None:
            return missing
        raise LockError(f"{path} does not exist: run `fetch-test-models models.lock` to write "
                        "it") from None
    except IsADirectoryError:
        raise LockError(_a_folder(path)) from None
    except OSError as exc:
        raise LockError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise LockError(f"{path}: not UTF-8 text (byte {exc.start}): not a models.lock") \
            from None


def check_destination(path: Path) -> None:
    """Before anything is resolved: a LockError when the lock cannot be written at `path`."""
    if path.is_dir():
        raise LockError(_a_folder(path))
    if not path.parent.is_dir():
        raise LockError(f"{path}: its folder {path.parent} does not exist: {_NAME_A_FILE}")


def write(path: Path, text: str) -> None:
    """Written whole, by rename: a reader never sees half a lock, and a failure (an OSError)
    leaves the lock as it was and nothing beside it."""
    atomic.write_text(path, text)


_NAME_A_FILE = "name a file with --lock FILE or `models: {lock: FILE}`"


def _a_folder(path: Path) -> str:
    return f"{path} is a directory, not a lock file: {_NAME_A_FILE}"
