"""The files a transformers `from_pretrained` reads, per part of the repo (transformers 5.x).

Which parts a call reads follows from its class: a config class reads the config, a tokenizer
its tokenizer files, a processor those and its preprocessor configs, a model the config, the
generation config and the preferred weights, `pipeline` all of them. Each rule cites the
transformers function it mirrors; names are the constants of `transformers/utils/__init__.py`.
"""

from __future__ import annotations

import posixpath
import re

from .common import FrameworkError, RepoFiles, join

CONFIG_NAME = "config.json"
GENERATION_CONFIG_NAME = "generation_config.json"
SAFE_WEIGHTS_NAME = "model.safetensors"
SAFE_WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
WEIGHTS_NAME = "pytorch_model.bin"
WEIGHTS_INDEX_NAME = "pytorch_model.bin.index.json"
CHAT_TEMPLATE_DIR = "additional_chat_templates"

#: `PreTrainedTokenizerBase.from_pretrained`'s `additional_files_names` and `tokenizer_file`.
TOKENIZER_FILES = (
    "tokenizer_config.json", "tokenizer.json", "added_tokens.json", "special_tokens_map.json",
    "chat_template.jinja",
)  # fmt: skip
#: Every value of the `VOCAB_FILES_NAMES` of transformers' tokenizer classes (a class reads its
#: own; which class a repo gets is only known once its configs are read, so a present one is
#: planned), and the names its `other_pattern` looks for when `tokenizer.json` is missing.
VOCAB_FILES = (
    "vocab.txt", "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model",
    "sentencepiece.model", "tokenizer.model", "spm.model", "spm_char.model", "source.spm",
    "target.spm", "bpe.codes", "dict.txt", "emoji.json", "entity_vocab.json", "byte_maps.json",
    "normalizer.json", "prophetnet.tokenizer", "target_vocab.json", "vocab-src.json",
    "vocab-tgt.json", "word_pronunciation.json", "word_shape.json", "tekken.json",
    "tiktoken.model",
)  # fmt: skip
_OTHER_VOCAB = re.compile(r"tokenizer\.model\..*")  # `other_pattern`'s `tokenizer\.model\.*`
#: `ProcessorMixin.get_processor_dict` and the sub-processors' `from_pretrained`:
#: PROCESSOR_NAME, FEATURE_EXTRACTOR_NAME / IMAGE_PROCESSOR_NAME, VIDEO_PROCESSOR_NAME,
#: AUDIO_TOKENIZER_NAME and LEGACY_PROCESSOR_CHAT_TEMPLATE_FILE.
PROCESSOR_FILES = (
    "processor_config.json", "preprocessor_config.json", "video_preprocessor_config.json",
    "audio_tokenizer_config.json", "chat_template.json",
)  # fmt: skip

PARTS = ("config", "generation", "tokenizer", "processor", "weights")
#: Class name endings of the processors that read their config without a tokenizer.
PREPROCESSORS = ("ImageProcessor", "ImageProcessorFast", "FeatureExtractor", "VideoProcessor")


def parts_for_class(class_name: str | None) -> tuple[str, ...]:
    """Which parts a `class_name.from_pretrained` reads; an unknown class (or `pipeline`)
    reads all of them, the conservative answer."""
    if class_name is None:
        return PARTS
    if class_name == "GenerationConfig":
        return ("generation",)
    if class_name.endswith("Config"):
        return ("config",)
    if "Tokenizer" in class_name:
        # `AutoTokenizer.from_pretrained` loads `AutoConfig` to find the class.
        return ("config", "tokenizer")
    if class_name.endswith(PREPROCESSORS):
        return ("config", "processor")
    if class_name.endswith("Processor"):
        return ("config", "tokenizer", "processor")
    if class_name.endswith("Model") or "For" in class_name:  # AutoModel*, BertModel, *For*
        return ("config", "generation", "weights")
    return PARTS


def plan_transformers(repo: RepoFiles, parts: tuple[str, ...] | None = None) -> None:
    """Plan the files `repo.call` reads, for `parts` (default: those of its class)."""
    call = repo.call
    parts = parts_for_class(call.class_name) if parts is None else parts
    folder = call.subfolder
    if call.filename and call.filename.endswith(".gguf"):
        # `_get_resolved_checkpoint_files(gguf_file=...)` and `AutoTokenizer` with `gguf_file`:
        # config, tokenizer and weights all come from that one file.
        repo.require(join(folder, call.filename), "gguf_file: config, tokenizer and weights")
        return
    if "config" in parts:
        add_config(repo, folder, required="weights" in parts or parts == ("config",))
    if "generation" in parts:
        add_generation_config(repo, folder, required=call.class_name == "GenerationConfig")
    if "tokenizer" in parts:
        add_tokenizer(repo, folder)
    if "processor" in parts:
        add_processor(repo, folder)
    if "weights" in parts:
        add_weights(repo, folder, call.variant, call.use_safetensors)
    if call.trust_remote_code:
        add_remote_code(repo, folder)


def add_config(repo: RepoFiles, folder: str | None, *, required: bool) -> None:
    """`PretrainedConfig.get_config_dict` → `cached_file(CONFIG_NAME)`: required by a model or
    config load, asked for by the tokenizer and processor autoclasses (a miss is allowed)."""
    why = "PretrainedConfig.from_pretrained"
    if required:
        repo.require(join(folder, CONFIG_NAME), why)
    else:
        repo.add_if_present(join(folder, CONFIG_NAME), why)


def add_generation_config(repo: RepoFiles, folder: str | None, *, required: bool = False) -> None:
    """`GenerationConfig.from_pretrained`: required when called itself; a generative model's
    `from_pretrained` calls it and accepts a miss."""
    path, why = join(folder, GENERATION_CONFIG_NAME), "GenerationConfig.from_pretrained"
    if required:
        repo.require(path, why)
    else:
        repo.add_if_present(path, why)


def add_tokenizer(repo: RepoFiles, folder: str | None) -> None:
    """`PreTrainedTokenizerBase.from_pretrained`: `cached_file` of each of the class's
    `vocab_files_names` and `additional_files_names` (a miss is allowed), and each template
    `list_repo_templates` finds in the root's `additional_chat_templates/` (not recursive, and
    without the subfolder), which it then asks for in the subfolder."""
    why = "PreTrainedTokenizerBase.from_pretrained"
    for name in (*TOKENIZER_FILES, *VOCAB_FILES):
        repo.add_if_present(join(folder, name), why)
    for f in repo.in_folder(folder):
        if _OTHER_VOCAB.fullmatch(posixpath.basename(f.path)):
            repo.add(f, why)
    for template in repo.in_folder(CHAT_TEMPLATE_DIR):
        if template.path.endswith(".jinja"):
            repo.add_if_present(join(folder, template.path), "list_repo_templates")


def add_processor(repo: RepoFiles, folder: str | None) -> None:
    """`ProcessorMixin.get_processor_dict` and `ImageProcessingMixin.get_image_processor_dict`."""
    for name in PROCESSOR_FILES:
        repo.add_if_present(join(folder, name), "ProcessorMixin.from_pretrained")


def add_remote_code(repo: RepoFiles, folder: str | None) -> None:
    """`get_class_from_dynamic_module` fetches the `auto_map` module and the modules it imports
    relatively (`get_cached_module_file`): every `.py` beside the config, the safe superset."""
    py = [f for f in repo.in_folder(folder) if f.path.endswith(".py")]
    repo.add_all(py, "trust_remote_code: get_class_from_dynamic_module")


def variant_name(name: str, variant: str | None) -> str:
    """`_add_variant`: `model.safetensors` → `model.fp16.safetensors` (before the last dot)."""
    if variant is None:
        return name
    stem, ext = name.rsplit(".", 1)
    return f"{stem}.{variant}.{ext}"


#: transformers' weight names: (single file, its index) for safetensors, then for pickles.
WEIGHT_NAMES = ((SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME), (WEIGHTS_NAME, WEIGHTS_INDEX_NAME))


def add_weights(
    repo: RepoFiles,
    folder: str | None,
    variant: str | None,
    use_safetensors: bool | None,
    names: tuple[tuple[str, str], tuple[str, str]] = WEIGHT_NAMES,
) -> None:
    """`_get_resolved_checkpoint_files`: `model.safetensors`, else its index and exactly the
    shards the index names (`get_checkpoint_shard_files`), else `pytorch_model.bin`, else its
    index and shards; `variant` renames each, `subfolder` prefixes each."""
    safe, pickle = names
    order = [safe] if use_safetensors is not False else []
    if not use_safetensors:
        order.append(pickle)
    for single, index in order:
        if repo.add_if_present(join(folder, variant_name(single, variant)), "from_pretrained"):
            return
        index_path = join(folder, variant_name(index, variant))
        if repo.has(index_path):
            add_shards(repo, folder, index_path)
            return
    tried = [variant_name(name, variant) for pair in order for name in pair]
    raise FrameworkError(repo.call, f"no weights: none of {', '.join(tried)} in {folder or '/'}")


def add_shards(repo: RepoFiles, folder: str | None, index_path: str) -> None:
    """`get_checkpoint_shard_files`: `sorted(set(index["weight_map"].values()))`."""
    index = repo.read_json(index_path, "get_checkpoint_shard_files: the shard index")
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise FrameworkError(repo.call, f"{index_path} has no weight_map")
    for shard in sorted({str(v) for v in weight_map.values()}):
        repo.require(join(folder, shard), f"get_checkpoint_shard_files: named by {index_path}")
