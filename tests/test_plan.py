"""The plan of a fetch: which models are set aside, what is asked of the Hub (one listing per
repo), what each file is planned as (cached, linked from another commit's blob, to download,
missing offline, refused by the lock), and what each model ends as, with its message."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.fetch import plan as fetch_plan
from scanner.fetch.jobs import (
    FetchSettings,
    FileJob,
    FileStatus,
    ListingOutcome,
    ModelPlan,
    ModelStatus,
)
from scanner.models import RepoFile, RepoListing
from tests.fakehub import FakeHub, Fault, GeneratedFile
from tests.fetch_runs import Q4, Q8, README, REPO, add_repo, fetch, file_gets, model, statuses
from tests.helpers import llama_offline_lookup

OTHER = "aaa/first-GGUF"  # sorts before REPO: set aside or failing, it must not stop the rest
ASK = "set HF_TOKEN to a token that has access"


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "hub"


def test_a_fresh_fetch_lists_each_repo_once_and_writes_main(fake_hub: FakeHub,
                                                            cache: Path) -> None:
    commit = add_repo(fake_hub)
    run = fetch(fake_hub, cache, model(), model(f"{REPO}:Q8_0"), model(REPO, hf_file=Q4))
    assert statuses(run) == [("downloaded", None)] * 3
    assert sorted(file_gets(fake_hub)) == [Q4, Q8]  # the file two models name: once
    assert [j.file.path for j in run.jobs] == [Q4, Q8]
    assert fake_hub.count(kind="refs") == 1 and fake_hub.count(kind="tree") == 1
    assert (cache / "models--org--m-GGUF/refs/main").read_text() == commit
    assert llama_offline_lookup(cache, REPO, Q4) == fake_hub.content(REPO, Q4)
    assert all(p.commit == commit for p in run.plans)

    fake_hub.reset_counts()
    again = fetch(fake_hub, cache, model())
    assert statuses(again) == [("cached", None)] and file_gets(fake_hub) == []
    assert [j.status for j in again.jobs] == [FileStatus.CACHED]


def test_denied_and_url_models_are_set_aside(fake_hub: FakeHub, cache: Path) -> None:
    commit = add_repo(fake_hub)
    add_repo(fake_hub, OTHER)
    denied, url = model(f"{OTHER}:Q4_K_M"), model(REPO, hf_file=Q8, revision=commit)
    run = fetch(fake_hub, cache, denied, url, model(), denied=(denied,))
    by_model = {p.model: p for p in run.plans}
    assert (by_model[denied].status, by_model[denied].note) == (
        ModelStatus.DENIED, "on the deny list")
    assert (by_model[url].status, by_model[url].note) == (
        ModelStatus.SKIPPED, "URL reference: not fetched (--no-urls or models.urls false)")
    assert by_model[model()].status is ModelStatus.DOWNLOADED
    assert file_gets(fake_hub) == [Q4] and fake_hub.count(kind="refs") == 1


def test_a_url_model_with_urls_is_fetched_at_its_commit(fake_hub: FakeHub,
                                                        cache: Path) -> None:
    commit = add_repo(fake_hub)
    run = fetch(fake_hub, cache, model(REPO, hf_file=Q8, revision=commit), urls=True)
    assert statuses(run) == [("downloaded", None)]
    assert file_gets(fake_hub) == [Q8] and fake_hub.count(kind="refs") == 0
    refs = cache / "models--org--m-GGUF/refs"
    assert not refs.exists() or list(refs.iterdir()) == []  # a commit is no ref to write


def test_a_missing_repo_fails_alone(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    run = fetch(fake_hub, cache, model(f"{OTHER}:Q4_K_M"), model())
    assert statuses(run) == [
        ("failed", f"{OTHER}: repository not found on the Hub (HTTP 404; if it is private, "
                   f"{ASK})"),
        ("downloaded", None)]


def test_a_model_the_repo_lacks_fails_with_what_is_there(fake_hub: FakeHub,
                                                          cache: Path) -> None:
    add_repo(fake_hub, OTHER)
    add_repo(fake_hub)
    run = fetch(fake_hub, cache, model(f"{OTHER}:Q5_K_M"), model())
    (failed, ok) = run.plans
    assert failed.status is ModelStatus.FAILED and ok.status is ModelStatus.DOWNLOADED
    assert failed.error is not None and failed.error.startswith(f"{OTHER}: tag 'Q5_K_M'")
    assert "m-Q4_K_M.gguf" in failed.error  # what the repo offers


def hub_down(hub: FakeHub, code: int = 503) -> None:
    hub.add_fault("/refs", Fault("status", code=code), times=None)


def test_a_hub_down_falls_back_on_the_cached_snapshot(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    hub_down(fake_hub)
    run = fetch(fake_hub, cache, model(), model(f"{OTHER}:Q4_K_M"))
    (missing, cached) = sorted(run.plans, key=lambda p: p.model.repo)
    assert (cached.status, cached.hub_unavailable) == (ModelStatus.CACHED, True)
    assert cached.note == ("Hub unavailable, using the cached snapshot: "
                           f"{REPO}: Hub server error (HTTP 503)")
    assert (missing.status, missing.error) == (
        ModelStatus.FAILED, f"{OTHER}: Hub server error (HTTP 503)")


def test_rate_limited_says_a_token_helps(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    fake_hub.add_fault("/refs", Fault("status", code=429, retry_after=0), times=None)
    (plan,) = fetch(fake_hub, cache, model()).plans
    assert plan.note == ("Hub unavailable, using the cached snapshot (set HF_TOKEN: rate limits "
                         f"are per IP): {REPO}: rate limited by the Hub (HTTP 429); limits are "
                         "per IP address, an HF_TOKEN raises them")


def test_offline_the_cache_is_the_listing(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    run = fetch(None, cache, model(f"{OTHER}:Q4_K_M"), model(), model(REPO, hf_file=Q8),
                model(f"{REPO}:Q5_K_M"))
    by_model = {p.model: p for p in run.plans}
    assert (by_model[model()].status, by_model[model()].note) == (
        ModelStatus.CACHED, "offline: resolved from the cache")
    assert (by_model[model(f"{OTHER}:Q4_K_M")].status,
            by_model[model(f"{OTHER}:Q4_K_M")].error) == (
        ModelStatus.MISSING, f"{OTHER}: not in the cache (no refs/main or snapshot)")
    assert by_model[model(REPO, hf_file=Q8)].error == (
        f"{REPO}: file {Q8!r}: not in the cache (offline: no such file in the cached snapshot)")
    q5 = by_model[model(f"{REPO}:Q5_K_M")]
    assert q5.status is ModelStatus.MISSING
    assert q5.error == (f"{REPO}: tag 'Q5_K_M': not in the cache (offline: no model GGUF "
                        "matches (tag followed by '.' or '-') in the cached snapshot)")


def test_offline_a_blob_of_another_commit_is_not_enough(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    listing = RepoListing(repo=REPO, commit="c" * 40, files=(
        RepoFile(path=Q4, size=3000, oid="0" * 40, sha256=fake_hub.sha256(REPO, Q4)),))
    settings = FetchSettings(cache, "http://127.0.0.1:9", None, offline=True)
    (job,) = fetch_plan.resolve_plans([ModelPlan(model(), [])],
                                      lambda plan: ListingOutcome(listing), settings)
    assert (job.status, job.link_from) == (FileStatus.MISSING, None)


def new_readme(hub: FakeHub) -> str:
    """A new main that changes only the README: every GGUF blob stays."""
    return hub.add_repo(REPO, {Q4: GeneratedFile(3000, 1), Q8: GeneratedFile(5000, 2),
                               README: b"# m, again\n"})


def test_a_blob_of_another_commit_is_linked_not_downloaded(fake_hub: FakeHub,
                                                           cache: Path) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    commit = new_readme(fake_hub)
    fake_hub.reset_counts()
    run = fetch(fake_hub, cache, model())
    assert statuses(run) == [("cached", None)] and file_gets(fake_hub) == []
    assert run.jobs[0].link_from is None  # linked
    assert (cache / "models--org--m-GGUF/refs/main").read_text() == commit
    assert llama_offline_lookup(cache, REPO, Q4) == fake_hub.content(REPO, Q4)


def test_a_blob_that_cannot_be_linked_fails_its_model(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    commit = new_readme(fake_hub)
    (cache / f"models--org--m-GGUF/snapshots/{commit}").write_text("in the way")
    run = fetch(fake_hub, cache, model())
    assert statuses(run) == [("failed", f"{REPO} {Q4}: cannot link the cached blob into the "
                                        "snapshot: File exists")]
    assert run.jobs[0].link_from is None


def test_only_jobs_with_a_blob_to_link_are_linked(cache: Path) -> None:
    file = RepoFile(path=Q4, size=1, oid="1" * 40, sha256="a" * 64)
    alone = FileJob(REPO, "c" * 40, file, FileStatus.DOWNLOAD)
    blob = cache / "blob"
    cache.mkdir()
    blob.write_bytes(b"x")
    linked = FileJob(REPO, "c" * 40, file, FileStatus.CACHED, link_from=blob)
    fetch_plan.link_cached_blobs([alone, linked], FetchSettings(cache, "", None))
    assert (alone.status, alone.error, linked.status, linked.link_from) == (
        FileStatus.DOWNLOAD, None, FileStatus.CACHED, None)
    assert (cache / f"models--org--m-GGUF/snapshots/{'c' * 40}/{Q4}").read_bytes() == b"x"


def lock_of(hub: FakeHub, *paths: str, sizes: dict[str, int] | None = None) -> RepoListing:
    files = {f["path"]: f for f in hub.file_entries(REPO)}
    return RepoListing(repo=REPO, commit=hub.commit(REPO), files=tuple(
        RepoFile(path=p, size=(sizes or {}).get(p, files[p]["size"]), oid=files[p]["oid"],
                 sha256=files[p].get("lfs", {}).get("oid")) for p in paths))


def test_a_locked_model_asks_the_hub_for_no_listing(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    lock = {model(): lock_of(fake_hub, Q4)}
    run = fetch(fake_hub, cache, model(), locked=lock, lock_path="tests/models.lock")
    (plan,) = run.plans
    assert (plan.status, plan.note) == (ModelStatus.DOWNLOADED,
                                        f"locked at {fake_hub.commit(REPO)[:12]}")
    assert fake_hub.count(kind="refs") == 0 and fake_hub.count(kind="tree") == 0
    assert run.jobs[0].pinned_by == "tests/models.lock"


def test_strict_locking_fails_a_model_the_lock_lacks(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    run = fetch(fake_hub, cache, model(), locked={}, lock_strict=True,
                lock_path="tests/models.lock")
    assert statuses(run) == [("failed", f"{REPO}:Q4_K_M: not in tests/models.lock (run "
                                        "`fetch-test-models models.lock` to pin it)")]
    assert fake_hub.requests == []


def test_a_model_the_lock_lacks_is_listed_unless_strict(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    run = fetch(fake_hub, cache, model(), locked={}, lock_path="tests/models.lock")
    assert statuses(run) == [("downloaded", None)] and run.plans[0].note is None
    assert fake_hub.count(kind="tree") == 1 and run.jobs[0].pinned_by is None


def test_a_cached_file_the_lock_disagrees_with_fails(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model(), model(REPO, hf_file=README))
    lock = lock_of(fake_hub, Q4, README, sizes={Q4: 2999, README: 3})
    fake_hub.reset_counts()
    run = fetch(fake_hub, cache, model(), model(REPO, hf_file=README),
                locked={model(): lock, model(REPO, hf_file=README): lock},
                lock_path="tests/models.lock")
    sha, oid = fake_hub.sha256(REPO, Q4), lock.files[1].blob_id
    fix = "run `fetch-test-models models.lock` to update tests/models.lock, or fix it"
    q4_error = (f"{REPO} {Q4}: the lock says sha256 {sha[:12]} (size 2999), the cached file is "
                f"{sha[:12]} (size 3000): {fix}")
    readme_error = (f"{REPO} {README}: the lock says git oid {oid[:12]} (size 3), the cached "
                    f"file is {oid[:12]} (size 4): {fix}")
    assert sorted(statuses(run)) == [("failed", readme_error), ("failed", q4_error)]
    assert sorted(run.problems) == sorted([q4_error, readme_error])
    assert file_gets(fake_hub) == []


def test_a_copy_outside_the_blobs_the_lock_disagrees_with(fake_hub: FakeHub,
                                                          cache: Path) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    snapshot = cache / f"models--org--m-GGUF/snapshots/{fake_hub.commit(REPO)}/{Q4}"
    snapshot.unlink()
    snapshot.write_bytes(b"a copy")
    lock = lock_of(fake_hub, Q4)
    run = fetch(fake_hub, cache, model(), locked={model(): lock}, lock_path="m.lock")
    sha = fake_hub.sha256(REPO, Q4)
    assert statuses(run) == [("failed", f"{REPO} {Q4}: the lock says sha256 {sha[:12]} (size "
                                        "3000), the cached file is a copy (size 6): run "
                                        "`fetch-test-models models.lock` to update m.lock, or "
                                        "fix it")]


def test_a_cached_file_with_another_id_than_the_lock_s(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    entry = lock_of(fake_hub, Q4).files[0]
    lock = RepoListing(repo=REPO, commit=fake_hub.commit(REPO), files=(
        RepoFile(path=Q4, size=3000, oid=entry.oid, sha256="b" * 64),))
    run = fetch(fake_hub, cache, model(), locked={model(): lock}, lock_path="m.lock")
    assert run.plans[0].error is not None
    assert run.plans[0].error.startswith(f"{REPO} {Q4}: the lock says sha256 bbbbbbbbbbbb")


def test_the_cache_agreeing_with_the_lock_is_cached(fake_hub: FakeHub, cache: Path) -> None:
    add_repo(fake_hub)
    fetch(fake_hub, cache, model())
    fake_hub.reset_counts()
    run = fetch(fake_hub, cache, model(), locked={model(): lock_of(fake_hub, Q4)},
                lock_path="m.lock")
    assert statuses(run) == [("cached", None)] and fake_hub.requests == []


def test_listed_blob_ids_leave_out_repos_listed_in_part() -> None:
    def listing(repo: str, *oids: str) -> RepoListing:
        return RepoListing(repo=repo, commit="c" * 40, files=tuple(
            RepoFile(path=f"f{i}", size=1, oid=oid) for i, oid in enumerate(oids)))

    outcomes = {
        ("a/whole", "main"): ListingOutcome(listing("a/whole", "1" * 40)),
        ("a/whole", "c" * 40): ListingOutcome(listing("a/whole", "2" * 40)),
        ("b/cached", "main"): ListingOutcome(listing("b/cached", "3" * 40),
                                                        hub_unavailable=True),
        ("c/failed", "main"): ListingOutcome(None),
        ("d/pinned", "main"): ListingOutcome(listing("d/pinned", "4" * 40)),
    }
    assert fetch_plan.listed_blob_ids(outcomes, {"d/pinned"}) == {
        "a/whole": {"1" * 40, "2" * 40}}


def job_of(status: FileStatus, path: str = Q4, error: str | None = None) -> FileJob:
    return FileJob(REPO, "c" * 40, RepoFile(path=path, size=1, oid="1" * 40), status,
                   error=error)


def test_a_model_ends_as_its_files(cache: Path) -> None:
    plans = [ModelPlan(model(f"{OTHER}:Q4_K_M"), []), ModelPlan(model(), []),
             ModelPlan(model(f"{REPO}:Q8_0"), []), ModelPlan(model(REPO, hf_file=Q8), []),
             ModelPlan(model(REPO, hf_file=README), [])]
    plans[0].set_aside(ModelStatus.DENIED, "on the deny list")
    plans[1].files = [job_of(FileStatus.CACHED), job_of(FileStatus.DOWNLOAD, Q8),
                      job_of(FileStatus.FAILED, README, "broken")]
    plans[2].files = [job_of(FileStatus.CACHED), job_of(FileStatus.FAILED, Q8, "cut"),
                      job_of(FileStatus.DOWNLOAD, README)]
    plans[3].files = [job_of(FileStatus.CACHED), job_of(FileStatus.DOWNLOADED, Q8)]
    plans[4].files = [job_of(FileStatus.CACHED, README)]
    for plan in plans[1:]:
        plan.commit = "c" * 40
    fetch_plan.finish_plans(plans, FetchSettings(cache, "", None))
    assert [(p.status, p.error) for p in plans] == [
        (ModelStatus.DENIED, None),
        (ModelStatus.FAILED, f"{REPO} {Q8}: not downloaded"),
        (ModelStatus.FAILED, "cut"),
        (ModelStatus.DOWNLOADED, None),
        (ModelStatus.CACHED, None)]
    assert (cache / "models--org--m-GGUF/refs/main").read_text() == "c" * 40


def test_offline_a_model_is_present_when_every_file_is() -> None:
    plans = [ModelPlan(model(f"{OTHER}:Q4_K_M"), []), ModelPlan(model(), []),
             ModelPlan(model(f"{REPO}:Q8_0"), [])]
    plans[0].set_aside(ModelStatus.SKIPPED, "URL reference")
    plans[1].files = [job_of(FileStatus.CACHED), job_of(FileStatus.MISSING, Q8),
                      job_of(FileStatus.MISSING, README)]
    plans[2].files = [job_of(FileStatus.CACHED), job_of(FileStatus.CACHED, Q8)]
    fetch_plan.mark_offline(plans)
    assert [(p.status, p.error) for p in plans] == [
        (ModelStatus.SKIPPED, None),
        (ModelStatus.MISSING, f"{REPO} {Q8}: not in the cache"),
        (ModelStatus.CACHED, None)]


def test_ctrl_c_while_listing_cancels_the_client(fake_hub: FakeHub, cache: Path) -> None:
    class Client:
        cancelled = False

        def listing(self, repo: str, revision: str) -> None:
            raise KeyboardInterrupt

        def cancel(self) -> None:
            self.cancelled = True

    client = Client()
    plans = [ModelPlan(model(), [])]
    with pytest.raises(KeyboardInterrupt):
        fetch_plan.list_repos(plans, client, FetchSettings(cache, "", None))  # type: ignore[arg-type]
    assert client.cancelled
    with pytest.raises(KeyboardInterrupt):  # offline: no client to cancel
        fetch_plan.list_repos(plans, None, FetchSettings(cache, "", None), on_listed=interrupt)


def interrupt(repo: str) -> None:
    raise KeyboardInterrupt
