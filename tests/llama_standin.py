"""The llama.cpp backend is tested with a stand-in executable rather than a real llama.cpp build
(tests/test_llama_backend.py, tests/test_llama_task.py), and so is the llama-server a test
starts (tests/test_stopping.py); this module writes it and reads its log.

`write_standin` writes a small Python script named like a llama.cpp binary (`llama`,
`llama-download`, `llama-completion`, `llama-cli`, `llama-server`) with a shebang for this
interpreter. It:
- appends its program name, argv, PID and the environment variables of interest (LLAMA_CACHE,
  HF_HUB_CACHE, MODEL_ENDPOINT, HF_ENDPOINT, LLAMA_ARG_OFFLINE, whether HF_TOKEN is set) to the
  JSON-lines file named by $STANDIN_LOG;
- parses its arguments the way current llama.cpp's `common/arg.cpp` does for that binary (only
  the options the `download` example registers, `-fa` needing on|off|auto, the same messages);
- then stays up $STANDIN_SLEEP seconds, if set (a llama-server serving);
- writes what llama.cpp's downloader writes: `$LLAMA_CACHE/models--org--name/refs/main` with a
  fake commit, `blobs/<sha256 of content>`, `snapshots/<commit>/<file>` as a relative symlink to
  the blob, all parts of a split model; `download` prints the local path;
- fails like llama.cpp (exit 1, errors on stderr) for repos listed in $STANDIN_FAIL_REPOS, and
  then also prints $HF_TOKEN to stderr, which the backend must redact.
Like upstream, `download` skips a repo's mmproj ($STANDIN_MMPROJ_REPOS) and `llama-cli` fetches it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

STANDIN = r'''#!{python}
"""Stand-in for the llama.cpp binary this file is named after (tests/llama_standin.py)."""
import hashlib, json, os, re, subprocess, sys, time, urllib.parse
from pathlib import Path

PROG, ARGS = os.path.basename(sys.argv[0]), sys.argv[1:]
ENV_KEYS = ("LLAMA_CACHE", "HF_HUB_CACHE", "MODEL_ENDPOINT", "HF_ENDPOINT", "LLAMA_ARG_OFFLINE")
TRUTHY = ("on", "enabled", "true", "1")
FA_VALUES = TRUTHY + ("off", "disabled", "false", "0", "auto", "-1")
# option -> (key, number of values), as registered for LLAMA_EXAMPLE_DOWNLOAD
DOWNLOAD_OPTS = {{
    "-h": ("help", 0), "--help": ("help", 0), "-m": ("model", 1), "--model": ("model", 1),
    "-mu": ("url", 1), "--model-url": ("url", 1), "-dr": ("docker", 1),
    "-hf": ("hf_repo", 1), "-hfr": ("hf_repo", 1), "--hf-repo": ("hf_repo", 1),
    "-hff": ("hf_file", 1), "--hf-file": ("hf_file", 1), "-hft": ("token", 1),
    "--hf-token": ("token", 1), "--offline": ("offline", 0), "--mtp": ("mtp", 0),
    "--dflash": ("dflash", 0), "--eagle3": ("eagle3", 0),
    "--mmproj-auto": ("mmproj", 0), "--no-mmproj": ("no_mmproj", 0),
}}
# a few of the common / completion / cli options
LEGACY_OPTS = dict(DOWNLOAD_OPTS, **{{
    "-n": ("n_predict", 1), "--n-predict": ("n_predict", 1), "-p": ("prompt", 1),
    "--prompt": ("prompt", 1), "--no-warmup": ("no_warmup", 0), "--log-disable": ("log", 0),
    "-no-cnv": ("no_cnv", 0), "--no-conversation": ("no_cnv", 0), "-fa": ("fa", 1),
    "--flash-attn": ("fa", 1),
}})
for opt in ("--mtp", "--dflash", "--eagle3"):  # download-only
    LEGACY_OPTS.pop(opt)


def record():
    rec = {{"prog": PROG, "argv": ARGS, "env": {{k: os.environ.get(k) for k in ENV_KEYS}},
           "hf_token_set": bool(os.environ.get("HF_TOKEN")), "pid": os.getpid()}}
    with open(os.environ["STANDIN_LOG"], "a") as f:
        f.write(json.dumps(rec) + "\n")


def die(*lines):
    sys.stderr.write("\n".join(lines) + "\n")
    sys.exit(1)


def arg_error(arg, why):
    die(f'error while handling argument "{{arg}}": {{why}}', "", "usage:",
        f"{{arg}} VALUE    (stand-in usage text)", "", "to show complete usage, run with -h")


def parse(args, opts):
    params, i = {{}}, 0
    while i < len(args):
        arg = args[i]
        if arg not in opts:
            die(f"error: invalid argument: {{arg}}")
        key, arity = opts[arg]
        if arity == 0:
            params[key], i = True, i + 1
            continue
        if i + 1 >= len(args):
            arg_error(arg, "expected value for argument")
        value = args[i + 1]
        if key == "fa" and value not in FA_VALUES:
            arg_error(arg, f"error: unknown value for --flash-attn: '{{value}}'\n")
        params[key], i = value, i + 2
    return params


def plan(repo, tag, hf_file, mode, no_mmproj):
    """(primary, every file to store): what llama.cpp's common_download_get_hf_plan picks."""
    name = repo.split("/")[1]
    if hf_file:
        m = re.match(r"^(.+)-([0-9]{{5}})-of-([0-9]{{5}})\.gguf$", hf_file)
        count = int(m.group(3)) if m else 1
        files = [f"{{m.group(1)}}-{{i:05d}}-of-{{count:05d}}.gguf" for i in range(1, count + 1)] \
            if m else [hf_file]
        return hf_file, files
    primary = f"{{name.removesuffix('-GGUF')}}-{{(tag or 'Q4_K_M').upper()}}.gguf"
    files = [primary]
    if repo in os.environ.get("STANDIN_MMPROJ_REPOS", "").split(",") and not no_mmproj \
            and mode == "llama-cli":  # mmproj_examples: MTMD, SERVER, CLI (not DOWNLOAD)
        files.append(f"mmproj-{{name.removesuffix('-GGUF')}}-F16.gguf")
    return primary, files


def store(repo, path, offline):
    cache = Path(os.environ.get("LLAMA_CACHE") or os.environ["HF_HUB_CACHE"])
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    commit = hashlib.sha1(repo.encode()).hexdigest()
    snapshot = repo_dir / "snapshots" / commit / path
    if offline:
        if not snapshot.exists():
            die("error: model download failed")
        return snapshot
    content = f"GGUF stand-in {{repo}} {{path}}\n".encode()
    blob = repo_dir / "blobs" / hashlib.sha256(content).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(content)
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(commit)
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    if not snapshot.is_symlink():
        snapshot.symlink_to(os.path.relpath(blob, snapshot.parent))
    return snapshot


def main():
    record()
    if PROG == "llama":
        if not ARGS or ARGS[0] != "download":
            die(f"error: unknown command '{{ARGS[0] if ARGS else ''}}'")
        mode, rest = "download", ARGS[1:]
    else:
        mode, rest = ("download" if PROG == "llama-download" else PROG), ARGS
    params = parse(rest, DOWNLOAD_OPTS if mode == "download" else LEGACY_OPTS)
    if os.environ.get("STANDIN_CHILD_PID"):  # a wrapper script's own child, e.g. `sleep`
        child = subprocess.Popen(["sleep", "30"])
        with open(os.environ["STANDIN_CHILD_PID"], "w") as out:
            out.write(str(child.pid))
    time.sleep(float(os.environ.get("STANDIN_SLEEP", "0")))
    params.setdefault("hf_file", os.environ.get("LLAMA_ARG_HF_FILE"))  # set_env defaults
    if os.environ.get("LLAMA_ARG_HF_REPO"):
        params.setdefault("hf_repo", os.environ["LLAMA_ARG_HF_REPO"])
    if "hf_repo" not in params:
        die("error: no model source specified "
            "(use --hf-repo, --model-url, --model or --docker-repo)")
    repo, _, tag = params["hf_repo"].partition(":")
    if repo in os.environ.get("STANDIN_FAIL_REPOS", "").split(","):
        token = params.get("token") or os.environ.get("HF_TOKEN", "")
        in_url = (f"error: GET https://hub.invalid/api?token={{urllib.parse.quote(token, safe='')}}"
                  if os.environ.get("STANDIN_TOKEN_IN_URL") else
                  f"error: HEAD {{os.environ['MODEL_ENDPOINT']}}/{{repo}}/resolve/main/x.gguf"
                  if os.environ.get("STANDIN_ENDPOINT_IN_URL") else "")
        die(f"common_download_file_single_online: Authorization: Bearer {{token}}",
            f"get_repo_commit: error: GET failed (401): Invalid credentials, token {{token}}",
            *([in_url] if in_url else []),
            "error: model download failed" if mode == "download" else "error: --model is required")
    offline = params.get("offline") or os.environ.get("LLAMA_ARG_OFFLINE", "") in TRUTHY
    primary, files = plan(repo, tag, params.get("hf_file"), mode, params.get("no_mmproj"))
    paths = {{f: store(repo, f, offline) for f in files}}
    if mode == "download":
        print(paths[primary])
    else:
        print("Hey there")  # the one generated token


main()
'''


def write_standin(directory: Path, name: str) -> Path:
    """A stand-in llama.cpp executable called `name` in `directory` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(STANDIN.format(python=sys.executable))
    path.chmod(0o755)
    return path


def read_log(log: Path) -> list[dict[str, Any]]:
    """The stand-in runs recorded in `log`, oldest first ([] if none ran)."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]
