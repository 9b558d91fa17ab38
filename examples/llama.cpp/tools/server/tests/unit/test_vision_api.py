import base64

import pytest
import requests
from utils import *

server: ServerProcess

IMG_URL = "https://upload.wikimedia.org/wikipedia/commons/3/3a/Cat03.jpg"


@pytest.fixture(autouse=True)
def create_server():
    global server
    server = ServerPreset.tinygemma3()


def image_as_data_uri(url: str) -> str:
    response = requests.get(url)
    response.raise_for_status()
    return "data:image/jpeg;base64," + base64.b64encode(response.content).decode("utf-8")


def ask_about_image(image_url: str) -> dict:
    res = server.make_request("POST", "/chat/completions", data={
        "temperature": 0.0,
        "top_k": 1,
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": image_url}},
        ]}],
    })
    assert res.status_code == 200
    return res.body


def test_models_report_multimodal():
    global server
    server.start()
    res = server.make_request("GET", "/models")
    assert res.status_code == 200
    assert "multimodal" in res.body["models"][0]["capabilities"]


def test_vision_rejects_malformed_image():
    global server
    server.start()
    res = server.make_request("POST", "/chat/completions", data={
        "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "malformed"}},
        ]}],
    })
    assert res.status_code != 200


class TestVisionModels:
    @pytest.mark.parametrize("hf_repo,hf_file", [
        ("ggml-org/SmolVLM-256M-Instruct-GGUF:Q8_0", None),
        pytest.param("ggml-org/gemma-3-4b-it-GGUF:Q4_K_M", None, marks=pytest.mark.slow, id="gemma3-4b"),
    ])
    def test_describe_cat(self, hf_repo: str, hf_file: str | None):
        global server
        server.offline = False
        server.model_hf_repo = hf_repo
        server.model_hf_file = hf_file
        server.n_ctx = 4096
        server.n_predict = 32
        server.start(timeout_seconds=TIMEOUT_SERVER_START)
        body = ask_about_image(image_as_data_uri(IMG_URL))
        assert match_regex("(cat|kitten)+", body["choices"][0]["message"]["content"])
