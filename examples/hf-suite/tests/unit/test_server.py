import subprocess

import pytest

from mylib.testing.constants import DEFAULT_MODEL_FOR_TEST

SERVED_MODEL = "example-org/served-by-cli"


@pytest.mark.parametrize("model_name, dtype", [
    ("example-org/param-a", "bfloat16"),
    ("example-org/param-b", "float16"),
])
def test_generate(model_name, dtype):
    run_generation(model_name, dtype)


def test_cli():
    subprocess.run(["mylib-serve", "--model", SERVED_MODEL, "--port", "8000"], check=False)


def test_launched():
    with popen_launch_server(DEFAULT_MODEL_FOR_TEST, "http://127.0.0.1:8000"):
        pass
