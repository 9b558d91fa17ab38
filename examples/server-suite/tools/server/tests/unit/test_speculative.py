import pytest
from utils import *

# a draft model fetched by the suite's own download_file, as upstream does
MODEL_DRAFT_FILE_URL = "https://huggingface.co/ggml-org/tiny-llamas/resolve/main/stories15M-q4_0.gguf"

server = ServerPreset.tinyllama2()


@pytest.fixture(autouse=True)
def create_server():
    global server
    server = ServerPreset.tinyllama2()
    server.model_draft = download_file(MODEL_DRAFT_FILE_URL)


class TestSpeculative:
    def test_with_draft(self):
        global server
        server.offline = False
        server.model_hf_repo = "ggml-org/stories15M_MOE"
        server.model_hf_file = "stories15M_MOE-F16.gguf"
        server.start()

    @pytest.mark.skipif(not is_slow_test_allowed(), reason="skipping slow test")
    def test_with_large_draft(self):
        global server
        server.offline = False
        server.model_hf_repo = "ggml-org/Qwen2.5-Coder-7B-Q8_0-GGUF"
        server.model_hf_file = None
        server.start()
