"""Loadable stand-in GGUF models for `bench/e2e.py`: what llama.cpp's server tests download,
at the repos and file names its `ServerPreset`s and `unit/test_basic.py` name.

Each stand-in is a tiny llama-architecture model (width 768, 2 layers, f32: ~49 MB), with one
byte-level SentencePiece vocab shared by all. Its residual writes are zero and every token
embeds alike, so it always predicts " little": `test_load_split_model` checks its completion
against `(little|girl)+`. The other weights are seeded per file, so every file has its own
sha256. Needs numpy and llama.cpp's `gguf-py` (run with the suite's interpreter and
`PYTHONPATH=LLAMA_CPP/gguf-py`).
Usage: python bench/standins.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

#: (repo, path in the repo, seed): one path per preset (a repo named with a tag gets that tag's
#: file), `ServerProcess`'s default, and the split model of `test_load_split_model` in 3 parts.
STANDINS = (
    ("ggml-org/test-model-stories260K", "stories260K-Q8_0.gguf", 1),
    ("ggml-org/models", "bert-bge-small/ggml-model-f16.gguf", 2),
    ("ggml-org/test-model-stories260K-infill", "stories260K-infill-Q8_0.gguf", 3),
    ("ggml-org/stories15M_MOE", "stories15M_MOE-F16.gguf", 4),
    ("ggml-org/models", "jina-reranker-v1-tiny-en/ggml-model-f16.gguf", 5),
    ("ggml-org/tinylaya-for-testing-gguf", "tinylaya-Q8_0.gguf", 6),
    ("ggml-org/tinyopenjev-for-testing-gguf", "tinyopenjev-Q8_0.gguf", 7),
    ("ggml-org/tinygemma3-GGUF", "tinygemma3-Q8_0.gguf", 8),
    # `ServerProcess`'s class default, which every preset overrides: llama.cpp never asks for
    # it, the static scan counts it (the tool fetches it)
    ("ggml-org/models", "tinyllamas/stories260K.gguf", 10),
)
SPLIT = ("ggml-org/models", "tinyllamas/split/stories15M-q8_0-{:05d}-of-00003.gguf", 9, 3)
WIDTH, LAYERS, FFN, HEADS, CONTEXT = 768, 2, 1536, 12, 4096
ANSWER = "\u2581little"


def vocab() -> tuple[list[str], list[float], list[int]]:
    """<unk> <s> </s>, 256 byte tokens, letters with and without the word mark, the answer."""
    tokens = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256))]
    types = [2, 3, 3, *([6] * 256)]  # unknown, control, control, byte
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    letters += [c.upper() for c in letters]
    pieces = ["\u2581", *letters, *("\u2581" + c for c in letters), ANSWER]
    tokens += pieces
    types += [1] * len(pieces)
    scores = [0.0] * (len(tokens) - len(pieces)) + [-float(len(p)) for p in pieces]
    return tokens, scores, types


def write_model(path: Path, seed: int, split_parts: int = 1) -> None:
    import gguf  # type: ignore[import-not-found]
    import numpy as np  # type: ignore[import-not-found]

    rng = np.random.default_rng(seed)
    tokens, scores, types = vocab()
    writer = gguf.GGUFWriter(path, "llama", split_max_tensors=(
        0 if split_parts == 1 else -(-(3 + 9 * LAYERS) // split_parts)))
    writer.add_name(path.stem)
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(WIDTH)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(WIDTH // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)

    def random(*shape: int) -> Any:
        return rng.uniform(-0.02, 0.02, shape).astype(np.float32)

    ones = np.ones(WIDTH, dtype=np.float32)
    output = random(len(tokens), WIDTH)
    output[tokens.index(ANSWER)] = 1.0  # the only large logit, whatever the input
    writer.add_tensor("token_embd.weight", np.full((len(tokens), WIDTH), 0.1, np.float32))
    for layer in range(LAYERS):
        name = f"blk.{layer}."
        writer.add_tensor(name + "attn_norm.weight", ones)
        for proj in ("attn_q", "attn_k", "attn_v"):
            writer.add_tensor(f"{name}{proj}.weight", random(WIDTH, WIDTH))
        writer.add_tensor(name + "attn_output.weight", np.zeros((WIDTH, WIDTH), np.float32))
        writer.add_tensor(name + "ffn_norm.weight", ones)
        writer.add_tensor(name + "ffn_gate.weight", random(FFN, WIDTH))
        writer.add_tensor(name + "ffn_up.weight", random(FFN, WIDTH))
        writer.add_tensor(name + "ffn_down.weight", np.zeros((WIDTH, FFN), np.float32))
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", output)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main() -> None:
    out = Path(sys.argv[1])
    for repo, path, seed in STANDINS:
        target = out / repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        write_model(target, seed)
    repo, pattern, seed, parts = SPLIT
    target = out / repo / pattern.format(1).replace("-00001-of-00003", "")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_model(target, seed, parts)  # gguf-py names the parts NAME-0000i-of-00003.gguf


if __name__ == "__main__":
    main()
