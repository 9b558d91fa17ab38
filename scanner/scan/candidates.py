"""Which lines of a file are worth walking: those that mention a model name, `parametrize`, a
Hub URL or a preset key naming a repo; and the pattern of a Hub file URL."""

from __future__ import annotations

import re
from functools import lru_cache

from ..llama.preset import TEXT_WORDS
from .config import ScanConfig
from .loaders import WORDS


def url_pattern(hosts: tuple[str, ...], *, blob: bool = False) -> re.Pattern[str]:
    """A Hub file URL; with `blob`, the page URL too (`/blob/`: diffusers' `from_single_file`
    and `huggingface_hub.hf_hub_url` users turn it into the file's, llama.cpp does not)."""
    host = "|".join(re.escape(h) for h in hosts)
    kind = "(?:resolve|blob)" if blob else "resolve"
    return re.compile(
        rf"https?://(?:www\.)?(?:{host})(?::\d+)?/(?P<repo>[\w.\-]+/[\w.\-]+)"
        rf"/{kind}/(?P<rev>[^/\s\"'?#]+)/(?P<path>[^\s\"'?#]+)"
    )


@lru_cache(maxsize=8)
def _candidate_words(names: tuple[str, ...]) -> tuple[str, ...]:
    """The words that make a line worth walking, without those another word contains
    (`hf_repo` finds every `model_hf_repo` line too)."""
    words = {*names, "parametrize", "/resolve/", "/blob/", "--model", "mark.model", *TEXT_WORDS,
             *WORDS}
    return tuple(w for w in words if not any(o != w and o in w for o in words))


#: a quoted repo id (`"org/name"`): its line is walked for the places that say it is a model
_QUOTED_ID = re.compile(r"""["'][A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*["']""")


def candidate_lines(source: str, config: ScanConfig) -> list[int]:
    """Sorted line numbers that mention a candidate word or a quoted repo id; `str.find` per
    word is several times faster than one regex alternation over the source."""
    starts: list[int] = [m.start() for m in _QUOTED_ID.finditer(source)] if "/" in source \
        else []
    for word in _candidate_words(config.repo_names + config.file_names + config.launchers):
        at = source.find(word)
        while at != -1:
            starts.append(at)
            at = source.find(word, at + len(word))
    starts.sort()
    lines: list[int] = []
    line, pos = 1, 0
    for start in starts:
        line += source.count("\n", pos, start)
        pos = start
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines
