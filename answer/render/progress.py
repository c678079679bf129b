"""Progress bars on the terminal for the ``KnowledgeBase`` progress callback (stage, advance, total)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from rich.console import Console

LABELS = {"load": "Reading sources", "embed": "Embedding passages", "embed sentences": "Embedding sentences",
          "embed examples": "Embedding example questions",
          "model": "Loading the embedding model (first use converts it: ~1 min)"}


@contextmanager
def progress_bars(console: Console, enabled: bool = True) -> Iterator[Any]:
    """A progress callback drawing one bar per stage on ``console`` (None when not ``enabled``).
    The counts are the work done now, e.g. passages embedded: cached ones are not counted."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    tasks: dict[str, Any] = {}
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), console=console)

    def update(stage: str, advance: int, total: int) -> None:
        if not tasks:
            bar.start()  # only when there is work to show: opening a built index prints nothing
        if stage not in tasks:
            tasks[stage] = bar.add_task(LABELS.get(stage, stage), total=total)
        bar.update(tasks[stage], advance=advance)

    try:
        yield update
    finally:
        if tasks:
            bar.stop()
