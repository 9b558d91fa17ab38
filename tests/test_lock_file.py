"""The lock file's format: what is written, read back, and refused with the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.fetch.lock import LockEntry, LockError, listings, parse, render
from scanner.models import HuggingFaceModel, RepoFile

WHERE = Path("tools/server/tests/models.lock")
C1, C2 = "1" * 40, "2" * 40
GGUF = RepoFile(path="m-Q8_0.gguf", size=700, oid="a" * 40, sha256="b" * 64)
SMALL = RepoFile(path="config.json", size=2, oid="c" * 40)
TAGGED = HuggingFaceModel(hf_repo="org/m:Q8_0")
FILED = HuggingFaceModel(hf_repo="org/m", hf_file="config.json")


def test_entries_round_trip_sorted_with_both_kinds_of_digest() -> None:
    entries = [LockEntry(FILED, C2, SMALL), LockEntry(TAGGED, C1, GGUF)]
    text = render(entries)
    assert text == (
        "version\t1\n"
        f"org/m\tconfig.json\torg/m@{C2}\tconfig.json\t2\tgit:{'c' * 40}\n"
        f"org/m:Q8_0\t-\torg/m@{C1}\tm-Q8_0.gguf\t700\tsha256:{'b' * 64}\n"
    )
    assert render(parse(text, WHERE)) == text, "what is read is what was written"
    assert render(reversed(entries)) == text, "order of resolution does not matter"
    pinned = listings(parse(text, WHERE))
    [gguf] = pinned[TAGGED].files
    assert pinned[TAGGED].commit == C1
    assert (gguf.path, gguf.size, gguf.sha256) == (GGUF.path, GGUF.size, GGUF.sha256)
    assert pinned[FILED].files == (SMALL,)


def test_a_framework_model_s_lines_name_its_loader_and_read_back_as_that_model() -> None:
    """One repo loaded by transformers and by hf_hub_download is two models, each with its
    own files; a GGUF's line keeps six fields, as locks written before have them."""
    loaded = HuggingFaceModel(hf_repo="org/m", loader="transformers")
    one_file = HuggingFaceModel(hf_repo="org/m", hf_file="config.json", loader="hub_file")
    entries = [LockEntry(loaded, C1, SMALL), LockEntry(one_file, C1, SMALL),
               LockEntry(TAGGED, C1, GGUF)]
    text = render(entries)
    assert text.splitlines()[1:] == [
        f"org/m\t-\torg/m@{C1}\tconfig.json\t2\tgit:{'c' * 40}\ttransformers",
        f"org/m\tconfig.json\torg/m@{C1}\tconfig.json\t2\tgit:{'c' * 40}\thub_file",
        f"org/m:Q8_0\t-\torg/m@{C1}\tm-Q8_0.gguf\t700\tsha256:{'b' * 64}",
    ]
    pinned = listings(parse(text, WHERE))
    assert set(pinned) == {loaded, one_file, TAGGED}
    assert pinned[loaded].files == pinned[one_file].files == (SMALL,)


LINE = f"org/m:Q8_0\t-\torg/m@{C1}\tm-Q8_0.gguf\t700\tsha256:{'b' * 64}"


@pytest.mark.parametrize(("line", "message"), [
    ("org/m:Q8_0\t-\tm-Q8_0.gguf",
     "expected 6 tab-separated fields (7 for a framework's model), found 3"),
    (LINE + "\tpytorch", "loader 'pytorch' is none of transformers, diffusers, "
                         "sentence_transformers, hub_file, hub_snapshot, server, unknown"),
    (LINE.replace("org/m:Q8_0", "not a repo", 1),
     "'not a repo' is not fetched: repo id must be exactly 'org/name' (one '/')"),
    (LINE.replace(f"org/m@{C1}", f"org/other@{C1}"),
     f"'org/other@{C1}' is not org/m@<40 hex commit>"),
    (LINE.replace(f"@{C1}", "@main"), "'org/m@main' is not org/m@<40 hex commit>"),
    (LINE.replace("\t700\t", "\tbig\t"),
     f"'big' 'sha256:{'b' * 64}' is not a size and sha256:<64 hex> or git:<40 hex>"),
    (LINE.replace("sha256:", "md5:"),
     f"'700' 'md5:{'b' * 64}' is not a size and sha256:<64 hex> or git:<40 hex>"),
    (LINE.replace(f"sha256:{'b' * 64}", f"sha256:{'b' * 40}"),
     f"'700' 'sha256:{'b' * 40}' is not a size and sha256:<64 hex> or git:<40 hex>"),
    (LINE.replace(f"sha256:{'b' * 64}", f"git:{'b' * 64}"),
     f"'700' 'git:{'b' * 64}' is not a size and sha256:<64 hex> or git:<40 hex>"),
    (LINE.replace("\tm-Q8_0.gguf\t", "\t../../../../tmp/evil.gguf\t"),
     "file '../../../../tmp/evil.gguf': file path may not contain empty, '.' or '..' parts"),
])
def test_a_malformed_line_is_refused_with_file_and_line(line: str, message: str) -> None:
    with pytest.raises(LockError) as info:
        parse(f"version\t1\n{LINE}\n\n{line}\n", WHERE)
    assert str(info.value) == f"{WHERE}:4: {message}"


@pytest.mark.parametrize("text", ["", "version\t2\n", f"{LINE}\n"])
def test_a_file_that_is_no_lock_of_this_version_is_refused(text: str) -> None:
    with pytest.raises(LockError) as info:
        parse(text, WHERE)
    assert str(info.value) == (f"{WHERE}:1: not a models.lock of version 1 (first line should "
                               "be 'version\\t1')")


def test_one_model_pinned_at_two_commits_is_refused() -> None:
    other = LINE.replace(f"@{C1}", f"@{C2}").replace("m-Q8_0.gguf", "m-Q8_0-2.gguf")
    with pytest.raises(LockError) as info:
        parse(f"version\t1\n{LINE}\n{other}\n", WHERE)
    assert str(info.value) == (f"{WHERE}:3: org/m:Q8_0 is pinned at two commits "
                               f"({C1[:12]} and {C2[:12]})")


def test_two_lines_that_pin_one_file_differently_are_refused() -> None:
    """Whichever came first would win, unseen: the lock says two things about one file."""
    other = LINE.replace("\t700\t", "\t701\t")
    with pytest.raises(LockError) as info:
        parse(f"version\t1\n{LINE}\n{SMALL_LINE}\n{other}\n", WHERE)
    assert str(info.value) == f"{WHERE}:4: org/m:Q8_0 m-Q8_0.gguf is pinned differently on line 2"


SMALL_LINE = f"org/m\tconfig.json\torg/m@{C2}\tconfig.json\t2\tgit:{'c' * 40}"


def test_the_same_line_twice_pins_its_file_once() -> None:
    entries = parse(f"version\t1\n{LINE}\n{SMALL_LINE}\n{LINE}\n", WHERE)
    assert [entry.line() for entry in entries] == [LINE, SMALL_LINE]


def test_crlf_line_ends_are_read_and_written_as_lf() -> None:
    text = f"version\t1\n{LINE}\n{SMALL_LINE}\n"
    assert parse(text.replace("\n", "\r\n"), WHERE) == parse(text, WHERE)
    assert render(parse(text.replace("\n", "\r\n"), WHERE)) == render(parse(text, WHERE))


@pytest.mark.parametrize("separator", ["\r", "\x0c", "\x85", "\u2028"])
def test_only_lf_and_crlf_end_a_line(separator: str) -> None:
    """Python's `splitlines` also breaks lines at these: the line numbers in messages would
    not be the editor's."""
    with pytest.raises(LockError) as info:
        parse(f"version\t1\n{separator}{LINE}\nbad\n", WHERE)
    assert str(info.value).startswith(f"{WHERE}:2: ")
    with pytest.raises(LockError) as info:
        parse(f"version\t1\n{LINE}\n \t{separator}\nbad\n", WHERE)
    assert str(info.value) == (
        f"{WHERE}:4: expected 6 tab-separated fields (7 for a framework's model), found 1")
