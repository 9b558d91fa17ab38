"""URL files where the suite reads them: after a URL reference's files are in the cache, each is
made available at its destination under the suite folder (`models.url_dest`, by default
`tmp/<file name>`, where llama.cpp's `download_file` looks before it downloads anything).

A destination is a symbolic link to the file's blob in the cache, or a copy where links cannot
be made; it appears at once (a link is created in one step; a copy is written aside and then
linked or renamed into place). A file already there with the same content is left as it is; a
different one is left alone and reported, never overwritten. Only a link this tool made (one
into the cache's `blobs/`) is replaced, when it points at another blob (`main` moved).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from ..cache import layout as hf_cache
from ..llama.url_files import destination, our_link
from .content import digest_of
from .jobs import FetchSettings, FileJob, FileStatus, ModelPlan, Placement, PlaceStatus


def plan_placements(plans: list[ModelPlan], settings: FetchSettings) -> None:
    """Each resolved URL reference's files get a destination; those already right are
    `present`, another file there is `different` (said before anything is downloaded)."""
    if settings.place_in is None:
        return
    for plan in plans:
        if not _placed(plan) or plan.status.bad or not plan.files:
            continue
        plan.placements = [_planned(job, settings) for job in plan.files]


def destination_clashes(plans: list[ModelPlan], settings: FetchSettings) -> list[str]:
    """URL files the suite would read at one path (`download_file` names a file by the URL's
    last part, so two URLs ending in the same name get one file): for each such path, what
    says it, naming the URLs and where the tests give them. Known from the scan, so said before
    any request; placing both would leave the link to whichever came last."""
    if settings.place_in is None:
        return []
    by_path: dict[Path, list[ModelPlan]] = {}
    for plan in plans:
        if _placed(plan) and plan.model.hf_file and plan.planned:
            path = destination(settings.place_in, settings.url_dest, plan.model.hf_file)
            by_path.setdefault(path, []).append(plan)
    return [f"{len(group)} URL files would be placed at {path}, where the suite reads each of "
            "them (a URL's file is named by its last part): "
            + ", ".join(_url_of(plan) for plan in group)
            + "; nothing was fetched: give the files different names in the tests, or leave "
              "them to the tests with --no-urls"
            for path, group in by_path.items() if len(group) > 1]


def _placed(plan: ModelPlan) -> bool:
    """A URL reference llama.cpp's tests download themselves; a framework reads its files
    from the HF cache, whatever revision it names (`from_single_file(URL)` included)."""
    return bool(plan.model.revision) and plan.model.loader is None


def _url_of(plan: ModelPlan) -> str:
    where = ", ".join(ref.location() for ref in plan.references)
    return f"{plan.model.repo}/resolve/{plan.model.revision}/{plan.model.hf_file} ({where})"


def _planned(job: FileJob, settings: FetchSettings) -> Placement:
    assert settings.place_in is not None
    path = destination(settings.place_in, settings.url_dest, job.file.path)
    place = Placement(job, path, path.relative_to(settings.place_in).as_posix())
    if not os.path.lexists(place.path) or our_link(place.path, settings.cache):
        if _is_link_to(place.path, _blob(job, settings)):
            place.status = PlaceStatus.PRESENT
        return place  # (a link of ours to another commit's blob is replaced)
    if job.status is not FileStatus.CACHED and _same_size(place.path, job):
        return place  # compared once the file is in the cache
    if job.status is FileStatus.CACHED and _same_bytes(place.path, job):
        place.status = PlaceStatus.PRESENT
    else:
        place.status, place.error = PlaceStatus.DIFFERENT, _different(place)
    return place


def place_files(plans: list[ModelPlan], settings: FetchSettings) -> None:
    """Create every planned destination whose file is in the cache now (no network is needed:
    offline runs place from the cache too)."""
    for plan in plans:
        for place in plan.placements:
            if place.status is not PlaceStatus.PLANNED:
                continue
            if place.job.status not in (FileStatus.CACHED, FileStatus.DOWNLOADED):
                place.status = PlaceStatus.MISSING
                place.error = f"{place.job.label}: not in the cache, so not placed"
                continue
            try:
                _place(place, settings)
            except OSError as exc:
                place.status = PlaceStatus.FAILED
                place.error = f"cannot create {place.path}: {exc.strerror or exc}"
                plan.fail(place.error, offline=False)


def _place(place: Placement, settings: FetchSettings) -> None:
    blob = _blob(place.job, settings)
    place.path.parent.mkdir(parents=True, exist_ok=True)
    ours = our_link(place.path, settings.cache)
    if os.path.lexists(place.path) and not ours:  # a file the size of ours, or a new one
        if _same_bytes(place.path, place.job):
            place.status = PlaceStatus.PRESENT
        else:
            place.status, place.error = PlaceStatus.DIFFERENT, _different(place)
        return
    aside = place.path.with_name(f".{place.path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        try:
            os.symlink(blob, aside)
            place.status = PlaceStatus.LINKED
        except OSError:  # no links here (a filesystem or a system without them): a copy
            shutil.copyfile(blob, aside)
            place.status = PlaceStatus.COPIED
        if ours:
            os.replace(aside, place.path)  # our own link to another blob, in one step
        else:  # a hard link of the finished entry never replaces a file that appeared
            _link_or_rename(aside, place.path)
    except FileExistsError:
        place.status, place.error = PlaceStatus.DIFFERENT, _different(place)
    finally:
        aside.unlink(missing_ok=True)


def _link_or_rename(aside: Path, path: Path) -> None:
    try:
        os.link(aside, path, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:  # no hard links on this filesystem: a rename, after one more look
        if os.path.lexists(path):
            raise FileExistsError(path) from None
        os.rename(aside, path)


def _blob(job: FileJob, settings: FetchSettings) -> Path:
    """The file's bytes in the cache: the blob its snapshot entry links to."""
    entry = hf_cache.snapshot_path(settings.cache, job.repo, job.commit, job.file.path)
    return Path(os.path.realpath(entry))


def _is_link_to(path: Path, blob: Path) -> bool:
    return path.is_symlink() and os.path.realpath(path) == str(blob) and blob.is_file()


def _same_size(path: Path, job: FileJob) -> bool:
    try:
        return path.stat().st_size == job.file.size
    except OSError:
        return False


def _same_bytes(path: Path, job: FileJob) -> bool:
    """The file there has the Hub's content (e.g. the suite downloaded it itself earlier)."""
    if not path.is_file() or not _same_size(path, job):
        return False
    try:
        return digest_of(path, job.file) == job.file.blob_id
    except OSError:
        return False


def _different(place: Placement) -> str:
    return (f"{place.path} holds another file than {place.job.label}: left alone (remove it to "
            "have the fetched file placed)")
