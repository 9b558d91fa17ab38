import os

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

TOKENIZER = "example-org/tiny-tokenizer"
CHECKPOINTS = ["example-org/causal-a", "example-org/causal-b"]


def test_tokenizer():
    tok = AutoTokenizer.from_pretrained(TOKENIZER)
    assert tok


def test_legacy_ids():
    AutoTokenizer.from_pretrained("gpt2")
    AutoModelForCausalLM.from_pretrained(
        pretrained_model_name_or_path="example-org/causal-revised",
        revision="refs/pr/1",
        subfolder="int8",
    )


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_each_checkpoint(checkpoint):
    AutoModelForCausalLM.from_pretrained(checkpoint)


class TestPipeline:
    model_id = "example-org/classifier"

    @classmethod
    def setup_class(cls):
        cls.summarizer = "example-org/summarizer"

    def test_classify(self):
        pipeline("text-classification", self.model_id)
        pipeline(task="summarization", model=self.summarizer)


def test_environment_default():
    model = os.getenv("MYLIB_CAUSAL", "example-org/env-causal")
    AutoModelForCausalLM.from_pretrained(model)


def test_not_models(tmp_path):
    AutoTokenizer.from_pretrained(tmp_path / "saved")   # a folder the test wrote
    AutoTokenizer.from_pretrained("org/model")          # a placeholder in a docstring-like test
    AutoTokenizer.from_pretrained("./local-checkpoint")
