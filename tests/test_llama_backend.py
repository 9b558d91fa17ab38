"""The llama.cpp backend, tested against a stand-in executable rather than a real llama.cpp build.

The stand-in, what it records and how it fails, is described in tests/llama_standin.py.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from scanner.fetch.llama import (
    LlamaBinary,
    LlamaNotFound,
    LlamaOutcome,
    failure_cause,
    fetch_with_llama,
    find_llama_binary,
    llama_command,
    llama_env,
)
from scanner.models import HuggingFaceModel
from tests.helpers import llama_snapshot
from tests.llama_standin import read_log, write_standin

TOKEN = "hf_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7"
ENDPOINT = "http://127.0.0.1:9/mirror"

TAG = HuggingFaceModel(hf_repo="ggml-org/Qwen3-0.6B-GGUF:Q8_0")
FILE = HuggingFaceModel(hf_repo="ggml-org/models", hf_file="tinyllamas/stories15M-q4_0.gguf")
SPLIT = HuggingFaceModel(
    hf_repo="ggml-org/models", hf_file="tinyllamas/split/stories15M-q8_0-00001-of-00003.gguf"
)
MMPROJ = HuggingFaceModel(hf_repo="ggml-org/SmolVLM-256M-Instruct-GGUF:Q8_0")
URL_MAIN = HuggingFaceModel(
    hf_repo="ggml-org/models", hf_file="tinyllamas/stories260K.gguf", revision="main"
)
URL_PINNED = HuggingFaceModel(
    hf_repo="ggml-org/models", hf_file="tinyllamas/stories260K.gguf", revision="a" * 40
)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "standin.jsonl"


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "hub"


@pytest.fixture
def base_env(log: Path) -> dict[str, str]:
    """What the caller would pass as `env`: only what the stand-in needs, plus PATH."""
    return {"PATH": os.environ.get("PATH", ""), "STANDIN_LOG": str(log)}


def binary(tmp_path: Path, name: str) -> LlamaBinary:
    path = write_standin(tmp_path / "bin", name)
    return find_llama_binary(tmp_path, str(path), {})


def fetch(b: LlamaBinary, models: list[HuggingFaceModel], cache: Path, env: dict[str, str],
          **kwargs: Any) -> list[LlamaOutcome]:  # fmt: skip
    options: dict[str, Any] = {"endpoint": None, "offline": False, **kwargs}
    return fetch_with_llama(b, models, cache_dir=cache, env=env, **options)


# Not `llama_snapshot` (None unless a symlink is there): `.exists()` here means nothing at all.
def snapshot_file(cache: Path, repo: str, path: str) -> Path:
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    commit = (repo_dir / "refs" / "main").read_text()
    return repo_dir / "snapshots" / commit / path


def assert_cached(cache: Path, repo: str, path: str) -> None:
    """Snapshot entry is a relative symlink to blobs/<sha256 of its content>."""
    link = llama_snapshot(cache, repo, path)
    assert link is not None, f"{repo}/{path} is not a snapshot symlink llama.cpp would follow"
    assert not os.path.isabs(os.readlink(link))
    content = link.read_bytes()
    assert link.resolve().name == hashlib.sha256(content).hexdigest()
    assert link.resolve().parent.name == "blobs"


# -- argv per reference kind --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (TAG, ["-hf", "ggml-org/Qwen3-0.6B-GGUF:Q8_0"]),
        (FILE, ["-hf", "ggml-org/models", "-hff", "tinyllamas/stories15M-q4_0.gguf"]),
        (SPLIT, ["-hf", "ggml-org/models", "-hff", SPLIT.hf_file]),
        (MMPROJ, ["-hf", "ggml-org/SmolVLM-256M-Instruct-GGUF:Q8_0"]),
        (URL_MAIN, ["-hf", "ggml-org/models", "-hff", "tinyllamas/stories260K.gguf"]),
    ],
    ids=["tag", "explicit-file", "split-file", "mmproj-repo", "url-on-main"],
)
def test_unified_argv_per_reference_kind(
    tmp_path: Path, cache: Path, base_env: dict[str, str], log: Path,
    model: HuggingFaceModel, expected: list[str],
) -> None:  # fmt: skip
    b = binary(tmp_path, "llama")
    unified = [str(b.path), "download", *expected]
    assert llama_command(b, model) == unified
    assert llama_command(b, model, offline=True) == [*unified, "--offline"]

    [outcome] = fetch(b, [model], cache, base_env)

    assert outcome.ok, outcome.message
    assert outcome.command == (str(b.path), "download", *expected)
    assert read_log(log)[0]["argv"] == ["download", *expected]
    assert Path(outcome.message).is_relative_to(cache)  # the printed path, nothing else
    assert Path(outcome.message).is_file()


def test_split_file_is_fetched_with_all_its_parts(
    tmp_path: Path, cache: Path, base_env: dict[str, str]
) -> None:
    [outcome] = fetch(binary(tmp_path, "llama"), [SPLIT], cache, base_env)

    assert outcome.ok
    assert outcome.message == str(llama_snapshot(cache, "ggml-org/models", str(SPLIT.hf_file)))
    for part in (1, 2, 3):
        name = f"stories15M-q8_0-0000{part}-of-00003.gguf"
        assert_cached(cache, "ggml-org/models", f"tinyllamas/split/{name}")


def test_llama_download_binary_takes_the_same_args_without_subcommand(tmp_path: Path) -> None:
    b = binary(tmp_path, "llama-download")
    assert b.kind == "llama-download"
    assert llama_command(b, FILE) == [str(b.path), "-hf", "ggml-org/models", "-hff", FILE.hf_file]


def test_mmproj_repo_only_llama_cli_fetches_the_projector(
    tmp_path: Path, cache: Path, base_env: dict[str, str]
) -> None:
    """Upstream gap, not ours: `llama download` ignores mmproj (see tests/llama_standin.py)."""
    env = {**base_env, "STANDIN_MMPROJ_REPOS": MMPROJ.repo}
    mmproj = "mmproj-SmolVLM-256M-Instruct-F16.gguf"

    [unified] = fetch(binary(tmp_path / "u", "llama"), [MMPROJ], cache / "u", env)
    [cli] = fetch(binary(tmp_path / "c", "llama-cli"), [MMPROJ], cache / "c", env)

    assert unified.ok and cli.ok
    assert unified.message.endswith("SmolVLM-256M-Instruct-Q8_0.gguf")
    assert not snapshot_file(cache / "u", MMPROJ.repo, mmproj).exists()
    assert_cached(cache / "c", MMPROJ.repo, mmproj)


# -- legacy binaries ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["llama-completion", "llama-cli"])
def test_legacy_argv_generates_one_token_with_a_valid_fa_value(
    tmp_path: Path, cache: Path, base_env: dict[str, str], log: Path, name: str
) -> None:
    b = binary(tmp_path, name)
    expected = [
        "-hfr", "ggml-org/models", "-hff", "tinyllamas/stories15M-q4_0.gguf",
        "-n", "1", "-p", "Hey", "--no-warmup", "-no-cnv", "-fa", "off",
    ]  # fmt: skip
    assert llama_command(b, FILE) == [str(b.path), *expected]
    assert llama_command(b, FILE, offline=True) == [str(b.path), *expected, "--offline"]

    [outcome] = fetch(b, [FILE], cache, base_env)

    assert outcome.ok, outcome.message
    assert read_log(log)[0]["argv"] == expected
    assert outcome.message == f"cached by {name} (it does not print the local paths)"
    assert_cached(cache, "ggml-org/models", "tinyllamas/stories15M-q4_0.gguf")


@pytest.mark.parametrize(
    ("fa_args", "cause"),
    [
        (["-fa"], 'error while handling argument "-fa": expected value for argument'),
        (["-fa", "--offline"], "error: unknown value for --flash-attn: '--offline'"),
    ],
)
def test_standin_rejects_fa_without_a_valid_value_like_llama_cpp(
    tmp_path: Path, base_env: dict[str, str], fa_args: list[str], cause: str
) -> None:
    """The ancestor script ended its argv with a bare `-fa`; current llama.cpp refuses that."""
    path = write_standin(tmp_path, "llama-completion")
    ancestor = [str(path), "-hfr", "ggml-org/models", "-n", "1", "-p", "Hey", "--no-warmup",
                "--log-disable", "-no-cnv", *fa_args]  # fmt: skip
    done = subprocess.run(ancestor, env=base_env, capture_output=True, text=True, check=False)

    assert done.returncode == 1
    assert cause in failure_cause(done.stderr, done.returncode)
    assert "usage" not in failure_cause(done.stderr, done.returncode)


def test_failure_cause_prefers_error_lines_over_usage_and_progress() -> None:
    """Legacy binaries print a download failure without an `error:` prefix."""
    stderr = (
        "\x1b[31mload_backend: loaded CPU backend\x1b[0m\n"
        "Download 'https://hf.co/org/name/resolve/x/model.gguf' failed with status code: 404\n"
        "\nusage:\n-hf, -hfr, --hf-repo <user>/<model>[:quant]\n"
    )
    assert failure_cause(stderr, 1) == (
        "Download 'https://hf.co/org/name/resolve/x/model.gguf' failed with status code: 404"
    )
    assert failure_cause("\n", 3) == "exit status 3, nothing on stderr"
    assert failure_cause("a\nb\nc\n", 1) == "b | c"


def test_download_subcommand_rejects_generation_args(
    tmp_path: Path, base_env: dict[str, str]
) -> None:
    """`download` exposes only options tagged LLAMA_EXAMPLE_DOWNLOAD: legacy argv would fail."""
    path = write_standin(tmp_path, "llama")
    argv = [str(path), "download", "-hf", "ggml-org/models", "--log-disable"]
    done = subprocess.run(argv, env=base_env, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stderr) == (1, "error: invalid argument: --log-disable\n")


# -- finding the binary -------------------------------------------------------------------------


def layered_install(tmp_path: Path) -> tuple[Path, dict[str, str], dict[str, Path]]:
    """One candidate at every lookup step, each with a name the next step would not use."""
    places = {
        "explicit": write_standin(tmp_path / "explicit", "llama-cli"),
        "LLAMA_BIN": write_standin(tmp_path / "llama_bin", "llama-completion"),
        "LLAMA_CLI_BIN_PATH": write_standin(tmp_path / "ancestor", "llama-cli"),
        "build": write_standin(tmp_path / "root" / "build" / "bin", "llama-completion"),
        "PATH": write_standin(tmp_path / "path", "llama"),
    }
    env = {
        "LLAMA_BIN": str(places["LLAMA_BIN"]),
        "LLAMA_CLI_BIN_PATH": str(places["LLAMA_CLI_BIN_PATH"]),
        "PATH": str(tmp_path / "path"),
    }
    return tmp_path / "root", env, places


def test_lookup_order_explicit_then_env_then_build_then_path(tmp_path: Path) -> None:
    root, env, places = layered_install(tmp_path)
    explicit = str(places["explicit"])

    found = find_llama_binary(root, explicit, env)
    assert found == LlamaBinary(path=places["explicit"], kind="llama-cli")
    assert find_llama_binary(root, None, env).path == places["LLAMA_BIN"]
    del env["LLAMA_BIN"]
    assert find_llama_binary(root, None, env).path == places["LLAMA_CLI_BIN_PATH"]
    del env["LLAMA_CLI_BIN_PATH"]
    found = find_llama_binary(root, None, env)
    assert found == LlamaBinary(path=places["build"], kind="llama-completion")
    places["build"].unlink()
    assert find_llama_binary(root, None, env) == LlamaBinary(path=places["PATH"], kind="llama")


@pytest.mark.parametrize("where", ["build", "PATH"])
def test_name_preference_llama_then_download_then_completion_then_cli(
    tmp_path: Path, where: str
) -> None:
    root = tmp_path / "root"
    dirs = [root / "build" / "bin"] if where == "build" else [tmp_path / "p1", tmp_path / "p2"]
    env = {"PATH": os.pathsep.join(map(str, dirs))} if where == "PATH" else {}
    names = ["llama-cli", "llama-completion", "llama-download", "llama"]
    for i, name in enumerate(names):  # alternate dirs: PATH order alone cannot explain the pick
        write_standin(dirs[-1] if i % 2 else dirs[0], name)
    for expected in reversed(names):
        found = find_llama_binary(root, None, env)
        assert found.kind == expected
        found.path.unlink()


def test_not_executable_or_unknown_name_on_the_way_is_not_picked(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_standin(root / "build" / "bin", "llama").chmod(0o644)
    write_standin(tmp_path / "p", "llama-server")
    completion = write_standin(tmp_path / "p", "llama-completion")
    assert find_llama_binary(root, None, {"PATH": str(tmp_path / "p")}).path == completion


@pytest.mark.parametrize("origin", ["--llama-bin", "$LLAMA_BIN", "$LLAMA_CLI_BIN_PATH"])
def test_named_path_that_does_not_exist_is_an_error_naming_it(tmp_path: Path, origin: str) -> None:
    missing = tmp_path / "nowhere" / "llama"
    write_standin(tmp_path / "root" / "build" / "bin", "llama")  # would be found otherwise
    explicit = str(missing) if origin == "--llama-bin" else None
    env = {} if explicit else {origin[1:]: str(missing)}

    with pytest.raises(LlamaNotFound) as err:
        find_llama_binary(tmp_path / "root", explicit, env)

    assert f"{origin} {missing}: no such file" in str(err.value)
    assert "cmake" in str(err.value)


def test_named_path_not_executable_or_badly_named_is_an_error(tmp_path: Path) -> None:
    plain = write_standin(tmp_path / "a", "llama")
    plain.chmod(0o644)
    odd = write_standin(tmp_path / "b", "my-llama")
    with pytest.raises(LlamaNotFound, match=f"--llama-bin {plain}: not an executable file"):
        find_llama_binary(tmp_path, str(plain), {})
    with pytest.raises(LlamaNotFound, match="its name must be one of llama, llama-download"):
        find_llama_binary(tmp_path, None, {"LLAMA_BIN": str(odd)})


def test_missing_binary_message_lists_every_place_in_order_and_how_to_fix(tmp_path: Path) -> None:
    root = tmp_path / "root"
    with pytest.raises(LlamaNotFound) as err:
        find_llama_binary(root, None, {"PATH": str(tmp_path / "empty")})
    message = str(err.value)
    build = root / "build" / "bin"
    places = [
        "--llama-bin (not set)", "$LLAMA_BIN (not set)", "$LLAMA_CLI_BIN_PATH (not set)",
        f"{build / 'llama'};", f"{build / 'llama-download'};", f"{build / 'llama-completion'};",
        f"{build / 'llama-cli'};", "PATH: llama, llama-download, llama-completion, llama-cli",
    ]  # fmt: skip
    positions = [message.index(place) for place in places]
    assert positions == sorted(positions)
    assert "cmake -B build && cmake --build build --config Release --target llama-app" in message
    assert "--llama-bin PATH or LLAMA_BIN=PATH" in message


# -- running: failures, environment, secrets -----------------------------------------------------


def test_one_failing_model_does_not_stop_the_others(
    tmp_path: Path, cache: Path, base_env: dict[str, str], log: Path
) -> None:
    b = binary(tmp_path, "llama")
    bad = HuggingFaceModel(hf_repo="private-org/gated-GGUF:Q4_K_M")
    env = {**base_env, "STANDIN_FAIL_REPOS": bad.repo}
    seen: list[LlamaOutcome] = []

    outcomes = fetch(b, [TAG, bad, FILE], cache, env, on_done=seen.append)

    assert seen == outcomes
    assert [o.ok for o in outcomes] == [True, False, True]
    assert [r["argv"][2] for r in read_log(log)] == [TAG.hf_repo, bad.hf_repo, FILE.hf_repo]
    failed = outcomes[1]
    assert failed.command == (str(b.path), "download", "-hf", "private-org/gated-GGUF:Q4_K_M")
    assert failed.returncode == 1
    assert failed.message == (
        "get_repo_commit: error: GET failed (401): Invalid credentials, token"
        " | error: model download failed"
    )


def test_binary_that_cannot_run_becomes_failed_outcomes(
    tmp_path: Path, cache: Path, base_env: dict[str, str]
) -> None:
    b = binary(tmp_path, "llama")
    b.path.unlink()

    outcomes = fetch(b, [TAG, FILE], cache, base_env)

    assert [(o.ok, o.returncode) for o in outcomes] == [(False, None), (False, None)]
    assert all(o.message.startswith(f"could not run {b.path}: ") for o in outcomes)
    assert outcomes[1].command == tuple(llama_command(b, FILE))


def test_timeout_becomes_a_failed_outcome(
    tmp_path: Path, cache: Path, base_env: dict[str, str]
) -> None:
    env = {**base_env, "STANDIN_SLEEP": "5"}
    [outcome] = fetch(binary(tmp_path, "llama"), [TAG], cache, env, timeout=0.5)
    assert (outcome.ok, outcome.returncode) == (False, None)
    assert outcome.message == "timed out after 0.5s"


@pytest.mark.parametrize("offline", [False, True])
def test_environment_points_llama_cpp_at_the_cache_and_endpoint(
    tmp_path: Path, cache: Path, base_env: dict[str, str], log: Path, offline: bool
) -> None:
    b = binary(tmp_path, "llama")
    env = {**base_env, "HF_TOKEN": TOKEN, "LLAMA_ARG_HF_FILE": "other.gguf"}
    fetch(b, [TAG], cache, env)  # fills the cache, so the offline run can find it

    [outcome] = fetch(b, [TAG], cache, env, endpoint=ENDPOINT, offline=offline)

    assert outcome.ok, outcome.message
    assert outcome.message.endswith("Qwen3-0.6B-Q8_0.gguf")  # inherited LLAMA_ARG_HF_FILE dropped
    record = read_log(log)[-1]
    assert record["env"] == {
        "LLAMA_CACHE": str(cache), "HF_HUB_CACHE": str(cache),
        "MODEL_ENDPOINT": ENDPOINT, "HF_ENDPOINT": ENDPOINT,
        "LLAMA_ARG_OFFLINE": "1" if offline else None,
    }  # fmt: skip
    assert record["hf_token_set"] is True
    assert record["argv"][-1] == ("--offline" if offline else TAG.hf_repo)


def test_offline_run_of_an_uncached_model_fails_with_llama_cpps_cause(
    tmp_path: Path, cache: Path, base_env: dict[str, str]
) -> None:
    [outcome] = fetch(binary(tmp_path, "llama"), [TAG], cache, base_env, offline=True)
    assert (outcome.ok, outcome.message) == (False, "error: model download failed")


def test_llama_env_sets_cache_endpoint_offline_and_keeps_the_token() -> None:
    base = {
        "HF_TOKEN": TOKEN, "MODEL_ENDPOINT": "http://inherited", "LLAMA_ARG_OFFLINE": "1",
        "LLAMA_ARG_HF_REPO": "x/y", "LLAMA_ARG_MODEL": "/m.gguf", "KEEP": "me",
    }  # fmt: skip
    online = llama_env(base, cache_dir=Path("/c"), endpoint=None, offline=False)
    offline = llama_env(base, cache_dir=Path("/c"), endpoint=ENDPOINT, offline=True)

    assert online == {"HF_TOKEN": TOKEN, "MODEL_ENDPOINT": "http://inherited", "KEEP": "me",
                      "LLAMA_CACHE": "/c", "HF_HUB_CACHE": "/c"}  # fmt: skip
    assert offline["LLAMA_ARG_OFFLINE"] == "1"
    assert offline["MODEL_ENDPOINT"] == offline["HF_ENDPOINT"] == ENDPOINT
    assert offline["HF_TOKEN"] == TOKEN
    assert base["LLAMA_ARG_HF_REPO"] == "x/y"  # the caller's mapping is not modified


def test_hf_token_never_reaches_an_outcome_message(
    tmp_path: Path, cache: Path, base_env: dict[str, str]
) -> None:
    bad = HuggingFaceModel(hf_repo="private-org/gated-GGUF")
    env = {**base_env, "HF_TOKEN": TOKEN, "STANDIN_FAIL_REPOS": bad.repo}
    odd = "s3cret-not-hf-shaped"  # only exact redaction of $HF_TOKEN can catch this one

    outcomes = fetch(binary(tmp_path, "llama"), [bad, TAG], cache, env)
    cli = fetch(binary(tmp_path / "c", "llama-cli"), [bad], cache, {**env, "HF_TOKEN": odd})

    failed = outcomes[0]
    assert not failed.ok and "Invalid credentials, token [redacted]" in failed.message
    assert cli[0].message == (
        "get_repo_commit: error: GET failed (401): Invalid credentials, token [redacted]"
        " | error: --model is required"
    )
    for outcome in [*outcomes, *cli]:
        dumped = outcome.model_dump_json()
        assert TOKEN not in dumped and odd not in dumped


# -- references llama.cpp cannot fetch ---------------------------------------------------------


def test_revision_pinned_model_is_reported_unsupported_without_running(
    tmp_path: Path, cache: Path, base_env: dict[str, str], log: Path
) -> None:
    b = binary(tmp_path, "llama")
    with pytest.raises(ValueError, match=r"cannot pin revision a{40};"):
        llama_command(b, URL_PINNED)

    outcomes = fetch(b, [URL_PINNED, URL_MAIN], cache, base_env)

    unsupported = (
        "not supported by the llama.cpp backend: -hf always fetches the main branch and cannot "
        f"pin revision {URL_PINNED.revision}; -mu would cache it outside the hub layout"
    )
    assert outcomes[0] == LlamaOutcome(
        model=URL_PINNED, ok=False, command=(), returncode=None, message=unsupported
    )
    assert outcomes[1].ok
    assert [r["argv"][-1] for r in read_log(log)] == ["tinyllamas/stories260K.gguf"]


def test_a_token_inside_a_url_is_redacted_too(
    tmp_path: Path, cache: Path, base_env: dict[str, str]
) -> None:
    secret = "s3cret/with+plus=&more"  # changes when URL-encoded
    bad = HuggingFaceModel(hf_repo="private-org/gated-GGUF")
    env = {**base_env, "HF_TOKEN": secret, "STANDIN_FAIL_REPOS": bad.repo,
           "STANDIN_TOKEN_IN_URL": "1"}
    [failed] = fetch(binary(tmp_path, "llama"), [bad], cache, env)
    assert "api?token=[redacted]" in failed.message
    dumped = failed.model_dump_json()
    assert "s3cret" not in dumped and "%2Fwith" not in dumped


def test_the_endpoint_s_password_never_reaches_an_outcome_message(
    tmp_path: Path, cache: Path, base_env: dict[str, str]
) -> None:
    password = "pr0xy/pass+word"  # changes when URL-encoded
    bad = HuggingFaceModel(hf_repo="private-org/gated-GGUF")
    env = {**base_env, "STANDIN_FAIL_REPOS": bad.repo, "STANDIN_ENDPOINT_IN_URL": "1"}
    endpoint = f"http://proxy-user:{quote(password, safe='')}@proxy.invalid"
    [failed] = fetch(binary(tmp_path, "llama"), [bad], cache, env, endpoint=endpoint)
    assert "HEAD http://proxy-user:[redacted]@proxy.invalid/private-org/gated-GGUF" in \
        failed.message
    assert "pr0xy" not in failed.model_dump_json()


def test_a_user_name_alone_in_the_endpoint_never_reaches_an_outcome_message(
    tmp_path: Path, cache: Path, base_env: dict[str, str]
) -> None:
    """`https://TOKEN@proxy`: the user name is the secret (it was printed unless hf_-shaped)."""
    bad = HuggingFaceModel(hf_repo="private-org/gated-GGUF")
    env = {**base_env, "STANDIN_FAIL_REPOS": bad.repo, "STANDIN_ENDPOINT_IN_URL": "1"}
    [failed] = fetch(binary(tmp_path, "llama"), [bad], cache, env,
                     endpoint="http://pr0xy-t0ken@proxy.invalid")
    assert "HEAD http://[redacted]@proxy.invalid/private-org/gated-GGUF" in failed.message
    assert "pr0xy" not in failed.model_dump_json()

def test_a_timeout_stops_what_llama_cpp_started_too(
    tmp_path: Path, cache: Path, base_env: dict[str, str]
) -> None:
    """A wrapper script's own children (here `sleep 30`) must not outlive the timeout."""
    pid_file = tmp_path / "child.pid"
    env = {**base_env, "STANDIN_SLEEP": "30", "STANDIN_CHILD_PID": str(pid_file)}
    [outcome] = fetch(binary(tmp_path, "llama"), [TAG], cache, env, timeout=1)
    assert outcome.message == "timed out after 1s"
    state = Path(f"/proc/{pid_file.read_text()}/status")

    def ended() -> bool:  # SIGKILL is delivered when the child is next scheduled: wait for it
        try:
            return "zombie" in state.read_text()
        except FileNotFoundError:
            return True

    deadline = time.monotonic() + 10  # `sleep 30` outlives this unless it was killed
    while not ended() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ended(), "the child is still running"
