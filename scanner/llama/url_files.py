"""Where the suite reads the files it would download itself, and the folders its run needs.

llama.cpp's `utils.py: download_file(url)` saves a Hub URL's file as `./tmp/<last part of the
URL>` (the working directory is the suite folder) unless that file is there already; and its
`ServerProcess` sets `LLAMA_CACHE=tmp` when the variable is unset, so llama-server creates
`tmp/` on its first download. `test.server` always sets `LLAMA_CACHE` to the shared cache:
nothing creates `tmp/` then, and the tests that write into it fail in setup. So the folder of
the configured destination (`models.url_dest`, default `tmp/{name}`) is created before a run.
"""

from __future__ import annotations

import logging
import os
import string
from pathlib import Path, PurePosixPath

_log = logging.getLogger(__name__)  # notes, shown as `output/log.py` says

DEFAULT_URL_DEST = "tmp/{name}"


def check_url_dest(template: str) -> str:
    """A relative path under the suite folder holding `{name}` (the URL's last part) and no
    other placeholder; a ValueError says what is wrong (pydantic names the key)."""
    fields = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    if fields != {"name"}:
        raise ValueError(f"{template!r} must hold {{name}} (the URL's file name) and no other "
                         "placeholder")
    rendered = PurePosixPath(template.format(name="x"))
    if rendered.is_absolute() or ".." in rendered.parts or template.startswith("~"):
        raise ValueError(f"{template!r} must be a relative path inside the suite folder")
    return template


def destination(suite_dir: Path, template: str, path: str) -> Path:
    """Where the suite reads the file at `path` of a repo (download_file: the URL's last part)."""
    return suite_dir / template.format(name=PurePosixPath(path).name)


def working_folders(suite_dir: Path, template: str = DEFAULT_URL_DEST) -> list[Path]:
    """Create the folders the suite's run writes into (the destination's folder: `tmp/` for
    llama.cpp) when the suite folder exists; returns those this call created. A folder that
    cannot be created is left to the tests to report (it is theirs to write into)."""
    if not suite_dir.is_dir():
        return []
    folder = destination(suite_dir, template, "x").parent
    missing = [p for p in (folder, *folder.parents) if p != suite_dir and
               p.is_relative_to(suite_dir) and not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return []
    return sorted(missing)


def prepare_working_folders(suite_dir: Path, template: str = DEFAULT_URL_DEST) -> None:
    """`working_folders`, said once when it created something (for test.server and plugins)."""
    created = working_folders(suite_dir, template)
    if created:
        shown = created[0].relative_to(suite_dir).as_posix()
        _log.info(f"created {shown}/ in {suite_dir}: the suite writes there (llama-server "
                  "would have made it with the suite's default LLAMA_CACHE=tmp)")


def placed_blobs(suite_dir: Path, template: str, paths: list[str], cache: Path) -> set[str]:
    """For `models.prune`: the blobs the destinations of these URL file paths link to."""
    kept = set()
    for path in paths:
        place = destination(suite_dir, template, path)
        if place.is_symlink() and our_link(place, cache):
            kept.add(os.path.realpath(place))
    return kept


def our_link(path: Path, cache: Path) -> bool:
    """A link made by an earlier placement: into a repo's `blobs/` of a cache (this one, or
    one used before), or dangling (its blob was pruned). Replacing it loses no file."""
    if not path.is_symlink():
        return False
    target = Path(os.path.realpath(path))
    blobs = target.parent
    return not target.exists() or (blobs.name == "blobs" and
                                    blobs.parent.name.startswith("models--"))
