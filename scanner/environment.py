"""Where llama.cpp takes its cache folder and Hub endpoint from (`common/hf-cache.cpp`,
`common/download.cpp`), read the same way here so both find the same files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

DEFAULT_ENDPOINT = "https://huggingface.co"


def cache_dir(env: Mapping[str, str], override: Path | None = None) -> Path:
    """`--cache-dir`, else the first of llama.cpp's variables that is set."""
    return _cache_dir(env, override).expanduser().absolute()  # tests run in another folder


def _cache_dir(env: Mapping[str, str], override: Path | None) -> Path:
    if override is not None:
        return override
    for name in ("LLAMA_CACHE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(name):
            return Path(env[name])
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]) / "hub"
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "huggingface" / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


def endpoint(env: Mapping[str, str]) -> str:
    """`MODEL_ENDPOINT`, else `HF_ENDPOINT`, else the Hub; without the trailing slash."""
    value = env.get("MODEL_ENDPOINT") or env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
    return value.rstrip("/")
