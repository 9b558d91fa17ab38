"""Every option, declared once: its config key, type, default and help, per config section.

`models:` (flags of `models.list` / `models.fetch`) and `test:` (flags of `test.server`) are
frozen dataclasses whose fields generate Invoke's config defaults, and the help and default
of each flag a task takes (`tasks.py`: a parameter of the task named as the option); the
values a run gets from them are validated with pydantic, as these classes, in `options.py`. Only
the standard library and `annotated_types` are imported here, so that loading `tasks.py`
(`invoke --list`) costs no more than Invoke itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le, MinLen

from .. import limits
from ..llama.url_files import DEFAULT_URL_DEST

#: tools/server/tests/tests.sh: `WORKERS="${PYTEST_WORKERS:-4}"`.
DEFAULT_WORKERS = 4
DEFAULT_SUITE = "tools/server/tests"


def option(default: Any, help: str, off: str | None = None) -> Any:
    """A field with its help text (`--help` and the README say the same); `off`: the help of
    the `--no-NAME` flag of an option that is on by default."""
    return field(default=default, metadata={"help": help, "off": off})


@dataclass(frozen=True)
class ModelsOptions:
    """`models:` in invoke.yaml / INVOKE_MODELS_*, under the flags of models.list and fetch."""

    root: str | None = option(None, "project root the globs are relative to (default: the "
                                    "nearest folder, from the current one up, that holds the "
                                    "suite folder, else pytest's rootdir)")
    tests: str | list[str] | None = option(None, "glob of test files, relative to root; "
                                                 "repeatable (default: tools/server/tests/**/*.py)")
    json: bool = option(False, "print one JSON document instead of tables")
    strict: bool = option(False, "exit 1 when the scan has diagnostics")
    deny: str | list[str] | None = option(None, "glob of repos never to fetch, e.g. "
                                                "'*/this-model-does-not-exist'; repeatable")
    repo_names: str | list[str] | None = option(None, "names that hold a repo "
                                                      "(default: hf_repo, model_hf_repo)")
    file_names: str | list[str] | None = option(None, "names that hold a file in the repo "
                                                      "(default: hf_file, model_hf_file)")
    url_hosts: str | list[str] | None = option(None, "Hub hosts of recognised URLs "
                                                     "(default: huggingface.co, hf.co)")
    launchers: str | list[str] | None = option(
        None, "calls that start a server on the model given first or as model=, added to "
              "the default ones ("
              "RemoteOpenAIServer, popen_launch_server, launcher, vllm_runner, hf_runner, "
              "VllmRunner, HfRunner, LLM, AsyncLLM, EngineArgs, AsyncEngineArgs, Engine)")
    files: dict[str, Annotated[list[str], MinLen(1)]] | None = option(
        None, "the files to fetch for each repo a pattern matches, in place of the rules of the "
              "framework that loads it, e.g. {'org/*': ['*.json', 'model.safetensors']} (repo "
              "and file patterns as fnmatch, the first matching repo pattern wins)")
    extra: str | list[str | dict[str, str | None]] | None = option(
        None, "models no scan can see, as org/name[:TAG] or {hf_repo, hf_file}")
    cache_dir: str | None = option(None, "cache to fill (default: LLAMA_CACHE, HF_HUB_CACHE, "
                                         "HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, "
                                         "$XDG_CACHE_HOME/huggingface/hub, "
                                         "~/.cache/huggingface/hub)")
    jobs: Annotated[int, Ge(1), Le(64)] = option(limits.JOBS, "files downloaded at once, and "
                                                              "repos listed at once (default 4)")
    connections: Annotated[int, Ge(1), Le(64)] = option(
        limits.CONNECTIONS, "connections to the Hub at once over all downloads; a file over "
                            "16 MiB is fetched as byte ranges over several (default 12)")
    dry_run: bool = option(False, "print the plan and stop")
    offline: bool = option(False, "no network: report each model as present in the cache or "
                                  "missing")
    mmproj: bool = option(True, "fetch the multimodal projector of vision repos "
                                "(flag: --no-mmproj)",
                          off="do not fetch the multimodal projector of vision repos")
    urls: bool = option(True, "fetch the GGUF files named by Hub URLs in the tests and put them "
                              "where the suite reads them (default; --no-urls: the tests "
                              "download them themselves)")
    url_dest: str = option(DEFAULT_URL_DEST, "where the suite reads a URL's file, under the "
                                             "suite folder; {name} is the URL's last part "
                                             "(default tmp/{name}, llama.cpp's download_file)")
    verify: bool = option(False, "re-hash cached files and fetch again any that do not match")
    lock: str | None = option(None, "lock file, relative to root (default: models.lock in the "
                                    "suite folder)")
    locked: bool = option(False, "take each model's commit and files from the lock file: no "
                                 "listing is asked of the Hub, every file is checked against "
                                 "its locked sha256, a model the lock lacks fails")
    latest: bool = option(False, "ask the Hub for each repo's main even where the lock file "
                                 "pins a commit or the last fetch recorded one (default: a "
                                 "lock in place pins the models it names, as Cargo.lock does, "
                                 "and a model complete in the cache at the commit the last "
                                 "fetch recorded is not listed)")
    timeout: Annotated[float, Gt(0)] = option(
        limits.TIMEOUT_S, "seconds to wait for the Hub to accept a connection or send the "
                          "next bytes (default 10); a Hub silent that long is tried once more, "
                          "then not asked again")
    tries: Annotated[int, Ge(1), Le(1000)] = option(
        limits.TRIES, "attempts at most at each byte range of a file (a file under 16 MiB is "
                      "one range; default 20, as wget's --tries); a range also fails after 4 "
                      "attempts in a row that bring no new byte; the bytes received are kept "
                      "for the next run to resume")
    verbosity: Literal["quiet", "normal", "verbose"] = option(
        "normal", "quiet: errors and the summary only; verbose: also every request and "
                  "decision (default: normal)")
    backend: Literal["native", "llama"] = option(
        "native", "'native' (our downloader over huggingface_hub's client, default) or 'llama' "
        "(llama.cpp's own downloader)")
    llama_bin: str | None = option(None, "llama.cpp binary for --backend llama (else LLAMA_BIN, "
                                         "LLAMA_CLI_BIN_PATH, build/bin under root, PATH)")
    llama_timeout: Annotated[float, Gt(0)] | None = option(
        None, "seconds one llama.cpp run may take before it is stopped and its model failed "
              "(default: no limit)")


@dataclass(frozen=True)
class TestOptions:
    """`test:` in invoke.yaml / INVOKE_TEST_*, under the flags of test.server."""

    __test__ = False  # a pytest run must not take it for a test class

    suite: str = option(DEFAULT_SUITE, "folder of the pytest suite under root, where the "
                                       "pytest arguments are collected and test.server runs "
                                       "(default: tools/server/tests)")
    offline: bool = option(False, "run the tests offline (LLAMA_ARG_OFFLINE=1, "
                                  "HF_HUB_OFFLINE=1, TRANSFORMERS_OFFLINE=1)")
    slow: bool = option(False, "also run the slow tests (SLOW_TESTS=1 and no -m \"not slow\", "
                               "as tests.sh does)")
    fetch: bool = option(True, "run models.fetch first (flag: --no-fetch)",
                         off="do not run models.fetch first")
    online: bool = option(False, "keep llama-server online during the tests (default: once "
                                 "every model they need is in place, LLAMA_ARG_OFFLINE=1, so "
                                 "llama-server asks the Hub nothing)")
    workers: Annotated[int, Ge(1), Le(256)] | Literal["auto", "logical"] | None = option(
        None, "pytest-xdist workers, as tests.sh's PYTEST_WORKERS (default: PYTEST_WORKERS, "
              "else 4; 1 = no xdist)")
    keep_going: bool = option(False, "run the tests even when fetching a model they need failed")
    python: str | None = option(None, "interpreter that collects and runs the suite (default: "
                                      "the active virtualenv, else .venv under root, else this "
                                      "tool's)")
    server_bin: Literal[False] | str | None = option(
        None, "llama-server the tests start, checked before anything is fetched (default: "
              "LLAMA_SERVER_BIN_PATH, else build/bin/llama-server, when the suite's utils.py "
              "reads that variable; false: no check)")
    # at most a day: an infinite one overflows the waits that use it (`select`, `Timer`)
    collect_timeout: Annotated[float, Gt(0), Le(86_400)] = option(
        limits.COLLECT_TIMEOUT_S, "seconds pytest may take to collect the suite before it is "
                                  "stopped: a selection after `--`, test.server, the pytest "
                                  "plugin waiting for its xdist workers (default 600)")


@dataclass(frozen=True)
class TaskSwitches:
    """Flags of one task that are no configuration: they say what this run does."""

    check: bool = option(False, "do not write: exit 1 when the lock is not what would be "
                                "written (for CI)")
    yes: bool = option(False, "remove what is listed (default: only list it)")
    unreferenced: bool = option(False, "also whole repos that no reference of the suite names")


#: Where a task says an option's help otherwise.
TASK_HELP = {("fetch", "json"): "print the plan and the outcome as one JSON document"}
SECTIONS: dict[str, type[Any]] = {"models": ModelsOptions, "test": TestOptions,
                                  "task": TaskSwitches}
#: Where a task's flag is looked up, its own section first: `--offline` is `test.offline` for
#: `test.server` (which takes no switch of another task), `models.offline` for `models.*`.
LOOKUP = {"server": ("test", "models")}


def option_of(task: str, param: str) -> tuple[str, dataclasses.Field[Any], bool]:
    """The section and declaration of the option a task's parameter sets, and whether its flag
    switches it off: `json_` is `--json`, `no_NAME` switches off NAME, an option on by default
    that says how (`off`); else such an option is Invoke's `--[no-]NAME`. A TypeError names a
    parameter no option declares."""
    name = param.rstrip("_")
    for section in LOOKUP.get(task, ("models", "test", "task")):
        fields = {f.name: f for f in dataclasses.fields(SECTIONS[section])}
        off = fields.get(name.removeprefix("no_"))
        if name.startswith("no_") and off is not None and _negated(off):
            return section, off, True
        if name in fields and not _negated(fields[name]):
            return section, fields[name], False
    raise TypeError(f"{task}: --{param} is no option of scanner/cli/declarations.py")


def _negated(declared: dataclasses.Field[Any]) -> bool:
    return declared.default is True and declared.metadata["off"] is not None


def flag_help(task: str, param: str) -> str:
    _, declared, negated = option_of(task, param)
    text: str = declared.metadata["off"] if negated else TASK_HELP.get(
        (task, declared.name), declared.metadata["help"])
    return text


def flag_default(task: str, param: str) -> bool | None:
    """The default Invoke must see: False for a flag, True for `--[no-]NAME`, None for a value
    (the option then comes from configuration)."""
    _, declared, negated = option_of(task, param)
    return (declared.default is True and not negated) if isinstance(declared.default, bool) \
        else None


def repeatable(task: str, param: str) -> bool:
    return "list[" in str(option_of(task, param)[1].type)


def by_section(task: str, given: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A task's flags as given (its parameters, by name), as the options they set, by section.
    A flag that switches its option off and was given says False; one left as it was leaves
    the option to configuration (None)."""
    values: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    for param, value in given.items():
        section, declared, negated = option_of(task, param)
        if negated:
            value = False if value else None
        elif declared.default is True:  # `--[no-]NAME`
            value = None if value else False
        values[section][declared.name] = value
    return values


def config_defaults(section: type[Any]) -> dict[str, Any]:
    """Every key of the section, registered with Invoke so that each can be configured.

    Registered as None ("not set"; the dataclass default applies): Invoke casts an
    INVOKE_MODELS_* value to the type of the registered default and crashes on `jobs=abc`,
    whereas a string reaches our validation, which names the key. A mapping (`files`) is
    registered as an empty one: Invoke's `merge_dicts` puts a file's mapping only into one.
    """
    return {f.name: {} if str(f.type).startswith("dict[") else None
            for f in dataclasses.fields(section)}
