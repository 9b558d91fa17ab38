"""What the scan looks for, as configured under `models:` in `invoke.yaml`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from ..models import HuggingFaceModel
from .loaders import DEFAULT_LAUNCHERS

DEFAULT_TESTS = ("tools/server/tests/**/*.py",)
DEFAULT_REPO_NAMES = ("hf_repo", "model_hf_repo")
DEFAULT_FILE_NAMES = ("hf_file", "model_hf_file")
DEFAULT_URL_HOSTS = ("huggingface.co", "hf.co")


class ScanConfig(BaseModel):
    """Names that mark a model position, plus what no scan can see (`extra`, `deny`)."""

    model_config = ConfigDict(frozen=True)

    tests: tuple[str, ...] = DEFAULT_TESTS
    repo_names: tuple[str, ...] = DEFAULT_REPO_NAMES
    file_names: tuple[str, ...] = DEFAULT_FILE_NAMES
    url_hosts: tuple[str, ...] = DEFAULT_URL_HOSTS
    #: calls that start a server on the model given first (or as `model=`); configured ones
    #: are added to these
    launchers: tuple[str, ...] = DEFAULT_LAUNCHERS
    extra: tuple[HuggingFaceModel, ...] = ()
    deny: tuple[str, ...] = ()
    #: folder names the walk never enters (pytest's `norecursedirs`; set by `discover.py`)
    skipped_dirs: tuple[str, ...] = ()

    @field_validator("extra", mode="before")
    @classmethod
    def _parse_extra(cls, value: Any) -> Any:
        """Accept `org/name[:TAG]` strings as well as `{hf_repo, hf_file}` mappings."""
        if value is None:
            return ()
        items = [value] if isinstance(value, (str, dict)) else value
        return tuple(
            HuggingFaceModel(hf_repo=item) if isinstance(item, str) else item for item in items
        )

    @field_validator("tests", "repo_names", "file_names", "url_hosts", "launchers", "deny",
                     mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if value is None:
            return ()
        return (value,) if isinstance(value, str) else tuple(value)

    @field_validator("launchers", mode="after")
    @classmethod
    def _with_default_launchers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Configured launchers are added to the default ones."""
        return tuple(dict.fromkeys((*DEFAULT_LAUNCHERS, *value)))

    def is_denied(self, model: HuggingFaceModel) -> bool:
        """Deny patterns are shell globs matched against `org/name` and `org/name:TAG`."""
        return any(
            fnmatchcase(model.repo, pattern) or fnmatchcase(model.hf_repo, pattern)
            for pattern in self.deny
        )

    def denied(self, models: Iterable[HuggingFaceModel]) -> frozenset[HuggingFaceModel]:
        """The models the deny list names, each distinct model matched once."""
        return frozenset(model for model in set(models) if self.is_denied(model))

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> ScanConfig:
        """Build from Invoke's `models:` section, ignoring keys that belong to tasks."""
        known = {key: settings[key] for key in cls.model_fields if settings.get(key) is not None}
        return cls(**known)
