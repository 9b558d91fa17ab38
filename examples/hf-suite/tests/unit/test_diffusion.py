from diffusers import DiffusionPipeline, StableDiffusionPipeline
from peft import PeftModel


def test_pipeline():
    pipe = DiffusionPipeline.from_pretrained("example-org/tiny-sd", variant="fp16")
    pipe.load_lora_weights("example-org/tiny-lora", weight_name="pytorch_lora_weights.safetensors")


def test_single_file():
    StableDiffusionPipeline.from_single_file(
        "https://huggingface.co/example-org/single-file/blob/main/model.safetensors")


def test_adapter(base_model):
    PeftModel.from_pretrained(base_model, "example-org/tiny-adapter")
