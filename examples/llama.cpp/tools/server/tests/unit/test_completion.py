import asyncio

import pytest
from pytest import mark
from utils import *

server = ServerPreset.tinyllama2()

MODELS = [
    ("ggml-org/models", "tinyllamas/stories260K.gguf"),
    ("ggml-org/" "models", "tinyllamas/stories15M-q4_0.gguf"),
]


@pytest.fixture(autouse=True)
def create_server():
    global server
    server = ServerPreset.tinyllama2()


@pytest.mark.parametrize("prompt,n_predict,re_content", [
    ("I believe the meaning of life is", 8, "(going|bed)+"),
    ("Write a joke about AI from a very long prompt which will not be truncated", 64, "(princesses|everyone|kids)+"),
])
def test_completion(prompt: str, n_predict: int, re_content: str):
    global server
    server.start()
    res = server.make_request("POST", "/completion", data={
        "n_predict": n_predict,
        "prompt": prompt,
    })
    assert res.status_code == 200
    assert match_regex(re_content, res.body["content"])


@pytest.mark.parametrize("hf_repo,hf_file", MODELS)
def test_completion_with_model(hf_repo: str, hf_file: str):
    global server
    server.offline = False
    server.model_hf_repo = hf_repo
    server.model_hf_file = hf_file
    server.start()
    res = server.make_request("POST", "/completion", data={"n_predict": 8, "prompt": "Once upon a time"})
    assert res.status_code == 200
    assert len(res.body["content"]) > 0


@pytest.mark.asyncio
@mark.parametrize(
    argnames=["hf_repo", "hf_file"],
    argvalues=(
        ("ggml-org/stories15M_MOE", "stories15M_MOE-F16.gguf"),
        pytest.param("unsloth/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q4_K_M.gguf", marks=pytest.mark.slow, id="qwen3-0.6b"),
    ),
)
async def test_completion_parallel_requests(hf_repo: str, hf_file: str):
    global server
    server.offline = False
    server.model_hf_repo = hf_repo
    server.model_hf_file = hf_file
    server.n_slots = 2
    server.start()
    data = {"n_predict": 8, "prompt": "Once upon a time", "temperature": 0.0}
    results = await asyncio.gather(*[
        asyncio.to_thread(server.make_request, "POST", "/completion", data)
        for _ in range(4)
    ])
    assert all(res.status_code == 200 for res in results)
    assert len({res.body["content"] for res in results}) == 1


@pytest.mark.parametrize("hf_file", ["tinyllamas/stories260K.gguf", "tinyllamas/stories15M-q4_0.gguf"])
@pytest.mark.parametrize("hf_repo", ["ggml-org/models"])
def test_completion_stream_matches_non_stream(hf_repo: str, hf_file: str):
    global server
    server.offline = False
    server.model_hf_repo = hf_repo
    server.model_hf_file = hf_file
    server.start()
    data = {"n_predict": 8, "prompt": "I believe the meaning of life is", "temperature": 0.0}
    full = server.make_request("POST", "/completion", data=data).body["content"]
    streamed = "".join(chunk["content"] for chunk in server.make_stream_request("POST", "/completion", {**data, "stream": True}))
    assert streamed == full
