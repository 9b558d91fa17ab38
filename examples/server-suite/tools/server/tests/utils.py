#!/usr/bin/env python3
# -*- coding: utf-8 -*-

# Helpers shaped like llama.cpp's tools/server/tests/utils.py.
# ServerProcess is a stand-in for llama-server: start() checks that llama-server would find its
# model offline in LLAMA_CACHE, and raises when it would not; nothing is started.

import os
from pathlib import Path
from typing import Set

SMALL_MODEL_REPO = "ggml-org/test-model-stories260K"
TIMEOUT_SERVER_START = 15 * 60
TMP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tmp")

# preset keys that name a model and its file, as llama.cpp reads them: short names are the
# same argument as the long ones
PRESET_LONG_NAMES = {"hfr": "hf-repo", "hf": "hf-repo", "hff": "hf-file"}


class ServerProcess:
    # default options
    server_port: int = 8080
    model_hf_repo: str | None = "ggml-org/models"
    model_hf_file: str | None = "tinyllamas/stories260K.gguf"
    model_alias: str | None = "tinyllama-2"
    offline: bool = False

    # custom options
    model_url: str | None = None
    model_draft: str | None = None
    lora_files: list[str] | None = None
    models_preset: str | None = None
    n_ctx: int | None = None
    n_slots: int | None = None
    jinja: bool | None = None
    chat_template: str | None = None

    def __init__(self):
        if "PORT" in os.environ:
            self.server_port = int(os.environ["PORT"])

    def start(self, timeout_seconds: int = 10) -> None:
        # -mu downloads into llama.cpp's own folder, outside the hub cache: not checked here
        if self.model_hf_repo:
            found = self._find_model_offline()
            if found.name == "preset.ini":  # a preset repo: the router loads its models
                self._find_preset_models(found.read_text())
        if self.models_preset:
            self._find_preset_models(Path(self.models_preset).read_text())
        for path in [*(self.lora_files or []), *([self.model_draft] if self.model_draft else [])]:
            if not os.path.isfile(path):
                raise RuntimeError(f"{path}: no such file")
        server_instances.add(self)

    def _find_preset_models(self, text: str) -> None:
        """Each section's model, the way the router would load it offline."""
        sections: dict[str, dict[str, str]] = {}
        section = "default"
        for line in text.splitlines():
            line = line.split(";")[0].split("#")[0].strip()
            if line.startswith("["):
                section = line.strip("[]").strip()
            elif "=" in line:
                key, value = (part.strip() for part in line.split("=", 1))
                sections.setdefault(section, {})[PRESET_LONG_NAMES.get(key, key)] = value
        defaults = sections.pop("*", {})
        for options in sections.values():
            options = {**defaults, **options}
            if "hf-repo" in options:
                _find_offline(options["hf-repo"], options.get("hf-file"))

    def _find_model_offline(self) -> Path:
        return _find_offline(self.model_hf_repo, self.model_hf_file)

    def stop(self) -> None:
        server_instances.discard(self)


server_instances: Set[ServerProcess] = set()


def _find_offline(name: str, path: str | None) -> Path:
    """llama.cpp's offline lookup: refs/main -> snapshots/<commit>/<file>."""
    cache = Path(os.environ.get("LLAMA_CACHE", "tmp"))
    repo = name.split(":", 1)[0]
    folder = cache / ("models--" + repo.replace("/", "--"))
    try:
        commit = (folder / "refs" / "main").read_text().strip()
    except FileNotFoundError:
        raise RuntimeError(f"{name}: not in the cache {cache}") from None
    snapshot = folder / "snapshots" / commit
    if (snapshot / "preset.ini").is_file():
        found = [snapshot / "preset.ini"]
    elif path:
        found = [snapshot / path]
    else:
        found = [p for p in snapshot.rglob("*.gguf") if "mmproj" not in p.name]
    if not found or not all(p.is_file() for p in found):
        raise RuntimeError(f"{name} {path or ''}: not in {snapshot}")
    return found[0]


class ServerPreset:
    @staticmethod
    def load_all() -> None:
        """Start and stop every preset once, so each model is in the cache before the tests."""
        for name, method in ServerPreset.__dict__.items():
            if name == "load_all" or not isinstance(method, staticmethod):
                continue
            server = method.__func__()
            server.offline = False
            server.start(timeout_seconds=TIMEOUT_SERVER_START)
            server.stop()

    @staticmethod
    def tinyllama2() -> ServerProcess:
        server = ServerProcess()
        server.offline = True  # will be downloaded by load_all()
        server.model_hf_repo = "ggml-org/models"
        server.model_hf_file = "tinyllamas/stories260K.gguf"
        server.model_alias = "tinyllama-2"
        server.n_ctx = 512
        server.n_slots = 2
        return server

    @staticmethod
    def bert_bge_small() -> ServerProcess:
        server = ServerProcess()
        server.offline = True  # will be downloaded by load_all()
        server.model_hf_repo = "ggml-org/models"
        server.model_hf_file = "bert-bge-small/ggml-model-f16.gguf"
        server.model_alias = "bert-bge-small"
        server.n_ctx = 512
        return server

    @staticmethod
    def tinygemma3() -> ServerProcess:
        server = ServerProcess()
        server.offline = True  # will be downloaded by load_all()
        # mmproj is already provided by HF registry API
        server.model_hf_repo = "ggml-org/tinygemma3-GGUF:Q8_0"
        server.model_hf_file = None
        server.model_alias = "tinygemma3"
        server.n_ctx = 1024
        return server


def download_file(url: str, output_file_path: str | None = None) -> str:
    """llama.cpp's helper: the file at ./tmp/<last part of the URL>, downloaded unless there."""
    file_name = url.split('/').pop()
    output_file = f'./tmp/{file_name}' if output_file_path is None else output_file_path
    if not os.path.exists(output_file):
        _wget_download(url, out=output_file)
    return output_file


def _wget_download(url: str, out: str) -> None:
    # stands in for wget.download: a test that gets here would download during the run
    raise RuntimeError(f"download_file: {out} is missing, the test would download {url}")


def is_slow_test_allowed():
    return os.environ.get("SLOW_TESTS") == "1" or os.environ.get("SLOW_TESTS") == "ON"
