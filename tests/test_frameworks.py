"""Which files each framework's rule plans, on repo layouts as the Hub has them (no download:
the listing and the small files' content are given; tests/test_frameworks_offline.py loads the
planned files with the real libraries)."""

from __future__ import annotations

import pytest

from scanner.frameworks import FrameworkError, plan_files
from scanner.frameworks.common import FilePlan
from scanner.frameworks.transformers import parts_for_class
from scanner.models import LoadCall, Loader
from tests.hf_repos import (
    DECOYS,
    Files,
    as_json,
    config_files,
    listing,
    reader,
    safetensors_file,
    sharded,
    transformers_repo,
)

REPO = "org/tiny"
TOKENIZER = ["tokenizer_config.json", "tokenizer.json", "special_tokens_map.json",
             "chat_template.jinja", "additional_chat_templates/tool_use.jinja"]  # fmt: skip


def plan(files: Files, loader: Loader = "transformers", **call: object) -> FilePlan:
    return plan_files(LoadCall(loader=loader, repo=REPO, **call),  # type: ignore[arg-type]
                      listing(REPO, files), reader(files))  # fmt: skip


@pytest.mark.parametrize(("class_name", "parts"), [
    ("AutoConfig", ("config",)), ("BertConfig", ("config",)),
    ("GenerationConfig", ("generation",)),
    ("AutoTokenizer", ("config", "tokenizer")),
    ("PreTrainedTokenizerFast", ("config", "tokenizer")),
    ("AutoImageProcessor", ("config", "processor")),
    ("AutoFeatureExtractor", ("config", "processor")),
    ("AutoProcessor", ("config", "tokenizer", "processor")),
    ("WhisperProcessor", ("config", "tokenizer", "processor")),
    ("AutoModelForCausalLM", ("config", "generation", "weights")),
    ("BertModel", ("config", "generation", "weights")),
    ("T5ForConditionalGeneration", ("config", "generation", "weights")),
    ("TFAutoModel", ("config", "generation", "weights")),
    ("AutoVideoProcessor", ("config", "processor")),
    ("ViTImageProcessorFast", ("config", "processor")),
    ("SomethingElse", ("config", "generation", "tokenizer", "processor", "weights")),
    ("pipeline", ("config", "generation", "tokenizer", "processor", "weights")),
    (None, ("config", "generation", "tokenizer", "processor", "weights")),
])  # fmt: skip
def test_the_class_says_which_parts_are_read(class_name: str | None, parts: tuple[str]) -> None:
    assert parts_for_class(class_name) == parts


def test_a_tokenizer_reads_its_files_and_the_config_never_weights() -> None:
    got = plan(transformers_repo(), class_name="AutoTokenizer")
    assert got.paths() == ["config.json", *TOKENIZER]
    assert {"added_tokens.json", "vocab.txt", "tokenizer.model"} <= set(got.absent)
    assert all(p.reason.startswith(("PreTrainedTokenizerBase", "PretrainedConfig",
                                    "list_repo_templates")) for p in got.files)  # fmt: skip


def test_a_slow_tokenizer_reads_the_vocab_files_present() -> None:
    files = {"tokenizer_config.json": b"{}", "vocab.json": b"{}", "merges.txt": b"",
             "spiece.model": b"x", "tokenizer.model.v3": b"x", "vocab.bin": b"x"}
    got = plan(files, class_name="GPT2Tokenizer").paths()
    assert got == ["tokenizer_config.json", "vocab.json", "merges.txt", "spiece.model",
                   "tokenizer.model.v3"]  # fmt: skip


def test_a_model_reads_config_generation_config_and_the_safetensors_only() -> None:
    got = plan(transformers_repo(), class_name="AutoModelForCausalLM")
    assert got.paths() == ["config.json", "generation_config.json", "model.safetensors"]


def test_a_sharded_model_reads_exactly_the_shards_its_index_names() -> None:
    files = transformers_repo(shards=True)
    got = plan(files, class_name="AutoModel")
    assert got.paths() == ["config.json", "generation_config.json", "model.safetensors.index.json",
                           "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert "model.safetensors" in got.absent  # asked first, as `cached_file` does


def test_pickled_weights_only_when_no_safetensors_exist_or_when_asked() -> None:
    files = {**config_files(), "pytorch_model.bin": b"pickle", "tf_model.h5": b"h5"}
    assert plan(files, class_name="AutoModel").paths()[-1] == "pytorch_model.bin"
    both = transformers_repo()
    assert plan(both, class_name="AutoModel", use_safetensors=False).paths()[-1] == (
        "pytorch_model.bin")
    bin_shards = {**config_files(), **sharded("", {"pytorch_model-00001-of-00001.bin": ["a"]},
                                             name="pytorch_model.bin")}
    assert plan(bin_shards, class_name="AutoModel").paths()[-2:] == [
        "pytorch_model.bin.index.json", "pytorch_model-00001-of-00001.bin"]


def test_variant_and_subfolder_rename_and_prefix_every_weight_name() -> None:
    files = {**config_files("text_encoder/"), **DECOYS,
             "text_encoder/model.safetensors": safetensors_file(0, ["a"]),
             **sharded("text_encoder/", {"model.fp16-00001-of-00001.safetensors": ["a"]},
                       name="model.safetensors")}
    files["text_encoder/model.safetensors.index.fp16.json"] = files.pop(
        "text_encoder/model.safetensors.index.json")
    got = plan(files, class_name="CLIPTextModel", subfolder="text_encoder", variant="fp16")
    assert got.paths() == ["text_encoder/config.json", "text_encoder/generation_config.json",
                           "text_encoder/model.safetensors.index.fp16.json",
                           "text_encoder/model.fp16-00001-of-00001.safetensors"]


def test_missing_weights_and_broken_indexes_name_the_repo_and_the_file() -> None:
    with pytest.raises(FrameworkError, match=r"org/tiny \(transformers AutoModel\): no weights: "
                       r"none of model\.safetensors, .*pytorch_model\.bin\.index\.json in /"):
        plan(config_files(), class_name="AutoModel")
    with pytest.raises(FrameworkError, match=r"config\.json is not in the repo"):
        plan({"model.safetensors": b"x"}, class_name="AutoModel")
    index = {"model.safetensors.index.json": as_json({"weight_map": {"a": "gone.safetensors"}})}
    with pytest.raises(FrameworkError, match=r"gone\.safetensors is not in the repo "
                                             r"\(get_checkpoint_shard_files: named by model"):
        plan({**config_files(), **index}, class_name="AutoModel")
    broken = {"model.safetensors.index.json": b"{not json"}
    with pytest.raises(FrameworkError, match=r"model\.safetensors\.index\.json is not valid JSON"):
        plan({**config_files(), **broken}, class_name="AutoModel")
    with pytest.raises(FrameworkError, match=r"none of model\.safetensors, model\.safetensors\."):
        plan({**config_files(), "pytorch_model.bin": b"x"}, class_name="AutoModel",
             use_safetensors=True)


def test_remote_code_and_gguf_file() -> None:
    files = {**transformers_repo(), "modeling_tiny.py": b"", "configuration_tiny.py": b"",
             "sub/other.py": b""}
    got = plan(files, class_name="AutoModel", trust_remote_code=True).paths()
    assert {"modeling_tiny.py", "configuration_tiny.py"} <= set(got) and "sub/other.py" not in got
    assert not any(p.endswith(".py") for p in plan(files, class_name="AutoModel").paths())
    gguf = plan(files, class_name="AutoModelForCausalLM", filename="model-Q4_K_M.gguf")
    assert gguf.paths() == ["model-Q4_K_M.gguf"]


def test_hf_hub_download_is_exactly_its_file() -> None:
    files = transformers_repo()
    got = plan(files, "hub_file", filename="model.onnx", subfolder="onnx")
    assert got.paths() == ["onnx/model.onnx"] and got.absent == ()
    with pytest.raises(FrameworkError, match=r"org/tiny \(hub_file\): onnx/nope\.onnx is "
                                             r"not in the repo"):
        plan(files, "hub_file", filename="nope.onnx", subfolder="onnx")


def test_a_config_class_alone_needs_its_file_and_reads_nothing_else() -> None:
    files = transformers_repo()
    assert plan(files, class_name="GenerationConfig").paths() == ["generation_config.json"]
    del files["generation_config.json"], files["config.json"]
    with pytest.raises(FrameworkError, match=r"generation_config\.json is not in the repo"):
        plan(files, class_name="GenerationConfig")
    with pytest.raises(FrameworkError, match=r"\(transformers AutoConfig\): config\.json is not"):
        plan(files, class_name="AutoConfig")
    assert plan(files, class_name="AutoTokenizer").paths() == TOKENIZER  # a miss is allowed


def test_every_vocabulary_and_processor_file_a_class_may_read_is_planned_in_its_folder() -> None:
    from scanner.frameworks.transformers import PROCESSOR_FILES, VOCAB_FILES

    names = [*VOCAB_FILES, "tokenizer.model.v7", *PROCESSOR_FILES]
    files = {**config_files("sub/"), **{f"sub/{n}": b"x" for n in names}}
    assert len(set(VOCAB_FILES)) == 25 and len(set(PROCESSOR_FILES)) == 5
    got = plan(files, class_name="AutoProcessor", subfolder="sub").paths()
    assert sorted(got) == sorted(["sub/config.json", *(f"sub/{n}" for n in names)])
    assert not any("preprocessor" in p for p in plan(files, class_name="AutoTokenizer",
                                                      subfolder="sub").paths())  # fmt: skip


def test_each_file_says_which_function_reads_it() -> None:
    files = {**transformers_repo(shards=True), "preprocessor_config.json": b"{}",
             "modeling_tiny.py": b""}
    got = plan(files, class_name="pipeline", trust_remote_code=True)
    reasons = {p.file.path: p.reason for p in got.files}
    assert reasons["config.json"] == "PretrainedConfig.from_pretrained"
    assert reasons["generation_config.json"] == "GenerationConfig.from_pretrained"
    assert reasons["tokenizer.json"] == "PreTrainedTokenizerBase.from_pretrained"
    assert reasons["additional_chat_templates/tool_use.jinja"] == "list_repo_templates"
    assert reasons["preprocessor_config.json"] == "ProcessorMixin.from_pretrained"
    assert reasons["model.safetensors.index.json"] == (
        "get_checkpoint_shard_files: the shard index")
    assert reasons["model-00002-of-00002.safetensors"] == (
        "get_checkpoint_shard_files: named by model.safetensors.index.json")
    assert reasons["modeling_tiny.py"] == "trust_remote_code: get_class_from_dynamic_module"
    single = plan(transformers_repo(), class_name="AutoModel").files[-1]
    assert (single.file.path, single.reason) == ("model.safetensors", "from_pretrained")
    gguf = plan(files, class_name="AutoModel", filename="model-Q4_K_M.gguf").files[0]
    assert gguf.reason == "gguf_file: config, tokenizer and weights"


@pytest.mark.parametrize("index", [b"[]", b'{"weight_map": {}}', b'{"weight_map": ["a"]}'])
def test_an_index_without_a_weight_map_is_an_error_naming_it(index: bytes) -> None:
    files = {**config_files(), "model.safetensors.index.json": index}
    with pytest.raises(FrameworkError, match=r"model\.safetensors\.index\.json has no weight_map"):
        plan(files, class_name="AutoModel")
