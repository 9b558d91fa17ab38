"""Task options: Invoke config (`models:` in invoke.yaml, INVOKE_MODELS_* env) under CLI flags."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .scan.config import ScanConfig

#: Defaults registered with Invoke so that every key can be set in config files and env.
CONFIG_DEFAULTS: dict[str, Any] = {
    "root": None,
    "tests": None,
    "json": False,
    "strict": False,
    "repo_names": None,
    "file_names": None,
    "url_hosts": None,
    "extra": None,
    "deny": None,
    "cache_dir": None,
    "jobs": 4,
    "dry_run": False,
    "offline": False,
    "mmproj": True,
    "urls": False,
    "verify": False,
    "backend": "native",
    "llama_bin": None,
    "llama_timeout": None,
}


#: `test:` section: where the suite's pytest runs (also for a selection after `--` in
#: `models.list` / `models.fetch`), and how `test.server` runs it.
TEST_DEFAULTS: dict[str, Any] = {
    "suite": "tools/server/tests",
    "offline": False,
    "slow": False,
    "fetch": True,
    "workers": None,
    "keep_going": False,
}
#: tools/server/tests/tests.sh: `WORKERS="${PYTEST_WORKERS:-4}"`.
DEFAULT_WORKERS = 4


class Options(BaseModel):
    """Everything one task run needs, after config and flags are merged."""

    model_config = ConfigDict(frozen=True)

    root: Path
    scan: ScanConfig
    json_output: bool = False
    strict: bool = False
    cache_dir: Path | None = None
    jobs: int = Field(default=4, ge=1, le=64)
    dry_run: bool = False
    offline: bool = False
    mmproj: bool = True
    urls: bool = False
    verify: bool = False
    backend: Literal["native", "llama"] = "native"
    llama_bin: str | None = None
    llama_timeout: float | None = Field(default=None, gt=0)
    suite: str = TEST_DEFAULTS["suite"]
    #: pytest arguments whose selection narrows the models (`--` given); None: the whole suite
    selection: tuple[str, ...] | None = None


class ServerRun(BaseModel):
    """How `test.server` runs pytest, after the `test:` config and flags are merged."""

    model_config = ConfigDict(frozen=True)

    pytest_args: tuple[str, ...]
    offline: bool = False
    slow: bool = False
    fetch: bool = True
    #: a count, or pytest-xdist's `auto` / `logical` (one per CPU)
    workers: Annotated[int, Field(ge=1, le=256)] | Literal["auto", "logical"] = DEFAULT_WORKERS

    def parallel(self) -> bool:
        return self.workers != 1
    keep_going: bool = False


def build_server_run(section: Mapping[str, Any], env: Mapping[str, str],
                     pytest_args: list[str], **flags: Any) -> ServerRun:
    """Flags win over the `test:` section; workers: flag, config, PYTEST_WORKERS, then 4."""
    merged = {key: section.get(key, default) for key, default in TEST_DEFAULTS.items()}
    merged.update({k: v for k, v in flags.items() if v is not None and v is not False})
    if flags.get("fetch") is False:
        merged["fetch"] = False
    workers = merged["workers"] or env.get("PYTEST_WORKERS") or DEFAULT_WORKERS
    return ServerRun(pytest_args=tuple(pytest_args), offline=bool(merged["offline"]),
                     slow=bool(merged["slow"]), fetch=bool(merged["fetch"]), workers=workers,
                     keep_going=bool(merged["keep_going"]))


def build_options(section: Mapping[str, Any], **flags: Any) -> Options:
    """Flags given on the command line win; unset flags (None, False, empty) fall back to config.

    Boolean flags can only switch a behaviour on from the command line, except `mmproj`,
    whose flag is `--no-mmproj`.
    """
    merged = {key: section.get(key, default) for key, default in CONFIG_DEFAULTS.items()}
    for key, value in flags.items():
        if value is not None and value is not False and value != [] and value != ():
            merged[key] = value
    if flags.get("mmproj") is False:
        merged["mmproj"] = False
    root = Path(merged["root"] or ".").expanduser()
    return Options(
        root=root.resolve(),
        scan=ScanConfig.from_mapping(merged),
        json_output=bool(merged["json"]),
        strict=bool(merged["strict"]),
        cache_dir=Path(merged["cache_dir"]).expanduser() if merged["cache_dir"] else None,
        jobs=int(merged["jobs"]),
        dry_run=bool(merged["dry_run"]),
        offline=bool(merged["offline"]),
        mmproj=bool(merged["mmproj"]),
        urls=bool(merged["urls"]),
        verify=bool(merged["verify"]),
        backend=merged["backend"],
        llama_bin=merged["llama_bin"],
        llama_timeout=merged["llama_timeout"],
        suite=flags.get("suite") or TEST_DEFAULTS["suite"],
        selection=None if flags.get("selection") is None else tuple(flags["selection"]),
    )
