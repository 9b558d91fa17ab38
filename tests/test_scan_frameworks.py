"""What `models.list` finds in a suite that loads models through frameworks (transformers,
huggingface_hub, sentence-transformers, diffusers, inference servers): one test per shape."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from scanner.models import ScanResult
from scanner.output import log
from scanner.output.scan_report import print_scan
from scanner.scan.config import ScanConfig
from scanner.scan.suite import scan_suite
from scanner.selection.network import NetworkNeed, network_needs
from tests.fakehub import FakeHub, GeneratedFile
from tests.helpers import run_fetch, write_suite


def scan(tmp_path: Path, files: dict[str, str], **config: object) -> ScanResult:
    for name, source in files.items():
        path = tmp_path / "tests" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return scan_suite(tmp_path, ScanConfig(tests=("tests/**/*.py",), **config))  # type: ignore[arg-type]


def loaded(result: ScanResult) -> set[tuple[str, str | None, str | None]]:
    """(repo, file, loader) of every model found."""
    return {(m.hf_repo, m.hf_file, m.loader) for m in result.models()}


def calls(result: ScanResult) -> set[tuple[str, int, str, str | None, str]]:
    return {(r.model.hf_repo, r.line, r.test, r.call, r.kind) for r in result.references}


def test_loader_calls_name_their_framework_and_call(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_load.py": """
        from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
        from huggingface_hub import hf_hub_download, snapshot_download
        from sentence_transformers import SentenceTransformer, CrossEncoder
        from diffusers import DiffusionPipeline, StableDiffusionPipeline
        from peft import PeftModel
        from vllm import LLM

        def test_all():
            AutoTokenizer.from_pretrained("org-a/tok")
            AutoModelForCausalLM.from_pretrained(pretrained_model_name_or_path="org-a/causal",
                                                 revision="v1", subfolder="sub")
            pipeline("text-classification", "org-a/classifier")
            pipeline(task="fill-mask", model="org-a/masked")
            hf_hub_download("org-b/files", "config.json", subfolder="onnx")
            hf_hub_download(repo_id="org-b/other", filename="weights.bin")
            snapshot_download("org-b/snap", allow_patterns=["*.json", "*.safetensors"])
            SentenceTransformer("org-c/embedder")
            CrossEncoder("org-c/reranker")
            DiffusionPipeline.from_pretrained("org-d/pipe", variant="fp16")
            pipe = StableDiffusionPipeline.from_pretrained("org-d/sd")
            pipe.load_lora_weights("org-d/lora", weight_name="lora.safetensors")
            PeftModel.from_pretrained(base, "org-e/adapter")
            LLM(model="org-f/served")
    """})
    assert loaded(result) == {
        ("org-a/tok", None, "transformers"), ("org-a/causal", None, "transformers"),
        ("org-a/classifier", None, "transformers"), ("org-a/masked", None, "transformers"),
        ("org-b/files", "onnx/config.json", "hub_file"),
        ("org-b/other", "weights.bin", "hub_file"), ("org-b/snap", None, "hub_snapshot"),
        ("org-c/embedder", None, "sentence_transformers"),
        ("org-c/reranker", None, "sentence_transformers"),
        ("org-d/pipe", None, "diffusers"), ("org-d/sd", None, "diffusers"),
        ("org-d/lora", "lora.safetensors", "diffusers"),
        ("org-e/adapter", None, "transformers"), ("org-f/served", None, "server"),
    }
    by_repo = {r.model.hf_repo: r for r in result.references}
    assert by_repo["org-a/causal"].call == "AutoModelForCausalLM.from_pretrained"
    assert dict(by_repo["org-a/causal"].options) == {"revision": '"v1"', "subfolder": '"sub"'}
    assert by_repo["org-a/causal"].model.revision == "v1"
    assert dict(by_repo["org-b/snap"].options) == {
        "allow_patterns": '["*.json", "*.safetensors"]'}
    assert by_repo["org-d/pipe"].call == "DiffusionPipeline.from_pretrained"
    assert by_repo["pipe" and "org-d/lora"].call == "pipe.load_lora_weights"
    assert {r.kind for r in result.references} == {"call"}
    assert result.diagnostics == ()


def test_launchers_are_configuration(tmp_path: Path) -> None:
    files = {"test_serve.py": """
        from utils import RemoteOpenAIServer, start_my_server

        def test_served():
            with RemoteOpenAIServer("acme/served-model", ["--dtype", "half"]):
                pass
            start_my_server("acme/mine")
    """}
    assert loaded(scan(tmp_path, files)) == {("acme/served-model", None, "server")}
    assert loaded(scan(tmp_path, files, launchers=["start_my_server"])) == {
        ("acme/served-model", None, "server"), ("acme/mine", None, "server")}


def test_legacy_bare_ids_where_a_loader_takes_them(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_bare.py": """
        from transformers import AutoTokenizer
        from sentence_transformers import SentenceTransformer

        def test_bare(tmp_path):
            AutoTokenizer.from_pretrained("gpt2")
            AutoTokenizer.from_pretrained("bert-base-uncased")
            AutoTokenizer.from_pretrained("model")            # a local folder, no Hub id
            AutoTokenizer.from_pretrained("./tiny-model")     # a path
            SentenceTransformer("all-MiniLM-L6-v2")           # the library's organisation
            SentenceTransformer("bert-base-uncased")          # transformers' own checkpoint
    """})
    assert loaded(result) == {
        ("gpt2", None, "transformers"), ("bert-base-uncased", None, "transformers"),
        ("sentence-transformers/all-MiniLM-L6-v2", None, "sentence_transformers"),
        ("bert-base-uncased", None, "sentence_transformers"),
    }


def test_framework_references_are_listed_apart_from_llama_cpp_ones(tmp_path: Path) -> None:
    """The same repo loaded by llama.cpp's `-hf` and by transformers is two models: each
    brings its own files."""
    result = scan(tmp_path, {"test_both.py": """
        from transformers import AutoTokenizer

        def test_both(server):
            server.model_hf_repo = "acme/both"
            AutoTokenizer.from_pretrained("acme/both")
    """})
    assert loaded(result) == {("acme/both", None, None), ("acme/both", None, "transformers")}


def test_fetch_brings_the_files_a_framework_reads_beside_llama_cpp_ones(
    fake_hub: FakeHub, hub_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A framework's repo is planned by its own rules (llama.cpp's GGUF rules would refuse one
    made of safetensors): `AutoModel` gets the config and the safetensors, not the pickle; the
    GGUF beside it is fetched as before."""
    fake_hub.add_repo("ggml-org/models", {"tinyllamas/stories260K.gguf": GeneratedFile(1000)})
    fake_hub.add_repo("acme/tiny-bert", {"config.json": b"{}", "model.safetensors": b"x",
                                         "pytorch_model.bin": b"pickle"})
    root = write_suite(tmp_path / "proj", """
        from transformers import AutoModel

        def test_both(server):
            server.model_hf_repo = "ggml-org/models"
            server.model_hf_file = "tinyllamas/stories260K.gguf"
            AutoModel.from_pretrained("acme/tiny-bert")
    """)
    code, out, _ = run_fetch(root, capsys, json=True)
    assert code == 0, out
    models = {m["repo"]: m for m in json.loads(out)["models"]}
    assert models["acme/tiny-bert"]["status"] == "downloaded"
    assert [f["path"] for f in models["acme/tiny-bert"]["files"]] == [
        "config.json", "model.safetensors"]
    assert models["ggml-org/models"]["status"] == "downloaded"
    assert fake_hub.count(kind="tree") == 2, "each repo is listed once"


def test_names_are_followed_to_their_value(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_names.py": """
        import os
        from transformers import AutoModel, AutoTokenizer
        from huggingface_hub import hf_hub_download

        MODEL = "acme/module-constant"
        ENV_MODEL = os.environ.get("TEST_MODEL", "acme/env-default")

        class TestServer:
            DEFAULT = "acme/class-constant"

            @classmethod
            def setup_class(cls):
                cls.model = "acme/set-on-cls"

            def test_attributes(self):
                AutoModel.from_pretrained(self.DEFAULT)
                AutoModel.from_pretrained(self.model)

        def test_locals():
            repo_id = "acme/local"
            hf_hub_download(repo_id, "config.json")
            AutoTokenizer.from_pretrained(MODEL)
            AutoTokenizer.from_pretrained(ENV_MODEL)
            AutoTokenizer.from_pretrained(os.getenv("OTHER", "acme/getenv-default"))

        def test_loop():
            for name in ["acme/loop-a", "acme/loop-b"]:
                AutoModel.from_pretrained(name)
    """})
    assert {(r.model.hf_repo, r.test) for r in result.references} == {
        ("acme/class-constant", "TestServer.test_attributes"),
        ("acme/set-on-cls", "TestServer.test_attributes"),
        ("acme/local", "test_locals"), ("acme/module-constant", "test_locals"),
        ("acme/env-default", "test_locals"), ("acme/getenv-default", "test_locals"),
        ("acme/loop-a", "test_loop"), ("acme/loop-b", "test_loop"),
    }
    assert result.diagnostics == ()


def test_constants_of_a_project_module_outside_the_test_folder(tmp_path: Path) -> None:
    """sglang's way: `from sglang.test.test_utils import DEFAULT_MODEL` names a module under
    `python/`, beside the suite, which the scan reads for the constant only."""
    helper = tmp_path / "python" / "myproj" / "testing" / "utils.py"
    helper.parent.mkdir(parents=True)
    helper.write_text('DEFAULT_MODEL_FOR_TEST = "acme/from-helper"\n')
    result = scan(tmp_path, {"test_outside.py": """
        from myproj.testing.utils import DEFAULT_MODEL_FOR_TEST
        from myproj.testing import utils

        def test_server():
            popen_launch_server(DEFAULT_MODEL_FOR_TEST, "http://127.0.0.1:2000")
    """})
    assert loaded(result) == {("acme/from-helper", None, "server")}
    assert [r.file for r in result.references] == ["tests/test_outside.py"]
    assert result.files_scanned == 1


def test_an_unreadable_loader_argument_is_a_diagnostic_of_kind_call(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_unread.py": """
        from transformers import AutoModel

        def test_x(tmp_path):
            AutoModel.from_pretrained(f"acme/{size}")
    """})
    assert [(d.line, d.kind, d.message) for d in result.diagnostics] == [
        (5, "call", "AutoModel.from_pretrained: f-string `f'acme/{size}'` cannot be read "
                    "statically")]


def test_containers_registries_and_comma_joined_lists(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_containers.py": """
        MODELS = ["acme/list-a", "acme/list-b"]
        PAIRS = (("acme/tuple", "bf16"), ("acme/tuple-2", "fp32"))
        BY_TASK = {"acme/dict-key": "text", "chat": "acme/dict-value"}
        JOINED_MODELS = "acme/joined-a,acme/joined-b"
        REGISTRY = {
            "llama": Info("acme/registered", min_version="1.0"),
            "gated": Info("acme/not-downloaded", is_available_online=False),
        }
        DATASETS = ["acme/some-dataset"]
        MIME = ["text/plain", "image/png"]
        PLACEHOLDERS = ["org/model", "fake-org/x", "test_user/test_model", "acme/non-existent"]
        PATHS = ["tmp/out", "acme/config.json", "a/b/c"]
        ANSWER_MODELS = ["10/9", "2/5", "80/tcp"]
        GITHUB = "huggingface/transformers"

        def handle_tools_list(request): ...

        HANDLERS = {"tools/list": handle_tools_list, "acme/dispatched": "acme/handled-by"}
    """})
    assert loaded(result) == {(repo, None, "unknown") for repo in (
        "acme/list-a", "acme/list-b", "acme/tuple", "acme/tuple-2", "acme/dict-key",
        "acme/dict-value", "acme/joined-a", "acme/joined-b", "acme/registered",
        "acme/dispatched", "acme/handled-by")}, "a key that names a function: no model"
    assert {r.kind for r in result.references} == {"constant"}


def test_a_container_repo_a_call_loads_is_that_calls_reference_only(tmp_path: Path) -> None:
    """`MODELS` lists what a loop loads: each is one model, of the loop's loader, and a dataset
    loaded anywhere is never a model."""
    result = scan(tmp_path, {
        "test_a.py": """
            from transformers import AutoModel
            MODELS = ["acme/a", "acme/b", "acme/also-a-dataset"]

            def test_each():
                for model in MODELS:
                    AutoModel.from_pretrained(model)
        """,
        "test_b.py": """
            from datasets import load_dataset
            OTHER = ["acme/also-a-dataset", "acme/only-listed"]

            def test_data():
                load_dataset("acme/also-a-dataset")
        """})
    assert loaded(result) == {("acme/a", None, "transformers"), ("acme/b", None, "transformers"),
                              ("acme/also-a-dataset", None, "transformers"),
                              ("acme/only-listed", None, "unknown")}


def test_a_test_that_loads_a_dataset_needs_the_hub_when_it_runs(tmp_path: Path) -> None:
    """datasets reads huggingface_hub's offline switch (`datasets/config.py`: no
    `HF_DATASETS_OFFLINE`, then `HF_HUB_OFFLINE`), and no fetch brings a dataset: its tests,
    the parametrized ones each row, are network needs, which keep the run online."""
    result = scan(tmp_path, {"test_data.py": """
        import pytest
        from datasets import load_dataset
        from transformers import AutoTokenizer

        def test_model():
            AutoTokenizer.from_pretrained("acme/tok")

        def test_data():
            load_dataset("acme/squad-mini")

        @pytest.mark.parametrize("name", ["acme/rows-a", "acme/rows-b"])
        def test_rows(name):
            load_dataset(name)
    """})
    assert [(use.test, use.what) for use in result.run_time] == [
        ("test_data", "dataset acme/squad-mini"), ("test_rows", "dataset acme/rows-a"),
        ("test_rows", "dataset acme/rows-b")]
    assert network_needs(result, None, urls=True) == [NetworkNeed(
        "tests/test_data.py", None,
        ("dataset acme/squad-mini", "dataset acme/rows-a", "dataset acme/rows-b"))]

def test_parametrize_any_argname_by_the_shape_of_its_values(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_rows.py": """
        import pytest
        from transformers import AutoTokenizer

        @pytest.mark.parametrize("checkpoint", ["acme/tok-a", "acme/tok-b"])
        def test_loaded(checkpoint):
            AutoTokenizer.from_pretrained(checkpoint)

        @pytest.mark.parametrize("name, dtype", [("acme/passed-on", "bf16"), ("x/y/z", "fp16")])
        def test_passed_on(name, dtype):
            run_model_test(name, dtype)

        @pytest.mark.parametrize("mime", ["text/plain", "application/json"])
        def test_not_models(mime): ...

        @pytest.fixture(params=["acme/fixture-param"])
        def model_id(request):
            return request.param
    """})
    assert {(r.model.hf_repo, r.model.loader, r.line, r.test, r.kind)
            for r in result.references} == {
        ("acme/tok-a", "transformers", 5, "test_loaded", "call"),
        ("acme/tok-b", "transformers", 5, "test_loaded", "call"),
        ("acme/passed-on", "unknown", 9, "test_passed_on", "parametrize"),
        ("acme/fixture-param", "unknown", 16, "model_id", "parametrize"),
    }


def test_model_marks_argument_lists_and_blob_urls(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_rest.py": """
        import subprocess
        import pytest
        from diffusers import StableDiffusionPipeline

        SERVED = "acme/served"

        @pytest.mark.model("acme/marked")
        def test_marked(): ...

        def test_cli():
            subprocess.run(["vllm", "serve", "--model", SERVED, "--dtype", "half"])
            subprocess.run("vllm serve --model acme/in-text --port 8000", shell=True)

        def test_single_file():
            StableDiffusionPipeline.from_single_file(
                "https://huggingface.co/acme/sd/blob/main/sd.safetensors")
    """})
    assert {(m.hf_repo, m.hf_file, m.revision, m.loader) for m in result.models()} == {
        ("acme/marked", None, None, "unknown"), ("acme/served", None, None, "server"),
        ("acme/in-text", None, None, "server"),
        ("acme/sd", "sd.safetensors", "main", "diffusers"),
    }
    by_repo = {r.model.hf_repo: (r.test, r.kind, r.call) for r in result.references}
    assert by_repo["acme/marked"] == ("test_marked", "mark", None)
    assert by_repo["acme/served"] == ("test_cli", "call", "--model")
    assert by_repo["acme/sd"] == ("test_single_file", "url",
                                  "StableDiffusionPipeline.from_single_file")


def test_unreadable_loader_arguments_are_one_summary_line_unless_verbose(
    tmp_path: Path
) -> None:
    result = scan(tmp_path, {"test_many.py": """
        from transformers import AutoModel

        def helper(path, name):
            AutoModel.from_pretrained(path)
            AutoModel.from_pretrained(name)
            AutoModel.from_pretrained(f"acme/{name}")

        def test_llama(server, repo):
            server.model_hf_repo = repo
    """})

    def printed(verbosity: str) -> list[str]:
        log.setup(verbosity)
        out = io.StringIO()
        print_scan(result, Console(file=out, width=300))
        return [line for line in out.getvalue().splitlines() if "warning" in line]

    try:
        assert printed("normal") == [
            "tests/test_many.py:10: warning: model repo: function argument `repo` cannot be "
            "followed statically",
            "warning: 3 loader calls name a model the scan cannot read: 2 function argument, "
            "1 f-string (--verbosity verbose lists each)"]
        assert len(printed("verbose")) == 4
    finally:
        log.setup("normal")


def test_what_only_looks_like_a_model_is_none(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_precision.py": """
        from datasets import load_dataset
        from huggingface_hub import hf_hub_download, snapshot_download
        from transformers import AutoModel

        BASES = ["ghcr.io/acme/server:latest", "docker.io/library/python:3.12"]

        def test_not_models(tmp_path):
            load_dataset("acme/squad-mini")
            hf_hub_download("acme/data", "train.csv", repo_type="dataset")
            snapshot_download("acme/demo-space", repo_type="space")
            AutoModel.from_pretrained("org/model")
            AutoModel.from_pretrained("fake-org/tiny")
            AutoModel.from_pretrained("test_user/test_model")
            AutoModel.from_pretrained("/srv/models/acme")
            AutoModel.from_pretrained("./checkpoints/acme")
            AutoModel.from_pretrained("models/acme-tiny")
            AutoModel.from_pretrained("acme/does-not-exist")
            AutoModel.from_pretrained("checkpoint")
    """})
    assert result.models() == []


def test_places_that_say_a_repo_is_a_model(tmp_path: Path) -> None:
    """diffusers' and trl's shapes: a class attribute, a property, an argument default, a
    keyword named for a model, unittest's `parameterized.expand`, a tuple assignment."""
    result = scan(tmp_path, {"test_places.py": """
        from parameterized import parameterized

        class TestModular:
            pretrained_model_name_or_path = "acme/class-attribute"
            output_dir = "acme/not-a-model-dir"

            @property
            def repo_id(self):
                return "acme/returned"

            def get_vae(self, model_id="acme/default"):
                return load_it(model_id)

            def test_keyword(self):
                make(config="acme/keyword", dataset_name="acme/a-dataset")
                card = ModelCardData(model_id="acme/pushed-to")
                cls_, text_encoder_id = Encoder, "acme/tuple-assigned"

            @parameterized.expand(["acme/expanded-a", "acme/expanded-b"])
            def test_expanded(self, repo): ...
    """})
    assert {(r.model.hf_repo, r.test, r.kind) for r in result.references} == {
        ("acme/class-attribute", "TestModular", "constant"),
        ("acme/returned", "TestModular.repo_id", "constant"),
        ("acme/default", "TestModular.get_vae", "constant"),
        ("acme/keyword", "TestModular.test_keyword", "constant"),
        ("acme/tuple-assigned", "TestModular.test_keyword", "constant"),
        ("acme/expanded-a", "TestModular.test_expanded", "parametrize"),
        ("acme/expanded-b", "TestModular.test_expanded", "parametrize"),
    }
    assert {m.loader for m in result.models()} == {"unknown"}


def test_more_calls_and_values_that_load_models(tmp_path: Path) -> None:
    result = scan(tmp_path, {"test_more.py": """
        import os
        import pytest
        from datasets import load_dataset
        from diffusers import DiffusionPipeline
        from trl import DPOTrainer

        def test_trainer():
            DPOTrainer(model="acme/policy", ref_model="acme/reference")

        def test_download_and_lists(pipeline, launcher):
            DiffusionPipeline.download("acme/downloaded")
            pipeline.load_ip_adapter(["acme/ip-a", "acme/ip-b"], subfolder=["", "x"])
            launcher("acme/served", lora_adapters=["acme/lora-a", "acme/lora-b"])

        def test_either(xpu):
            repo_id = "acme/on-xpu" if xpu else "acme/elsewhere"
            snapshot_download(repo_id=repo_id)

        @pytest.mark.parametrize("dataset_id", ["acme/data-a"])
        def test_data(dataset_id):
            load_dataset(dataset_id)
    """})
    assert loaded(result) == {
        ("acme/policy", None, "transformers"), ("acme/reference", None, "transformers"),
        ("acme/downloaded", None, "diffusers"), ("acme/ip-a", None, "diffusers"),
        ("acme/ip-b", None, "diffusers"), ("acme/served", None, "server"),
        ("acme/lora-a", None, "server"), ("acme/lora-b", None, "server"),
        ("acme/on-xpu", None, "hub_snapshot"), ("acme/elsewhere", None, "hub_snapshot"),
    }
