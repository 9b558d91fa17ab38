"""Choose the files llama.cpp's `-hf` downloader would fetch, from a Hub tree listing.

The rules mirror llama.cpp `common/download.cpp` (`common_download_get_hf_plan` and the helpers
it calls) and `common/hf-cache.cpp` (`get_repo_files`), so that a pre-fetch fills the cache with
exactly what the tests' `llama-server -hf ...` will look for. Pure functions: the caller lists
the repo (files only, in Hub tree order, at the commit `main` points to) and fetches the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from ..models import HuggingFaceModel, RepoFile, RepoListing

PRESET = "preset.ini"
DEFAULT_TAGS = ("Q4_K_M", "Q8_0")
SKIPPED_NAME_PARTS = ("mmproj", "imatrix", "mtp-", "eagle3-", "dflash-", "dspark-")
MMPROJ_KEYWORD = "mmproj"
ERROR_LIST_LIMIT = 20

# `get_gguf_split_info`: std::regex icase is ASCII-only, hence re.ASCII everywhere.
_SPLIT = re.compile(r"(.+)-([0-9]{5})-of-([0-9]{5})", re.IGNORECASE | re.ASCII)
_TAG = re.compile(r"[-.]([A-Z0-9_]+)\Z", re.IGNORECASE | re.ASCII)
_DIGITS = re.compile(r"[0-9]+")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class Resolution(BaseModel):
    """What to fetch for one model: primary first, its other split parts, then the mmproj."""

    model_config = ConfigDict(frozen=True)

    model: HuggingFaceModel
    commit: str
    files: tuple[RepoFile, ...]
    primary: RepoFile
    mmproj: RepoFile | None


class ResolutionError(ValueError):
    """llama.cpp would find nothing (or an incomplete model) for this request."""

    def __init__(self, repo: str, asked: str, problem: str, available: tuple[str, ...]) -> None:
        self.repo, self.asked, self.problem, self.available = repo, asked, problem, available
        super().__init__(f"{repo}: {asked}: {problem}. {_describe_available(available)}")


def _error(listing: RepoListing, asked: str, problem: str) -> ResolutionError:
    return ResolutionError(listing.repo, asked, problem, tuple(available_models(listing)))


def _describe_available(available: tuple[str, ...]) -> str:
    if not available:
        return "The repo has no model GGUF files."
    shown = ", ".join(available[:ERROR_LIST_LIMIT])
    more = len(available) - ERROR_LIST_LIMIT
    return f"Model GGUFs in the repo: {shown}" + (f" and {more} more." if more > 0 else ".")


@dataclass(frozen=True)
class SplitInfo:
    """`gguf_split_info`: `prefix` keeps folders and tag; a plain file is part 1 of 1."""

    prefix: str
    tag: str
    index: int
    count: int


def split_info(path: str) -> SplitInfo | None:
    """`get_gguf_split_info`: None unless the path ends in `.gguf` (case-sensitive)."""
    if not path.endswith(".gguf"):
        return None
    prefix, index, count = path[: -len(".gguf")], 1, 1
    if split := _SPLIT.fullmatch(prefix):
        prefix, index, count = split[1], int(split[2]), int(split[3])
    tag = _TAG.search(prefix)
    return SplitInfo(prefix, tag[1].translate(_ASCII_UPPER) if tag else "", index, count)


def _leading_number(text: str) -> int:
    """`std::stoi` from the first digit on; 0 when there is no digit."""
    m = _DIGITS.search(text)
    return int(m[0]) if m else 0


def quant_bits(path: str) -> int:
    """`extract_quant_bits`: first number in the name's tag (Q4_K_M→4, BF16→16, IQ3_XXS→3)."""
    info = split_info(path)
    return _leading_number(info.tag) if info else 0


def is_model_gguf(path: str) -> bool:
    """`gguf_filename_is_model`: a `.gguf` whose basename has none of the sidecar markers."""
    name = path.rsplit("/", 1)[-1]
    return path.endswith(".gguf") and not any(part in name for part in SKIPPED_NAME_PARTS)


def _is_first_part(path: str) -> bool:
    """`find_best_model` only ever picks part 1 of a split model."""
    info = split_info(path)
    return info is None or info.count <= 1 or info.index == 1


def llama_tag(model: HuggingFaceModel) -> str:
    """`common_download_split_repo_tag`'s tag, "" when there is none."""
    return model.tag or ""


def tag_pattern(tag: str) -> re.Pattern[str]:
    """`find_best_model` builds `std::regex(tag + "[.-]", icase)` unescaped, searched anywhere
    in the full path, so `Q4_K` does not match `Q4_K_M.` but does match `IQ4_K-` or a folder."""
    return re.compile(tag + "[.-]", re.IGNORECASE | re.ASCII)


def find_best_model(listing: RepoListing, tag: str) -> RepoFile | None:
    """`find_best_model`: per tag in order, the first model GGUF (first split only) matching it;
    without a tag try Q4_K_M, then Q8_0, then the first model GGUF in listing order."""
    candidates = [f for f in listing.files if is_model_gguf(f.path) and _is_first_part(f.path)]
    for t in (tag,) if tag else DEFAULT_TAGS:
        pattern = tag_pattern(t)
        match = next((f for f in candidates if pattern.search(f.path)), None)
        if match:
            return match
    return None if tag or not candidates else candidates[0]


def split_parts(listing: RepoListing, file: RepoFile) -> list[RepoFile]:
    """`get_split_files`: every file with the same prefix (folders included) and part count,
    in part order; raises when a part is missing, which llama.cpp only finds out at load time."""
    info = split_info(file.path)
    if info is None or info.count <= 1:
        return [file]
    key = (info.prefix, info.count)
    parts = [
        (i, f) for f in listing.files if (i := split_info(f.path)) and (i.prefix, i.count) == key
    ]
    missing = sorted(set(range(1, info.count + 1)) - {i.index for i, _ in parts})
    if missing:
        names = ", ".join(f"{n:05d}" for n in missing)
        raise _error(listing, f"split model {file.path!r}", f"missing part(s) {names}")
    return [f for _, f in sorted(parts, key=lambda p: p[0].index)]


def url_parts(listing: RepoListing, file: RepoFile) -> list[RepoFile]:
    """`common_download_get_all_parts`: a URL to one split part downloads every part, by the
    names it rebuilds as `<prefix>-NNNNN-of-NNNNN.gguf`."""
    info = split_info(file.path)
    if info is None or info.count <= 1:
        return [file]
    names = [f"{info.prefix}-{i:05d}-of-{info.count:05d}.gguf" for i in range(1, info.count + 1)]
    found = {f.path: f for f in listing.files if f.path in names}
    if missing := [n for n in names if n not in found]:
        raise _error(listing, f"URL file {file.path!r}", f"missing part(s) {', '.join(missing)}")
    return [found[n] for n in names]


def find_best_sibling(
    listing: RepoListing, model_path: str, keyword: str, tag: str = ""
) -> RepoFile | None:
    """`find_best_sibling`: a `.gguf` whose path contains `keyword` (case-sensitive), in the
    model's folder or an ancestor; deepest folder wins, then an exact `-TAG.`, then the closest
    quant bits (to the tag if given, else the model's); ties keep listing order."""
    tag = tag.translate(_ASCII_UPPER)
    model_bits = _leading_number(tag) if tag else quant_bits(model_path)
    model_dirs = model_path.split("/")[:-1]
    best: RepoFile | None = None
    best_key: tuple[int, bool, int] | None = None
    for f in listing.files:
        dirs = f.path.split("/")[:-1]
        if not f.path.endswith(".gguf") or keyword not in f.path or model_dirs[: len(dirs)] != dirs:
            continue
        exact = bool(tag) and f"-{tag}." in f.path.translate(_ASCII_UPPER)
        key = (len(dirs), exact, -abs(quant_bits(f.path) - model_bits))
        if best_key is None or key > best_key:
            best, best_key = f, key
    return best


def available_models(listing: RepoListing) -> list[str]:
    """Model GGUFs for error messages, one line per model (split models by their first part)."""
    names = []
    for f in listing.files:
        info = split_info(f.path)
        if info and is_model_gguf(f.path) and _is_first_part(f.path):
            names.append(f.path + (f" ({info.count} parts)" if info.count > 1 else ""))
    return names


def _primary(model: HuggingFaceModel, listing: RepoListing) -> RepoFile:
    """`common_download_get_hf_plan`: `--hf-file` is an exact path (the tag is then ignored),
    otherwise `find_best_model` picks by tag."""
    if model.hf_file:
        found = listing.find(model.hf_file)
        if found is None:
            hint = _case_hint(listing, model.hf_file)
            raise _error(listing, f"file {model.hf_file!r}", f"not in the repo{hint}")
        return found
    tag = llama_tag(model)
    try:
        found = find_best_model(listing, tag)
    except re.error as exc:
        raise _error(listing, f"tag {tag!r}", f"not a valid llama.cpp tag pattern ({exc})") from exc
    if found is None:
        asked = f"tag {tag!r}" if tag else "default quant (Q4_K_M, Q8_0, else first model GGUF)"
        raise _error(listing, asked, "no model GGUF matches (tag followed by '.' or '-')")
    return found


def _case_hint(listing: RepoListing, path: str) -> str:
    same = [f.path for f in listing.files if f.path.lower() == path.lower()]
    return f" (llama.cpp matches case-sensitively; the repo has {same[0]!r})" if same else ""


def _check_repo(model: HuggingFaceModel, listing: RepoListing) -> None:
    if model.repo.lower() != listing.repo.lower():
        raise ValueError(f"listing of {listing.repo} given for {model.label()}")


def resolve(model: HuggingFaceModel, listing: RepoListing, *, mmproj: bool = True) -> Resolution:
    """The files llama.cpp fetches for `model`, following `common_download_get_hf_plan`.

    URL references (revision + file) skip the plan: the file and, if split, all its parts.
    A root `preset.ini` wins over everything, even `--hf-file`. Otherwise the primary, its
    split parts and (with `mmproj`, as llama-server/mtmd do unless `--no-mmproj`) the best
    mmproj sibling, which is searched for an explicit `--hf-file` too.
    """
    _check_repo(model, listing)
    if model.revision is not None and model.hf_file is not None:
        primary = listing.find(model.hf_file)
        if primary is None:
            raise _error(listing, f"URL file {model.hf_file!r}", "not in the repo at this revision")
        return _resolution(model, listing, primary, url_parts(listing, primary), None)
    preset = listing.find(PRESET)
    if preset is not None:
        return _resolution(model, listing, preset, [preset], None)
    primary = _primary(model, listing)
    parts = split_parts(listing, primary)
    sidecar = find_best_sibling(listing, primary.path, MMPROJ_KEYWORD) if mmproj else None
    return _resolution(model, listing, primary, parts, sidecar)


def _resolution(
    model: HuggingFaceModel,
    listing: RepoListing,
    primary: RepoFile,
    parts: list[RepoFile],
    mmproj: RepoFile | None,
) -> Resolution:
    files = [primary, *(p for p in parts if p != primary)]
    if mmproj is not None and mmproj not in files:
        files.append(mmproj)
    return Resolution(
        model=model, commit=listing.commit, files=tuple(files), primary=primary, mmproj=mmproj
    )
