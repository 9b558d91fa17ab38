import pytest
from utils import *

# a module-level Hub URL, as upstream keeps some of its downloads
EMBD_MODEL_URL = "https://huggingface.co/ggml-org/models/resolve/main/bert-bge-small/ggml-model-f16.gguf"

server = ServerPreset.bert_bge_small()


@pytest.fixture(autouse=True)
def create_server():
    global server
    server = ServerPreset.bert_bge_small()


def test_embedding_single():
    global server
    server.start()


def test_embedding_from_url():
    global server
    server.model_hf_repo = None
    server.model_hf_file = None
    server.model_url = EMBD_MODEL_URL
    server.start()


@pytest.mark.skipif(not is_slow_test_allowed(), reason="skipping slow test")
def test_embedding_gemma():
    global server
    server.offline = False
    server.model_hf_repo = "ggml-org/embeddinggemma-300M-GGUF"
    server.model_hf_file = "embeddinggemma-300M-Q8_0.gguf"
    server.start()
