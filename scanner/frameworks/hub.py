"""The files huggingface_hub's own download functions fetch."""

from __future__ import annotations

from ..models import RepoFile
from .common import FrameworkError, RepoFiles, join


def plan_hf_hub_download(repo: RepoFiles) -> None:
    """`hf_hub_download(repo_id, filename, subfolder=)`: exactly `subfolder/filename`."""
    if not repo.call.filename:
        raise FrameworkError(repo.call, "hf_hub_download without a filename")
    repo.require(join(repo.call.subfolder, repo.call.filename), "hf_hub_download")


def matching(
    files: tuple[RepoFile, ...] | list[RepoFile],
    allow: tuple[str, ...] | list[str] | None,
    ignore: tuple[str, ...] | list[str] | None,
) -> list[RepoFile]:
    """The files `snapshot_download` keeps: huggingface_hub's own `filter_repo_objects`
    (`fnmatchcase`, a pattern ending in `/` matches the folder's files). Imported here: a
    fetch that plans no framework's model does not load huggingface_hub."""
    # `huggingface_hub.utils` re-exports it without `__all__`, which strict typing refuses.
    from huggingface_hub.utils._paths import filter_repo_objects

    return list(
        filter_repo_objects(
            files,
            allow_patterns=list(allow) if allow is not None else None,
            ignore_patterns=list(ignore) if ignore is not None else None,
            key=lambda f: f.path,
        )
    )


def plan_snapshot_download(repo: RepoFiles) -> None:
    """`snapshot_download(repo_id, allow_patterns=, ignore_patterns=)`: every file of the tree
    its filters keep. A filter that keeps nothing only logs a warning there, so it is no error
    here either: the plan is empty."""
    call = repo.call
    kept = matching(repo.listing.files, call.allow_patterns, call.ignore_patterns)
    repo.add_all(kept, "snapshot_download")
