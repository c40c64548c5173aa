"""Human output of the command line: messages and rich progress bars on stderr, JSON on stdout.

stdout carries only ``--json`` results (or video bytes with ``-o -``), so reenact composes in shell
pipelines. Progress bars show only when stderr is a terminal and ``-q`` is not given.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

ProgressCallback = Callable[[int], None]
"""Called with the number of items just completed (an increment)."""


@dataclass
class Reporter:
    """Everything the CLI says to a person, in one place."""

    quiet: bool = False
    verbose: int = 0
    json_mode: bool = False
    console: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))

    @property
    def show_progress(self) -> bool:
        return not self.quiet and self.console.is_terminal

    def info(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message, markup=False, highlight=False)

    def debug(self, message: str) -> None:
        if self.verbose and not self.quiet:
            self.console.print(message, style="dim", markup=False, highlight=False)

    def warn(self, message: str) -> None:
        # Warnings show even with -q: they change what the user gets.
        self.console.print(f"reenact: warning: {message}", style="yellow", markup=False, highlight=False)

    def table(self, table: Table) -> None:
        if self.quiet:
            return
        if self.console.is_terminal:
            self.console.print(table)
            return
        # A log file or a pipe has no width to fit: rich would assume 80 columns and cut numbers to "…".
        natural = Measurement.get(self.console, self.console.options.update(width=1 << 16), table).maximum
        width = self.console.width
        self.console.width = max(width, natural)
        try:
            self.console.print(table)
        finally:
            self.console.width = width

    def emit_json(self, payload: dict[str, Any]) -> None:
        """One JSON object on one line of stdout; a number that is not finite (a metric with nothing to
        measure, e.g. the cross-identity change distance) is written as null, since NaN is not JSON and breaks
        jq."""
        sys.stdout.write(json.dumps(_finite(payload), default=_json_default, allow_nan=False) + "\n")
        sys.stdout.flush()

    @contextlib.contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[ProgressCallback]:
        """A progress bar for one stage; yields a callback taking increments."""
        if not self.show_progress:
            yield lambda n=1: None
            return
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
        if total:
            columns.append(TimeRemainingColumn())
        with Progress(*columns, console=self.console, transient=False) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(task, n)


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float in it (nested in dicts, lists, tuples) replaced by None."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_default(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return _finite(value.item())
        if isinstance(value, np.ndarray):
            return _finite(value.tolist())
    except ImportError:  # pragma: no cover
        pass
    if hasattr(value, "__fspath__"):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
