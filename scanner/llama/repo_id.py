"""Validation of the names a test writes at a model position, with llama.cpp's rules.

llama.cpp refuses a repo id that is not `org/name` made of `[A-Za-z0-9_.-]` with no separator
first, last or doubled, so a reference we would fetch must pass the same check.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise

MAX_REPO_ID_LENGTH = 256
_ALLOWED = re.compile(r"[A-Za-z0-9_.\-/]+")
_SEPARATORS = frozenset("./-")
_PLACEHOLDER = re.compile(r"<[^<>]*>|\{[^{}]*\}")
_TAG = re.compile(r"[A-Za-z0-9_.\-]+")


def is_placeholder(text: str) -> bool:
    """`<org>/<model>` or `{repo}`: documentation, not a model."""
    return bool(_PLACEHOLDER.search(text))


def repo_id_problem(repo_id: str) -> str | None:
    """Why llama.cpp would reject `repo_id`, or None when it is valid."""
    if not repo_id:
        return "empty repo id"
    if len(repo_id) > MAX_REPO_ID_LENGTH:
        return f"repo id longer than {MAX_REPO_ID_LENGTH} characters"
    if repo_id.count("/") != 1:
        return "repo id must be exactly 'org/name' (one '/')"
    if not _ALLOWED.fullmatch(repo_id):
        return "repo id may only contain letters, digits, '_', '.', '-' and one '/'"
    if repo_id[0] in _SEPARATORS or repo_id[-1] in _SEPARATORS:
        return "repo id may not start or end with '.', '-' or '/'"
    for left, right in pairwise(repo_id):
        if left in _SEPARATORS and right in _SEPARATORS:
            return f"repo id may not contain '{left}{right}'"
    return None


def hf_repo_problem(hf_repo: str) -> str | None:
    """Check `org/name[:TAG]` as written at a model position."""
    if is_placeholder(hf_repo):
        return "placeholder, not a model"
    repo_id, sep, tag = hf_repo.partition(":")
    problem = repo_id_problem(repo_id)
    if problem:
        return problem
    if sep and not _TAG.fullmatch(tag):
        return f"invalid tag {tag!r} after ':'"
    return None


@lru_cache(maxsize=4096)  # a suite repeats the same few names thousands of times
def model_problem(hf_repo: str, hf_file: str | None) -> str | None:
    """Why a (repo, file) pair must not be fetched, phrased for a diagnostic; None if fine."""
    problem = hf_repo_problem(hf_repo)
    if problem is None and hf_file is not None:
        problem = hf_file_problem(hf_file)
        if problem:
            problem = f"file {hf_file!r}: {problem}"
    return f"{hf_repo!r} is not fetched: {problem}" if problem else None


def hf_file_problem(hf_file: str) -> str | None:
    """A file path inside a repo: relative, no `..`, not empty."""
    if is_placeholder(hf_file):
        return "placeholder, not a file"
    if not hf_file or hf_file.startswith("/") or "\\" in hf_file:
        return "file must be a relative path inside the repo"
    if any(part in ("", ".", "..") for part in hf_file.split("/")):
        return "file path may not contain empty, '.' or '..' parts"
    return None
