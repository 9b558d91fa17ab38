#!/usr/bin/env python3
# -*- coding: utf-8 -*-

# Helpers shared by the llama-server test suite: start a server, talk to it, stop it.

import json
import os
import re
import subprocess
import sys
import time
from typing import Any, Iterator, List, Set

import requests

DEFAULT_HTTP_TIMEOUT = 12
TIMEOUT_SERVER_START = 15 * 60

# the smallest model we test against; no file, llama-server picks the single GGUF in the repo
SMALL_MODEL_REPO = "ggml-org/test-model-stories260K"


class ServerResponse:
    headers: dict
    status_code: int
    body: dict | Any


class ServerProcess:
    # default options
    debug: bool = False
    server_port: int = 8080
    server_host: str = "127.0.0.1"
    model_hf_repo: str | None = "ggml-org/models"
    model_hf_file: str | None = "tinyllamas/stories260K.gguf"
    model_alias: str | None = "tinyllama-2"
    temperature: float = 0.8
    seed: int = 42
    offline: bool = False

    # custom options
    model_url: str | None = None
    model_file: str | None = None
    n_ctx: int | None = None
    n_batch: int | None = None
    n_ubatch: int | None = None
    n_slots: int | None = None
    n_predict: int | None = None
    server_embeddings: bool | None = False
    server_reranking: bool | None = False
    pooling: str | None = None
    lora_files: List[str] | None = None
    jinja: bool | None = None
    chat_template: str | None = None
    reasoning_format: str | None = None

    # session variables
    process: subprocess.Popen | None = None

    def __init__(self, **overrides: Any):
        if "PORT" in os.environ:
            self.server_port = int(os.environ["PORT"])
        if "DEBUG" in os.environ:
            self.debug = True
        for name, value in overrides.items():
            setattr(self, name, value)

    def start(self, timeout_seconds: int = DEFAULT_HTTP_TIMEOUT) -> None:
        server_path = os.environ.get("LLAMA_SERVER_BIN_PATH", "../../../build/bin/llama-server")
        args = [server_path, "--host", self.server_host, "--port", self.server_port,
                "--temp", self.temperature, "--seed", self.seed]
        if self.offline:
            args.append("--offline")
        if self.model_file:
            args.extend(["--model", self.model_file])
        if self.model_url:
            args.extend(["--model-url", self.model_url])
        if self.model_hf_repo:
            args.extend(["--hf-repo", self.model_hf_repo])
        if self.model_hf_file:
            args.extend(["--hf-file", self.model_hf_file])
        if self.model_alias:
            args.extend(["--alias", self.model_alias])
        for flag, value in (("--ctx-size", self.n_ctx), ("--batch-size", self.n_batch),
                            ("--ubatch-size", self.n_ubatch), ("--parallel", self.n_slots),
                            ("--n-predict", self.n_predict), ("--pooling", self.pooling),
                            ("--chat-template", self.chat_template),
                            ("--reasoning-format", self.reasoning_format)):
            if value:
                args.extend([flag, value])
        for lora_file in self.lora_files or []:
            args.extend(["--lora", lora_file])
        if self.server_embeddings:
            args.append("--embedding")
        if self.server_reranking:
            args.append("--reranking")
        args.append("--jinja" if self.jinja else "--no-jinja")
        if self.debug:
            args.append("--verbose")

        print(f"tests: starting server with: {' '.join(str(a) for a in args)}")
        self.process = subprocess.Popen([str(a) for a in args], stdout=sys.stdout, stderr=sys.stdout)
        server_instances.add(self)

        deadline = time.time() + timeout_seconds
        while time.time() < deadline:
            try:
                if self.make_request("GET", "/health").status_code == 200:
                    return
            except requests.exceptions.ConnectionError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with code {self.process.returncode}")
            time.sleep(0.1)
        raise TimeoutError(f"server did not start within {timeout_seconds} seconds")

    def stop(self) -> None:
        server_instances.discard(self)
        if self.process:
            self.process.kill()
            self.process.wait()
            self.process = None

    def make_request(self, method: str, path: str, data: dict | Any | None = None,
                     headers: dict | None = None) -> ServerResponse:
        url = f"http://{self.server_host}:{self.server_port}{path}"
        response = requests.request(method, url, headers=headers, json=data)
        result = ServerResponse()
        result.headers = dict(response.headers)
        result.status_code = response.status_code
        try:
            result.body = response.json()
        except requests.exceptions.JSONDecodeError:
            result.body = response.text
        return result

    def make_stream_request(self, method: str, path: str, data: dict | None = None) -> Iterator[dict]:
        url = f"http://{self.server_host}:{self.server_port}{path}"
        response = requests.request(method, url, json=data, stream=True)
        for raw in response.iter_lines():
            line = raw.decode("utf-8")
            if line.startswith("data: ") and "[DONE]" not in line:
                yield json.loads(line[6:])


server_instances: Set[ServerProcess] = set()


class ServerPreset:
    @staticmethod
    def load_all() -> None:
        """Start and stop every preset once so its model is in the cache before the tests run."""
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
        server.offline = True  # downloaded by load_all()
        server.model_hf_repo = "ggml-org/models"
        server.model_hf_file = "tinyllamas/stories260K.gguf"
        server.model_alias = "tinyllama-2"
        server.n_ctx = 512
        server.n_batch = 32
        server.n_slots = 2
        server.n_predict = 64
        return server

    @staticmethod
    def tinyllama_infill() -> ServerProcess:
        server = ServerProcess()
        server.offline = True  # downloaded by load_all()
        server.model_hf_repo = "ggml-org/test-model-stories260K-infill"
        server.model_hf_file = None
        server.model_alias = "tinyllama-infill"
        server.n_ctx = 2048
        server.n_slots = 1
        server.temperature = 0.0
        return server

    @staticmethod
    def bert_bge_small() -> ServerProcess:
        server = ServerProcess()
        server.offline = True  # downloaded by load_all()
        server.model_hf_repo = "ggml-org/models"
        server.model_hf_file = "bert-bge-small/ggml-model-f16.gguf"
        server.model_alias = "bert-bge-small"
        server.n_ctx = 512
        server.n_batch = 128
        server.n_ubatch = 128
        server.server_embeddings = True
        return server

    @staticmethod
    def stories15m_moe() -> ServerProcess:
        server = ServerProcess()
        server.offline = True  # downloaded by load_all()
        server.model_hf_repo = "ggml-org/stories15M_MOE"
        server.model_hf_file = "stories15M_MOE-F16.gguf"
        server.model_alias = "stories15m-moe"
        server.n_ctx = 2048
        server.n_slots = 1
        server.temperature = 0.0
        return server

    @staticmethod
    def tinygemma3() -> ServerProcess:
        server = ServerProcess()
        server.offline = True  # downloaded by load_all()
        # the mmproj comes with the repo, llama-server finds it on its own
        server.model_hf_repo = "ggml-org/tinygemma3-GGUF:Q8_0"
        server.model_hf_file = None
        server.model_alias = "tinygemma3"
        server.n_ctx = 1024
        server.n_slots = 2
        server.n_predict = 4
        return server

    @staticmethod
    def router() -> ServerProcess:
        server = ServerProcess()
        server.offline = True
        # a router loads models on demand, it starts with none
        server.model_hf_repo = None
        server.model_hf_file = None
        server.model_alias = None
        server.n_ctx = 1024
        return server


def match_regex(regex: str, text: str) -> bool:
    return re.search(regex, text, flags=re.IGNORECASE | re.MULTILINE | re.DOTALL) is not None


def download_file(url: str) -> str:
    """Fetch `url` into ./tmp once and return the local path."""
    path = os.path.join("tmp", url.split("/")[-1])
    if not os.path.exists(path):
        os.makedirs("tmp", exist_ok=True)
        with requests.get(url, stream=True) as response, open(path, "wb") as out:
            response.raise_for_status()
            for chunk in response.iter_content(chunk_size=1 << 20):
                out.write(chunk)
    return path


def is_slow_test_allowed() -> bool:
    return os.environ.get("SLOW_TESTS") in ("1", "ON")
