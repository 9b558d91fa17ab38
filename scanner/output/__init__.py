"""Output for people (console, tables, progress) and machines (JSON documents).

What a task shows at its end comes from one place: `show.show(outcome, ShowAs(...))` turns the
outcome a command computed (`scanner/output/outcomes.py`) into text or the `--json` document, the CI
step summary (`step_summary`) and the exit code (`show.exit_code`, the strict rule in
`show.scan_code`). Each task's own text is in its report: `scan_report` (`models.list`),
`fetch_report` (the plan, progress in `progress`, the summary), `llama_report` (`--backend
llama`), `lock_report`, `prune_report`, `server_report` (`test.server`). What is shown while a
task runs (the plan before downloads, progress, prune's items before removal) is printed live
by the same reports. Messages besides these go through `log` (`--verbosity`)."""
