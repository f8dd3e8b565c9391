"""The one markdown table renderer of the project."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import polars as pl


def markdown_table(
    title: str | None,
    table: pl.DataFrame,
    *,
    decimals: int = 4,
    missing: str = "",
    number: Callable[[float], str] | None = None,
) -> str:
    """`table` as a markdown table under a `# title` heading (none when `title` is None): floats to
    `decimals` places (or as `number` writes them), NaN and null as `missing`, `|` in text
    escaped."""
    lines = [f"# {title}", ""] if title else []
    lines.append("| " + " | ".join(table.columns) + " |")
    lines.append("|" + "---|" * len(table.columns))
    write = number or (lambda value: f"{value:.{decimals}f}")
    lines += [
        "| " + " | ".join(_cell(value, write, missing) for value in row) + " |"
        for row in table.iter_rows()
    ]
    return "\n".join(lines) + "\n"


def _cell(value: Any, number: Callable[[float], str], missing: str) -> str:
    if isinstance(value, float):
        return missing if math.isnan(value) else number(value)
    return missing if value is None else str(value).replace("|", "\\|")
