"""The files diffusers (0.4x) reads: `DiffusionPipeline.download`, which `from_pretrained`
calls, ported from `diffusers/pipelines/pipeline_utils.py` and `pipeline_loading_utils.py`;
and a single component's `ModelMixin.from_pretrained` / `SchedulerMixin.from_pretrained`."""

from __future__ import annotations

import posixpath
import re
from typing import Any

from .common import FrameworkError, RepoFiles, join
from .hub import matching
from .transformers import add_weights

MODEL_INDEX = "model_index.json"
#: `filter_model_files` / `variant_compatible_siblings`'s weight names, prefix and suffix.
PREFIXES = ("diffusion_pytorch_model", "model", "weights", "pytorch_model")
SUFFIXES = ("bin", "safetensors", "onnx", "pb")
MODEL_EXTENSIONS = (*SUFFIXES, "flashpack")
_SHARD = r"\d{5}-of-\d{5}"
#: `SCHEDULER_CONFIG_NAME`, `CONFIG_NAME`, `cls.config_name`, `CUSTOM_PIPELINE_FILE_NAME`,
#: then `TRANSFORMERS_COMPONENT_AUX_FILES`: root files `download` always allows.
ROOT_FILES = (
    "scheduler_config.json", "config.json", MODEL_INDEX, "pipeline.py", "chat_template.jinja",
    "generation_config.json", "preprocessor_config.json", "processor_config.json",
    "tokenizer.json", "tokenizer_config.json",
)  # fmt: skip
COMPONENT_WEIGHTS = (
    ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json"),
    ("diffusion_pytorch_model.bin", "diffusion_pytorch_model.bin.index.json"),
)


def _alternatives(names: tuple[str, ...]) -> str:
    return "|".join(re.escape(n) for n in names)


def _weight_patterns(variant: str | None) -> dict[str, re.Pattern[str]]:
    """`variant_compatible_siblings`'s regular expressions (matched on the basename)."""
    pre, suf = _alternatives(PREFIXES), _alternatives(SUFFIXES)
    found = {
        "file": re.compile(rf"({pre})(-{_SHARD})?\.({suf})$"),
        "index": re.compile(rf"({pre})\.({suf})\.index\.json"),
    }
    if variant is not None:
        v = re.escape(variant)
        found["variant_file"] = re.compile(rf"({pre})\.({v}|{v}-{_SHARD})\.({suf})$")
        found["variant_index"] = re.compile(rf"({pre})\.({suf})\.index\.{v}\.json$")
        found["legacy_file"] = re.compile(rf".*-{_SHARD}\.{v}\.[a-z]+$")
        found["legacy_index"] = re.compile(rf"({pre})\.({suf})\.{v}\.index\.json$")
    return found


def _with(names: list[str], pattern: re.Pattern[str] | None) -> set[str]:
    """`filter_with_regex`."""
    return {n for n in names if pattern and pattern.match(n.rsplit("/", 1)[-1])}


def _components(filenames: list[str]) -> dict[str, list[str]]:
    """Files grouped by component folder; anything not exactly one folder deep is the root's."""
    groups: dict[str, list[str]] = {}
    for name in filenames:
        parts = name.split("/")
        groups.setdefault(parts[0] if len(parts) == 2 else "", []).append(name)
    return groups


def variant_compatible(filenames: list[str], variant: str | None, ignore: list[str]) -> set[str]:
    """`variant_compatible_siblings`: per component, its variant weights (and index) if it has
    any, else its plain ones; a variant no component has is an error there."""
    patterns, usable, variants = _weight_patterns(variant), set(), set()
    exts = [p.lstrip("*.") for p in ignore]  # `filter_for_compatible_extensions`
    for names in _components(filenames).values():
        names = [n for n in names if not any(n.endswith(e) for e in exts)]
        found = _with(names, patterns.get("variant_file"))
        legacy = _with(names, patterns.get("legacy_file"))
        if found:
            variants |= found | _with(names, patterns.get("variant_index"))
        elif legacy:
            variants |= legacy | _with(names, patterns.get("legacy_index"))
        else:
            usable |= _with(names, patterns["file"]) | _with(names, patterns["index"])
    if variant is not None and not variants:
        raise ValueError(f"no weights of variant {variant!r}")
    return usable | variants


def safetensors_compatible(model_files: list[str], variant: str | None) -> bool:
    """`is_safetensors_compatible`: every component folder has safetensors weights (of the
    variant if it has that variant, else plain ones); with no component folder, False."""
    patterns = _weight_patterns(variant)
    components = _components([f for f in model_files if f.count("/") == 1])
    if not components:
        return False
    for names in components.values():
        chosen = _with(names, patterns.get("variant_file")) or _with(names, patterns["file"])
        if not any(n.endswith(".safetensors") for n in chosen):
            return False
    return True


def plan_diffusers(repo: RepoFiles) -> None:
    """A pipeline class (or none) downloads the pipeline; a scheduler or model class one
    component (`subfolder=`)."""
    name = repo.call.class_name or ""
    if name.endswith("Scheduler"):
        repo.require(join(repo.call.subfolder, "scheduler_config.json"), "SchedulerMixin")
    elif name and "Pipeline" not in name:
        plan_component(repo)
    else:
        plan_pipeline(repo)


def plan_component(repo: RepoFiles) -> None:
    """`ModelMixin.from_pretrained`: the folder's `config.json` and, by `_get_model_file`, the
    preferred weights (safetensors, sharded by their index, else `.bin`), variant applied."""
    call = repo.call
    repo.require(join(call.subfolder, "config.json"), "ModelMixin.from_pretrained")
    add_weights(repo, call.subfolder, call.variant, call.use_safetensors, COMPONENT_WEIGHTS)


def plan_pipeline(repo: RepoFiles) -> None:
    """`DiffusionPipeline.download`: read `model_index.json`, build its allow and ignore
    patterns, then keep what `snapshot_download` would."""
    call = repo.call
    index = repo.read_json(MODEL_INDEX, "DiffusionPipeline.download")
    if not isinstance(index, dict):
        raise FrameworkError(call, f"{MODEL_INDEX} is not a JSON object")
    skipped = index.get("_ignore_files") or []
    if not isinstance(skipped, list) or not all(isinstance(name, str) for name in skipped):
        raise FrameworkError(call, f"{MODEL_INDEX}: _ignore_files is not a list of file names")
    filenames = [f.path for f in repo.listing.files if f.path not in skipped]
    folders = [k for k, v in index.items() if isinstance(v, list) and k != "_class_name"]
    model_files = [f for f in filenames if f.endswith(MODEL_EXTENSIONS)]  # `filter_model_files`
    model_folders = {posixpath.dirname(f) for f in model_files} & set(folders)
    ignore = _ignore_patterns(repo, [f for f in model_files if posixpath.dirname(f) in folders])
    try:
        weights = variant_compatible(filenames, call.variant, ignore)
    except ValueError as exc:
        raise FrameworkError(call, str(exc)) from exc
    allow = [*sorted(weights), *(f"{k}/*" for k in folders if k not in model_folders)]
    allow += [f"{k}/{v}.py" for k, v in _custom_components(index, folders, filenames).items()]
    allow += [f"{k}/config.json" for k in sorted(model_folders)]
    allow += ROOT_FILES
    ignore += [f"{i}.index.*json" for i in ignore]
    kept = matching(repo.listing.files, allow, ignore)
    repo.add_all((f for f in kept if f.path not in skipped), "DiffusionPipeline.download")


def _ignore_patterns(repo: RepoFiles, model_files: list[str]) -> list[str]:
    """`_get_ignore_patterns`: pickles are skipped when every component has safetensors, else
    safetensors are; ONNX weights are kept only for an ONNX pipeline."""
    call = repo.call
    use_safetensors, allow_pickle = call.use_safetensors is not False, call.use_safetensors is None
    compatible = safetensors_compatible(model_files, call.variant)
    if use_safetensors and not allow_pickle and not compatible:
        of = f" of variant {call.variant!r}" if call.variant else ""
        problem = f"use_safetensors=True but a component has no safetensors weights{of}"
        raise FrameworkError(call, problem)
    onnx = [] if (call.class_name or "").startswith("Onnx") else ["*.onnx", "*.pb"]
    if use_safetensors and compatible:
        return ["*.bin", "*.msgpack", *onnx]
    return ["*.safetensors", "*.msgpack", *onnx]


def _custom_components(
    index: dict[str, Any], folders: list[str], names: list[str]
) -> dict[str, str]:
    """`_get_custom_components_and_folders`: a component whose module is a `.py` in its folder."""
    custom = {}
    for k in folders:
        module = index[k][0] if index[k] else None
        if isinstance(module, str) and f"{k}/{module}.py" in names:
            custom[k] = module
    return custom
