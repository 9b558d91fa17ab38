"""A framework reference becomes the load call whose rule picks its files."""

from __future__ import annotations

from scanner.frameworks.calls import class_name, load_call, load_calls
from scanner.models import HuggingFaceModel, LoadCall, ModelReference


def ref(loader: str, call: str, *, hf_file: str | None = None, revision: str | None = None,
        **options: str) -> ModelReference:
    model = HuggingFaceModel(hf_repo="org/tok", hf_file=hf_file, revision=revision,
                             loader=loader)  # type: ignore[arg-type]
    return ModelReference(model=model, file="test_x.py", line=3, test="test_x", kind="call",
                          call=call, options=tuple(sorted(options.items())))


def test_the_class_a_from_pretrained_is_called_on_picks_the_parts() -> None:
    assert class_name("AutoTokenizer.from_pretrained") == "AutoTokenizer"
    assert class_name("transformers.AutoConfig.from_pretrained") == "AutoConfig"
    assert class_name("pipeline") == "pipeline"
    assert class_name("models.Transformer") == "Transformer"
    assert class_name(None) is None


def test_keywords_are_read_from_their_json_text() -> None:
    call = load_call(ref("transformers", "AutoModel.from_pretrained", revision="v1",
                         subfolder='"text"', variant='"fp16"', use_safetensors="true",
                         trust_remote_code="true"))
    assert call == LoadCall(loader="transformers", repo="org/tok", class_name="AutoModel",
                            revision="v1", subfolder="text", variant="fp16",
                            use_safetensors=True, trust_remote_code=True)


def test_hf_hub_download_reads_the_file_the_scan_joined_with_its_subfolder() -> None:
    call = load_call(ref("hub_file", "hf_hub_download", hf_file="onnx/model.onnx",
                         subfolder='"onnx"'))
    assert call is not None
    assert (call.loader, call.filename, call.subfolder) == ("hub_file", "onnx/model.onnx", None)


def test_snapshot_patterns_take_one_pattern_or_a_list() -> None:
    call = load_call(ref("hub_snapshot", "snapshot_download", allow_patterns='"*.json"',
                         ignore_patterns='["*.bin", "onnx/*"]'))
    assert call is not None
    assert call.allow_patterns == ("*.json",)
    assert call.ignore_patterns == ("*.bin", "onnx/*")


def test_adapters_read_their_named_file_or_the_conservative_set() -> None:
    named = load_call(ref("diffusers", "pipe.load_lora_weights", hf_file="lora.safetensors"))
    unnamed = load_call(ref("diffusers", "pipe.load_lora_weights"))
    peft = load_call(ref("transformers", "PeftModel.from_pretrained"))
    pipeline = load_call(ref("diffusers", "StableDiffusionPipeline.from_pretrained"))
    assert named is not None and (named.loader, named.filename) == ("hub_file",
                                                                    "lora.safetensors")
    assert unnamed is not None and unnamed.loader == "unknown"
    assert peft is not None and peft.loader == "unknown"
    assert pipeline is not None and pipeline.loader == "diffusers"


def test_one_call_per_distinct_load_and_none_for_llama_cpp_names() -> None:
    refs = [ref("transformers", "AutoTokenizer.from_pretrained"),
            ref("transformers", "AutoConfig.from_pretrained"),
            ref("transformers", "AutoTokenizer.from_pretrained")]
    llama = ModelReference(model=HuggingFaceModel(hf_repo="org/x-GGUF"), file="t.py", line=1,
                           test="t", kind="keyword")
    assert [c.class_name for c in load_calls([*refs, llama])] == ["AutoTokenizer", "AutoConfig"]
    assert load_call(llama) is None
