"""llama.cpp's model presets (INI), read as `common/preset.cpp` reads them, for the models they
name: each section is a model the router can load, `[*]` gives every section its defaults, and
keys are argument names without their dashes (long or short) or `LLAMA_ARG_*` variables
(`common/arg.cpp`). Only the arguments that make llama.cpp download a model matter here.

Pure: text in, models out. A repo whose root holds `preset.ini` is such a preset (`-hf` then
fetches that file alone and runs the router on it); tests also write preset text themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PRESET_FILE = "preset.ini"
#: `COMMON_PRESET_DEFAULT_NAME`: keys before any section header.
DEFAULT_SECTION = "default"
GLOBAL_SECTION = "*"

#: Per downloading argument: (the key names of its repo, of its file). Current llama.cpp names
#: first; the older ones (`-hfv` vocoder, `LLAMA_ARG_HFD_REPO`) are read too.
MODEL_ARGUMENTS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "model": (frozenset({"hf", "hfr", "hf-repo", "LLAMA_ARG_HF_REPO"}),
              frozenset({"hff", "hf-file", "LLAMA_ARG_HF_FILE"})),
    "draft": (frozenset({"spec-draft-hf", "hfd", "hfrd", "hf-repo-draft",
                         "LLAMA_ARG_SPEC_DRAFT_HF_REPO", "LLAMA_ARG_HFD_REPO"}),
              # `--spec-draft-model` is also the file in the draft repo when one is given
              frozenset({"spec-draft-model", "md", "model-draft", "LLAMA_ARG_SPEC_DRAFT_MODEL",
                         "LLAMA_ARG_MODEL_DRAFT"})),
    "vocoder": (frozenset({"hfv", "hfrv", "hf-repo-v", "LLAMA_ARG_HF_REPO_V"}),
                frozenset({"hffv", "hf-file-v", "LLAMA_ARG_HF_FILE_V"})),
}
#: Arguments whose value is a URL llama.cpp downloads (a Hub URL is a `url` reference).
URL_KEYS = frozenset({"mu", "model-url", "LLAMA_ARG_MODEL_URL", "mmu", "mmproj-url",
                      "LLAMA_ARG_MMPROJ_URL"})

#: Words that make a line of a test file worth walking for preset text (a key naming a repo).
TEXT_WORDS = ("hf-repo", "hfr", "hfd", "hfv", "spec-draft-hf", "LLAMA_ARG_HF",
              "LLAMA_ARG_SPEC_DRAFT_HF", "hf =", "hf=")
#: A string that may hold preset text: a line setting a key that names a repo.
_REPO_KEYS = "|".join(re.escape(key) for repo_keys, _ in MODEL_ARGUMENTS.values()
                      for key in sorted(repo_keys))
_REPO_LINE = re.compile(rf"^[ \t]*(?:{_REPO_KEYS})[ \t]*=", re.MULTILINE)


def may_hold_preset(text: str) -> bool:
    """Cheap test before a string constant is read as preset text."""
    return "=" in text and _REPO_LINE.search(text) is not None


# One line of the grammar (`parse_ini_from_file`): a header, a key = value, a comment, blank.
_HEADER = re.compile(r"\[[ \t]*([^\]]+)\][ \t]*(?:[;#].*)?")
_KEY_VALUE = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=[ \t]*(.*)")
_SKIP = re.compile(r"[ \t]*(?:[;#].*)?")


class PresetError(ValueError):
    """A line llama.cpp's parser refuses: the whole file fails to load there."""

    def __init__(self, line: int, text: str) -> None:
        self.line = line
        super().__init__(f"line {line} is not a [section], a key = value, a comment or blank: "
                         f"{text[:60]!r}")


@dataclass(frozen=True)
class PresetModel:
    """A model a preset section makes llama.cpp download; `url` holds a URL instead."""

    section: str
    line: int  # of the key naming the repo (or URL)
    hf_repo: str | None = None
    hf_file: str | None = None
    url: str | None = None


Value = tuple[str, int]  # a value and its 1-based line


def read_sections(text: str, *, strict: bool = True) -> dict[str, dict[str, Value]]:
    """Sections and their keys, as llama.cpp's parser leaves them: a repeated header starts
    its section afresh, a repeated key keeps the last value. `strict`: a line the grammar
    refuses is a PresetError (llama.cpp refuses the file); otherwise it is passed over (preset
    text in a test's string constant, among other text)."""
    sections: dict[str, dict[str, Value]] = {}
    current = DEFAULT_SECTION
    for number, line in enumerate(re.split(r"\r\n|\n|\r", text), start=1):
        if not strict:
            line = line.strip(" \t")
        if header := _HEADER.fullmatch(line):
            current = header[1]
            sections[current] = {}
        elif pair := _KEY_VALUE.fullmatch(line):
            value = re.split(r"[;#]", pair[2], maxsplit=1)[0].rstrip(" \t")
            sections.setdefault(current, {})[pair[1]] = (value, number)
        elif strict and not _SKIP.fullmatch(line):
            raise PresetError(number, line)
    return sections


def preset_models(text: str, *, strict: bool = True) -> list[PresetModel]:
    """The models each section names once `[*]`'s defaults are under it (`cascade`), in
    section order; the `default` section counts when it has keys, as in llama.cpp."""
    sections = read_sections(text, strict=strict)
    defaults = sections.pop(GLOBAL_SECTION, {})
    found: list[PresetModel] = []
    for name, keys in sections.items():
        if name == DEFAULT_SECTION and not keys:
            continue
        merged = _by_argument(defaults) | _by_argument(keys)
        for argument in MODEL_ARGUMENTS:
            repo = merged.get(f"{argument}:repo")
            if repo and repo[0]:
                file = merged.get(f"{argument}:file")
                found.append(PresetModel(name, repo[1], hf_repo=repo[0],
                                         hf_file=file[0] if file and file[0] else None))
        found += [PresetModel(name, line, url=value) for key, (value, line) in keys.items()
                  if key in URL_KEYS and value]
    return found


def _by_argument(keys: dict[str, Value]) -> dict[str, Value]:
    """Keys by the argument they set (`hf`, `hf-repo` and `LLAMA_ARG_HF_REPO` are one)."""
    out: dict[str, Value] = {}
    for key, value in keys.items():
        for argument, (repo_keys, file_keys) in MODEL_ARGUMENTS.items():
            if key in repo_keys:
                out[f"{argument}:repo"] = value
            elif key in file_keys:
                out[f"{argument}:file"] = value
    return out
