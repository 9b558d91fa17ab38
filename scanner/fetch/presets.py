"""Remote presets: a repo whose root holds `preset.ini` resolves to that file alone, and
llama.cpp's router then loads the models its sections name. Each of those becomes a reference
of kind `preset`, located at the preset (`hf://ORG/NAME/preset.ini`, its line, `[section]`),
planned, fetched, locked and listed like any other.

The preset's bytes are needed before its models can be planned: a cached copy is read; else it
is fetched first (a few hundred bytes), except in a dry run, which asks for no file (`models.lock`,
which must name every model, resolves with the presets fetched: `resolve.resolve_models`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..cache import layout as hf_cache
from ..llama.preset import PRESET_FILE, PresetError, preset_models
from ..llama.repo_id import model_problem
from ..models import Diagnostic, HuggingFaceModel, ModelReference
from ..scan.candidates import url_pattern
from ..scan.config import DEFAULT_URL_HOSTS
from ..setup import environment
from .jobs import FetchSettings, FileJob, FileStatus, ModelPlan, ModelStatus

#: Presets naming preset repos are followed this deep (a loop of presets ends there).
MAX_DEPTH = 3

Download = Callable[[list[FileJob]], None]


def preset_location(repo: str) -> str:
    """Where a preset's references say they are."""
    return f"hf://{repo}/{PRESET_FILE}"


def follow_presets(resolved: list[ModelPlan], plans: list[ModelPlan], settings: FetchSettings,
                   download: Download | None, diagnostics: list[Diagnostic],
                   is_denied: Callable[[HuggingFaceModel], bool]) -> list[ModelPlan]:
    """The plans of models the presets among `resolved` name that `plans` does not hold yet
    (appended to it); known models get the preset's references. `download` fetches preset
    files not yet cached (None: a dry run)."""
    presets = [plan for plan in resolved if _preset_job(plan) is not None]
    if not presets:
        return []
    jobs = [job for plan in presets if (job := _preset_job(plan)) is not None]
    missing = [job for job in jobs if job.status is FileStatus.DOWNLOAD]
    if missing and download is not None:
        download(missing)
    by_model = {plan.model: plan for plan in plans}
    new: list[ModelPlan] = []
    for plan in presets:
        job = _preset_job(plan)
        assert job is not None
        if job.status not in (FileStatus.CACHED, FileStatus.DOWNLOADED):
            if job.status is FileStatus.DOWNLOAD:  # a dry run: the preset is not read
                plan.note = (f"{PRESET_FILE} not fetched in a dry run: the models it names "
                             "are not planned")
            continue
        for ref in _references(job, settings, diagnostics):
            known = by_model.get(ref.model)
            if known is not None:
                if ref not in known.references:
                    known.references.append(ref)
                continue
            known = by_model[ref.model] = ModelPlan(ref.model, [ref])
            if is_denied(ref.model):
                known.set_aside(ModelStatus.DENIED, "on the deny list")
            new.append(known)
    plans += new
    return new


def _preset_job(plan: ModelPlan) -> FileJob | None:
    """The plan's `preset.ini`, when the reference resolved to a preset repo."""
    if plan.model.revision or len(plan.files) != 1 or plan.files[0].file.path != PRESET_FILE:
        return None
    return plan.files[0]


def _references(job: FileJob, settings: FetchSettings,
                diagnostics: list[Diagnostic]) -> list[ModelReference]:
    where = preset_location(job.repo)

    def diagnose(line: int | None, message: str) -> None:
        diagnostics.append(Diagnostic(file=where, line=line, severity="warning",
                                      message=message, kind="preset"))

    path = hf_cache.snapshot_path(settings.cache, job.repo, job.commit, PRESET_FILE)
    try:
        text = Path(path).read_bytes().decode("utf-8")
        found = preset_models(text)
    except (OSError, UnicodeDecodeError) as exc:
        diagnose(None, f"{job.repo}: {PRESET_FILE} cannot be read ({exc}): the models it names "
                       "are not fetched")
        return []
    except PresetError as exc:
        diagnose(exc.line, f"{job.repo}: {PRESET_FILE} cannot be read as llama.cpp reads it "
                           f"({exc}): the models it names are not fetched")
        return []
    refs = []
    urls = url_pattern((*DEFAULT_URL_HOSTS, environment.url_host(settings.endpoint)))
    for entry in found:
        model = None
        if entry.url is not None:
            match = urls.fullmatch(entry.url)
            if match:
                model = HuggingFaceModel(hf_repo=match["repo"], hf_file=match["path"],
                                         revision=match["rev"])
        elif entry.hf_repo is not None:
            problem = model_problem(entry.hf_repo, entry.hf_file)
            if problem:
                diagnose(entry.line, f"[{entry.section}]: {problem}")
                continue
            model = HuggingFaceModel(hf_repo=entry.hf_repo, hf_file=entry.hf_file)
        if model is not None:
            refs.append(ModelReference(model=model, file=where, line=entry.line,
                                       test=f"[{entry.section}]", kind="preset"))
    return refs
