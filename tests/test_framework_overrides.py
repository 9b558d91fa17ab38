"""`models.files`: the files fetched for a framework's model in the repos a pattern matches,
in place of its framework's rules, set in a configuration file as a user sets it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests import hf_repos
from tests.fakehub import FakeHub
from tests.helpers import invoke_command, write_suite

REPO = "example-org/tiny-causal"


def fetch_with(tmp_path: Path, config: str) -> subprocess.CompletedProcess[str]:
    """`models.fetch --json` on a suite loading REPO as a causal LM, with `config` as the
    configuration file given with `-f`."""
    root = write_suite(tmp_path / "proj", f"""
        from transformers import AutoModelForCausalLM

        def test_model():
            AutoModelForCausalLM.from_pretrained("{REPO}")
    """)
    runtime = tmp_path / "fetch.yaml"
    runtime.write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_")}
    return subprocess.run(invoke_command("-f", str(runtime), "models.fetch", "--json"),
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


def snapshot(cache: Path) -> set[str]:
    root = cache / f"models--{REPO.replace('/', '--')}" / "snapshots"
    (commit,) = root.iterdir()
    return {p.relative_to(commit).as_posix() for p in commit.rglob("*") if p.is_file()}


def test_a_repo_pattern_s_files_replace_the_rule_of_the_framework(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    """The rule would bring config.json, generation_config.json and the safetensors; the
    override brings what it names, the tokenizer included, and nothing else."""
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())
    run = fetch_with(tmp_path, 'models:\n  files: {"example-*/*": ["*config.json", '
                               '"model.safetensors", "tokenizer.json"]}\n')
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    (model,) = json.loads(run.stdout)["models"]
    assert model["status"] == "downloaded"
    assert snapshot(hub_env) == {"config.json", "generation_config.json",
                                 "tokenizer_config.json", "model.safetensors", "tokenizer.json"}


def test_another_repo_keeps_its_framework_s_rule(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())
    run = fetch_with(tmp_path, 'models:\n  files: {"other-org/*": ["*.json"]}\n')
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert snapshot(hub_env) == {"config.json", "generation_config.json", "model.safetensors"}


def test_an_override_that_matches_no_file_fails_the_model_naming_the_pattern(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path
) -> None:
    hf_repos.add(fake_hub, REPO, hf_repos.transformers_repo())
    run = fetch_with(tmp_path, 'models:\n  files: {"example-org/*": ["*.onnx_data"]}\n')
    assert run.returncode == 1
    (model,) = json.loads(run.stdout)["models"]
    assert model["error"] == (f"{REPO} (transformers AutoModelForCausalLM): override "
                              "'example-org/*': no file matches *.onnx_data")


def test_a_bad_value_is_one_line_naming_the_key(tmp_path: Path) -> None:
    for config, said in [
        ("models:\n  files: ['*.json']\n", "models.files: a mapping of settings is expected"),
        ("models:\n  files: {'org/*': []}\n",
         "files: List should have at least 1 item after validation, not 0"),
        ("models:\n  files: {'org/*': '*.json'}\n", "files: Input should be a valid list"),
    ]:
        run = fetch_with(tmp_path, config)
        assert (run.returncode, "Traceback" in run.stderr) == (2, False), run.stderr
        (line,) = run.stderr.strip().splitlines()
        assert said in line and str(tmp_path / "fetch.yaml") in line, line
