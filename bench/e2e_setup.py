"""What `bench/e2e.py` needs before it times anything: the suite's venv (its requirements and
this tool, installed once under the scratch folder, pip's cache beside it), the stand-in models
(`bench/standins.py`, written once), their repos on the fake Hub, and each run's environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from peers import MACHINE_SETTINGS, REPO_ROOT

from tests.fakehub import FakeHub, GeneratedFile, user_settings, write_harnesses

SUITE = "tools/server/tests"


@dataclass(frozen=True)
class Suite:
    llama_cpp: Path  # the tree with build/bin/llama-server and tools/server/tests
    work: Path  # scratch folder, outside the repository
    workers: str | None  # PYTEST_WORKERS, None: tests.sh's default

    @property
    def bin(self) -> Path:
        return self.work / "suite-venv" / "bin"

    @property
    def models(self) -> Path:
        return self.work / "models"

    def env(self, endpoint: str, cache: Path, hf_home: Path) -> dict[str, str]:
        """A user's environment with the suite's venv first on PATH (tests.sh calls `pytest`),
        the fake Hub as llama.cpp's and huggingface_hub's endpoint, no token, one cache."""
        cache.mkdir(parents=True, exist_ok=True)
        write_harnesses(hf_home)
        dropped = set(user_settings(os.environ)) | MACHINE_SETTINGS | {
            "PYTEST_ADDOPTS", "PYTEST_WORKERS", "FETCH_TEST_MODELS", "SLOW_TESTS"}
        env = {k: v for k, v in os.environ.items() if k not in dropped}
        env.update(PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
                   VIRTUAL_ENV=str(self.bin.parent), HF_ENDPOINT=endpoint,
                   MODEL_ENDPOINT=endpoint + "/", HF_HOME=str(hf_home), LLAMA_CACHE=str(cache),
                   HF_HUB_CACHE=str(cache), HF_HUB_DISABLE_TELEMETRY="1",
                   HF_HUB_DISABLE_XET="1", NO_PROXY="127.0.0.1,localhost",
                   LLAMA_SERVER_BIN_PATH=str(self.llama_cpp / "build" / "bin" / "llama-server"))
        if self.workers:
            env["PYTEST_WORKERS"] = self.workers
        return env

    def write_lock(self, endpoint: str, cache: Path, tests: list[str]) -> Path:
        """`models.lock` of what `tests` need, as a project would commit it, kept under `work`
        (the whole suite names models the stand-ins do not cover)."""
        lock = self.work / "models.lock"
        with tempfile.TemporaryDirectory(prefix="e2e-lock-", dir=self.work) as tmp:
            root = Path(tmp)
            shutil.copytree(self.llama_cpp / SUITE, root / SUITE,
                            ignore=shutil.ignore_patterns("tmp", ".pytest_cache"))
            env = self.env(endpoint, cache, root / "hf")
            subprocess.run([str(self.bin / "fetch-test-models"), "models.lock", "--python",
                            str(self.bin / "python"), "--", *tests], cwd=root, env=env, check=True,
                           capture_output=True, timeout=300)
            shutil.copy(root / SUITE / "models.lock", lock)
        return lock


def _pip(python: Path, work: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--cache-dir",
                    str(work / "pip-cache"), *args], check=True)


def _installed_from(python: Path, tree: Path) -> bool:
    """Whether `python` imports this tool from `tree` (an editable install of it); isolated
    (`-I`), so a `scanner` folder in the current directory does not answer for the venv."""
    found = subprocess.run([str(python), "-I", "-c", "import scanner; print(scanner.__file__)"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return bool(found) and Path(found).resolve().is_relative_to(tree.resolve())


def prepare(llama_cpp: Path, work: Path, workers: str | None) -> Suite:
    """Check the tree, then create what is missing: the venv, the tool in it, the stand-ins."""
    server = llama_cpp / "build" / "bin" / "llama-server"
    if not os.access(server, os.X_OK) or not (llama_cpp / SUITE / "tests.sh").is_file():
        sys.exit(f"{llama_cpp}: no build/bin/llama-server or {SUITE}/tests.sh (build it as "
                 "shared/llama-server-suite.md says)")
    if work.resolve().is_relative_to(REPO_ROOT):
        sys.exit(f"--work {work}: must be outside the repository")
    suite = Suite(llama_cpp, work, workers)
    python = suite.bin / "python"
    if not python.exists():
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(python.parent.parent)], check=True)
        _pip(python, work, "-r", str(llama_cpp / SUITE / "requirements.txt"))
    if not _installed_from(python, REPO_ROOT):  # a venv kept from another checkout too
        _pip(python, work, "-e", str(REPO_ROOT))
    if not suite.models.is_dir():
        scratch = work / "models.partial"
        env = {**os.environ, "PYTHONPATH": str(llama_cpp / "gguf-py")}
        subprocess.run([str(python), str(Path(__file__).with_name("standins.py")), str(scratch)],
                       check=True, env=env)
        scratch.rename(suite.models)
    return suite


def serve_standins(hub: FakeHub, models: Path) -> None:
    """Each `models/ORG/NAME/...` folder as that repo, its files as they are on disk."""
    for org in sorted(models.iterdir()):
        for repo in sorted(org.iterdir()):
            files: dict[str, bytes | GeneratedFile] = {
                str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*"))
                if p.is_file()}
            hub.add_repo(f"{org.name}/{repo.name}", files)
            for path in files:
                hub.sha256(f"{org.name}/{repo.name}", path)  # computed now, not while timed
