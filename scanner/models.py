"""Data types shared by the scan, the selection, resolution, the Hub, the cache and fetching.

All are frozen pydantic models so they hash and can be deduplicated in sets.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict

ReferenceKind = Literal["parametrize", "assignment", "keyword", "url", "extra", "preset",
                        "call", "constant", "mark"]
Severity = Literal["error", "warning"]
#: Which code reads the model's files: None is llama.cpp's `-hf` (names such as `hf_repo`,
#: presets, URLs); the others are the framework call a test makes (`transformers`:
#: `*.from_pretrained`, `pipeline`; `hub_file`: `hf_hub_download`; `hub_snapshot`:
#: `snapshot_download`; `server`: an inference server or launcher; `unknown`: a repo named in
#: a container, a registry or a mark, with no call seen).
Loader = Literal["transformers", "diffusers", "sentence_transformers", "hub_file",
                 "hub_snapshot", "server", "unknown"]


class HuggingFaceModel(BaseModel):
    """A model as a test names it: `hf_repo` as written (`org/name` or `org/name:TAG`).

    `revision` is set for `url` references, which pin a revision in the URL, and for framework
    calls that pass one. `loader` says which code reads the files (None: llama.cpp's `-hf`); a
    repo loaded two ways is two models, as each brings its own files.
    """

    model_config = ConfigDict(frozen=True)

    hf_repo: str
    hf_file: str | None = None
    revision: str | None = None
    loader: Loader | None = None

    @property
    def repo(self) -> str:
        """The repo id without the `:TAG` suffix."""
        return self.hf_repo.split(":", 1)[0]

    @property
    def tag(self) -> str | None:
        """The quantisation tag, if the test wrote one: the text after the last `:`
        (`common_download_split_repo_tag`)."""
        parts = self.hf_repo.split(":")
        return parts[-1] if len(parts) > 1 else None

    def label(self) -> str:
        """How people read this model in tables and messages."""
        return f"{self.hf_repo} {self.hf_file}" if self.hf_file else self.hf_repo


class RepoFile(BaseModel):
    """One file of a Hub tree listing (`hf_cache::get_repo_files` keeps files only)."""

    model_config = ConfigDict(frozen=True)

    path: str
    size: int
    oid: str
    sha256: str | None = None

    @property
    def blob_id(self) -> str:
        """The name of its blob in the cache: the sha256 of an LFS file, else the git blob id."""
        return self.sha256 or self.oid


class RepoListing(BaseModel):
    """A repo's files at one commit; `files` keeps Hub order because "first match" depends on it."""

    model_config = ConfigDict(frozen=True)

    repo: str
    commit: str
    files: tuple[RepoFile, ...]

    def find(self, path: str) -> RepoFile | None:
        """The file at exactly `path` (case-sensitive, like the `--hf-file` lookup)."""
        return next((f for f in self.files if f.path == path), None)


class ModelReference(BaseModel):
    """One place in the test suite that makes a test need `model`."""

    model_config = ConfigDict(frozen=True)

    model: HuggingFaceModel
    file: str
    line: int
    test: str
    kind: ReferenceKind
    #: the call that loads it, as written (`AutoTokenizer.from_pretrained`, `hf_hub_download`,
    #: `RemoteOpenAIServer`); None for llama.cpp's names, URLs, presets, containers
    call: str | None = None
    #: the call's keywords that decide which files it reads, as written (`subfolder`,
    #: `revision`, `variant`, `allow_patterns`, `trust_remote_code`...), values as JSON text
    options: tuple[tuple[str, str], ...] = ()

    def location(self) -> str:
        return f"{self.file}:{self.line}"


class Diagnostic(BaseModel):
    """Something the scan could not understand, with where it is."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int | None
    severity: Severity
    message: str
    test: str = "<module>"  # where it sits, as ModelReference.test, so a selection can place it
    kind: ReferenceKind | None = None  # the kind of reference it would have been

    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class RunTimeFetch(BaseModel):
    """What a test fetches from the Hub itself when it runs and no fetch brings: a dataset
    (`load_dataset("org/name")`, `repo_type="dataset"`), which `datasets` reads offline when
    huggingface_hub is (`HF_HUB_OFFLINE`, unless `HF_DATASETS_OFFLINE` says otherwise)."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int
    test: str  # where it sits, as ModelReference.test
    what: str  # as the `network:` line names it: `dataset org/name`


class ScanResult(BaseModel):
    """Everything one scan found; `models` is derived from `references`."""

    model_config = ConfigDict(frozen=True)

    references: tuple[ModelReference, ...]
    diagnostics: tuple[Diagnostic, ...]
    files_scanned: int
    denied: frozenset[HuggingFaceModel] = frozenset()
    run_time: tuple[RunTimeFetch, ...] = ()

    @cached_property
    def _by_model(self) -> dict[HuggingFaceModel, list[ModelReference]]:
        """References grouped once: looking them up per model would be quadratic."""
        groups: dict[HuggingFaceModel, list[ModelReference]] = {}
        for ref in self.references:
            groups.setdefault(ref.model, []).append(ref)
        return groups

    def models(self) -> list[HuggingFaceModel]:
        """Deduplicated models sorted by repo then file (denied ones included)."""
        return sorted(self._by_model, key=model_sort_key)

    def fetchable(self) -> list[HuggingFaceModel]:
        """Models that may be fetched: deduplicated, sorted, deny list applied."""
        return [m for m in self.models() if m not in self.denied]

    def references_to(self, model: HuggingFaceModel) -> list[ModelReference]:
        return list(self._by_model.get(model, ()))


def file_label(repo: str, path: str) -> str:
    """How every message names one file of a repo: the repo, then the path in it, as
    `hf download` takes them and as a model's label shows its file (`org/name path`)."""
    return f"{repo} {path}"


def model_sort_key(model: HuggingFaceModel) -> tuple[str, str, str, str, str]:
    return (model.repo.lower(), model.tag or "", model.hf_file or "", model.revision or "",
            model.loader or "")


class LoadCall(BaseModel):
    """How a test loads a Hub repo through a framework: the call shape that picks the files.

    `loader` names the framework's loader (`scanner/frameworks/` has one rule per kind);
    `class_name` is the class a `from_pretrained` is called on (`AutoTokenizer`,
    `AutoModelForCausalLM`, `AutoConfig`, `pipeline` for the function), which says which part
    of a transformers repo the call reads. `filename` is `hf_hub_download`'s file, or
    transformers' `gguf_file`. The other fields are the loaders' keyword arguments of the same
    names; None means the call did not pass them (the framework's default then applies).
    `revision` is the commit, branch or tag the caller lists the repo at; the rules read the
    listing they are given.
    """

    model_config = ConfigDict(frozen=True)

    loader: Loader
    repo: str
    class_name: str | None = None
    revision: str | None = None
    subfolder: str | None = None
    filename: str | None = None
    allow_patterns: tuple[str, ...] | None = None
    ignore_patterns: tuple[str, ...] | None = None
    variant: str | None = None
    use_safetensors: bool | None = None
    trust_remote_code: bool = False

    def label(self) -> str:
        """How people read this call in messages: `repo (loader ClassName)`."""
        shape = " ".join(part for part in (self.loader, self.class_name) if part)
        return f"{self.repo} ({shape})"
