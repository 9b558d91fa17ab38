"""The README fits on a screen or two and its first screen holds what a newcomer needs; each page
of docs/ says what the code has: every flag, configuration key, JSON key and module, and every
link leads somewhere. (The README's quick start is run by tests/test_onboarding.py, and each
task's `--help` is kept in tests/task_help/.)"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import commands
from scanner.cli.declarations import ModelsOptions, TaskSwitches, TestOptions
from scanner.cli.options import build_options
from scanner.cli.routing import long_flags
from scanner.cli.tasks import namespace
from tests.helpers import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
DOCS = REPO_ROOT / "docs"
PAGES = ("tasks", "configuration", "json", "recognised", "reliability", "performance",
         "development")


def page(name: str) -> str:
    return (DOCS / f"{name}.md").read_text()


def test_the_readme_fits_on_a_screen_or_two() -> None:
    assert len(README.splitlines()) <= 200


def test_the_first_screen_holds_what_a_newcomer_needs() -> None:
    first = "\n".join(README.splitlines()[:60])
    assert first.splitlines()[2].startswith("Finds the Hugging Face models a pytest suite needs")
    for needed in ("git clone", "pipx install ./fetch-test-models",
                   "uv tool install ./fetch-test-models",
                   "fetch-test-models models.list", "fetch-test-models models.fetch",
                   "fetch-test-models test.server", "--fetch-models",  # the plugin
                   "LLAMA_CACHE", "~/.cache/huggingface/hub",  # where the models go
                   "every other word\nafter the task goes to pytest"):
        assert needed in first, needed
    for name in PAGES:
        assert f"(docs/{name}.md)" in first, name


def test_one_command_name_throughout() -> None:
    """`invoke -r CLONE` is said once, in the README; every example uses fetch-test-models."""
    texts = {"README.md": README, **{f"docs/{name}.md": page(name) for name in PAGES}}
    for name, text in texts.items():
        examples = re.findall(r"^\s*(?:- run: )?invoke (?:-r \S+ )?(?:models|test)\.", text, re.M)
        assert examples == [], name
    assert README.count("invoke -r CLONE") == 2  # the rule and its example


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("name", ["README", *PAGES])
def test_every_link_leads_to_a_page_and_heading_that_exist(name: str) -> None:
    path = REPO_ROOT / "README.md" if name == "README" else DOCS / f"{name}.md"
    for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
        if target.startswith("http"):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.is_file(), target
        if anchor:
            headings = re.findall(r"^#+ (.*)$", linked.read_text(), re.M)
            assert anchor in {slug(heading) for heading in headings}, target


def test_every_flag_of_every_task_is_in_the_tasks_page() -> None:
    text = page("tasks")
    for task in namespace.task_names:
        for flag in long_flags(task):
            assert f"`{flag}" in text, f"{task} {flag}"


def test_every_configuration_key_is_in_the_configuration_page() -> None:
    text = page("configuration")
    for section in (ModelsOptions, TestOptions):
        for key in dataclasses.fields(section):
            assert re.search(rf"\b{key.name}:", text), key.name
    assert [f.name for f in dataclasses.fields(TaskSwitches)] == ["check", "yes", "unreferenced"]


def keys(document: Any) -> set[str]:
    """Every key of a JSON document, at any depth."""
    if isinstance(document, dict):
        return {key for name, value in document.items() for key in {name} | keys(value)}
    if isinstance(document, list):
        return {key for value in document for key in keys(value)}
    return set()


def test_every_key_of_the_list_document_is_in_the_json_page(
    capsys: pytest.CaptureFixture[str]
) -> None:
    options = build_options({}, root=str(REPO_ROOT / "examples/llama.cpp"), json=True)
    assert commands.list_models(options, dict(os.environ)) == 0
    document = json.loads(capsys.readouterr().out)
    text = page("json")
    for key in keys(document):
        assert f"`{key}`" in text or f'"{key}"' in text, key


def test_every_module_is_in_the_layout() -> None:
    layout = page("development").split("## Layout", 1)[1]
    for module in (REPO_ROOT / "scanner").rglob("*.py"):
        if module.name != "__init__.py":
            assert module.name in layout, module.relative_to(REPO_ROOT)


@pytest.mark.parametrize("name", ["reliability", "performance", "development"])
def test_every_file_a_page_names_exists(name: str) -> None:
    for named in set(re.findall(r"`((?:tests|bench)/[\w/]+\.(?:py|txt))`", page(name))):
        assert (REPO_ROOT / named).is_file(), named


def test_the_rule_for_pytest_s_arguments_is_said_where_the_tasks_are() -> None:
    text = " ".join(page("tasks").split())
    assert "The tool's flags are long only" in text
    assert "every other word, and everything after `--`, goes to pytest" in text
    assert "Without `--root` (`models.root`), the root is the nearest folder" in text
    assert "exits 5, as pytest does" in text


def test_docs_pages_are_all_linked_from_the_readme() -> None:
    assert sorted(path.stem for path in DOCS.glob("*.md")) == sorted(PAGES)


def test_the_ci_script_runs_the_readme_s_test_command() -> None:
    command = re.search(r"^(python -m pytest[^#\n]*?)\s+#", README, re.M)
    assert command, "the README names no test command"
    ci = (REPO_ROOT / ".ci/run").read_text().splitlines()
    assert ci[-1] == command[1]
    assert "-n 2" in command[1]


def test_no_page_is_lost_in_the_move(tmp_path: Path) -> None:
    """The reference once in the README is in docs/: a few landmarks of each part."""
    for name, landmark in (("tasks", "## `fetch-test-models models.prune"),
                           ("tasks", "## The pytest plugin"), ("configuration", "models:"),
                           ("recognised", "common/download.cpp"), ("json", "\"models\""),
                           ("reliability", "| fault | outcome |"), ("performance", "bench/"),
                           ("development", "## Layout")):
        assert landmark in page(name), (name, landmark)
