"""Each test loads `example-org/tiny-causal` as a project would; run offline after a fetch."""

from huggingface_hub import hf_hub_download
from safetensors.numpy import load_file
from transformers import AutoConfig, AutoTokenizer

REPO = "example-org/tiny-causal"


def test_tokenizer() -> None:
    tokenizer = AutoTokenizer.from_pretrained(REPO)
    assert tokenizer("hello world tiny")["input_ids"] == [3, 4, 5]


def test_config() -> None:
    config = AutoConfig.from_pretrained(REPO)
    assert config.model_type == "gpt2"


def test_weights() -> None:
    path = hf_hub_download(REPO, "model.safetensors")
    assert sorted(load_file(path)) == ["a", "b"]
