from datasets import load_dataset
from huggingface_hub import hf_hub_download, snapshot_download

from mylib.testing.constants import DEFAULT_EMBEDDING_MODEL


def test_one_file():
    repo_id = "example-org/files"
    hf_hub_download(repo_id, "config.json", subfolder="onnx")


def test_snapshot():
    snapshot_download("example-org/snapshot", allow_patterns=["*.json", "*.safetensors"])


def test_embedding_default():
    snapshot_download(repo_id=DEFAULT_EMBEDDING_MODEL)


def test_data_is_no_model():
    load_dataset("example-org/squad-mini")
    hf_hub_download("example-org/csv-data", "train.csv", repo_type="dataset")
