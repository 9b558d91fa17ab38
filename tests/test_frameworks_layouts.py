"""The rules for sentence-transformers, diffusers, inference servers, an unknown call and a
configured override, on repo layouts copied from well-known Hub repos (file names as listed
on the Hub; the small files' content as those repos have it)."""

from __future__ import annotations

import pytest

from scanner.frameworks import FrameworkError, plan_files
from scanner.frameworks.common import FilePlan
from scanner.frameworks.sentence_transformers import TRANSFORMER_CONFIGS
from scanner.models import LoadCall, Loader
from tests.hf_repos import Files, as_json, listing, reader, sharded, transformers_repo

REPO = "org/tiny"
ST_TYPE = "sentence_transformers.models."
#: sentence-transformers/all-MiniLM-L6-v2's layout, plus a Dense module with both formats.
SENTENCE: Files = {
    "modules.json": as_json([
        {"idx": 0, "name": "0", "path": "", "type": ST_TYPE + "Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": ST_TYPE + "Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": ST_TYPE + "Dense"},
        {"idx": 3, "name": "3", "path": "3_Normalize", "type": ST_TYPE + "Normalize"},
    ]),
    "config_sentence_transformers.json": b"{}", "sentence_bert_config.json": b"{}",
    "README.md": b"# card", "config.json": b"{}", "model.safetensors": b"w",
    "tokenizer.json": b"{}", "tokenizer_config.json": b"{}", "special_tokens_map.json": b"{}",
    "vocab.txt": b"a", "1_Pooling/config.json": b"{}", "2_Dense/config.json": b"{}",
    "2_Dense/model.safetensors": b"w", "2_Dense/pytorch_model.bin": b"p",
    "pytorch_model.bin": b"p", "rust_model.ot": b"r", "tf_model.h5": b"h", "onnx/model.onnx": b"o",
    "openvino/openvino_model.bin": b"o", "openvino/openvino_model.xml": b"o",
    "data_config.json": b"{}", "train_script.py": b"",
}  # fmt: skip
SENTENCE_READS = [
    "modules.json", "config_sentence_transformers.json", "README.md",
    "sentence_bert_config.json", "config.json", "tokenizer_config.json", "tokenizer.json",
    "special_tokens_map.json", "vocab.txt", "model.safetensors", "1_Pooling/config.json",
    "2_Dense/config.json", "2_Dense/model.safetensors",
]  # fmt: skip

#: A Stable Diffusion pipeline's layout (runwayml style), fp16 variants beside full ones.
INDEX = {
    "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1",
    "feature_extractor": ["transformers", "CLIPImageProcessor"], "safety_checker": [None, None],
    "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"], "requires_safety_checker": False,
}  # fmt: skip
DIFFUSION: Files = {
    "model_index.json": as_json(INDEX), "README.md": b"#",
    "v1-5-pruned-emaonly.safetensors": b"w", "v1-5-pruned.ckpt": b"w",
    "feature_extractor/preprocessor_config.json": b"{}", "scheduler/scheduler_config.json": b"{}",
    "text_encoder/config.json": b"{}", "text_encoder/model.safetensors": b"w",
    "text_encoder/model.fp16.safetensors": b"w", "text_encoder/pytorch_model.bin": b"w",
    "text_encoder/flax_model.msgpack": b"w",
    "tokenizer/merges.txt": b"", "tokenizer/vocab.json": b"{}",
    "tokenizer/special_tokens_map.json": b"{}", "tokenizer/tokenizer_config.json": b"{}",
    "unet/config.json": b"{}", "unet/diffusion_pytorch_model.safetensors": b"w",
    "unet/diffusion_pytorch_model.fp16.safetensors": b"w",
    "unet/diffusion_pytorch_model.bin": b"w", "unet/diffusion_pytorch_model.non_ema.bin": b"w",
    "vae/config.json": b"{}", "vae/diffusion_pytorch_model.safetensors": b"w",
    "vae/diffusion_pytorch_model.bin": b"w",
}  # fmt: skip
DIFFUSION_COMMON = {
    "model_index.json", "feature_extractor/preprocessor_config.json",
    "scheduler/scheduler_config.json", "text_encoder/config.json", "tokenizer/merges.txt",
    "tokenizer/vocab.json", "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer_config.json", "unet/config.json", "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
}  # fmt: skip


def plan(files: Files, loader: Loader, **call: object) -> FilePlan:
    return plan_files(LoadCall(loader=loader, repo=REPO, **call),  # type: ignore[arg-type]
                      listing(REPO, files), reader(files))  # fmt: skip


def test_sentence_transformers_reads_its_modules_and_no_other_format() -> None:
    assert plan(SENTENCE, "sentence_transformers").paths() == SENTENCE_READS


def test_sentence_transformers_without_modules_json_loads_a_transformers_model() -> None:
    got = plan(transformers_repo(), "sentence_transformers").paths()
    assert "model.safetensors" in got and "tokenizer.json" in got and "pytorch_model.bin" not in got


def test_sentence_transformers_refuses_modules_outside_the_repo() -> None:
    bad = {**SENTENCE, "modules.json": as_json([{"path": "../x", "type": "Pooling"}])}
    with pytest.raises(FrameworkError, match=r"modules\.json names a module outside the repo"):
        plan(bad, "sentence_transformers")


def test_a_diffusion_pipeline_reads_each_component_and_its_safetensors() -> None:
    got = set(plan(DIFFUSION, "diffusers", class_name="StableDiffusionPipeline").paths())
    assert got == DIFFUSION_COMMON | {"text_encoder/model.safetensors",
                                      "unet/diffusion_pytorch_model.safetensors"}



@pytest.mark.parametrize("ignored", [3, [{"file": "x"}]])
def test_a_model_index_whose_ignore_files_are_no_names_is_refused(ignored: object) -> None:
    """It was a TypeError traceback out of the fetch."""
    bad = {**DIFFUSION, "model_index.json": as_json({**INDEX, "_ignore_files": ignored})}
    with pytest.raises(FrameworkError, match=r"model_index\.json: _ignore_files is not a list"):
        plan(bad, "diffusers", class_name="StableDiffusionPipeline")

def test_a_diffusion_variant_where_the_component_has_it_else_the_full_weights() -> None:
    got = set(plan(DIFFUSION, "diffusers", variant="fp16").paths())
    assert got == DIFFUSION_COMMON | {"text_encoder/model.fp16.safetensors",
                                      "unet/diffusion_pytorch_model.fp16.safetensors"}
    with pytest.raises(FrameworkError, match="no weights of variant 'int8'"):
        plan(DIFFUSION, "diffusers", variant="int8")


def test_a_diffusion_pipeline_falls_back_to_pickles_when_a_component_lacks_safetensors() -> None:
    files = {k: v for k, v in DIFFUSION.items() if k != "vae/diffusion_pytorch_model.safetensors"}
    got = set(plan(files, "diffusers").paths())
    assert {"vae/diffusion_pytorch_model.bin", "unet/diffusion_pytorch_model.bin"} <= got
    assert not any(p.endswith(".safetensors") for p in got)
    with pytest.raises(FrameworkError, match="a component has no safetensors weights"):
        plan(files, "diffusers", use_safetensors=True)


def test_a_diffusers_component_or_scheduler_alone() -> None:
    unet = plan(DIFFUSION, "diffusers", class_name="UNet2DConditionModel", subfolder="unet")
    assert unet.paths() == ["unet/config.json", "unet/diffusion_pytorch_model.safetensors"]
    fp16 = plan(DIFFUSION, "diffusers", class_name="AutoencoderKL", subfolder="unet",
                variant="fp16")
    assert fp16.paths()[-1] == "unet/diffusion_pytorch_model.fp16.safetensors"
    sched = plan(DIFFUSION, "diffusers", class_name="PNDMScheduler", subfolder="scheduler")
    assert sched.paths() == ["scheduler/scheduler_config.json"]


#: mistralai/Mistral-7B-Instruct-v0.3's layout: HF shards, the Mistral-format consolidated file,
#: its params.json and tekken-style tokenizer, and nothing from original/ or training.
MISTRAL: Files = {
    **sharded("", {"model-00001-of-00002.safetensors": ["a"],
                   "model-00002-of-00002.safetensors": ["b"]}),
    "consolidated.safetensors": b"w", "params.json": b"{}", "tokenizer.model.v3": b"t",
    "tokenizer.json": b"{}", "tokenizer_config.json": b"{}", "config.json": b"{}",
    "generation_config.json": b"{}", "special_tokens_map.json": b"{}", "README.md": b"#",
    "original/consolidated.00.pth": b"p", "original/params.json": b"{}",
    "training_args.bin": b"t", "optimizer.pt": b"o", "pytorch_model.bin": b"p",
}  # fmt: skip


def test_a_server_reads_configs_tokenizer_and_indexed_and_consolidated_safetensors() -> None:
    got = set(plan(MISTRAL, "server").paths())
    assert got == {"model.safetensors.index.json", "model-00001-of-00002.safetensors",
                   "model-00002-of-00002.safetensors", "consolidated.safetensors", "params.json",
                   "tokenizer.model.v3", "tokenizer.json", "tokenizer_config.json", "config.json",
                   "generation_config.json", "special_tokens_map.json"}  # fmt: skip
    single = set(plan(transformers_repo(), "server").paths())
    assert "model.safetensors" in single and not single & {"pytorch_model.bin", "original/x"}


def test_an_unknown_call_reads_what_the_layout_says() -> None:
    assert set(plan(SENTENCE, "unknown").paths()) >= set(SENTENCE_READS)
    assert set(plan(DIFFUSION, "unknown").paths()) >= DIFFUSION_COMMON
    got = set(plan(MISTRAL, "unknown").paths())
    assert got == set(plan(MISTRAL, "server").paths())
    tokenizer_only = plan(DIFFUSION, "unknown", subfolder="tokenizer").paths()
    assert "tokenizer/vocab.json" in tokenizer_only


def test_an_override_replaces_the_rule_for_matching_repos() -> None:
    overrides = {"other/*": ["*.gguf"], "ORG/*": ["*.json", "onnx/*"]}
    call = LoadCall(loader="transformers", repo=REPO, class_name="AutoModel")
    files = transformers_repo()
    got = plan_files(call, listing(REPO, files), reader(files), overrides=overrides)
    assert got.paths() == sorted(p for p in files if p.endswith(".json") or
                                 p.startswith("onnx/"))  # fmt: skip
    assert all(p.reason == "override 'ORG/*'" for p in got.files)
    with pytest.raises(FrameworkError, match=r"override 'org/\*': no file matches \*\.pt"):
        plan_files(call, listing(REPO, files), reader(files), overrides={"org/*": ["*.pt"]})


def test_the_listing_must_be_the_calls_repo() -> None:
    with pytest.raises(ValueError, match="listing of other/repo given for org/tiny"):
        plan_files(LoadCall(loader="server", repo=REPO), listing("other/repo", {}), reader({}))


def test_only_the_small_files_a_rule_needs_are_read() -> None:
    read = reader(DIFFUSION)
    plan_files(LoadCall(loader="diffusers", repo=REPO), listing(REPO, DIFFUSION), read)
    assert read.asked == ["model_index.json"]
    read = reader(SENTENCE)
    plan_files(LoadCall(loader="sentence_transformers", repo=REPO), listing(REPO, SENTENCE), read)
    assert read.asked == ["modules.json"]


#: A pipeline with a sharded text encoder, ONNX copies, a custom component and the root files
#: a flat (transformers-style) component keeps.
SHARDED_DIFFUSION: Files = {
    **DIFFUSION,
    "model_index.json": as_json({**INDEX, "unet": ["my_unet", "MyUNet"]}),
    "unet/my_unet.py": b"", "unet/model.onnx": b"o", "unet/weights.pb": b"o",
    "text_encoder/model.safetensors.index.json": b"{}",
    "text_encoder/model-00001-of-00002.safetensors": b"w",
    "text_encoder/model-00002-of-00002.safetensors": b"w",
    "text_encoder/pytorch_model.bin.index.json": b"{}",
    **{name: b"{}" for name in ("config.json", "scheduler_config.json", "generation_config.json",
                                "preprocessor_config.json", "processor_config.json",
                                "tokenizer.json", "tokenizer_config.json")},
    "chat_template.jinja": b"", "pipeline.py": b"", "other.py": b"",
}  # fmt: skip
SHARDED_EXTRA = {
    "unet/my_unet.py", "text_encoder/model.safetensors.index.json",
    "text_encoder/model-00001-of-00002.safetensors",
    "text_encoder/model-00002-of-00002.safetensors", "config.json", "scheduler_config.json",
    "generation_config.json", "preprocessor_config.json", "processor_config.json",
    "tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "pipeline.py",
}  # fmt: skip


def test_a_pipeline_with_shards_onnx_copies_custom_code_and_root_configs() -> None:
    got = plan(SHARDED_DIFFUSION, "diffusers")
    assert set(got.paths()) == DIFFUSION_COMMON | SHARDED_EXTRA | {
        "text_encoder/model.safetensors", "unet/diffusion_pytorch_model.safetensors"}
    assert {p.reason for p in got.files} == {"DiffusionPipeline.download"}
    onnx = set(plan(SHARDED_DIFFUSION, "diffusers", class_name="OnnxStableDiffusionPipeline")
               .paths())  # fmt: skip
    assert {"unet/model.onnx", "unet/weights.pb"} <= onnx


def test_pickles_of_every_component_kind_when_safetensors_are_incomplete() -> None:
    files = {k: v for k, v in SHARDED_DIFFUSION.items()
             if k != "vae/diffusion_pytorch_model.safetensors"}  # fmt: skip
    got = set(plan(files, "diffusers").paths())
    assert {"text_encoder/pytorch_model.bin", "text_encoder/pytorch_model.bin.index.json",
            "unet/diffusion_pytorch_model.bin"} <= got  # fmt: skip
    assert not got & {"text_encoder/flax_model.msgpack", "unet/model.onnx", "unet/weights.pb"}


def test_a_component_alone_falls_back_to_its_pickle_and_says_why_each_file() -> None:
    unet = plan(DIFFUSION, "diffusers", class_name="UNet2DConditionModel", subfolder="unet",
                use_safetensors=False)
    assert [(p.file.path, p.reason) for p in unet.files] == [
        ("unet/config.json", "ModelMixin.from_pretrained"),
        ("unet/diffusion_pytorch_model.bin", "from_pretrained")]
    shard = "diffusion_pytorch_model-00001-of-00001.safetensors"
    sharded_unet = {"unet/config.json": b"{}",
                    **sharded("unet/", {shard: ["a"]}, name="diffusion_pytorch_model.safetensors")}
    assert plan(sharded_unet, "diffusers", class_name="UNet2DModel", subfolder="unet").paths() == [
        "unet/config.json", "unet/diffusion_pytorch_model.safetensors.index.json",
        "unet/diffusion_pytorch_model-00001-of-00001.safetensors"]
    sched = plan(DIFFUSION, "diffusers", class_name="DDIMScheduler", subfolder="scheduler")
    assert sched.files[0].reason == "SchedulerMixin"


@pytest.mark.parametrize("name", TRANSFORMER_CONFIGS)
def test_a_transformer_module_reads_the_first_of_its_config_names(name: str) -> None:
    modules = as_json([{"path": "0_Transformer", "type": ST_TYPE + "Transformer"},
                       {"path": "1_Pooling", "type": ST_TYPE + "Pooling"}])
    later = TRANSFORMER_CONFIGS[-1] if name != TRANSFORMER_CONFIGS[-1] else None
    files = {"modules.json": modules, "0_Transformer/config.json": b"{}",
             "0_Transformer/model.safetensors": b"w", f"0_Transformer/{name}": b"{}",
             "1_Pooling/config.json": b"{}", "1_Pooling/extra/deep.json": b"{}",
             **({f"0_Transformer/{later}": b"{}"} if later else {})}  # fmt: skip
    got = plan(files, "sentence_transformers")
    reasons = {p.file.path: p.reason for p in got.files}
    assert reasons == {
        "modules.json": "BaseModel._load_modules",
        f"0_Transformer/{name}": "Transformer.load_config",
        "0_Transformer/config.json": "PretrainedConfig.from_pretrained",
        "0_Transformer/model.safetensors": "from_pretrained",
        "1_Pooling/config.json": "module 1_Pooling: load_dir_path",
        "1_Pooling/extra/deep.json": "module 1_Pooling: load_dir_path",
    }
    del files["0_Transformer/config.json"]
    with pytest.raises(FrameworkError, match=r"0_Transformer/config\.json is not in the repo"):
        plan(files, "sentence_transformers")


@pytest.mark.parametrize(("modules", "problem"), [
    (b'{"path": ""}', "modules.json is not a list of modules"),
    (b'["0_Transformer"]', "modules.json is not a list of modules"),
    (b'[{"path": "/etc", "type": "x.Pooling"}]',
     "modules.json names a module outside the repo: '/etc'"),
])  # fmt: skip
def test_a_modules_json_that_names_no_module_in_the_repo_is_refused(
    modules: bytes, problem: str
) -> None:
    with pytest.raises(FrameworkError, match=f"sentence_transformers\\): {problem}"):
        plan({**SENTENCE, "modules.json": modules}, "sentence_transformers")


def test_the_model_card_and_the_sentence_config_say_why() -> None:
    reasons = {p.file.path: p.reason for p in plan(SENTENCE, "sentence_transformers").files}
    assert reasons["config_sentence_transformers.json"] == "_load_config_modules"
    assert reasons["README.md"] == "_load_config_modules: the model card"


def test_a_server_skips_training_files_and_falls_back_to_pickles() -> None:
    files = {"config.json": b"{}", "trainer_state.json": b"{}", "pytorch_model.bin": b"p",
             "training_args.bin": b"t", "optimizer.pt": b"o", "modeling_x.py": b""}
    got = plan(files, "server", trust_remote_code=True)
    assert {p.file.path: p.reason for p in got.files} == {
        "config.json": "server: get_hf_file_to_dict",
        "modeling_x.py": "server: trust_remote_code",
        "pytorch_model.bin": "server: download_weights_from_hf",
    }
    reasons = {p.file.path: p.reason for p in plan(MISTRAL, "server").files}
    assert reasons["consolidated.safetensors"] == "server: consolidated weights (Mistral format)"
