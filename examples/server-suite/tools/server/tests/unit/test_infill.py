import pytest
from utils import *

ORG = "ggml-org"

server = ServerPreset.tinyllama2()


@pytest.fixture(autouse=True)
def create_server():
    global server
    server = ServerPreset.tinyllama2()


@pytest.mark.parametrize("hf_repo", [f"{ORG}/test-model-stories260K-infill"])
def test_infill_with_model(hf_repo: str):
    global server
    server.offline = False
    server.model_hf_repo = hf_repo
    server.model_hf_file = None
    server.start()
