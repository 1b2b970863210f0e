"""What ``track-order`` prints while a batch runs, in the mode the user chose: the article's
report per order, each agent's section as it arrives (``--stream``), JSON Lines (``--json``),
nothing (``--quiet``), and a progress bar on a terminal. The text itself is ``core/report.py``'s,
made safe for a person on the way out (``core/outbound.py``), JSON included."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO

import click

from ..core import outbound
from ..core.report import order_json, render_footer, render_report, render_section
from ..core.results import AgentResult, OrderReport

__all__ = ["Mode", "Output", "Progress"]


class Mode(StrEnum):
    TEXT = "text"
    STREAM = "stream"
    JSON = "json"
    QUIET = "quiet"


class Progress:
    """A one-line progress indicator on stderr for batches, drawn only on a terminal."""

    def __init__(self, total_runs: int, stream: TextIO) -> None:
        self.total, self.done, self.orders_done = total_runs, 0, 0
        self.stream = stream

    def agent_done(self) -> None:
        self.done += 1
        self._draw()

    def order_done(self) -> None:
        self.orders_done += 1
        self._draw()

    def _draw(self) -> None:
        width = 30
        filled = width * self.done // max(1, self.total)
        bar = "█" * filled + "·" * (width - filled)
        self.stream.write(
            f"\r{bar} {self.done}/{self.total} agent runs, {self.orders_done} orders done"
        )
        self.stream.flush()

    def clear(self) -> None:
        self.stream.write("\r\x1b[K")
        self.stream.flush()


@dataclass
class Output:
    """Prints as results and reports arrive, in the chosen mode."""

    mode: Mode
    batch: bool
    progress: Progress | None = None

    def on_result(self, order_id: str, result: AgentResult) -> None:
        if self.progress:
            self.progress.agent_done()
        if self.mode == Mode.STREAM:
            self._echo(render_section(result, order_id if self.batch else None) + "\n")

    def on_report(self, report: OrderReport) -> None:
        if self.progress:
            self.progress.order_done()
        if self.mode == Mode.JSON:
            self._echo(outbound.json_text(order_json(report)))
        elif self.mode == Mode.TEXT:
            self._echo(render_report(report) + ("\n" if self.batch else ""))
        elif self.mode == Mode.STREAM:
            if self.batch:  # orders interleave: label the footer, and leave a gap after it
                prefix = f"[{outbound.line(report.order_id)}] "
                self._echo(prefix + render_footer(report).replace("\n", f"\n{prefix}") + "\n")
            else:
                self._echo(render_footer(report))

    def finish(self) -> None:
        if self.progress:
            self.progress.clear()

    def _echo(self, text: str) -> None:
        if self.progress:
            self.progress.clear()
        click.echo(text)
