"""Pick the rule a load call's shape calls for, or the override configured for its repo."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from fnmatch import fnmatchcase

from ..models import LoadCall, Loader, RepoListing
from .common import FilePlan, FrameworkError, ReadFile, RepoFiles
from .diffusers import MODEL_INDEX, plan_diffusers, plan_pipeline
from .hub import matching, plan_hf_hub_download, plan_snapshot_download
from .sentence_transformers import MODULES, plan_sentence_transformers
from .servers import plan_server
from .transformers import (
    add_config,
    add_generation_config,
    add_processor,
    add_remote_code,
    add_tokenizer,
    add_weights,
    plan_transformers,
)

#: repo pattern (`fnmatch`, case-insensitive, e.g. `org/*`) → the file patterns to fetch for it
#: (huggingface_hub's `allow_patterns` syntax), in place of any rule.
Overrides = Mapping[str, Sequence[str]]


def conservative(repo: RepoFiles) -> None:
    """An unknown call shape: what any of the frameworks below would read from this layout.
    A diffusers pipeline's files when the repo has `model_index.json`, a sentence-transformers
    model's when it has `modules.json`, then an inference server's set (root `*.json`, tokenizer
    files, the preferred weights), and a transformers load's parts in the `subfolder` if any."""
    if repo.has(MODEL_INDEX):
        plan_pipeline(repo)
    if repo.has(MODULES):
        plan_sentence_transformers(repo)
    plan_server(repo)
    folder = repo.call.subfolder
    if folder:
        add_config(repo, folder, required=False)
        add_generation_config(repo, folder)
        add_tokenizer(repo, folder)
        add_processor(repo, folder)
        with contextlib.suppress(FrameworkError):  # a folder without weights is no error here
            add_weights(repo, folder, repo.call.variant, repo.call.use_safetensors)
        if repo.call.trust_remote_code:
            add_remote_code(repo, folder)


RULES: dict[Loader, Callable[[RepoFiles], None]] = {
    "transformers": plan_transformers,
    "hub_file": plan_hf_hub_download,
    "hub_snapshot": plan_snapshot_download,
    "sentence_transformers": plan_sentence_transformers,
    "diffusers": plan_diffusers,
    "server": plan_server,
    "unknown": conservative,
}


def overridden(repo_id: str, overrides: Overrides) -> str | None:
    """The first repo pattern of `overrides` (in their order) that matches `repo_id`."""
    return next((p for p in overrides if fnmatchcase(repo_id.lower(), p.lower())), None)


def plan_files(
    call: LoadCall, listing: RepoListing, read: ReadFile, *, overrides: Overrides | None = None
) -> FilePlan:
    """The files `call` reads from `listing`, each with the reason it is read.

    An override whose repo pattern matches `call.repo` replaces the rule: the files its
    patterns match (none matching is an error, as the configuration is then wrong). Otherwise
    the rule of `call.loader`. Raises `FrameworkError` (naming the repo and the file) when the
    framework would fail: a required file missing, an index that does not parse.
    """
    repo = RepoFiles(call, listing, read)
    overrides = overrides or {}
    pattern = overridden(call.repo, overrides)
    if pattern is not None:
        files = list(overrides[pattern])
        kept = matching(listing.files, files, None)
        if not kept:
            raise FrameworkError(call, f"override {pattern!r}: no file matches {', '.join(files)}")
        repo.add_all(kept, f"override {pattern!r}")
        return repo.plan()
    RULES[call.loader](repo)
    return repo.plan()
