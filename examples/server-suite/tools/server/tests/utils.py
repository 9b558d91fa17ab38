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


class ServerProcess:
    # default options
    server_port: int = 8080
    model_hf_repo: str | None = "ggml-org/models"
    model_hf_file: str | None = "tinyllamas/stories260K.gguf"
    model_alias: str | None = "tinyllama-2"
    offline: bool = False

    # custom options
    model_url: str | None = None
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
            self._find_model_offline()
        server_instances.add(self)

    def _find_model_offline(self) -> Path:
        """llama.cpp's offline lookup: refs/main -> snapshots/<commit>/<file>."""
        cache = Path(os.environ.get("LLAMA_CACHE", "tmp"))
        repo = self.model_hf_repo.split(":", 1)[0]
        folder = cache / ("models--" + repo.replace("/", "--"))
        try:
            commit = (folder / "refs" / "main").read_text().strip()
        except FileNotFoundError:
            raise RuntimeError(f"{self.model_hf_repo}: not in the cache {cache}") from None
        snapshot = folder / "snapshots" / commit
        if self.model_hf_file:
            found = [snapshot / self.model_hf_file]
        else:
            found = [p for p in snapshot.rglob("*.gguf") if "mmproj" not in p.name]
        if not found or not all(p.is_file() for p in found):
            raise RuntimeError(f"{self.model_hf_repo} {self.model_hf_file or ''}: not in {snapshot}")
        return found[0]

    def stop(self) -> None:
        server_instances.discard(self)


server_instances: Set[ServerProcess] = set()


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


def is_slow_test_allowed():
    return os.environ.get("SLOW_TESTS") == "1" or os.environ.get("SLOW_TESTS") == "ON"
