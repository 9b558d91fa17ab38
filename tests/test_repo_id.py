"""Repo ids: random valid ones pass, random invalid ones are refused, as llama.cpp's rule says."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.llama.repo_id import hf_repo_problem, model_problem, repo_id_problem

WORD = st.text("abcXYZ019_", min_size=1, max_size=12)
SEPARATOR = st.sampled_from([".", "-"])


@st.composite
def name_parts(draw: st.DrawFn) -> str:
    words = draw(st.lists(WORD, min_size=1, max_size=5))
    seps = [draw(SEPARATOR) for _ in words[1:]]
    return words[0] + "".join(s + w for s, w in zip(seps, words[1:], strict=True))


# llama.cpp's rule restated independently: words of [A-Za-z0-9_] joined by single '.', '-',
# exactly one '/', at most 256 characters.
ORACLE = re.compile(r"(?=.{1,256}$)\w+(?:[.-]\w+)*/\w+(?:[.-]\w+)*", re.ASCII)


@given(name_parts(), name_parts())
def test_valid_ids_are_accepted(org: str, name: str) -> None:
    assert repo_id_problem(f"{org}/{name}") is None
    assert hf_repo_problem(f"{org}/{name}:Q4_K_M") is None


@given(st.text(alphabet="ab_9.-/:$ é", max_size=20))
def test_random_strings_are_judged_like_llama_cpp(text: str) -> None:
    assert (repo_id_problem(text) is None) == bool(ORACLE.fullmatch(text))


def test_length_limit() -> None:
    assert repo_id_problem("o/" + "n" * 254) is None
    assert repo_id_problem("o/" + "n" * 255) == "repo id longer than 256 characters"


@given(name_parts(), name_parts(), st.sampled_from("éßЖ中٣"), st.integers(min_value=0))
def test_a_non_ascii_letter_anywhere_in_a_well_formed_id_is_refused(
    org: str, name: str, letter: str, where: int
) -> None:
    """llama.cpp's regex is ASCII-only: `\\w` there is `[A-Za-z0-9_]`, never `é` or `٣`."""
    valid = f"{org}/{name}"
    at = where % (len(valid) + 1)
    assert repo_id_problem(valid[:at] + letter + valid[at:]) is not None


@pytest.mark.parametrize(("hf_repo", "hf_file", "message"), [
    ("", None, "'' is not fetched: empty repo id"),
    ("org", None, "'org' is not fetched: repo id must be exactly 'org/name' (one '/')"),
    ("org/na me", None, "'org/na me' is not fetched: repo id may only contain letters, digits, "
                        "'_', '.', '-' and one '/'"),
    ("org/name-", None, "'org/name-' is not fetched: repo id may not start or end with '.', "
                        "'-' or '/'"),
    ("org/a.-b", None, "'org/a.-b' is not fetched: repo id may not contain '.-'"),
    ("<org>/<model>", None, "'<org>/<model>' is not fetched: placeholder, not a model"),
    ("org/m:Q4 K", None, "'org/m:Q4 K' is not fetched: invalid tag 'Q4 K' after ':'"),
    ("org/m", "{file}", "'org/m' is not fetched: file '{file}': placeholder, not a file"),
    ("org/m", "", "'org/m' is not fetched: file '': file must be a relative path inside the "
                  "repo"),
    ("org/m", "/etc/passwd", "'org/m' is not fetched: file '/etc/passwd': file must be a "
                             "relative path inside the repo"),
    ("org/m", "a\\b.gguf", "'org/m' is not fetched: file 'a\\\\b.gguf': file must be a "
                           "relative path inside the repo"),
    ("org/m", "a//b.gguf", "'org/m' is not fetched: file 'a//b.gguf': file path may not "
                           "contain empty, '.' or '..' parts"),
    ("org/m", "./b.gguf", "'org/m' is not fetched: file './b.gguf': file path may not contain "
                          "empty, '.' or '..' parts"),
    ("org/m", "a/../../b", "'org/m' is not fetched: file 'a/../../b': file path may not contain "
                           "empty, '.' or '..' parts"),
    ("org/m:UD-Q4_K_XL", "sub/.hidden/m.gguf", None),
    ("org/m", "a/b.c/m..gguf", None),
])
def test_each_refusal_says_why_in_the_diagnostic(hf_repo: str, hf_file: str | None,
                                                 message: str | None) -> None:
    assert model_problem(hf_repo, hf_file) == message
