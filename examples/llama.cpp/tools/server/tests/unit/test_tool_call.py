import pytest
from utils import *

parametrize = pytest.mark.parametrize

server: ServerProcess

QWEN3_REPO = "bartowski/Qwen_Qwen3-0.6B-GGUF:Q4_K_M"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and country, e.g. Paris, France"},
            },
            "required": ["location"],
        },
    },
}


@pytest.fixture(autouse=True)
def create_server():
    global server
    server = ServerPreset.tinyllama2()
    server.jinja = True
    server.n_ctx = 8192
    server.n_predict = 512


@parametrize("hf_repo , hf_file, template", [
    (QWEN3_REPO, None, None),
    (QWEN3_REPO, None, "chatml"),
    ("lmstudio-community/Llama-3.2-1B-Instruct-GGUF", "Llama-3.2-1B-Instruct-Q4_K_M.gguf", None),
    ["unsloth/gemma-3-1b-it-GGUF:Q4_K_M", None, None],
    # to add a model, copy this row and fill it in
    pytest.param("<org>/<model>", None, None, marks=pytest.mark.skip(reason="template row"), id="template"),
])
def test_weather(hf_repo: str, hf_file: str | None, template: str | None):
    global server
    server.offline = False
    server.model_hf_repo = hf_repo
    server.model_hf_file = hf_file
    if template:
        server.chat_template = template
    server.start(timeout_seconds=TIMEOUT_SERVER_START)
    res = server.make_request("POST", "/v1/chat/completions", data={
        "messages": [{"role": "user", "content": "What is the weather in Istanbul?"}],
        "tools": [WEATHER_TOOL],
    })
    assert res.status_code == 200
    tool_calls = res.body["choices"][0]["message"].get("tool_calls")
    assert tool_calls and tool_calls[0]["function"]["name"] == "get_current_weather"


@parametrize("name", ["Qwen_Qwen3-0.6B", "Qwen_Qwen3-1.7B"])
def test_tool_call_by_size(name: str):
    global server
    server.offline = False
    server.model_hf_repo = f"bartowski/{name}-GGUF:Q4_K_M"
    server.model_hf_file = None
    server.start(timeout_seconds=TIMEOUT_SERVER_START)
    res = server.make_request("POST", "/v1/chat/completions", data={
        "messages": [{"role": "user", "content": "Call get_current_weather for Paris"}],
        "tools": [WEATHER_TOOL],
        "tool_choice": "required",
    })
    assert res.status_code == 200
    assert res.body["choices"][0]["message"]["tool_calls"]
