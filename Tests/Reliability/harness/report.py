"""Figures tables: printed (pytest -s) and appended to the summary file that run.sh shows at the end."""
from __future__ import annotations

import os
from pathlib import Path


def table(title: str, header: list[str], rows: list[list[object]]) -> str:
    cells = [header] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    rule = "-" * len(line(header))
    return "\n".join([f"== {title}", line(header), rule, *(line(r) for r in cells[1:]), ""])


def publish(text: str) -> None:
    print("\n" + text, flush=True)
    summary = os.environ.get("RELIABILITY_SUMMARY")
    if summary:
        with open(Path(summary), "a") as f:
            f.write(text + "\n")


def _cell(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.1f}"
    return "-" if v is None else str(v)
