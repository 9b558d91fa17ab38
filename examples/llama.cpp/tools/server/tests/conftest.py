import os

import pytest

from utils import *


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: needs a large model, only runs with SLOW_TESTS=1")


@pytest.fixture(scope="session", autouse=True)
def worker_port(request):
    # give every xdist worker its own port range
    worker = getattr(request.config, "workerinput", {}).get("workerid", "master")
    if worker != "master":
        os.environ["PORT"] = str(8080 + int(worker[2:]) * 10)


@pytest.fixture(autouse=True)
def stop_servers_after_test():
    yield
    for server in list(server_instances):
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def warm_model_cache(worker_port):
    # download every preset's model once, before the first test starts a server offline
    ServerPreset.load_all()
