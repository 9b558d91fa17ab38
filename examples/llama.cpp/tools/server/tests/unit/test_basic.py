import pytest
from utils import *
from utils import SMALL_MODEL_REPO

server = ServerPreset.tinyllama2()


@pytest.fixture(autouse=True)
def create_server():
    global server
    server = ServerPreset.tinyllama2()


def test_server_start_simple():
    global server
    server.start()
    res = server.make_request("GET", "/health")
    assert res.status_code == 200


def test_server_props():
    global server
    server.start()
    res = server.make_request("GET", "/props")
    assert res.status_code == 200
    assert res.body["total_slots"] == server.n_slots


def test_load_split_model():
    global server
    server.offline = False
    server.model_hf_repo = "ggml-org/models"
    server.model_hf_file = "tinyllamas/split/stories15M-q8_0-00001-of-00003.gguf"
    server.model_alias = "tinyllama-split"
    server.start()
    res = server.make_request("POST", "/completion", data={
        "n_predict": 16,
        "prompt": "Hello",
        "temperature": 0.0,
    })
    assert res.status_code == 200
    assert match_regex("(little|girl)+", res.body["content"])


def test_load_small_model_without_file():
    global server
    server.offline = False
    server.model_hf_repo = SMALL_MODEL_REPO
    server.model_hf_file = None
    server.start()
    res = server.make_request("GET", "/models")
    assert res.status_code == 200


def test_server_options_from_constructor():
    server = ServerProcess(model_hf_repo="ggml-org/models", model_hf_file="tinyllamas/stories260K.gguf", n_slots=3)
    server.start()
    res = server.make_request("GET", "/props")
    assert res.status_code == 200
    assert res.body["total_slots"] == 3


def test_load_model_from_url():
    global server
    server.offline = False
    server.model_hf_repo = None
    server.model_hf_file = None
    server.model_url = "https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories15M-q4_0.gguf"
    server.start()
    res = server.make_request("GET", "/health")
    assert res.status_code == 200


@pytest.mark.parametrize("hf_repo", ["ggml-org/this-model-does-not-exist", "not a repo"])
def test_load_bad_repo_fails(hf_repo: str):
    global server
    server.offline = False
    server.model_hf_repo = hf_repo
    server.model_hf_file = None
    with pytest.raises(RuntimeError):
        server.start()
