"""What the run will still need the network for, said before it starts: the tests that fetch
files from the Hub themselves at run time (images and other files that are no GGUF, which the
tool leaves to them; with URL files switched off, the GGUFs too; datasets), per test file. A
framework's model is fetched by its rules: no need (a model the fetch cannot plan fails the
fetch)."""

from __future__ import annotations

from typing import NamedTuple

from ..models import ModelReference, ScanResult
from .collect import Selection
from .needs import SelectedPlaces, container_of


class NetworkNeed(NamedTuple):
    """One file of the suite whose tests fetch these Hub files at run time."""

    file: str
    tests: int | None  # selected tests that do (None: no selection, or a helper module)
    files: tuple[str, ...]  # `org/name/PATH`, as the URLs name them


def fetched_at_run_time(ref: ModelReference, urls: bool, frameworks: bool = True) -> bool:
    """A reference the tool does not make available: a URL that is no GGUF, or any URL with URL
    files off, unless a framework loads it (`from_single_file(URL)`: its rules fetch it); a
    framework's model when `frameworks` is off (llama.cpp's downloader fetches none)."""
    if ref.model.loader is not None:
        return not frameworks
    hf_file = ref.model.hf_file or ""
    return ref.kind == "url" and (not urls or not hf_file.endswith(".gguf"))


def network_needs(scan: ScanResult, selection: Selection | None, *,
                  urls: bool, frameworks: bool = True) -> list[NetworkNeed]:
    """Per file, sorted: how many selected tests reference such a URL (or, when the fetch
    brings no framework's files, such a model) or load a dataset, and what they fetch."""
    by_file: dict[str, list[tuple[str, str]]] = {}  # file -> (test, what it fetches)
    for ref in scan.references:
        if fetched_at_run_time(ref, urls, frameworks):
            what = f"{ref.model.repo}/{ref.model.hf_file}" if ref.model.hf_file \
                else ref.model.repo
            by_file.setdefault(ref.file, []).append((ref.test, what))
    for use in scan.run_time:
        by_file.setdefault(use.file, []).append((use.test, use.what))
    places = SelectedPlaces(selection) if selection is not None else None
    needs = []
    for file, uses in sorted(by_file.items()):
        files = tuple(dict.fromkeys(what for _, what in uses))
        tests = None
        if places is not None and places.is_test_module(file):
            containers = [container_of(test, places.naming) for test, _ in uses]
            tests = sum(1 for test in places.running if test.file == file and any(
                test.qualname.split(".")[:len(c)] == c for c in containers))
            if not tests:
                continue
        needs.append(NetworkNeed(file, tests, files))
    return needs


def network_lines(needs: list[NetworkNeed], *, offline: bool) -> list[str]:
    """What people read: one line per file, then what an offline run makes of it."""
    lines = []
    for need in needs:
        shown = ", ".join(need.files[:3]) + (f" +{len(need.files) - 3} more"
                                              if len(need.files) > 3 else "")
        who = (f"{need.tests} selected test(s) may fetch" if need.tests is not None
               else "fetches")
        lines.append(f"network: {need.file}: {who} from the Hub at run time: {shown}")
    if needs and offline:
        lines.append("note: the tests run offline: those that fetch from the Hub will fail")
    return lines


def needs_entry(needs: list[NetworkNeed]) -> list[dict[str, object]]:
    """The `network_needs` field of both JSON documents."""
    return [{"file": n.file, "tests": n.tests, "files": list(n.files)} for n in needs]


def loads_frameworks(scan: ScanResult) -> bool:
    """Whether the tests load a model through a framework on huggingface_hub, whose offline
    switch (`HF_HUB_OFFLINE`) then concerns them."""
    return any(ref.model.loader is not None for ref in scan.references)
