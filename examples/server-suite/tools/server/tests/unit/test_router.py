import os
import pytest
from utils import *

server = ServerPreset.tinyllama2()


@pytest.fixture(autouse=True)
def create_server():
    global server
    server = ServerPreset.tinyllama2()


def test_router_remote_preset():
    # a repo holding only preset.ini: the router loads the models its sections name
    global server
    server.model_hf_repo = "ggml-org/test-preset-ci"
    server.model_hf_file = None
    server.offline = False
    server.start()


def test_router_reload_models():
    # preset text written at run time: its models are references too
    global server
    preset_path = os.path.join(TMP_DIR, "test_reload.ini")
    with open(preset_path, "w") as f:
        f.write(
            "[model-reload-a]\n"
            "hf-repo = ggml-org/test-model-preset-text\n"
        )
    server.models_preset = preset_path
    server.start()
