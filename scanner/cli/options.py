"""What one run gets from its options (declared in `declarations.py`): config under flags,
validated with pydantic, imported only then, so that loading `tasks.py` (`invoke --list`)
costs no more than Invoke itself. A bad value is an `OptionsError` that names the key.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import limits
from ..errors import OptionsError
from ..llama.url_files import check_url_dest
from ..scan.project_root import find_root
from ..setup.environment import check_no_link_loop, resolved
from .declarations import DEFAULT_SUITE, DEFAULT_WORKERS, ModelsOptions, TestOptions

if TYPE_CHECKING:
    from pydantic import ValidationError

    from ..scan.config import ScanConfig


@dataclass(frozen=True)
class Options:
    """What one `models.*` run needs: the validated section, and what follows from it."""

    models: ModelsOptions
    root: Path
    scan: ScanConfig
    suite: str = DEFAULT_SUITE
    #: `test.python`: the suite's interpreter, when set (see `preflight.suite_python`)
    python: str | None = None
    #: pytest arguments whose selection narrows the models (`--` given); None: the whole suite
    selection: tuple[str, ...] | None = None
    #: `test.collect_timeout`: how long a collection of the suite may take
    collect_timeout: float = limits.COLLECT_TIMEOUT_S

    @property
    def cache_dir(self) -> Path | None:
        return Path(self.models.cache_dir).expanduser() if self.models.cache_dir else None

    @property
    def suite_dir(self) -> Path:
        return self.root / self.suite

    def missing_suite(self) -> str | None:
        """Why the suite folder cannot be used, or None."""
        check_no_link_loop(self.suite_dir, "test.suite (--suite)")
        if self.suite_dir.is_dir():
            return None
        return (f"test suite folder {self.suite_dir} does not exist (without --root, the root "
                f"is the nearest folder from the current one up that holds {self.suite}; "
                "set --root or --suite)")

    @property
    def lock_path(self) -> Path:
        if self.models.lock:
            return self.root / Path(self.models.lock).expanduser()
        return self.suite_dir / "models.lock"

    def with_selection(self, selection: Iterable[str]) -> Options:
        return dataclasses.replace(self, selection=tuple(selection))


@dataclass(frozen=True)
class ServerRun:
    """How `test.server` runs pytest: the validated `test:` section and its arguments."""

    test: TestOptions
    pytest_args: tuple[str, ...]
    workers: int | str  # resolved: flag, config, PYTEST_WORKERS, else 4

    def parallel(self) -> bool:
        return self.workers != 1


def build_options(section: Mapping[str, Any], **flags: Any) -> Options:
    """Flags given on the command line win; unset flags (None, False, empty) fall back to config.
    Boolean flags can only switch a behaviour on, except `mmproj` (`--no-mmproj`) and `urls`
    (`--no-urls`).
    `suite`, `python`, `selection` and `collect_timeout` are not `models:` keys: they come
    with the flags (the last one checked as `test:` checks it)."""
    suite = flags.pop("suite", None)
    python = flags.pop("python", None)
    selection = flags.pop("selection", None)
    collect_timeout = _validate(TestOptions, "test", {},
                                {"collect_timeout": flags.pop("collect_timeout", None)},
                                switched_off=set()).collect_timeout
    models = _validate(ModelsOptions, "models", section, flags, switched_off={"mmproj", "urls"})
    try:
        check_url_dest(models.url_dest)
    except ValueError as exc:
        raise OptionsError(f"url_dest: {exc}") from exc
    from pydantic import ValidationError

    from ..scan.config import DEFAULT_TESTS, ScanConfig
    from ..scan.discover import for_project

    try:
        scan = ScanConfig.from_mapping(dataclasses.asdict(models))
    except ValidationError as exc:  # a validator's ValueError arrives as one too
        raise OptionsError(_why(exc, "models")) from exc
    root = (resolved(Path(models.root).expanduser(), "root (--root, models.root)")
            if models.root else find_root(suite or DEFAULT_SUITE, Path.cwd()))
    # a project that is not llama.cpp: pytest runs from its root, where its configuration is
    llama = (root / DEFAULT_SUITE).is_dir() or scan.tests != DEFAULT_TESTS
    suite = suite or (DEFAULT_SUITE if llama else ".")
    scan = for_project(root, scan)  # selection and fetch use the names the scan used
    return Options(models=models, root=root, scan=scan, suite=suite, python=python,
                   selection=None if selection is None else tuple(selection),
                   collect_timeout=collect_timeout)


def check_section(section: Mapping[str, Any]) -> TestOptions:
    """Validate the `test:` section for a task that does not run tests: every value is checked
    wherever it is set, so a mistake shows up on the first command."""
    checked: TestOptions = _validate(TestOptions, "test", section, {}, switched_off=set())
    return checked


def build_server_run(section: Mapping[str, Any], env: Mapping[str, str],
                     pytest_args: list[str], **flags: Any) -> ServerRun:
    """The `test:` section under the flags; workers: flag, config, PYTEST_WORKERS, then 4."""
    from_env = flags.get("workers") is None and section.get("workers") is None \
        and bool(env.get("PYTEST_WORKERS"))
    if from_env:
        flags = {**flags, "workers": env["PYTEST_WORKERS"]}
    try:
        test = _validate(TestOptions, "test", section, flags, switched_off={"fetch"})
    except OptionsError as exc:
        raise OptionsError(f"PYTEST_WORKERS={env['PYTEST_WORKERS']!r}: {exc}" if from_env
                           else str(exc)) from exc
    return ServerRun(test=test, pytest_args=tuple(pytest_args),
                     workers=test.workers if test.workers is not None else DEFAULT_WORKERS)


def _validate(kind: type[Any], name: str, section: Mapping[str, Any], flags: Mapping[str, Any],
              switched_off: set[str]) -> Any:
    """Config under flags, checked: unknown keys (with a "did you mean"), then types."""
    known = [f.name for f in dataclasses.fields(kind)]
    for key in section:
        if key not in known:
            near = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise OptionsError(f"{name}.{key}: unknown configuration key{hint}")
    merged = {key: _plain(section[key]) for key in known if section.get(key) is not None}
    for key, value in flags.items():
        if value is not None and value is not False and value != [] and value != ():
            merged[key] = value
        elif value is False and key in switched_off:
            merged[key] = False
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(kind).validate_python(merged)
    except ValidationError as exc:
        raise OptionsError(_why(exc, name)) from exc


def _plain(value: Any) -> Any:
    """A mapping as pydantic validates it: Invoke hands a configured one (`models.files`) over
    as its `DataProxy`, which is no dict."""
    if hasattr(value, "items") and not isinstance(value, dict):
        return dict(value.items())
    return value


def _why(exc: ValidationError, section: str) -> str:
    parts = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"] if not str(p).startswith(("function-", "literal["))]
        parts.append(f"{loc[0] if loc else section}: {error['msg']}")
    return "; ".join(dict.fromkeys(parts))
