import pytest

from mylib.testing.constants import DEFAULT_MODEL_FOR_TEST


@pytest.fixture(params=["example-org/fixture-param-model"])
def chat_model(request):
    return request.param


@pytest.fixture(scope="session")
def server():
    with RemoteOpenAIServer(DEFAULT_MODEL_FOR_TEST, ["--max-model-len", "2048"]) as remote:
        yield remote
