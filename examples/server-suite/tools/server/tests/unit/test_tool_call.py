import pytest
from utils import *

server: ServerProcess

QWEN_SIZES = ["0.6B", "1.7B"]


@pytest.fixture(autouse=True)
def create_server():
    global server
    server = ServerPreset.tinyllama2()
    server.jinja = True
    server.n_ctx = 8192


@pytest.mark.slow
@pytest.mark.parametrize("hf_repo,template_override", [
    ("bartowski/Qwen_Qwen3-8B-GGUF:Q4_K_M", None),
    ("bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q4_K_M", ("meta-llama/Llama-3.1-8B-Instruct", None)),
    ("bartowski/gemma-2-2b-it-GGUF:Q4_K_M", None),
])
def test_weather(hf_repo: str, template_override: tuple | None):
    global server
    server.offline = False
    server.model_hf_repo = hf_repo
    server.model_hf_file = None
    server.start(timeout_seconds=TIMEOUT_SERVER_START)


@pytest.mark.slow
@pytest.mark.parametrize("hf_repo", [f"unsloth/Qwen3-{size}-GGUF:Q4_K_M" for size in QWEN_SIZES])
def test_tool_call_by_size(hf_repo: str):
    global server
    server.offline = False
    server.model_hf_repo = hf_repo
    server.model_hf_file = None
    server.start(timeout_seconds=TIMEOUT_SERVER_START)
