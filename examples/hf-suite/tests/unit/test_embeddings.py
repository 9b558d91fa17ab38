import pytest
from sentence_transformers import CrossEncoder, SentenceTransformer


@pytest.mark.parametrize("name", ["all-MiniLM-L6-v2", "example-org/multilingual-embedder"])
def test_encode(name):
    SentenceTransformer(name)


def test_rerank():
    CrossEncoder("example-org/reranker")


@pytest.mark.model("example-org/marked-model")
def test_marked():
    pass


@pytest.mark.parametrize("mime", ["text/plain", "application/json"])
def test_mime_types_are_no_models(mime):
    pass
