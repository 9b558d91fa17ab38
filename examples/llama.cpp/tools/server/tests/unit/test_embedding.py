import math

import pytest
from utils import *

server = ServerPreset.bert_bge_small()

MODEL_REPO = "ggml-org/embeddinggemma-300M-GGUF"


@pytest.fixture(autouse=True)
def create_server():
    global server
    server = ServerPreset.bert_bge_small()


def l2_norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def test_embedding_single():
    global server
    server.pooling = "last"
    server.start()
    res = server.make_request("POST", "/v1/embeddings", data={"input": "I believe the meaning of life is"})
    assert res.status_code == 200
    assert len(res.body["data"]) == 1
    assert abs(l2_norm(res.body["data"][0]["embedding"]) - 1.0) < 1e-3


def test_embedding_gemma():
    global server
    server.offline = False
    server.model_hf_repo = MODEL_REPO
    server.model_hf_file = "embeddinggemma-300M-Q8_0.gguf"
    server.n_ctx = 2048
    server.start()
    res = server.make_request("POST", "/v1/embeddings", data={"input": ["hello", "world"]})
    assert res.status_code == 200
    assert len(res.body["data"]) == 2


@pytest.mark.parametrize(("hf_repo", "hf_file"), [
    ("ggml-org/models", "bert-bge-small/ggml-model-f16.gguf"),
    ("Qwen/Qwen3-Embedding-0.6B-GGUF", "Qwen3-Embedding-0.6B-Q8_0.gguf"),
])
class TestEmbeddingModels:
    def test_batch_is_consistent(self, hf_repo: str, hf_file: str):
        global server
        server.offline = False
        server.model_hf_repo = hf_repo
        server.model_hf_file = hf_file
        server.start()
        one = server.make_request("POST", "/v1/embeddings", data={"input": "a cat sat on the mat"})
        many = server.make_request("POST", "/v1/embeddings", data={"input": ["a cat sat on the mat"] * 3})
        assert one.status_code == 200 and many.status_code == 200
        for item in many.body["data"]:
            assert item["embedding"] == pytest.approx(one.body["data"][0]["embedding"], abs=1e-4)
