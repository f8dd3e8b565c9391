"""The one markdown table renderer of the project."""

from __future__ import annotations

import math
from typing import Any

import polars as pl


def markdown_table(title: str | None, table: pl.DataFrame, *, decimals: int = 4) -> str:
    """`table` as a markdown table under a `# title` heading (none when `title` is None): floats to
    `decimals` places, NaN and null as empty cells, `|` in text escaped."""
    lines = [f"# {title}", ""] if title else []
    lines.append("| " + " | ".join(table.columns) + " |")
    lines.append("|" + "---|" * len(table.columns))
    lines += [
        "| " + " | ".join(_cell(value, decimals) for value in row) + " |"
        for row in table.iter_rows()
    ]
    return "\n".join(lines) + "\n"


def _cell(value: Any, decimals: int) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.{decimals}f}"
    return "" if value is None else str(value).replace("|", "\\|")
