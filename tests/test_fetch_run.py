"""One native fetch, start to end: what it shows and in which order, what it asks of the Hub,
when it refuses to download (a read-only cache, no room), the partials it clears first, and
the summary of how its models ended."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from scanner.cache import layout as hf_cache
from scanner.errors import SetupError
from scanner.fetch import run as fetch_run
from scanner.models import RepoFile, RepoListing
from tests.fakehub import FakeHub, Fault
from tests.fetch_runs import Q4, Q8, REPO, Shown, add_repo, fetch, file_gets, model, statuses

OTHER = "aaa/first-GGUF"
FOLDER = "models--org--m-GGUF"


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "hub"


def test_what_a_fetch_shows_and_its_summary(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    shown = Shown()
    run = fetch(fake_hub, cache, model(), model(REPO, hf_file=Q4), model(f"{REPO}:Q8_0"),
                model(f"{OTHER}:Q4_K_M"), shown=shown)
    events = shown.events
    assert events[0] == ("listing", ([OTHER, REPO], fake_hub.url, False))
    assert sorted(events[1:3]) == [("listed", OTHER), ("listed", REPO)]  # as each is done
    assert events[3:] == [("planned", ["failed", "planned", "planned", "planned"]),
                          ("downloading", 5000)]
    assert run.status_counts() == "2 cached, 1 downloaded, 1 failed"
    assert not run.ok and run.received_bytes() == 5000
    assert (run.needed_bytes, run.refused, shown.removed) == (5000, None, [])
    assert run.free_bytes > 5000
    assert shown.progress.done == [None]


def test_a_complete_fetch_is_ok(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    run = fetch(fake_hub, cache, model())
    assert run.ok and run.status_counts() == "1 downloaded" and run.problems == []


def test_a_dry_run_downloads_nothing(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    shown = Shown()
    run = fetch(fake_hub, cache, model(), dry_run=True, shown=shown)
    assert shown.kinds() == ["listing", "listed", "planned"]
    assert statuses(run) == [("planned", None)] and file_gets(fake_hub) == []
    assert (run.needed_bytes, run.free_bytes, run.refused) == (0, 0, None)
    assert run.ok and not cache.exists()


def test_offline_nothing_is_asked(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    fake_hub.reset_counts()
    shown = Shown()
    run = fetch(None, cache, model(), model(f"{OTHER}:Q4_K_M"), shown=shown, dry_run=True)
    assert shown.events[0] == ("listing", ([OTHER, REPO], "http://127.0.0.1:9", True))
    assert shown.kinds()[-1] == "planned"
    assert statuses(run) == [("missing", f"{OTHER}: not in the cache (no refs/main or "
                                         "snapshot)"), ("cached", None)]
    assert run.plans[1].note == "offline: resolved from the cache"
    assert run.status_counts() == "1 cached, 1 missing"


def corrupt(cache: Path, hub: FakeHub) -> Path:
    blob = cache / FOLDER / "blobs" / hub.sha256(REPO, Q4)
    blob.write_bytes(b"\0" * 3000)
    return blob


def test_verify_fetches_a_bad_copy_again(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    corrupt(cache, fake_hub)
    fake_hub.reset_counts()
    run = fetch(fake_hub, cache, model(), verify=True)
    assert statuses(run) == [("downloaded", None)] and file_gets(fake_hub) == [Q4]
    (problem,) = run.problems
    assert problem.startswith(f"{REPO} {Q4}: cached copy ")
    assert problem.endswith("; removed from the cache")


@pytest.mark.parametrize("offline", [False, True])
def test_verify_in_a_dry_run_or_offline_leaves_the_cache_alone(fake_hub: FakeHub, cache: Path,
                                                               offline: bool) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    blob = corrupt(cache, fake_hub)
    run = fetch(None if offline else fake_hub, cache, model(), verify=True, dry_run=not offline)
    (problem,) = run.problems
    assert problem.startswith(f"{REPO} {Q4}: cached copy ")
    assert "removed" not in problem and blob.read_bytes() == b"\0" * 3000
    assert run.jobs[0].status.value == "missing"


def test_listing_problems_are_said(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    entries = fake_hub.file_entries(REPO)
    fake_hub.override_tree(REPO, [*entries, {**entries[0], "path": "x\x07.gguf"}])
    run = fetch(fake_hub, cache, model())
    assert run.problems == [f"{REPO}: listing entry 'x\\x07.gguf' refused: control or "
                            "unprintable characters in the path"]


def pinned(hub: FakeHub) -> RepoListing:
    (entry,) = [e for e in hub.file_entries(REPO) if e["path"] == Q4]
    return RepoListing(repo=REPO, commit=hub.commit(REPO), files=(RepoFile(
        path=Q4, size=entry["size"], oid=entry["oid"], sha256=entry["lfs"]["oid"]),))


def test_a_lock_that_agrees_says_nothing(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    run = fetch(fake_hub, cache, model(), locked={model(): pinned(fake_hub)})
    assert statuses(run) == [("cached", None)] and run.problems == []


def test_a_url_model_is_pinned_by_its_url_not_the_lock(fake_hub: FakeHub, cache: Path) -> None:
    commit = add_repo(fake_hub)
    url = model(REPO, hf_file=Q8, revision=commit)
    shown = Shown()
    run = fetch(fake_hub, cache, url, model(), urls=True, locked={model(): pinned(fake_hub)},
                lock_strict=True, shown=shown)
    assert statuses(run) == [("downloaded", None), ("downloaded", None)]
    assert shown.events[0] == ("listing", ([REPO], fake_hub.url, False))
    assert fake_hub.count(kind="tree") == 1


def test_a_read_only_cache_is_asked_for_nothing(fake_hub: FakeHub, cache: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    fake_hub.add_repo(REPO, {Q4: fake_hub.content(REPO, Q4), Q8: fake_hub.content(REPO, Q8),
                             "README.md": b"new\n"})
    stale = cache / FOLDER / "blobs" / "abc.0123.incomplete"
    stale.write_bytes(b"x" * 4096)
    monkeypatch.setattr(hf_cache, "writable", lambda cache: False)
    fake_hub.reset_counts()
    shown = Shown()
    run = fetch(fake_hub, cache, model(), model(f"{REPO}:Q8_0"), shown=shown)
    assert run.refused == "read-only" and "downloading" not in shown.kinds()
    assert statuses(run) == [
        ("failed", f"{REPO} {Q4}: cannot link the cached blob: the cache cannot be written to"),
        ("failed", "not downloaded: the cache cannot be written to")]
    assert file_gets(fake_hub) == [] and stale.exists()


@pytest.mark.parametrize("needs", ["a link", "a download"])
def test_a_read_only_cache_refuses_either_alone(fake_hub: FakeHub, cache: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                needs: str) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    fake_hub.add_repo(REPO, {Q4: fake_hub.content(REPO, Q4), Q8: fake_hub.content(REPO, Q8),
                             "README.md": b"new\n"})
    monkeypatch.setattr(hf_cache, "writable", lambda cache: False)
    run = fetch(fake_hub, cache, model() if needs == "a link" else model(f"{REPO}:Q8_0"))
    assert run.refused == "read-only"
    assert statuses(run) == [("failed", f"{REPO} {Q4}: cannot link the cached blob: the cache "
                                        "cannot be written to" if needs == "a link" else
                              "not downloaded: the cache cannot be written to")]


def test_a_read_only_cache_that_holds_everything_is_fine(fake_hub: FakeHub, cache: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    monkeypatch.setattr(hf_cache, "writable", lambda cache: False)
    run = fetch(fake_hub, cache, model())
    assert (run.refused, statuses(run)) == (None, [("cached", None)])


def test_no_room_for_the_downloads(fake_hub: FakeHub, cache: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    monkeypatch.setattr(fetch_run, "free_space", lambda path: 4999)  # Q8 is 5000 bytes
    shown = Shown()
    run = fetch(fake_hub, cache, model(), model(f"{REPO}:Q8_0"), shown=shown)
    assert (run.refused, run.needed_bytes, run.free_bytes) == ("no-space", 5000, 4999)
    assert statuses(run) == [("cached", None), ("failed", "not downloaded: not enough free space")]
    assert "downloading" not in shown.kinds()


def test_just_enough_room(fake_hub: FakeHub, cache: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    add_repo(fake_hub)
    monkeypatch.setattr(fetch_run, "free_space", lambda path: 3000)
    run = fetch(fake_hub, cache, model())
    assert (run.refused, statuses(run)) == (None, [("downloaded", None)])


def test_the_bytes_a_partial_holds_are_not_needed_again(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    fake_hub.add_fault(Q8, Fault("cut", after=2048), times=1)
    fake_hub.add_fault(Q8, Fault("status", code=404), times=None)
    first = fetch(fake_hub, cache, model(f"{REPO}:Q8_0"))
    assert statuses(first)[0][0] == "failed"
    fake_hub.clear_faults()
    shown = Shown()
    run = fetch(fake_hub, cache, model(f"{REPO}:Q8_0"), shown=shown)
    assert statuses(run) == [("downloaded", None)]
    assert run.needed_bytes == 5000 - 2048 and ("downloading", 5000 - 2048) in shown.events


def test_partials_nothing_will_resume_are_cleared_first(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    blobs = cache / FOLDER / "blobs"
    stale = blobs / "abc.0123.incomplete"  # huggingface_hub's, left by a killed run
    stale.write_bytes(b"x" * 4096)
    outdated = blobs / ("f" * 64 + hf_cache.RESUMABLE_SUFFIX)  # of a file the Hub replaced
    outdated.write_bytes(b"y" * 8192)
    shown = Shown()
    run = fetch(fake_hub, cache, model(f"{REPO}:Q8_0"), shown=shown)
    assert statuses(run) == [("downloaded", None)]
    assert shown.removed == [("stale", 1, 4096), ("outdated", 1, 8192)]
    assert not stale.exists() and not outdated.exists()


def test_partials_of_a_repo_the_lock_pins_are_kept(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model(f"{REPO}:Q8_0"))
    outdated = cache / FOLDER / "blobs" / ("f" * 64 + hf_cache.RESUMABLE_SUFFIX)
    outdated.write_bytes(b"y" * 8192)
    shown = Shown()
    run = fetch(fake_hub, cache, model(), locked={model(): pinned(fake_hub)}, shown=shown)
    assert statuses(run) == [("downloaded", None)]
    assert shown.removed == [] and outdated.exists()


def test_presets_are_followed_three_deep_and_a_dry_run_fetches_none(
        fake_hub: FakeHub, cache: Path, tmp_path: Path) -> None:
    """A preset naming a preset repo is followed, `presets.MAX_DEPTH` presets below the suite's
    own model (a chain of presets ends there); a dry run asks for no file, presets included."""
    chain = [f"org/preset-{i}" for i in range(6)]
    for repo, named in itertools.pairwise(chain):
        fake_hub.add_repo(repo, {"preset.ini": f"version = 1\n\n[next]\nhf-repo = {named}\n"
                                 .encode()})
    run = fetch(fake_hub, cache, model(chain[0]))
    assert [plan.model.repo for plan in run.plans if plan.files] == chain[:4]
    assert sorted(plan.model.repo for plan in run.plans) == chain[:5]
    fake_hub.reset_counts()
    run = fetch(fake_hub, tmp_path / "cold", model(chain[0]), dry_run=True)
    assert file_gets(fake_hub) == [] and len(run.plans) == 1
    assert run.plans[0].note == ("preset.ini not fetched in a dry run: the models it names are "
                                 "not planned")


def test_each_path_two_url_files_would_share_is_a_line_of_its_own(
        fake_hub: FakeHub, cache: Path, tmp_path: Path) -> None:
    urls = [model(repo, hf_file=name, revision="main")
            for repo in ("org/a", "org/b") for name in ("x.gguf", "y.gguf")]
    with pytest.raises(SetupError) as raised:
        fetch(fake_hub, cache, *urls, urls=True, place_in=tmp_path / "suite")
    lines = str(raised.value).splitlines()
    assert [line.split(", where")[0] for line in lines] == [
        f"2 URL files would be placed at {tmp_path / 'suite' / 'tmp' / name}"
        for name in ("x.gguf", "y.gguf")]
    assert fake_hub.requests == []


def test_offline_a_url_file_is_placed_from_the_cache_and_a_dry_run_places_nothing(
        fake_hub: FakeHub, cache: Path, tmp_path: Path) -> None:
    add_repo(fake_hub)
    url = model(REPO, hf_file=Q4, revision="main")
    suite = tmp_path / "suite"
    fetch(fake_hub, cache, url, urls=True, place_in=suite)
    placed = suite / "tmp" / Q4
    placed.unlink()
    fake_hub.reset_counts()
    run = fetch(None, cache, url, urls=True, place_in=suite, dry_run=True)
    assert [str(p.status) for p in run.plans[0].placements] == ["to place"]
    assert not placed.exists()
    run = fetch(None, cache, url, urls=True, place_in=suite)
    assert [str(p.status) for p in run.plans[0].placements] == ["linked"]
    assert placed.read_bytes() == fake_hub.content(REPO, Q4)
    assert fake_hub.requests == []
