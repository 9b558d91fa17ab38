"""What `models.list` finds in a test suite: one test per recognised shape, on files in tmp_path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scanner.errors import NoTestFiles
from scanner.models import ScanResult
from scanner.scan import batch as batch_module
from scanner.scan.config import ScanConfig
from scanner.scan.suite import scan_suite

SUITE = "tools/server/tests"


def scan(tmp_path: Path, files: dict[str, str], **config: object) -> ScanResult:
    for name, source in files.items():
        path = tmp_path / SUITE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return scan_suite(tmp_path, ScanConfig(**config))  # type: ignore[arg-type]


def found(result: ScanResult) -> set[tuple[str, str | None]]:
    return {(m.hf_repo, m.hf_file) for m in result.models()}


def refs(result: ScanResult) -> list[tuple[str, str | None, int, str, str]]:
    return sorted(
        (r.model.hf_repo, r.model.hf_file, r.line, r.test, r.kind) for r in result.references
    )


def messages(result: ScanResult) -> list[str]:
    return [f"{d.line}: {d.message}" for d in result.diagnostics]


def test_parametrize_on_def_async_class_and_method(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        import pytest

        @pytest.mark.parametrize("hf_repo", ["org/plain"])
        def test_plain(hf_repo): ...

        @pytest.mark.parametrize("hf_repo", ["org/async"])
        async def test_async(hf_repo): ...

        @pytest.mark.parametrize("hf_repo", ["org/cls"])
        class TestCls:
            @pytest.mark.parametrize("hf_repo", ["org/method"])
            def test_method(self, hf_repo): ...
    """})
    assert [(r[0], r[3]) for r in refs(result)] == [
        ("org/async", "test_async"), ("org/cls", "TestCls"),
        ("org/method", "TestCls.test_method"), ("org/plain", "test_plain"),
    ]
    assert result.diagnostics == ()


def test_parametrize_spellings_and_pytestmark(tmp_path: Path) -> None:
    result = scan(tmp_path, {
        "test_mark.py": """
            from pytest import mark
            @mark.parametrize("hf_repo", ["org/from-mark"])
            def test_a(hf_repo): ...
        """,
        "test_alias.py": """
            import pytest
            parametrize = pytest.mark.parametrize
            @parametrize("hf_repo", ["org/alias"])
            def test_b(hf_repo): ...
        """,
        "test_single_mark.py": """
            import pytest
            pytestmark = pytest.mark.parametrize("hf_repo", ["org/pytestmark-one"])
        """,
        "test_mark_list.py": """
            import pytest
            pytestmark = [pytest.mark.slow, pytest.mark.parametrize("hf_repo", ["org/in-list"])]
        """,
    })
    assert found(result) == {
        ("org/from-mark", None), ("org/alias", None),
        ("org/pytestmark-one", None), ("org/in-list", None),
    }
    assert {r.test for r in result.references if "pytestmark" in r.model.hf_repo} == {"<module>"}


@pytest.mark.parametrize("argnames", [
    '"hf_repo,hf_file"', '" hf_repo ,  hf_file "', '["hf_repo", "hf_file"]',
    '("hf_repo", "hf_file")',
])
@pytest.mark.parametrize("keyword", [False, True])
def test_argnames_forms(tmp_path: Path, argnames: str, keyword: bool) -> None:
    call = (f"argnames={argnames}, argvalues=[('org/m', 'a.gguf')]" if keyword
            else f"{argnames}, [('org/m', 'a.gguf')]")
    result = scan(tmp_path, {"test_a.py": f"""
        import pytest
        @pytest.mark.parametrize({call})
        def test_a(hf_repo, hf_file): ...
    """})
    assert found(result) == {("org/m", "a.gguf")}


def test_argvalue_row_shapes_and_named_rows(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        import pytest
        ROWS = [("org/named-row", None)]

        @pytest.mark.parametrize("hf_repo,hf_file", (
            ("org/tuple", "t.gguf"),
            ["org/list", "l.gguf"],
            pytest.param("org/param", None, marks=pytest.mark.slow, id="p"),
        ))
        def test_rows(hf_repo, hf_file): ...

        @pytest.mark.parametrize("hf_repo", ["org/single", pytest.param("org/single-param")])
        def test_single(hf_repo): ...

        @pytest.mark.parametrize("hf_repo,hf_file", ROWS)
        def test_named(hf_repo, hf_file): ...
    """})
    assert found(result) == {
        ("org/tuple", "t.gguf"), ("org/list", "l.gguf"), ("org/param", None),
        ("org/single", None), ("org/single-param", None), ("org/named-row", None),
    }


def test_values_concatenation_none_and_unreadable(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        import pytest
        @pytest.mark.parametrize("hf_repo,hf_file", [
            ("ggml-org/" "models", None),
            (f"org/{name}", None),
            (make_repo(), None),
        ])
        def test_a(hf_repo, hf_file): ...
    """})
    assert found(result) == {("ggml-org/models", None)}
    assert messages(result) == [
        "5: model repo: f-string `f'org/{name}'` cannot be read statically",
        "6: model repo: call `make_repo()` cannot be read statically",
    ]


def test_stacked_decorators_pair_every_repo_with_every_file(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        import pytest
        @pytest.mark.parametrize("hf_file", ["a.gguf", "b.gguf"])
        @pytest.mark.parametrize("hf_repo", ["org/x", "org/y"])
        @pytest.mark.parametrize("n_ctx", [128, 256])
        def test_a(hf_repo, hf_file, n_ctx): ...
    """})
    assert found(result) == {
        ("org/x", "a.gguf"), ("org/x", "b.gguf"), ("org/y", "a.gguf"), ("org/y", "b.gguf"),
    }
    assert len(result.references) == 4, "unrelated parametrize marks must not duplicate refs"


def test_assignments_pair_with_file_on_the_same_target(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        class ServerProcess:
            model_hf_repo: str | None = "org/class-default"
            model_hf_file: str | None = "default.gguf"

        class ServerPreset:
            @staticmethod
            def tiny():
                server = ServerProcess()
                server.model_hf_repo = "org/tiny"
                server.model_hf_file = "tiny.gguf"
                other.model_hf_file = "not-paired.gguf"
                return server

        def test_two_servers():
            a.model_hf_repo = "org/first"
            b.model_hf_repo = "org/second"
            b.model_hf_file = "second.gguf"
            a.model_hf_repo = "org/first-again"
            a.model_hf_file = None
            c.hf_repo = "org/repo-only"
    """})
    assert refs(result) == [
        ("org/class-default", "default.gguf", 3, "ServerProcess", "assignment"),
        ("org/first", None, 16, "test_two_servers", "assignment"),
        ("org/first-again", None, 19, "test_two_servers", "assignment"),
        ("org/repo-only", None, 21, "test_two_servers", "assignment"),
        ("org/second", "second.gguf", 17, "test_two_servers", "assignment"),
        ("org/tiny", "tiny.gguf", 10, "ServerPreset.tiny", "assignment"),
    ]


def test_assignment_from_parametrized_argument_is_not_a_new_reference(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        import pytest
        @pytest.mark.parametrize("hf_repo,hf_file", [("org/x", "x.gguf")])
        def test_a(hf_repo, hf_file):
            server.model_hf_repo = hf_repo
            server.model_hf_file = hf_file

        @pytest.mark.parametrize("model,quant", [("org/y", "y.gguf"), ("org/z", "z.gguf")])
        def test_b(model, quant):
            server.model_hf_repo = model
            server.model_hf_file = quant
    """})
    assert refs(result) == [
        ("org/x", "x.gguf", 3, "test_a", "parametrize"),
        ("org/y", "y.gguf", 10, "test_b", "assignment"),
        ("org/z", "z.gguf", 10, "test_b", "assignment"),
    ]
    assert result.diagnostics == ()


def test_keyword_arguments_in_any_call(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        def test_a():
            load(hf_repo="org/kw", hf_file="kw.gguf")
            srv = ServerProcess(model_hf_repo="org/ctor")
    """})
    assert refs(result) == [
        ("org/ctor", None, 4, "test_a", "keyword"),
        ("org/kw", "kw.gguf", 3, "test_a", "keyword"),
    ]


def test_model_names_on_the_continuation_lines_of_formatted_code(tmp_path: Path) -> None:
    """As black or ruff format long lines: the statement's first line names no model, and a
    statement after the last line that does is no trouble either."""
    result = scan(tmp_path, {"test_a.py": """
        def test_a():
            srv = ServerProcess(
                n_ctx=512,
                model_hf_repo="org/wrapped",
                model_hf_file="wrapped.gguf",
            )
            settings = {
                "n_ctx": 512,
            }
    """})
    assert refs(result) == [("org/wrapped", "wrapped.gguf", 3, "test_a", "keyword")]


def test_hub_file_urls(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        LORA = "https://huggingface.co/ggml-org/stories15M_MOE/resolve/main/moe_shakespeare15M.gguf"
        def test_a():
            server.model_url = "https://hub.example.test/org/m/resolve/abc123/sub/m.gguf?download=1"
            other = "https://example.com/org/m/resolve/main/x.gguf"
    """}, url_hosts=["huggingface.co", "hub.example.test"])
    urls = {(r.model.repo, r.model.revision, r.model.hf_file, r.test, r.kind)
            for r in result.references}
    assert urls == {
        ("ggml-org/stories15M_MOE", "main", "moe_shakespeare15M.gguf", "<module>", "url"),
        ("org/m", "abc123", "sub/m.gguf", "test_a", "url"),
    }


def test_tag_is_kept_and_split(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        def test_a():
            server.model_hf_repo = "ggml-org/tinygemma3-GGUF:Q8_0"
    """})
    (model,) = result.models()
    assert (model.hf_repo, model.repo, model.tag) == (
        "ggml-org/tinygemma3-GGUF:Q8_0", "ggml-org/tinygemma3-GGUF", "Q8_0")


@pytest.mark.parametrize(("written", "problem"), [
    ("not a repo", "exactly 'org/name'"),
    ("org//name", "exactly 'org/name'"),
    ("org/na$me", "may only contain"),
    ("-org/name", "may not start or end"),
    ("org/name.", "may not start or end"),
    ("org/na..me", "may not contain '..'"),
    ("org-/name", "may not contain '-/'"),
    ("<org>/<model>", "placeholder"),
    ("{repo}", "placeholder"),
    ("org/name:", "invalid tag"),
])
def test_invalid_ids_and_placeholders_are_diagnostics(
    tmp_path: Path, written: str, problem: str
) -> None:
    result = scan(tmp_path, {"test_a.py": f"""
        def test_a():
            server.model_hf_repo = {written!r}
    """})
    assert result.models() == []
    (diag,) = result.diagnostics
    assert (diag.file, diag.line) == (f"{SUITE}/test_a.py", 3)
    assert problem in diag.message and repr(written) in diag.message


def test_names_are_configuration(tmp_path: Path) -> None:
    files = {"test_a.py": """
        def test_a():
            server.repo_id = "org/custom"
            server.weights = "w.gguf"
            server.model_hf_repo = "org/default-name"
    """}
    custom = scan(tmp_path, files, repo_names=["repo_id"], file_names=["weights"])
    assert found(custom) == {("org/custom", "w.gguf")}
    assert found(scan(tmp_path, files)) == {("org/default-name", None)}


def test_constants_in_the_same_file_and_imported(tmp_path: Path) -> None:
    result = scan(tmp_path, {
        "utils.py": """
            SMALL_MODEL_REPO = "org/from-utils"
            SMALL_MODEL_FILE = "small.gguf"
        """,
        "unit/test_a.py": """
            import pytest
            import utils
            from utils import SMALL_MODEL_REPO, SMALL_MODEL_FILE as FILE
            MODEL_A = "org/model-a"
            MODEL = "org/local"

            @pytest.mark.parametrize("hf_repo", [MODEL_A])
            def test_row(hf_repo): ...

            def test_assign():
                server.model_hf_repo = MODEL
                s2.model_hf_repo = SMALL_MODEL_REPO
                s2.model_hf_file = FILE
                s3.model_hf_repo = utils.SMALL_MODEL_REPO
                s4.model_hf_repo = UNKNOWN
        """,
    })
    assert found(result) == {
        ("org/model-a", None), ("org/local", None), ("org/from-utils", "small.gguf"),
        ("org/from-utils", None),
    }
    assert messages(result) == [
        "16: model repo: name `UNKNOWN` is not bound to a string at module level"
    ]


def test_extra_and_deny_from_configuration(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        def test_negative():
            server.model_hf_repo = "ggml-org/this-model-does-not-exist"
            ok.model_hf_repo = "ggml-org/models"
    """}, extra=["org/hand-added:Q4_K_M", {"hf_repo": "org/other", "hf_file": "o.gguf"}],
        deny=["*/this-model-does-not-exist"])
    assert found(result) == {
        ("ggml-org/this-model-does-not-exist", None), ("ggml-org/models", None),
        ("org/hand-added:Q4_K_M", None), ("org/other", "o.gguf"),
    }
    assert {m.hf_repo for m in result.denied} == {"ggml-org/this-model-does-not-exist"}
    assert {m.hf_repo for m in result.fetchable()} == {
        "ggml-org/models", "org/hand-added:Q4_K_M", "org/other"}
    assert {(r.line, r.test, r.kind) for r in result.references if r.file == "<config>"} \
        == {(0, "extra", "extra")}  # as the JSON documents them


def test_models_are_deduplicated_and_every_reference_kept(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        def test_a():
            server.model_hf_repo = "org/same"
        def test_b():
            server.model_hf_repo = "org/same"
    """})
    assert found(result) == {("org/same", None)}
    assert [r.test for r in result.references] == ["test_a", "test_b"]


def test_unreadable_files_are_one_diagnostic_each_and_the_scan_goes_on(tmp_path: Path) -> None:
    suite = tmp_path / SUITE
    suite.mkdir(parents=True)
    (suite / "test_syntax.py").write_text("def broken(:\n")
    (suite / "test_nul.py").write_bytes(b"x = 1\nprint('\0')\n")
    (suite / "test_latin1.py").write_bytes(b"s = '\xe9t\xe9'\n")
    (suite / "test_deep.py").write_text("x = " + "(" * 300 + ")" * 300 + "\n")
    (suite / "test_ok.py").write_text("def test_a():\n    s.model_hf_repo = 'org/fine'\n")
    result = scan_suite(tmp_path, ScanConfig())
    assert found(result) == {("org/fine", None)}
    by_file = {d.file.rsplit("/", 1)[1]: d for d in result.diagnostics}
    assert set(by_file) == {"test_syntax.py", "test_nul.py", "test_latin1.py", "test_deep.py"}
    assert (by_file["test_syntax.py"].line, by_file["test_nul.py"].line) == (1, 2)
    assert "syntax error" in by_file["test_syntax.py"].message
    assert "NUL" in by_file["test_nul.py"].message
    assert "decode" in by_file["test_latin1.py"].message
    assert "too many nested" in by_file["test_deep.py"].message
    assert result.files_scanned == 5


def test_an_expression_too_deep_to_walk_is_an_error_and_the_rest_is_scanned(
    tmp_path: Path,
) -> None:
    deep = 'server.model_hf_repo = "org/deep" + a' + "[0]" * 900 + "\n"
    result = scan(tmp_path, {"test_a.py": deep, "test_b.py": 's.model_hf_repo = "org/b"\n'})
    assert [(d.file, d.line, d.severity, d.message) for d in result.diagnostics] == [
        (f"{SUITE}/test_a.py", None, "error", "nested too deeply to scan")]
    assert found(result) == {("org/b", None)}


def test_no_matching_file_names_root_and_globs(tmp_path: Path) -> None:
    with pytest.raises(NoTestFiles) as info:
        scan_suite(tmp_path, ScanConfig(tests=("suite/**/*.py", "t/*.py")))
    assert str(info.value) == \
        f"no test file matched under {tmp_path} (globs: suite/**/*.py, t/*.py)"


def test_argument_from_module_pytestmark_is_known_inside_a_parametrized_test(
    tmp_path: Path,
) -> None:
    result = scan(tmp_path, {"test_a.py": """
        import pytest
        pytestmark = pytest.mark.parametrize("hf_repo", ["org/module-level"])

        @pytest.mark.parametrize("scale", [0.0, 1.0])
        def test_scale(hf_repo, scale):
            server.model_hf_repo = hf_repo
    """})
    assert found(result) == {("org/module-level", None)}
    assert result.diagnostics == ()


def test_star_import_constants_are_followed(tmp_path: Path) -> None:
    result = scan(tmp_path, {
        "utils.py": 'TINY = "org/tiny"\n',
        "unit/test_a.py": """
            from utils import *
            def test_a():
                server.model_hf_repo = TINY
        """,
    })
    assert found(result) == {("org/tiny", None)}
    assert result.diagnostics == ()


def test_urls_and_extra_are_validated_like_any_reference(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        BAD = "https://huggingface.co/org/x..y/resolve/main/a/../../b.gguf"
    """}, extra="not a repo")
    assert result.models() == []
    assert sorted((d.file, d.message.split(" is not")[0]) for d in result.diagnostics) == [
        ("<config>", "extra: 'not a repo'"), (f"{SUITE}/test_a.py", "'org/x..y'")]
    single = scan(tmp_path, {"test_a.py": "x = 1\n"}, extra="ggml-org/models:Q8_0")
    assert found(single) == {("ggml-org/models:Q8_0", None)}


# --- shapes and checks a user relies on (each once pinned by no test) -------------------------

def test_a_file_path_escaping_the_repo_is_a_diagnostic_not_a_reference(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        def test_a():
            server.model_hf_repo = "org/model"
            server.model_hf_file = "../../etc/passwd"
    """})
    assert found(result) == set()
    assert [(d.line, d.severity) for d in result.diagnostics] == [(3, "warning")]
    assert "'org/model' is not fetched: file '../../etc/passwd'" in messages(result)[0]


def test_assignment_from_a_parametrized_argument_without_a_file_argument(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        import pytest

        @pytest.mark.parametrize("model", ["org/a", "org/b:Q8_0"])
        def test_a(model):
            server.model_hf_repo = model
    """})
    assert [(r[0], r[1], r[2], r[4]) for r in refs(result)] == [
        ("org/a", None, 6, "assignment"), ("org/b:Q8_0", None, 6, "assignment")]


def test_a_file_assigned_before_its_repo_pairs_with_it(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        def test_a():
            server.model_hf_file = "first.gguf"
            server.model_hf_repo = "org/first"
            other.model_hf_repo = "org/second"
    """})
    assert found(result) == {("org/first", "first.gguf"), ("org/second", None)}


def test_a_local_variable_named_like_a_repo_is_not_a_reference(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        def test_a():
            hf_repo = "org/local"
            model_hf_repo: str = "org/annotated"
    """})
    assert found(result) == set() and result.diagnostics == ()


def test_repo_keywords_in_any_call_even_a_decorator(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        @with_server(hf_repo="org/deco", hf_file="d.gguf")
        def test_a(): ...
    """})
    assert [(r[0], r[1], r[4]) for r in refs(result)] == [("org/deco", "d.gguf", "keyword")]


def test_param_rows_keyword_argvalues_and_chained_assignment(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        import pytest
        from pytest import param

        @pytest.mark.parametrize("hf_repo", argvalues=[param("org/p", marks=pytest.mark.slow)])
        def test_a(hf_repo): ...

        def test_b():
            x = s.model_hf_repo = "org/chained"
            s.model_hf_repo = "unsloth/Qwen3-8B-GGUF:UD-Q4_K_XL"
    """})
    assert found(result) == {("org/p", None), ("org/chained", None),
                             ("unsloth/Qwen3-8B-GGUF:UD-Q4_K_XL", None)}
    assert result.diagnostics == ()


def test_class_parametrize_combines_with_a_methods_own_rows(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        import pytest

        @pytest.mark.parametrize("hf_file", ["a.gguf", "b.gguf"])
        class TestCls:
            @pytest.mark.parametrize("hf_repo", ["org/x"])
            def test_m(self, hf_repo, hf_file): ...
    """})
    assert found(result) == {("org/x", "a.gguf"), ("org/x", "b.gguf")}


def test_parametrize_shapes_the_scan_cannot_read_are_exact_diagnostics(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        import pytest

        REPOS = make_repos()

        @pytest.mark.parametrize("hf_repo", make_repos())
        def test_call(hf_repo): ...

        @pytest.mark.parametrize("hf_repo", REPOS)
        def test_name(hf_repo): ...

        @pytest.mark.parametrize("hf_repo,hf_file", [
            ROW,
            ("org/one",),
            ("org/ok", "ok.gguf"),
        ])
        def test_rows(hf_repo, hf_file): ...

        @pytest.mark.parametrize("n_ctx", make_sizes())
        def test_not_a_model(n_ctx): ...
    """})
    assert messages(result) == [
        "6: argvalues is not a literal list or tuple",
        "9: argvalues name 'REPOS' is not a literal list or tuple at module level; "
        "cannot follow it",
        "13: parametrize row is not a literal tuple, list or pytest.param(...)",
        "14: parametrize row has 1 values for 2 argnames",
    ]
    assert found(result) == {("org/ok", "ok.gguf")}


def test_a_function_argument_at_a_model_position_is_named_in_its_diagnostic(
    tmp_path: Path,
) -> None:
    result = scan(tmp_path, {"test_a.py": """
        def start(server, repo):
            server.model_hf_repo = repo
    """})
    assert messages(result) == [
        "3: model repo: function argument `repo` cannot be followed statically"]
    assert [(d.test, d.kind) for d in result.diagnostics] == [("start", "assignment")]


def test_a_file_pairs_with_the_nearest_repo_of_its_object_never_past_another(
    tmp_path: Path,
) -> None:
    result = scan(tmp_path, {"test_a.py": """
        def test_after():
            s.model_hf_repo = "org/a"
            s.model_hf_repo = "org/b"
            s.model_hf_file = "b.gguf"

        def test_before():
            t.model_hf_file = "x.gguf"
            t.model_hf_repo = "org/x"
            t.model_hf_repo = "org/y"
            u.model_hf_file = "other-object.gguf"
    """})
    assert found(result) == {("org/a", None), ("org/b", "b.gguf"), ("org/x", "x.gguf"),
                             ("org/y", None)}


def test_calls_under_with_and_urls_in_parametrize_rows_are_found(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        import pytest

        def test_with():
            with make_server(hf_repo="org/with") as server:
                server.start()

        @pytest.mark.parametrize("url", [
            "https://huggingface.co/org/row/resolve/main/row.gguf",
        ])
        def test_url(url): ...
    """})
    assert refs(result) == [("org/row", "row.gguf", 9, "test_url", "url"),
                            ("org/with", None, 5, "test_with", "keyword")]


def test_a_repo_set_to_none_is_no_reference_and_no_error(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        def router():
            server.model_hf_repo = None
            server.model_hf_file = "ignored.gguf"
    """})
    assert found(result) == set() and result.diagnostics == ()


def test_an_unreadable_file_is_named_and_a_file_argument_is_a_parametrize_position(
    tmp_path: Path,
) -> None:
    result = scan(tmp_path, {"test_a.py": """
        def start(server, hf_file):
            server.model_hf_repo = "org/x"
            server.model_hf_file = hf_file

        def other(server):
            server.model_hf_repo = "org/y"
            server.model_hf_file = FILE_FROM_NOWHERE
    """})
    assert [(d.line, d.message, d.kind) for d in result.diagnostics] == [
        (3, "model file: function argument `hf_file` cannot be followed statically",
         "parametrize"),
        (7, "model file: name `FILE_FROM_NOWHERE` is not bound to a string at module level",
         "assignment"),
    ]


def test_a_long_expression_is_shortened_in_its_diagnostic(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        def test_a():
            server.model_hf_repo = pick(a_very_long_argument_name, another_long_argument_name_x)
            server.model_hf_repo = pick(short)
            server.model_hf_repo = pick(exactly_sixty_characters_long_name_for_the_argument_x1)
    """})
    assert messages(result) == [
        "3: model repo: call `pick(a_very_long_argument_name, another_long_argument_nam...` "
        "cannot be read statically",
        "4: model repo: call `pick(short)` cannot be read statically",
        "5: model repo: call `pick(exactly_sixty_characters_long_name_for_the_argument_x1)` "
        "cannot be read statically",
    ]


def test_module_pytestmark_rows_reach_an_assignment_in_a_test(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        import pytest

        pytestmark = pytest.mark.parametrize("model", ["org/marked"])

        def test_a(model):
            server.model_hf_repo = model
    """})
    assert found(result) == {("org/marked", None)} and result.diagnostics == ()


def test_argnames_that_are_not_literal_strings_are_not_read(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        import pytest

        @pytest.mark.parametrize(NAMES, [("org/a", "a.gguf")])
        def test_names(hf_repo, hf_file): ...

        @pytest.mark.parametrize(("hf_repo", SECOND), [("org/b", "b.gguf")])
        def test_mixed(hf_repo, hf_file): ...

        @pytest.mark.parametrize(("hf_repo", 3), [("org/c", "c.gguf")])
        def test_number(hf_repo, hf_file): ...

        @custom_decorator("hf_repo", ["org/d"])
        def test_custom(hf_repo): ...
    """})
    assert found(result) == set()


def test_pairing_stops_at_the_next_repo_of_the_same_object(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_a.py": """
        def test_a():
            s.model_hf_repo = "org/1"
            s.model_hf_file = "1.gguf"
            s.model_hf_repo = "org/2"
            s.model_hf_repo = "org/3"

        def test_b():
            s.model_hf_repo = "org/4"
            s.model_hf_repo = "org/5"
            s.model_hf_repo = "org/6"
            s.model_hf_file = "6.gguf"
            s.model_hf_repo = "org/7"
    """})
    assert found(result) == {("org/1", "1.gguf"), ("org/2", "1.gguf"), ("org/3", None),
                             ("org/4", None), ("org/5", None), ("org/6", "6.gguf"),
                             ("org/7", "6.gguf")}


def test_a_module_imported_before_its_turn_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`from utils import *` in a test file sorted before utils.py: utils.py is parsed for its
    names then, and that parse serves its own turn too (llama.cpp's suite, every run)."""
    read: list[str] = []
    real = batch_module.parse_file
    monkeypatch.setattr(batch_module, "parse_file",
                        lambda path, rel: read.append(rel) or real(path, rel))
    result = scan(tmp_path, {
        "test_a.py": "from utils import *\ndef test_a():\n    s.model_hf_repo = MODEL\n",
        "utils.py": 'MODEL = "org/from-utils"\ndef preset():\n    s.model_hf_repo = "org/u"\n',
    })
    assert found(result) == {("org/from-utils", None), ("org/u", None)}
    assert sorted(read) == [f"{SUITE}/test_a.py", f"{SUITE}/utils.py"]
