import pytest
from utils import *

# real reasoning models: too big for the default CI run
pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("hf_repo,hf_file", [
        ("unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF:Q4_K_M", None),
        ("lmstudio-community/Qwen3-1.7B-GGUF", "Qwen3-1.7B-Q4_K_M.gguf"),
    ]),
]

server: ServerProcess


@pytest.fixture(autouse=True)
def create_server():
    global server
    server = ServerPreset.tinyllama2()
    server.jinja = True
    server.n_ctx = 4096
    server.n_predict = 1024


def test_reasoning_content_is_split(hf_repo: str, hf_file: str | None):
    global server
    server.offline = False
    server.model_hf_repo = hf_repo
    server.model_hf_file = hf_file
    server.reasoning_format = "deepseek"
    server.start(timeout_seconds=TIMEOUT_SERVER_START)
    res = server.make_request("POST", "/v1/chat/completions", data={
        "messages": [{"role": "user", "content": "What is 17 * 23?"}],
    })
    assert res.status_code == 200
    message = res.body["choices"][0]["message"]
    assert message.get("reasoning_content")
    assert "391" in message["content"]


def test_reasoning_format_none_keeps_tags(hf_repo: str, hf_file: str | None):
    global server
    server.offline = False
    server.model_hf_repo = hf_repo
    server.model_hf_file = hf_file
    server.reasoning_format = "none"
    server.start(timeout_seconds=TIMEOUT_SERVER_START)
    res = server.make_request("POST", "/v1/chat/completions", data={
        "messages": [{"role": "user", "content": "What is 2 + 2?"}],
    })
    assert res.status_code == 200
    assert "<think>" in res.body["choices"][0]["message"]["content"]
