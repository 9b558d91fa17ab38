"""Shared by the tests: a registry of models, as inference-server suites keep one."""


class Info:
    def __init__(self, repo, *, min_version="0", is_available_online=True):
        self.repo = repo


REGISTRY = {
    "llama": Info("example-org/registry-llama"),
    "mistral": Info("example-org/registry-mistral", min_version="1.2"),
    "gated": Info("example-org/registry-gated", is_available_online=False),
}
EMBEDDING_MODELS = "example-org/joined-a,example-org/joined-b"
