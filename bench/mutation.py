"""Mutation testing: how much of a module's behaviour its tests pin down.

For each module below, every mutation site (a comparison, boolean operator, `not`, number,
string, `True`/`False`, `+`/`-`, `break`/`continue`) is changed one at a time in a scratch copy
of the project, and the module's test files run against it (`pytest -x`). A mutant is killed
when the tests fail (or time out); a survivor is a behaviour no test notices. Mutants listed in
`bench/mutation_equivalent.txt` (`module: description @ source line  # why it cannot change
behaviour`)
are reported as equivalent and left out of the score.

Usage: python bench/mutation.py [MODULE ...] [--budget SECONDS] [--jobs N] [--list]
Prints, per module, killed / mutants and the score, then every survivor with its line.
"""

from __future__ import annotations

import argparse
import ast
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EQUIVALENT_FILE = REPO / "bench" / "mutation_equivalent.txt"

#: module -> the test files that own its behaviour (fast ones: no network, few subprocesses)
TARGETS: dict[str, tuple[str, ...]] = {
    "scanner/llama/resolve.py": ("tests/test_resolve.py",),
    "scanner/llama/repo_id.py": ("tests/test_repo_id.py", "tests/test_scan.py"),
    "scanner/scan/visitor.py": (
        "tests/test_scan.py",
        "tests/test_presets.py::test_preset_text_in_string_constants_is_a_reference_with_its_file"
        "_and_line",
        "tests/test_presets.py::test_a_repo_whose_name_begins_another_gets_its_own_line",
        "tests/test_presets.py::test_preset_text_among_other_lines_still_names_its_models",
        "tests/test_presets.py::test_a_repo_not_spelled_out_in_the_source_is_on_the_strings"
        "_first_line"),
    "scanner/scan/values.py": ("tests/test_scan.py",),
    "scanner/scan/parametrize.py": ("tests/test_scan.py",),
    "scanner/scan/assignments.py": ("tests/test_scan.py",),
    "scanner/scan/candidates.py": ("tests/test_scan.py",),
    "scanner/scan/batch.py": ("tests/test_scan.py", "tests/test_scan_workers.py"),
    "scanner/scan/workers.py": ("tests/test_scan_workers.py",),
    "scanner/scan/suite.py": ("tests/test_scan.py", "tests/test_scan_workers.py"),
    "scanner/selection/needs.py": ("tests/test_selection_needs.py",),
    "scanner/cache/layout.py": ("tests/test_cache.py",),
    "scanner/cache/locks.py": ("tests/test_cache.py", "tests/test_prune.py"),
    "scanner/setup/environment.py": ("tests/test_cache.py", "tests/test_environment.py"),
    "scanner/fetch/lock.py": ("tests/test_lock_file.py", "tests/test_lock.py"),
    "scanner/prune/unneeded.py": ("tests/test_prune.py",),
    "scanner/fetch/partial.py": ("tests/test_partial.py",),
    "scanner/fetch/transfer.py": (
        "tests/test_transfer_ranges.py", "tests/test_transfer_faults.py",
        "tests/test_transfer.py", "tests/test_reliability.py",
        "tests/test_lock_cache.py::test_a_wrong_size_in_the_lock_is_one_clear_error_and_leaves"
        "_no_partial",
        "tests/test_lock_cache.py::test_a_wrong_sha256_in_the_lock_fails_warm_or_cold_and_deletes"
        "_nothing",
        "tests/test_reliability_cache.py::test_a_disk_full_mid_file_keeps_the_bytes_and_the_rerun"
        "_resumes"),
    "scanner/fetch/claim.py": (
        "tests/test_transfer.py", "tests/test_download_workers.py", "tests/test_reliability.py"),
    "scanner/fetch/download.py": (
        "tests/test_download_workers.py", "tests/test_transfer_ranges.py",
        "tests/test_transfer.py", "tests/test_reliability.py"),
    "scanner/fetch/parallel.py": (
        "tests/test_parallel.py", "tests/test_download_workers.py", "tests/test_plan.py"),
    "scanner/hub/errors.py": ("tests/test_hub_errors.py",),
    "scanner/hub/client.py": ("tests/test_hub.py",),
    "scanner/hub/transport.py": ("tests/test_hub.py",),
    "scanner/cli/declarations.py": ("tests/test_options.py", "tests/test_task_flags.py"),
    "scanner/cli/options.py": ("tests/test_options.py",),
    "scanner/fetch/plan.py": ("tests/test_plan.py", "tests/test_fetch_run.py"),
    "scanner/fetch/run.py": ("tests/test_fetch_run.py", "tests/test_plan.py"),
    "scanner/fetch/resolve.py": (
        "tests/test_fetch_run.py", "tests/test_plan.py", "tests/test_presets.py"),
    "scanner/output/show.py": ("tests/test_show.py",),
    **{f"scanner/frameworks/{name}.py": ("tests/test_frameworks.py",
                                         "tests/test_frameworks_layouts.py")
       for name in ("common", "plan", "hub", "transformers", "sentence_transformers",
                    "diffusers", "servers")},
}

SWAPS: dict[type, type] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.And: ast.Or, ast.Or: ast.And,
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Break: ast.Continue, ast.Continue: ast.Break,
}


@dataclass(frozen=True)
class Mutant:
    module: str
    index: int  # the index-th mutation site of the module, in walk order
    line: int
    description: str
    code: str  # the source line, stripped: what an equivalent mutant is recognised by

    @property
    def key(self) -> str:
        return f"{self.module}: {self.description} @ {self.code}"


def _skipped_nodes(tree: ast.Module) -> set[int]:
    """Docstrings and annotations: changing them changes no behaviour a test could see."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                and isinstance(first.value.value, str):
            skipped.add(id(first.value))
        annotations: list[ast.AST | None] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            annotations.append(node.returns)
            args = node.args
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            annotations += [a.annotation for a in every if a is not None]
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for annotation in annotations:
            if annotation is not None:
                skipped.update(id(n) for n in ast.walk(annotation))
        if isinstance(node, ast.ImportFrom):
            skipped.update(id(n) for n in ast.walk(node))
    return skipped


def _sites(tree: ast.Module) -> Iterator[tuple[ast.AST, str, int]]:
    """(node, what the mutation does, line) for every mutation site, in a stable order."""
    skipped = _skipped_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in SWAPS:
                    yield node, f"compare #{i}: {type(op).__name__} -> " \
                                f"{SWAPS[type(op)].__name__}", line
        elif isinstance(node, (ast.BoolOp, ast.BinOp)) and type(node.op) in SWAPS:
            yield node, f"{type(node.op).__name__} -> {SWAPS[type(node.op)].__name__}", line
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, "drop `not`", line
        elif isinstance(node, (ast.Break, ast.Continue)):
            yield node, f"{type(node).__name__} -> {SWAPS[type(node)].__name__}", line
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                yield node, f"{value} -> {not value}", line
            elif isinstance(value, int):
                yield node, f"{value} -> {value + 1}", line
            elif isinstance(value, str):
                yield node, f"{_short(value)} -> 'XX'+...+'XX'", line


def _short(text: str) -> str:
    return repr(text if len(text) <= 30 else text[:27] + "...")


class _Apply(ast.NodeTransformer):
    """Applies the mutation at one site, found again by its position in the walk order."""

    def __init__(self, target: ast.AST, sub_index: int) -> None:
        self.target, self.sub_index = target, sub_index

    def visit(self, node: ast.AST) -> ast.AST:
        if node is not self.target:
            return super().visit(node)
        if isinstance(node, ast.Compare):
            node.ops[self.sub_index] = SWAPS[type(node.ops[self.sub_index])]()
        elif isinstance(node, (ast.BoolOp, ast.BinOp)):
            node.op = SWAPS[type(node.op)]()
        elif isinstance(node, ast.UnaryOp):
            return node.operand
        elif isinstance(node, (ast.Break, ast.Continue)):
            return SWAPS[type(node)]()
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                node.value = not value
            elif isinstance(value, int):
                node.value = value + 1
            elif isinstance(value, str):
                node.value = f"XX{value}XX"
        return node


def mutants_of(module: str, source: str) -> list[Mutant]:
    lines = source.splitlines()
    return [Mutant(module, i, line, what, lines[line - 1].split("  #")[0].strip() if line else "")
            for i, (_, what, line) in enumerate(_sites(ast.parse(source)))]


def mutated_source(mutant: Mutant, original: str) -> str:
    tree = ast.parse(original)
    sites = list(_sites(tree))
    node, what, _ = sites[mutant.index]
    sub_index = int(what.split("#")[1].split(":")[0]) if what.startswith("compare #") else 0
    mutated = _Apply(node, sub_index).visit(tree)
    return ast.unparse(ast.fix_missing_locations(mutated))


def equivalents() -> dict[str, str]:
    """`Mutant.key` -> why it cannot change behaviour (by source text, not line number, so the
    list survives edits elsewhere in the module)."""
    found: dict[str, str] = {}
    if not EQUIVALENT_FILE.exists():
        return found
    for raw in EQUIVALENT_FILE.read_text().splitlines():
        if raw.strip() and not raw.startswith("#"):
            key, _, why = raw.rpartition("  # ")
            found[key.strip()] = why.strip()
    return found


def _scratch_copy() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="ftm-mutation-"))
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", ".*_cache",
                                    ".hypothesis", "build")
    shutil.copytree(REPO, folder / "repo", ignore=ignore)
    return folder / "repo"


def _run_tests(copy_root: Path, tests: tuple[str, ...], timeout: float) -> bool:
    """True when the tests fail (the mutant is killed)."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               "-o", "addopts=", *tests]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        run = subprocess.run(command, cwd=copy_root, env=env, capture_output=True,
                             timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return True
    return run.returncode != 0


def run_module(module: str, free: queue.Queue[Path], deadline: float
               ) -> list[tuple[Mutant, bool | None]] | None:
    """Every mutant of `module` against its tests (None: not run, the budget is spent)."""
    tests = TARGETS[module]
    root = free.get()
    mutants = mutants_of(module, (root / module).read_text())  # the copy, not the live tree
    started = time.monotonic()
    failing = _run_tests(root, tests, timeout=600)
    free.put(root)
    if failing:
        return None
    timeout = 3 * (time.monotonic() - started) + 5

    def attempt(mutant: Mutant) -> tuple[Mutant, bool | None]:
        if time.monotonic() > deadline:
            return mutant, None
        root = free.get()  # each scratch copy holds one mutant at a time
        target = root / mutant.module
        original = target.read_text()
        try:
            target.write_text(mutated_source(mutant, original))
            return mutant, _run_tests(root, tests, timeout)
        finally:
            target.write_text(original)
            free.put(root)

    with ThreadPoolExecutor(max_workers=free.qsize()) as pool:
        return list(pool.map(attempt, mutants))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", default=list(TARGETS))
    parser.add_argument("--budget", type=float, default=1800, help="seconds for the whole run")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    options = parser.parse_args()
    if options.list:
        for module in options.modules:
            for m in mutants_of(module, (REPO / module).read_text()):
                print(f"{m.module}:{m.line}: {m.key}")
        return 0
    started = time.monotonic()
    copies = [_scratch_copy() for _ in range(options.jobs)]
    free: queue.Queue[Path] = queue.Queue()
    for root in copies:
        free.put(root)
    known = equivalents()
    try:
        for module in options.modules:
            results = run_module(module, free, started + options.budget)
            if results is None:
                print(f"{module}: its tests fail without any mutant; fix them first")
                return 1
            _report(module, results, known)
    finally:
        for root in copies:
            shutil.rmtree(root.parent, ignore_errors=True)
    print(f"took {time.monotonic() - started:.0f} s")
    return 0


def _report(module: str, results: list[tuple[Mutant, bool | None]],
            known: dict[str, str]) -> None:
    ran = [(m, killed) for m, killed in results if killed is not None]
    equivalent = [(m, known[m.key]) for m, killed in ran if not killed and m.key in known]
    survivors = [m for m, killed in ran if not killed and m.key not in known]
    killed = sum(1 for _, k in ran if k)
    counted = len(ran) - len(equivalent)
    score = 100 * killed / counted if counted else 100.0
    skipped = len(results) - len(ran)
    print(f"{module}: {killed} killed of {counted} ({score:.1f}%), {len(equivalent)} equivalent"
          + (f", {skipped} not run (budget)" if skipped else ""))
    for mutant in survivors:
        print(f"  survived (line {mutant.line}) {mutant.key}")
    for mutant, why in equivalent:
        print(f"  equivalent (line {mutant.line}) {mutant.key}  # {why}")


if __name__ == "__main__":
    sys.exit(main())
