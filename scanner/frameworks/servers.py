"""The files an inference server (vLLM, sglang, TGI style) reads when it loads a Hub repo.

vLLM's `DefaultModelLoader._prepare_weights` → `download_weights_from_hf` takes the first of
`*.safetensors`, `*.bin` that matches, with `original/**/*` ignored, then keeps the shards
`filter_duplicate_safetensors_files` finds in the index; its config and tokenizer come through
transformers (`get_config`, `get_tokenizer`) and `get_hf_file_to_dict` (any root `*.json`:
`params.json`, `tekken.json` of Mistral's format). sglang and TGI read the same set.
"""

from __future__ import annotations

from .common import RepoFiles
from .transformers import SAFE_WEIGHTS_INDEX_NAME, WEIGHTS_INDEX_NAME, add_shards, add_tokenizer

#: Files a checkpoint carries for training only, never read to serve it.
TRAINING_FILES = ("training_args.bin", "optimizer.pt", "scheduler.pt", "trainer_state.json")
MISTRAL_WEIGHTS = "consolidated"


def plan_server(repo: RepoFiles) -> None:
    """Root `*.json` configs, tokenizer files, then the weights: the shards the index names and
    Mistral's `consolidated*.safetensors` when present, else the root safetensors, else the
    pickled ones (by their index too); never `original/**` or training files."""
    root = [f for f in repo.in_folder(None) if f.path not in TRAINING_FILES]
    repo.add_all((f for f in root if f.path.endswith(".json")), "server: get_hf_file_to_dict")
    add_tokenizer(repo, None)
    if repo.call.trust_remote_code:
        repo.add_all((f for f in root if f.path.endswith(".py")), "server: trust_remote_code")
    formats = ((".safetensors", SAFE_WEIGHTS_INDEX_NAME), (".bin", WEIGHTS_INDEX_NAME))
    for extension, index in formats:
        weights = [f for f in root if f.path.endswith(extension)]
        if not weights:
            continue
        mistral = [f for f in weights if f.path.startswith(MISTRAL_WEIGHTS)]
        if repo.has(index):
            add_shards(repo, None, index)
            repo.add_all(mistral, "server: consolidated weights (Mistral format)")
        else:
            repo.add_all(weights, "server: download_weights_from_hf")
        return
