"""Invoke's configuration files, read so that a file Invoke cannot use is one line naming the
file (and line, or key) and exit 2, never a traceback: YAML or JSON it cannot parse, a file
that is no mapping, a section (`models: [1, 2]`) that clashes with what the tasks register
(Invoke's `merge_dicts` raises `AmbiguousMergeError` there, before any task runs).

One loader for every entry point: `fetch-test-models` (its `Program` creates a `CheckedConfig`),
`invoke -r CLONE` (Invoke's own `Config` reads the files: the tasks check them again, with
this loader, before Invoke merges them) and the pytest plugin (which has no `Program`); and one
reading of the options from the loaded configuration for all of them (`options_from`). Which
file set a value a task refuses is said too (`blame`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from invoke.config import AmbiguousMergeError, Config
from invoke.exceptions import Exit, UnknownFileType
from invoke.util import yaml  # type: ignore[attr-defined]  # the PyYAML Invoke reads with

from ..errors import ExitCode, OptionsError
from .options import Options, build_options, check_section

#: What refuses a section's values (`blame` says which file or variable set a bad one).
SECTION_CHECKS: dict[str, Callable[[Mapping[str, Any]], object]] = {
    "models": build_options, "test": check_section}
#: Invoke's configuration levels that hold values from outside, highest precedence first
#: (`Config.merge`); `Config._load_file` and `load_shell_env` keep each one's data as
#: `_<level>` and a file's path as `_<level>_path`.
LEVELS = ("runtime", "env", "project", "user", "system")


class ConfigFileError(Exit):
    """A configuration file Invoke cannot use. An `Exit`, so that Invoke's `Program` prints
    the message alone and exits 2 wherever it is raised; `detail` says it without the prefix."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"error: invalid configuration: {detail}", code=ExitCode.USAGE)
        self.detail = detail


class CheckedConfig(Config):
    """Invoke's `Config`, whose files are refused with a `ConfigFileError` as they load and
    merge rather than raising from inside Invoke."""

    def _load_file(self, prefix: str, absolute: bool = False, merge: bool = True) -> None:
        """A runtime file (`-f FILE`, `INVOKE_RUNTIME_CONFIG`) of a type Invoke does not read, or
        one that is a folder or unreadable, is refused here too (both were tracebacks)."""
        try:
            super()._load_file(prefix, absolute, merge)
        except UnknownFileType:
            raise ConfigFileError(f"{getattr(self, f'_{prefix}_path')}: not a configuration "
                                  "file Invoke reads (.yaml, .yml, .json or .py)") from None
        except OSError as exc:  # a missing file is skipped by Invoke itself
            raise ConfigFileError(f"{exc.filename}: cannot be read: {exc.strerror}") from None

    def _load_yaml(self, path: Any) -> Any:
        try:
            data = super()._load_yaml(path)
        except (yaml.YAMLError, ValueError) as exc:  # ValueError: not UTF-8 text
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}, line {mark.line + 1}" if mark else str(path)
            raise ConfigFileError(f"{where}: not valid YAML: "
                                  f"{getattr(exc, 'problem', None) or exc}") from None
        return _mapping(path, data)

    _load_yml = _load_yaml

    def _load_json(self, path: Any) -> Any:
        try:
            data = super()._load_json(path)
        except ValueError as exc:
            raise ConfigFileError(f"{path}: not valid JSON: {exc}") from None
        return _mapping(path, data)

    def _merge_file(self, name: str, desc: str) -> None:
        try:
            super()._merge_file(name, desc)
        except AmbiguousMergeError:
            clash = _clash(self._config, getattr(self, f"_{name}"))
            raise ConfigFileError(f"{getattr(self, f'_{name}_path')}: {clash}") from None


def _mapping(path: Any, data: Any) -> Any:
    """A file's data, which Invoke merges key by key: an empty file, or a mapping."""
    if data is None or isinstance(data, dict):
        return data
    raise ConfigFileError(f"{path}: holds {type(data).__name__} {data!r:.60}, not a mapping "
                          "of sections (models: {...}, test: {...})")


def _clash(base: Mapping[str, Any], update: Mapping[str, Any], keys: tuple[str, ...] = ()
           ) -> str:
    """Where `update` puts a value in place of a mapping of `base`, or the other way round
    (what Invoke's `merge_dicts` refuses)."""
    for key, value in update.items():
        if key not in base:
            continue
        name = ".".join((*keys, str(key)))
        if isinstance(base[key], dict) and isinstance(value, dict):
            found = _clash(base[key], value, (*keys, str(key)))
            if found:
                return found
        elif isinstance(base[key], dict):
            return f"{name}: a mapping of settings is expected ({name}: {{KEY: VALUE}}), " \
                   f"not {value!r:.60}"
        elif isinstance(value, dict):
            return f"{name}: a value is expected, not a mapping"
    return "a value clashes with a mapping"


def load_config(runtime: Path | None, project: Path | None,
                collection: dict[str, Any]) -> CheckedConfig:
    """Every level, in the order Invoke's `Program` loads them: system and user files, the
    project's (beside its tasks file), the collection's defaults, the runtime file
    (`-f FILE`), `INVOKE_*` variables. A ConfigFileError for a file that cannot be used."""
    config = CheckedConfig(runtime_path=runtime)
    if project is not None:
        config.set_project_location(str(project))
        config.load_project()
    config.load_collection(collection)
    config.load_runtime()
    config.load_shell_env()
    return config


def runtime_file(argv: list[str] | None = None) -> Path | None:
    """The runtime file of this command line as Invoke's `Program.update_config` finds it:
    `-f FILE` / `--config FILE` among the core flags, else `INVOKE_RUNTIME_CONFIG`."""
    from invoke.parser import Parser
    from invoke.program import Program

    argv = sys.argv[1:] if argv is None else argv
    value = None
    if any(arg.startswith("--config") or (arg[:2] != "--" and arg[:1] == "-" and "f" in arg)
           for arg in argv):  # else no need to build Invoke's parser (a few ms)
        parsed = Parser(initial=Program().initial_context, ignore_unknown=True).parse_argv(argv)
        value = parsed[0].args.config.value
    value = value or os.environ.get("INVOKE_RUNTIME_CONFIG")
    return Path(value) if value else None


def options_from(config: Config, *, check_test: bool = True, suite: str | None = None,
                 python: str | None = None, **flags: Any) -> Options:
    """What a run gets from the loaded configuration under the flags, for the tasks and the
    plugin alike: the `models:` section under `flags`; the suite, interpreter and collection
    timeout from `test:` unless given; `test:` checked whole (`check_test`) so that a mistake
    shows up on the first command. A refused value is an OptionsError naming where it was
    set."""
    with refused_names_its_source(config):
        if check_test:
            check_section(config.test)
        return build_options(config.models, suite=suite or config.test.suite,
                             python=python or config.test.python,
                             collect_timeout=config.test.collect_timeout, **flags)


@contextmanager
def refused_names_its_source(config: Config) -> Iterator[None]:
    """An OptionsError raised inside, with the file or variable that set the refused value."""
    try:
        yield
    except OptionsError as exc:
        raise OptionsError(f"{exc}{blame(config, SECTION_CHECKS)}") from exc


def blame(config: Config, checks: Mapping[str, Callable[[Mapping[str, Any]], object]]) -> str:
    """Where the refused value comes from, as " (in FILE)" / " (from INVOKE_X_Y)": the source
    of highest precedence whose section alone `checks[section]` refuses; "" for none (a flag)."""
    for level, data in _levels(config):
        for section, check in checks.items():
            part = data.get(section)
            if not isinstance(part, Mapping):
                continue
            try:
                check(part)
            except OptionsError:
                if level == "env":
                    names = ", ".join(f"INVOKE_{section}_{key}".upper() for key in part)
                    return f" (from {names})"
                return f" (in {getattr(config, f'_{level}_path')})"
    return ""


def _levels(config: Config) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for level in LEVELS:
        data = getattr(config, f"_{level}", None)
        if isinstance(data, Mapping) and data:
            yield level, data
