"""The join of the static scan with pytest's selection, on hand-made selections (no pytest run):
which references a set of running tests needs."""

from __future__ import annotations

from scanner.models import Diagnostic, HuggingFaceModel, ModelReference, ReferenceKind, ScanResult
from scanner.scan.config import ScanConfig
from scanner.selection.collect import SelectedTest, Selection, TestNaming
from scanner.selection.needs import narrow, select_models

TESTS = "tools/server/tests/unit/test_chat.py"
UTILS = "tools/server/tests/utils.py"
OTHER = "tools/server/tests/unit/test_other.py"
CONFIG = ScanConfig()
PYTEST_NAMING = TestNaming()


def ref(repo: str, test: str, file: str = TESTS, kind: ReferenceKind = "assignment",
        line: int = 1) -> ModelReference:
    return ModelReference(model=HuggingFaceModel(hf_repo=repo), file=file, line=line, test=test,
                          kind=kind)


def item(qualname: str, file: str = TESTS, skip: str | None = None,
         **params: str | None) -> SelectedTest:
    return SelectedTest(nodeid=f"{file}::{qualname.replace('.', '::')}", file=file,
                        qualname=qualname, line=40, params=params, skip=skip)


def needed(refs: list[ModelReference], *items: SelectedTest,
           naming: TestNaming = PYTEST_NAMING, config: ScanConfig = CONFIG) -> set[str]:
    scan = ScanResult(references=tuple(refs), diagnostics=(), files_scanned=2)
    selection = Selection(arguments=(), tests=items, naming=naming)
    return {m.hf_repo for m in select_models(scan, selection, config).models()}


REFS = [
    ref("org/in-test-a", "test_a"),
    ref("org/in-test-b", "test_b"),
    ref("org/module-level", "<module>"),
    ref("org/in-fixture", "create_server"),
    ref("org/in-class", "TestChat"),
    ref("org/in-method", "TestChat.test_one"),
    ref("org/in-other-method", "TestChat.test_two"),
    ref("org/in-class-helper", "TestChat.make_server"),
    ref("org/nested-in-test", "test_a.inner"),
    ref("org/in-helper-class", "Helper.test_named_method"),
    ref("org/preset", "ServerPreset.tiny", file=UTILS),
]


def test_a_selected_function_brings_its_own_module_and_helper_references_and_presets() -> None:
    assert needed(REFS, item("test_a")) == {
        "org/in-test-a", "org/nested-in-test", "org/module-level", "org/in-fixture",
        "org/in-helper-class", "org/preset"}


def test_a_selected_method_brings_its_class_but_not_its_sibling_methods() -> None:
    assert needed(REFS, item("TestChat.test_one")) == {
        "org/in-method", "org/in-class", "org/in-class-helper", "org/module-level",
        "org/in-fixture", "org/in-helper-class", "org/preset"}


def test_tests_of_another_module_need_only_the_non_test_modules() -> None:
    other = item("test_x", file="tools/server/tests/unit/test_other.py")
    assert needed(REFS, other) == {"org/preset"}


def test_skipped_items_need_nothing_and_no_running_test_needs_no_preset() -> None:
    assert needed(REFS, item("test_a", skip="skipping slow test")) == set()
    assert needed(REFS) == set()


def test_extra_models_are_always_needed() -> None:
    extra = ModelReference(model=HuggingFaceModel(hf_repo="org/extra"), file="<config>", line=0,
                           test="extra", kind="extra")
    assert needed([*REFS, extra]) == {"org/extra"}


def test_the_suites_own_test_naming_decides_what_is_a_test() -> None:
    naming = TestNaming(python_files=("check_*.py",), python_classes=("Check",),
                        python_functions=("check_", "*_spec"))
    file = "tools/server/tests/check_api.py"
    refs = [ref("org/check-a", "check_a", file), ref("org/check-b", "check_b", file),
            ref("org/in-test-named-helper", "test_helper", file),
            ref("org/in-glob-named", "api_spec", file)]
    assert needed(refs, item("check_a", file), naming=naming) == {
        "org/check-a", "org/in-test-named-helper"}
    assert needed(refs, item("api_spec", file), naming=naming) == {
        "org/in-glob-named", "org/in-test-named-helper"}
    # a file that does not match python_files is not a test module: always needed
    assert needed(REFS, item("check_a", file), naming=naming) >= {"org/in-test-a", "org/in-test-b"}


def test_parametrized_models_come_from_pytest_for_the_running_rows_only() -> None:
    refs = [ref("org/row-1", "test_p", kind="parametrize", line=11),
            ref("org/row-2", "test_p", kind="parametrize", line=12),
            ref("org/in-body", "test_p", line=13)]
    run = item("test_p", hf_repo="org/row-2", hf_file="model.gguf")
    scan = ScanResult(references=tuple(refs), diagnostics=(), files_scanned=1)
    result = select_models(scan, Selection(arguments=(), tests=(run,)), CONFIG)
    assert [(m.hf_repo, m.hf_file) for m in result.models()] == [
        ("org/in-body", None), ("org/row-2", "model.gguf")]
    assert [(r.line, r.test, r.kind) for r in result.references] == [
        (13, "test_p", "assignment"), (40, "test_p", "parametrize")]
    unplaced = run.model_copy(update={"line": None})
    result = select_models(scan, Selection(arguments=(), tests=(unplaced,)), CONFIG)
    assert [r.line for r in result.references if r.kind == "parametrize"] == [0]


def test_a_value_only_pytest_could_read_becomes_a_reference_at_the_static_line() -> None:
    refs = [ref("org/row", "test_p", kind="parametrize", line=11)]
    scan = ScanResult(references=tuple(refs), diagnostics=(), files_scanned=1)
    tests = (item("test_p", hf_repo="org/row"), item("test_q", hf_repo="org/computed-1"),
             item("test_q", hf_repo=None), item("test_q", hf_repo="not a repo"))
    result = select_models(scan, Selection(arguments=(), tests=tests), CONFIG)
    assert {(r.model.hf_repo, r.line) for r in result.references} == {
        ("org/row", 11), ("org/computed-1", 40)}
    assert [d.message for d in result.diagnostics] == [
        "test_q: 'not a repo' is not fetched: repo id must be exactly 'org/name' (one '/')"]


def test_warnings_follow_the_selection_and_pytest_values_replace_parametrize_warnings() -> None:
    def warn(test: str, kind: ReferenceKind | None, line: int) -> Diagnostic:
        return Diagnostic(file=TESTS, line=line, severity="warning", message=f"w{line}",
                          test=test, kind=kind)

    diagnostics = (warn("test_a", "assignment", 1), warn("test_b", "assignment", 2),
                   warn("test_a", "parametrize", 3),
                   Diagnostic(file=UTILS, line=4, severity="warning", message="w4"),
                   Diagnostic(file=TESTS, line=None, severity="error", message="e5"),
                   Diagnostic(file=OTHER, line=6, severity="error", message="e6"),
                   Diagnostic(file="<config>", line=None, severity="warning", message="w7"),
                   warn("test_b", "parametrize", 8))
    scan = ScanResult(references=(), diagnostics=diagnostics, files_scanned=2)
    result = select_models(scan, Selection(arguments=(), tests=(item("test_a"),)), CONFIG)
    assert [d.message for d in result.diagnostics] == ["w1", "w4", "e5", "e6", "w7"]


def test_deny_applies_to_what_the_selection_keeps() -> None:
    config = ScanConfig(deny=("org/row-*",))
    scan = ScanResult(references=(), diagnostics=(), files_scanned=1)
    tests = (item("test_p", hf_repo="org/row-1"), item("test_p", hf_repo="org/kept"))
    result = select_models(scan, Selection(arguments=(), tests=tests), config)
    assert {m.hf_repo for m in result.fetchable()} == {"org/kept"}
    assert {m.hf_repo for m in result.denied} == {"org/row-1"}


def test_the_total_counts_the_models_only_pytest_could_name() -> None:
    scan = ScanResult(references=tuple(REFS), diagnostics=(), files_scanned=2)
    computed = narrow(scan, Selection(arguments=(), tests=(item("test_q", hf_repo="org/new"),)),
                      CONFIG)
    assert computed.total_models == len(REFS) + 1
    assert {m.hf_repo for m in computed.scan.models()} == {
        "org/new", "org/module-level", "org/in-fixture", "org/in-helper-class", "org/preset"}
