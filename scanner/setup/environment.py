"""Where llama.cpp takes its cache folder, Hub endpoint and token from (`common/hf-cache.cpp`,
`common/download.cpp`), read the same way here so both find the same files; and the checks
that turn a bad value into a usage error before the first request."""

from __future__ import annotations

import errno
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import OptionsError

DEFAULT_ENDPOINT = "https://huggingface.co"
#: A URL inside a text (an error message, a line of a child's output)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
CACHE_VARIABLES = ("LLAMA_CACHE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")


def cache_dir(env: Mapping[str, str], override: Path | None = None) -> Path:
    """`--cache-dir`, else the first of llama.cpp's variables that is set."""
    return _cache_dir(env, override).expanduser().absolute()  # tests run in another folder


def _cache_dir(env: Mapping[str, str], override: Path | None) -> Path:
    if override is not None:
        return override
    for name in CACHE_VARIABLES:
        if env.get(name):
            return Path(env[name])
    return _hf_home_hub(env)


def _hf_home_hub(env: Mapping[str, str]) -> Path:
    """Where both look when no cache variable is set: HF_HOME's `hub`, else XDG_CACHE_HOME's
    `huggingface/hub`, else ~/.cache/huggingface/hub."""
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]) / "hub"
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface" / "hub"


def hub_cache_dir(env: Mapping[str, str]) -> Path:
    """The cache huggingface_hub reads in a process with `env` (`constants.HF_HUB_CACHE`:
    HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else as `_hf_home_hub`)."""
    named = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    return (Path(named) if named else _hf_home_hub(env)).expanduser().absolute()


def hub_cache_apart(env: Mapping[str, str], override: Path | None = None) -> Path | None:
    """The folder huggingface_hub reads in a process with `env` when it is not the fetch's
    cache (`LLAMA_CACHE` and `HF_HUB_CACHE` set to two folders, or `--cache-dir`); else None."""
    hub = hub_cache_dir(env)
    return hub if hub != cache_dir(env, override) else None


def cache_source(env: Mapping[str, str], override: Path | None = None) -> str:
    """Which setting named the cache folder, for a message about it."""
    if override is not None:
        return "--cache-dir (models.cache_dir)"
    named = [name for name in (*CACHE_VARIABLES, "HF_HOME", "XDG_CACHE_HOME") if env.get(name)]
    return named[0] if named else "the default cache folder"


def check_cache_dir(env: Mapping[str, str], override: Path | None = None) -> Path:
    """The cache folder, refused when it or a folder above it is not a directory (a file, a
    symbolic link loop): every model would fail on it one by one, after the Hub was asked."""
    folder = cache_dir(env, override)
    check_no_link_loop(folder, cache_source(env, override))
    for path in (folder, *folder.parents):
        if path.exists() and not path.is_dir():
            raise OptionsError(f"{cache_source(env, override)}: the cache {folder} cannot be a "
                               f"folder: {path} is a file")
        if path.exists():
            break
    return folder


def endpoint(env: Mapping[str, str]) -> str:
    """`MODEL_ENDPOINT`, else `HF_ENDPOINT`, else the Hub; without the trailing slash."""
    value = env.get("MODEL_ENDPOINT") or env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
    return value.rstrip("/")


def check_endpoint(env: Mapping[str, str]) -> str:
    """The endpoint, refused unless it is `http(s)://host[...]`: anything else fails every
    request after its retries (an unsupported scheme, a missing one, no host)."""
    value = endpoint(env)
    name = "MODEL_ENDPOINT" if env.get("MODEL_ENDPOINT") else "HF_ENDPOINT"
    try:
        parts = urlsplit(value)
        host = parts.hostname
        _ = parts.port  # read only to check it: httpx refuses the URL later, as a traceback
    except ValueError:  # an invalid port (`host:abc`, out of range) or IPv6 literal
        parts, host = urlsplit(""), None
    if parts.scheme not in ("http", "https") or not host:
        raise OptionsError(f"{name}: {shown_url(env[name])!r} is not an http(s)://host address "
                           "(for example https://huggingface.co)")
    return value


def token(env: Mapping[str, str]) -> str | None:
    """HF_TOKEN without the whitespace around it (`$(cat token-file)` keeps a newline, which no
    HTTP header may hold); refused, never shown, when other control characters remain."""
    value = (env.get("HF_TOKEN") or "").strip()
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in value):
        raise OptionsError("HF_TOKEN holds a space or a control character inside it, which no "
                           "HTTP header can carry: set it to the token alone")
    return value or None


def url_host(url: str) -> str:
    """The host (and port) of `url`, without the user and password before it: what a URL to
    the same server in a test suite starts with."""
    return urlsplit(url).netloc.rpartition("@")[2]


def shown_url(url: str) -> str:
    """`url` as every output, message and log line shows it: a password in it (a pull-through
    proxy's `http://user:PASSWORD@host`) as `***`, a user name alone (a token used as one) as
    `***`, and every value of its query string as `***`. Requests use the URL as given."""
    head, sep, query = url.partition("?")
    if sep:
        query = "&".join(f"{name}=***" if has else name for name, has, _ in
                         (field.partition("=") for field in query.split("&")))
    scheme, slashes, rest = head.partition("://")
    if not slashes:
        scheme, rest = "", head
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        authority = f"{user}:***@{host}" if colon else f"***@{host}"
    return f"{scheme}{slashes}{authority}{slash}{path}{sep}{query}"


def shown_text(text: str) -> str:
    """`text` with each URL in it as `shown_url` shows it."""
    return _URL.sub(lambda found: shown_url(found.group()), text)


def llama_switch(value: str | None) -> bool:
    """A switch set through its llama.cpp variable (`LLAMA_ARG_OFFLINE` for `--offline`):
    `common_params_parse_ex` (common/arg.cpp) runs a switch's handler when
    `common_arg_utils::is_truthy(value)`, which holds for exactly "on", "enabled", "true" and
    "1"; anything else, "false" and "yes" included, leaves it off."""
    return value in ("on", "enabled", "true", "1")


#: What makes the Hugging Face stack read the cache only, for tests that load models through
#: it. `HF_HUB_OFFLINE`: huggingface_hub's `constants.HF_HUB_OFFLINE` (read at import, falling
#: back on `TRANSFORMERS_OFFLINE` when unset), which transformers 5's `is_offline_mode` returns.
#: `TRANSFORMERS_OFFLINE`: the only one older transformers releases read for their own
#: `is_offline_mode` (`utils/hub.py`: `_is_offline_mode = ... os.environ.get(
#: "TRANSFORMERS_OFFLINE")`), which turns each `cached_file` into `local_files_only=True`.
#: Not `HF_DATASETS_OFFLINE`: the fetch brings no dataset, so a test loading one still needs
#: the Hub, and offline `datasets` would fail it.
HF_OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def hf_switch(value: str | None) -> bool:
    """A huggingface_hub switch variable, as `constants._is_true` reads it: "1", "ON", "YES"
    or "TRUE" in any case; anything else ("false", "no", "off", "0") is off."""
    return value is not None and value.upper() in ("1", "ON", "YES", "TRUE")


def offline(env: Mapping[str, str]) -> bool:
    """Whether the tests would run offline: llama.cpp's `LLAMA_ARG_OFFLINE`, or
    huggingface_hub's `HF_HUB_OFFLINE` (else `TRANSFORMERS_OFFLINE`, as its
    `constants.HF_HUB_OFFLINE` falls back when the first is unset or empty)."""
    return (llama_switch(env.get("LLAMA_ARG_OFFLINE"))
            or hf_switch(env.get("HF_HUB_OFFLINE") or env.get("TRANSFORMERS_OFFLINE")))


def check_no_link_loop(path: Path, setting: str) -> Path:
    """`path`, refused (an OptionsError naming `setting`) when it leads into a symbolic link
    loop, which no program can open or create; `Path.resolve` raises RuntimeError on one before
    Python 3.13 (OSError with ELOOP since)."""
    try:
        path.resolve(strict=True)
    except RuntimeError:
        pass
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            return path  # missing or unreadable: for the check that needs it to say
    else:
        return path
    raise OptionsError(f"{setting}: {path} leads into a symbolic link loop (a link that points "
                       "back to itself): point it at a real folder or file")


def resolved(path: Path, setting: str) -> Path:
    """`path` with its symbolic links resolved; a link loop is an OptionsError naming `setting`."""
    return check_no_link_loop(path, setting).resolve()


def check_settings(env: Mapping[str, str], cache_override: Path | None, *, hub: bool) -> None:
    """What a run needs from the user's setup, checked before the first request: a usable cache
    folder and, when the Hub is to be asked (`hub`), an http(s) endpoint and a clean token."""
    check_cache_dir(env, cache_override)
    if hub:
        check_endpoint(env)
        token(env)
