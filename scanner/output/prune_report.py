"""Output of `models.prune`: each item (listed before anything is removed), an item left
because a download holds its lock, and one closing line."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ..prune.unneeded import PruneItem
from . import log
from .console import human_size, make_console
from .outcomes import Pruned


def print_prune_items(items: list[PruneItem], cache: Path, console: Console) -> None:
    for item in items:
        size = human_size(item.size) if item.kind != "snapshot" else "-"
        console.print(f"{item.kind:<9} {size:>9}  {item.path.relative_to(cache)}", markup=False)


def print_left_in_use(item: PruneItem, lock_held: str, cache: Path, console: Console) -> None:
    console.print(f"left      {item.path.relative_to(cache)}: in use by a download "
                  f"({lock_held} is held)", markup=False)


def show_pruned(pruned: Pruned) -> None:
    cache, items = pruned.cache, pruned.items
    if pruned.unreadable is not None:
        log.error(f"error: cannot read the cache {cache}: {pruned.unreadable}")
        return
    console = make_console()
    if pruned.removed is None:
        total = human_size(sum(item.size for item in items))
        console.print(f"{len(items)} item(s), {total} in {cache}"
                      + ("; run with --yes to remove them" if items else ""), markup=False)
        return
    removed = pruned.removed
    busy = len(items) - len(removed)
    console.print(f"removed {len(removed)} item(s), {human_size(sum(i.size for i in removed))} "
                  f"from {cache}" + (f"; {busy} in use by a download, left" if busy else ""),
                  markup=False)
