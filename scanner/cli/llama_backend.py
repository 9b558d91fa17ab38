"""`models.fetch --backend llama`: llama.cpp's own downloader, once per model, on the same
cache and endpoint; its outcome (shown by `output/show.py`)."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import SetupError
from ..fetch.llama import (
    LlamaNotFound,
    fetch_with_llama,
    find_llama_binary,
    llama_command,
    unsupported_reason,
)
from ..fetch.plan import is_model_url
from ..models import ScanResult
from ..output.console import make_console
from ..output.llama_report import print_llama_done, print_llama_start
from ..output.outcomes import LlamaFetched
from ..selection.needs import SelectedScan
from ..setup import environment
from .options import Options


def fetch_with_llama_backend(options: Options, scan: ScanResult, env: Mapping[str, str],
                             selected: SelectedScan | None = None) -> LlamaFetched:
    """`--backend llama`: llama.cpp's own downloader, once per model, same cache and endpoint;
    with `--dry-run` only the commands. No llama.cpp binary is a SetupError (exit 2)."""
    try:
        binary = find_llama_binary(options.root, options.models.llama_bin, env)
    except LlamaNotFound as exc:
        raise SetupError(str(exc)) from exc
    models = [m for m in scan.fetchable()  # a URL to an image is the tests' to fetch
              if m.loader is None  # a framework's files are not llama.cpp's to fetch
              and (m.revision is None or (options.models.urls and is_model_url(m)))]
    console, quiet = make_console(), options.models.json
    if not quiet:
        print_llama_start(scan, selected, console)
    if options.models.dry_run:
        commands = [() if unsupported_reason(model)
                    else tuple(llama_command(binary, model, offline=options.models.offline))
                    for model in models]
        return LlamaFetched(scan, selected, binary, models, [], commands)
    outcomes = fetch_with_llama(
        binary, models, cache_dir=environment.cache_dir(env, options.cache_dir),
        endpoint=environment.endpoint(env), offline=options.models.offline, env=env,
        timeout=options.models.llama_timeout,
        on_done=None if quiet else lambda outcome: print_llama_done(outcome, console))
    return LlamaFetched(scan, selected, binary, models, outcomes)
