"""Fetch, in the order a native run goes through it: `run` (the one entry point), `resolve` (the
plan, before any model file is downloaded; all `models.lock` does), `jobs` (the settings, a
job per file, a plan per model), `presets` (the models a remote preset names),
`plan` (listings, llama.cpp's choice, cached blobs), `parallel` (the daemon threads the
listings and the downloads run on), `download` (the workers), `claim` (a file's blob: its
lock, the partial opened or resumed), `transfer` (one file: ranges, retries, storing),
`partial` (the resumable partial file), `content` (sha256 / git blob id), `reporting` (what
the downloads report to), `place` (URL files where the suite reads them); and `llama`,
llama.cpp's own downloader as the other backend."""
