"""Fetch models with llama.cpp's own downloader, so they land exactly where llama.cpp looks.

`llama download -hf org/name[:TAG] [-hff FILE]` (the unified `llama` binary, or the standalone
`llama-download`) resolves a repo the way `llama-server -hf` does and writes the Hugging Face hub
layout (`models--org--name/{refs,blobs,snapshots}`) under `LLAMA_CACHE`. Builds without it fall
back to a one-token `llama-completion` / `llama-cli` run, which downloads as a side effect.

Known limits of llama.cpp itself, reported rather than worked around:
- `-hf` always resolves the `main` branch, so a reference pinned to another revision cannot be
  fetched; `-mu URL` would cache it flat as `LLAMA_CACHE/<basename>`, not in the hub layout.
- `llama download` does not fetch a repo's mmproj: `LLAMA_EXAMPLE_DOWNLOAD` is missing from
  `mmproj_examples` in `common/arg.cpp`. Of the fallbacks only `llama-cli` fetches it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal, NamedTuple
from urllib.parse import quote, quote_plus, unquote, urlsplit

from pydantic import BaseModel

from ..models import HuggingFaceModel
from ..setup import environment

LlamaKind = Literal["llama", "llama-download", "llama-completion", "llama-cli"]
# Preference order: the first two only download; the last two load the model and generate.
BINARY_NAMES: tuple[LlamaKind, ...] = ("llama", "llama-download", "llama-completion", "llama-cli")
UNIFIED_KINDS: frozenset[str] = frozenset({"llama", "llama-download"})
BUILD_HINT = (
    "To get one, build it: cmake -B build && cmake --build build --config Release "
    "--target llama-app (writes build/bin/llama; the CMake target `llama` is the library), "
    "or --target llama-download / llama-completion / llama-cli; "
    "or choose one with --llama-bin PATH or LLAMA_BIN=PATH"
)
# llama.cpp reads these as -m/-hf/-hff/-mu/-dr defaults: inherited, they would pick another model.
MODEL_SELECTING_VARS = (
    "LLAMA_ARG_MODEL", "LLAMA_ARG_MODEL_URL", "LLAMA_ARG_DOCKER_REPO",
    "LLAMA_ARG_HF_REPO", "LLAMA_ARG_HF_FILE",
)  # fmt: skip
ENV_ORIGINS = ("LLAMA_BIN", "LLAMA_CLI_BIN_PATH")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_HF_TOKEN_SHAPE = re.compile(r"hf_[A-Za-z0-9]{16,}")
_MESSAGE_LINES = 2


class LlamaNotFound(Exception):
    """No usable llama.cpp binary; the message lists every place looked and how to get one."""


class LlamaBinary(NamedTuple):
    """A llama.cpp executable and the argument style its file name implies."""

    path: Path
    kind: LlamaKind


class LlamaOutcome(BaseModel):
    """What fetching one model did: `message` is the printed paths, or the cause of failure."""

    model: HuggingFaceModel
    ok: bool
    command: tuple[str, ...]
    returncode: int | None
    message: str


# -- finding the binary ------------------------------------------------------------------------


def find_llama_binary(root: Path, explicit: str | None, env: Mapping[str, str]) -> LlamaBinary:
    """Explicit path, then $LLAMA_BIN, $LLAMA_CLI_BIN_PATH, root/build/bin, then PATH.

    A path the user named (flag or variable) that is unusable is an error, never skipped:
    silently taking another binary would hide the mistake.
    """
    looked: list[str] = []
    named = [("--llama-bin", explicit)] + [(f"${var}", env.get(var)) for var in ENV_ORIGINS]
    for origin, value in named:
        if value:
            return _named_binary(origin, Path(value))
        looked.append(f"{origin} (not set)")
    build_bin = root / "build" / "bin"
    for name in BINARY_NAMES:
        if _is_executable(build_bin / name):
            return LlamaBinary(path=build_bin / name, kind=name)
        looked.append(str(build_bin / name))
    search_path = env.get("PATH")
    for name in BINARY_NAMES if search_path else ():
        found = shutil.which(name, path=search_path)
        if found:
            return LlamaBinary(path=Path(found), kind=name)
    looked.append(f"PATH: {', '.join(BINARY_NAMES)}")
    where = "; ".join(looked)
    raise LlamaNotFound(f"no llama.cpp binary found; looked at, in order: {where}. {BUILD_HINT}")


def binary_kind(path: Path) -> LlamaKind | None:
    """The argument style follows the file name (`llama-cli.exe` counts as `llama-cli`)."""
    name = path.name[:-4] if path.name.lower().endswith(".exe") else path.name
    return next((kind for kind in BINARY_NAMES if kind == name), None)


def _named_binary(origin: str, path: Path) -> LlamaBinary:
    if not path.exists():
        raise LlamaNotFound(f"{origin} {path}: no such file. {BUILD_HINT}")
    if not _is_executable(path):
        raise LlamaNotFound(f"{origin} {path}: not an executable file")
    kind = binary_kind(path)
    if kind is None:
        names = ", ".join(BINARY_NAMES)
        raise LlamaNotFound(f"{origin} {path}: its name must be one of {names} (it sets the args)")
    return LlamaBinary(path=path, kind=kind)


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


# -- building the command ----------------------------------------------------------------------


def unsupported_reason(model: HuggingFaceModel) -> str | None:
    """Why llama.cpp cannot fetch `model` into the hub cache, or None if it can."""
    if model.revision in (None, "main"):
        return None  # -hf resolves the main branch, so `main` is what a main-pinned URL wants
    return (
        f"not supported by the llama.cpp backend: -hf always fetches the main branch and cannot "
        f"pin revision {model.revision}; -mu would cache it outside the hub layout"
    )


def llama_command(
    binary: LlamaBinary, model: HuggingFaceModel, *, offline: bool = False
) -> list[str]:
    """The argv that makes `binary` put `model` in the cache; ValueError if it cannot."""
    reason = unsupported_reason(model)
    if reason:
        raise ValueError(f"{model.label()}: {reason}")
    file_args = ["-hff", model.hf_file] if model.hf_file else []
    offline_args = ["--offline"] if offline else []
    if binary.kind in UNIFIED_KINDS:
        sub = ["download"] if binary.kind == "llama" else []
        return [str(binary.path), *sub, "-hf", model.hf_repo, *file_args, *offline_args]
    # -no-cnv: both completion and cli default to chat mode when the model has a template.
    # No --log-disable: it discards LOG_ERR, which is where download failures are reported.
    generate_one_token = ["-n", "1", "-p", "Hey", "--no-warmup", "-no-cnv", "-fa", "off"]
    return [str(binary.path), "-hfr", model.hf_repo, *file_args, *generate_one_token, *offline_args]


def llama_env(
    base: Mapping[str, str], *, cache_dir: Path, endpoint: str | None, offline: bool
) -> dict[str, str]:
    """`base` pointed at `cache_dir` (llama.cpp reads LLAMA_CACHE first); HF_TOKEN without the
    whitespace around it (llama.cpp sends it as it is, and a newline breaks the header).

    `offline` is the caller's decision, so an inherited LLAMA_ARG_OFFLINE is dropped otherwise.
    """
    env = {k: v for k, v in base.items() if k not in MODEL_SELECTING_VARS}
    env.pop("LLAMA_ARG_OFFLINE", None)
    env["LLAMA_CACHE"] = env["HF_HUB_CACHE"] = str(cache_dir)
    if endpoint:
        env["MODEL_ENDPOINT"] = env["HF_ENDPOINT"] = endpoint  # MODEL_ENDPOINT wins in llama.cpp
    if offline:
        env["LLAMA_ARG_OFFLINE"] = "1"
    token = environment.token(base)
    if token:
        env["HF_TOKEN"] = token
    return env


# -- running it --------------------------------------------------------------------------------


def fetch_with_llama(
    binary: LlamaBinary,
    models: Sequence[HuggingFaceModel],
    *,
    cache_dir: Path,
    endpoint: str | None,
    offline: bool,
    env: Mapping[str, str],
    timeout: float | None = None,
    on_done: Callable[[LlamaOutcome], None] | None = None,
) -> list[LlamaOutcome]:
    """One process per model, in order, every model attempted whatever failed before.

    Sequential on purpose: llama.cpp already downloads a model's files in parallel, and two
    processes resolving the same repo would race on its refs/ and blobs/.
    """
    child_env = llama_env(env, cache_dir=cache_dir, endpoint=endpoint, offline=offline)
    # a pull-through proxy's password in the endpoint, or its user name alone (a token used as
    # one: `environment.shown_url` hides both)
    parts = urlsplit(endpoint or "")
    credential = parts.password or (parts.username if "@" in parts.netloc else None)
    secrets = [s for s in (child_env.get("HF_TOKEN"), credential and unquote(credential)) if s]
    outcomes: list[LlamaOutcome] = []
    for model in models:
        outcome = _fetch_one(binary, model, offline, child_env, timeout, secrets)
        outcomes.append(outcome)
        if on_done:
            on_done(outcome)
    return outcomes


def _fetch_one(
    binary: LlamaBinary,
    model: HuggingFaceModel,
    offline: bool,
    env: dict[str, str],
    timeout: float | None,
    secrets: list[str],
) -> LlamaOutcome:
    reason = unsupported_reason(model)
    if reason:
        return LlamaOutcome(model=model, ok=False, command=(), returncode=None, message=reason)
    cmd = llama_command(binary, model, offline=offline)

    def outcome(ok: bool, code: int | None, message: str) -> LlamaOutcome:
        text = redact(message, secrets)
        return LlamaOutcome(model=model, ok=ok, command=tuple(cmd), returncode=code, message=text)

    try:
        # its own session: a timeout stops what it started too (a wrapper script's children)
        child = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, errors="replace",
                                 start_new_session=True)
    except OSError as exc:
        return outcome(False, None, f"could not run {cmd[0]}: {exc.strerror or exc}")
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(child)
        return outcome(False, None, f"timed out after {timeout:g}s")
    except BaseException:  # Ctrl-C: nothing of it outlives the run
        _kill_group(child)
        raise
    if child.returncode != 0:
        return outcome(False, child.returncode, failure_cause(stderr, child.returncode))
    return outcome(True, 0, success_message(binary, stdout))


def _kill_group(child: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.communicate()


def success_message(binary: LlamaBinary, stdout: str) -> str:
    """`download` prints one local path per line (model, then mmproj/draft if fetched)."""
    if binary.kind not in UNIFIED_KINDS:
        return f"cached by {binary.kind} (it does not print the local paths)"
    paths = [line.strip() for line in _ANSI.sub("", stdout).splitlines() if line.strip()]
    return "; ".join(paths) or "done (no path printed)"


def failure_cause(stderr: str, returncode: int) -> str:
    """The last error lines, else the last lines: argument errors are followed by usage text."""
    lines = [line.strip() for line in _ANSI.sub("", stderr).splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "failed" in line.lower()]
    picked = (errors or lines)[-_MESSAGE_LINES:]
    return " | ".join(picked) if picked else f"exit status {returncode}, nothing on stderr"


def redact(text: str, secrets: Sequence[str]) -> str:
    """Hide the token and the endpoint's password, and anything shaped like a token, whatever
    the child printed."""
    for secret in secrets:  # as written, and as it looks inside a URL
        for form in dict.fromkeys((secret, quote(secret, safe=""), quote_plus(secret))):
            text = text.replace(form, "[redacted]")
    return _HF_TOKEN_SHAPE.sub("[redacted]", text)
