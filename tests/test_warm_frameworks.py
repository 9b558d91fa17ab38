"""A warm run asks the Hub nothing for a framework's model either: the last fetch recorded its
repo's whole listing at the commit (`scanner/fetch/recorded.py`), so a suite that adds a load
call is planned from it and only the new files are downloaded, at that commit, with no listing.
A ref another client moved, and `--latest`, list the repo again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.cache import layout as hf_cache
from scanner.fetch.recorded import listings_path
from tests import hf_repos
from tests.fakehub import FakeHub
from tests.helpers import invoke_command, run_fetch, write_suite
from tests.test_framework_fetch import REPO, snapshot
from tests.test_frameworks_offline import run_offline
from tests.test_reliability_cache import mount_namespaces, read_only, tree_state  # noqa: F401 (a fixture)

TOKENIZER = f"""
    from transformers import AutoTokenizer

    def test_tokenizer():
        AutoTokenizer.from_pretrained({REPO!r})
"""
WEIGHTS = f"""
    from transformers import AutoModelForCausalLM

    def test_model():
        AutoModelForCausalLM.from_pretrained({REPO!r})
"""
#: AutoModelForCausalLM's steps for safetensors weights, offline, with transformers' own
#: functions (its model classes need torch), and the tokenizer beside them
LOAD = f"""
    from safetensors.numpy import load_file
    from transformers import AutoTokenizer
    from transformers.utils import cached_file
    from transformers.utils.hub import get_checkpoint_shard_files
    assert cached_file({REPO!r}, "model.safetensors",
                       _raise_exceptions_for_missing_entries=False) is None
    index = cached_file({REPO!r}, "model.safetensors.index.json")
    files, _ = get_checkpoint_shard_files({REPO!r}, index)
    print(sorted(name for path in files for name in load_file(path)))
    print(AutoTokenizer.from_pretrained({REPO!r})("world")["input_ids"])
"""
#: what AutoModelForCausalLM reads of the sharded repo (its index first, then the shards)
MODEL_FILES = {"config.json", "generation_config.json", "model.safetensors.index.json",
               "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}


def listings(hub: FakeHub) -> int:
    """The listing requests the fake Hub answered since its counts were reset."""
    return hub.count(kind="refs") + hub.count(kind="tree")


@pytest.fixture
def warm(fake_hub: FakeHub, hub_env: Path, tmp_path: Path,
         capsys: pytest.CaptureFixture[str]) -> Path:
    """A suite that loads the sharded repo's tokenizer, fetched once: the cache is warm."""
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo(shards=True))
    root = write_suite(tmp_path / "p", TOKENIZER)
    code, out, _ = run_fetch(root, capsys)
    assert code == 0, out
    fake_hub.reset_counts()
    return root


def test_a_warm_fetch_of_a_framework_model_makes_no_request(
    fake_hub: FakeHub, hub_env: Path, warm: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cached = snapshot(hub_env)
    code, out, _ = run_fetch(warm, capsys)
    assert code == 0 and "1 models: 1 cached;" in out, out
    assert fake_hub.count() == 0, [r.path for r in fake_hub.requests]
    assert snapshot(hub_env) == cached


def test_an_added_load_call_downloads_only_its_files_without_a_listing(
    fake_hub: FakeHub, hub_env: Path, warm: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    """The weights' index is read from the cache at the recorded commit, then the shards it
    names are downloaded there: no refs or tree request; then they load offline."""
    commit = hf_cache.read_ref(hub_env, REPO)
    before = snapshot(hub_env)
    write_suite(warm, WEIGHTS, name="test_weights.py")
    code, out, _ = run_fetch(warm, capsys)
    assert code == 0 and "1 models: 1 downloaded;" in out, out
    assert listings(fake_hub) == 0, [r.path for r in fake_hub.requests]
    downloaded = {r.path.rsplit(f"/resolve/{commit}/", 1)[-1]
                  for r in fake_hub.requests if r.kind == "resolve"}
    assert downloaded == MODEL_FILES - before and "model.safetensors.index.json" in downloaded
    assert snapshot(hub_env) == before | MODEL_FILES
    assert hf_cache.read_ref(hub_env, REPO) == commit
    out = run_offline(fake_hub, hub_env, tmp_path, LOAD)
    assert out.splitlines() == ["['a', 'b', 'c']", "[4]"]


def test_a_ref_moved_by_another_client_and_latest_list_again(
    fake_hub: FakeHub, hub_env: Path, warm: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = hf_cache.read_ref(hub_env, REPO)
    assert old
    new = fake_hub.add_repo(REPO, hf_repos.transformers_repo(shards=True)
                            | {"README.md": b"# v2\n"})
    assert run_fetch(warm, capsys)[0] == 0 and fake_hub.count() == 0, "kept at the record"
    code, out, _ = run_fetch(warm, capsys, latest=True)
    assert code == 0, out
    assert fake_hub.count(kind="tree") == 1 and hf_cache.read_ref(hub_env, REPO) == new
    fake_hub.reset_counts()
    assert run_fetch(warm, capsys)[0] == 0 and fake_hub.count() == 0, "recorded anew"
    hf_cache.write_ref(hub_env, REPO, old)  # as another client on the cache would
    code, out, _ = run_fetch(warm, capsys)
    assert code == 0, out
    assert fake_hub.count(kind="tree") == 1 and hf_cache.read_ref(hub_env, REPO) == new


def test_a_warm_plugin_run_asks_the_hub_nothing(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """`pytest --fetch-models` on a transformers suite: once it has fetched, the next run
    makes no request, neither its fetch nor its tests (which import transformers once the
    fetch has made the run offline), and the tests pass."""
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())
    suite = write_suite(tmp_path / "suite", f"""
        def test_tokenizer():
            from transformers import AutoTokenizer

            assert AutoTokenizer.from_pretrained({REPO!r})("hello world")["input_ids"] == [3, 4]
    """) / "tools/server/tests"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    requests = []
    for _ in range(2):
        fake_hub.reset_counts()
        run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly",
                              "-p", "no:cacheprovider", "--fetch-models"], cwd=suite, env=env,
                             capture_output=True, text=True, timeout=240)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert "1 passed" in run.stdout
        requests.append([r.path for r in fake_hub.requests])
    assert requests[0] and requests[1] == [], requests[1]


def test_the_record_is_not_rewritten_warm_and_one_unreadable_counts_as_empty(
    fake_hub: FakeHub, hub_env: Path, warm: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = listings_path(hub_env)
    written = record.read_bytes(), record.stat().st_mtime_ns
    assert run_fetch(warm, capsys)[0] == 0 and fake_hub.count() == 0
    assert (record.read_bytes(), record.stat().st_mtime_ns) == written, "a warm cache: kept"
    record.write_text('{"version": 1, "repos": [{"repo": ')  # cut short, as by a full disk
    code, out, _ = run_fetch(warm, capsys)
    assert code == 0 and "1 models: 1 cached;" in out, out
    assert fake_hub.count(kind="tree") == 1, "listed, as with no record"
    assert record.read_bytes() == written[0], "recorded again"


@pytest.mark.usefixtures("mount_namespaces")  # a private read-only mount, else skipped
def test_a_read_only_cache_is_not_recorded_in_and_its_record_is_used(
    fake_hub: FakeHub, hub_env: Path, warm: Path
) -> None:
    """Without a record the repo is listed and nothing is written; with one, no request."""
    record = listings_path(hub_env)
    kept = record.read_bytes()
    record.unlink()
    for requests in (2, 0):  # refs and tree; then none
        fake_hub.reset_counts()
        before = tree_state(hub_env)
        run = subprocess.run(read_only(hub_env, *invoke_command(
            "models.fetch", "--root", str(warm))), capture_output=True, text=True, timeout=120,
            check=False, env=dict(os.environ))
        assert run.returncode == 0 and "Traceback" not in run.stderr, run.stdout + run.stderr
        assert fake_hub.count() == requests, [r.path for r in fake_hub.requests]
        assert tree_state(hub_env) == before, "a read-only cache is not written to"
        record.write_bytes(kept)


#: A test module that imports transformers when pytest collects it, as most suites do:
#: huggingface_hub reads HF_HUB_OFFLINE then, before any fetch after the collection.
IMPORTS_AT_COLLECTION = f"""
    from transformers import AutoTokenizer

    def test_tokenizer():
        assert AutoTokenizer.from_pretrained({REPO!r})("hello world")["input_ids"] == [3, 4]
"""


def plugin_runs(fake_hub: FakeHub, suite: Path, *args: str, passed: str = "1 passed",
                **env: str) -> list[list[str]]:
    """`pytest --fetch-models ARGS` twice on `suite`: what the fake Hub was asked each time."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "INVOKE_"))}
    asked = []
    for _ in range(2):
        fake_hub.reset_counts()
        run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "-p",
                              "no:cacheprovider", "--fetch-models", *args], cwd=suite,
                             env=base | env, capture_output=True, text=True, timeout=240)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert passed in run.stdout
        asked.append([f"{r.method} {r.path}" for r in fake_hub.requests])
    return asked


@pytest.mark.parametrize("workers", [["-p", "no:xdist"], ["-n", "2"]], ids=["one", "xdist"])
def test_a_plugin_run_is_offline_for_tests_that_import_transformers_at_collection(
    workers: list[str], fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """The switches a complete fetch gives the tests go on before the test modules are
    imported (in each xdist worker too), so their loads ask the Hub nothing once the fetch
    is done, cold or warm, where they used to ask about each file they read."""
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())
    suite = write_suite(tmp_path / "suite", IMPORTS_AT_COLLECTION) / "tools/server/tests"
    cold, warm = plugin_runs(fake_hub, suite, *workers)
    commit = hf_cache.read_ref(hub_env, REPO)
    assert cold and commit and [asked for asked in cold  # the fetch's, at the commit it listed
                                if not (asked.endswith("/refs") or commit in asked)] == []
    assert warm == [], warm


def test_the_online_switch_keeps_a_warm_plugin_run_online(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())
    suite = write_suite(tmp_path / "suite", IMPORTS_AT_COLLECTION) / "tools/server/tests"
    _, warm = plugin_runs(fake_hub, suite, INVOKE_TEST_ONLINE="1")
    assert warm, "the tests ask the Hub, as they would without the tool"
    assert not [asked for asked in warm if asked.endswith("/refs")], "the fetch asks nothing"


def test_a_suite_whose_test_fetches_from_the_hub_itself_stays_online(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """A Hub URL to a file that is no GGUF is left to the test (a `network:` line): its
    download needs huggingface_hub online, so nothing is switched off before collection."""
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo() | {"README.md": b"# tiny\n"})
    suite = write_suite(tmp_path / "suite", IMPORTS_AT_COLLECTION + f"""
    from huggingface_hub import hf_hub_download

    README = "{fake_hub.url}/{REPO}/resolve/main/README.md"

    def test_readme():
        repo, name = README.split("/resolve/main/")
        assert hf_hub_download(repo.split("/", 3)[-1], name) is not None
    """) / "tools/server/tests"
    for asked in plugin_runs(fake_hub, suite, "-k", "readme", passed="1 passed, 1 deselected"):
        assert [one for one in asked if one.endswith("/README.md")], "the test's own download"


def test_a_suite_whose_test_loads_a_dataset_stays_online(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """datasets follows huggingface_hub's offline switch, and no fetch brings a dataset: a
    test that loads one keeps the run online (a `network:` line), before collection too."""
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())
    suite = write_suite(tmp_path / "suite", IMPORTS_AT_COLLECTION + """
    def load_dataset(name):  # stands for datasets' own, which reads this switch
        from huggingface_hub import constants
        assert not constants.HF_HUB_OFFLINE, f"{name}: offline, no dataset can be fetched"
        return name

    def test_dataset():
        assert load_dataset("org/tiny-ds") == "org/tiny-ds"
    """) / "tools/server/tests"
    plugin_runs(fake_hub, suite, "-k", "dataset", passed="1 passed, 1 deselected")

def test_tests_reading_another_cache_than_the_fetchs_stay_online(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """LLAMA_CACHE and HF_HUB_CACHE set apart: the fetch fills the first (llama.cpp's order),
    huggingface_hub reads the second, so offline its loads would find nothing there."""
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())
    suite = write_suite(tmp_path / "suite", IMPORTS_AT_COLLECTION) / "tools/server/tests"
    apart = {"LLAMA_CACHE": str(tmp_path / "llama"), "HF_HUB_CACHE": str(tmp_path / "hub")}
    _, warm = plugin_runs(fake_hub, suite, **apart)
    assert warm, "the tests ask the Hub: online"
    assert hf_cache.read_ref(tmp_path / "hub", REPO), "what they read went to their cache"
