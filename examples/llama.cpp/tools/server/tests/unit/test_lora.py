import pytest
from utils import *

# every test here runs on the base model the adapter below was trained for
pytestmark = pytest.mark.parametrize("hf_repo, hf_file", [("ggml-org/stories15M_MOE", "stories15M_MOE-F16.gguf")])

LORA_FILE_URL = "https://huggingface.co/ggml-org/stories15M_MOE/resolve/main/moe_shakespeare15M.gguf"

server: ServerProcess


@pytest.fixture(autouse=True)
def create_server():
    global server
    server = ServerPreset.stories15m_moe()
    server.lora_files = [download_file(LORA_FILE_URL)]


@pytest.mark.parametrize("scale,re_content", [
    # no adapter: a bedtime story
    (0.0, "(little|girl|three|years|old)+"),
    # full adapter: Shakespeare
    (1.0, "(eye|love|glass|sun)+"),
])
def test_lora_scale(hf_repo: str, hf_file: str, scale: float, re_content: str):
    global server
    server.model_hf_repo = hf_repo
    server.model_hf_file = hf_file
    server.start()
    res = server.make_request("POST", "/lora-adapters", data=[{"id": 0, "scale": scale}])
    assert res.status_code == 200
    res = server.make_request("POST", "/completion", data={"prompt": "Look in thy glass"})
    assert res.status_code == 200
    assert match_regex(re_content, res.body["content"])


def test_lora_adapters_listed(hf_repo: str, hf_file: str):
    global server
    server.model_hf_repo = hf_repo
    server.model_hf_file = hf_file
    server.start()
    res = server.make_request("GET", "/lora-adapters")
    assert res.status_code == 200
    assert len(res.body) == 1
