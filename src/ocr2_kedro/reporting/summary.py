"""A stage's summary: what a person wants to know after a stage ran, as one markdown page.

Rows per table the stage wrote, its rejects by stage and reason, the key numbers of its metric
tables, and the titles of the reports it wrote. Tables come as frames (a lazy scan is counted with a
streaming `select(pl.len())`, so a large table costs a pass over no more than its row count), metric
dicts (kedro-mlflow's `{name: {"value", "step"}}` layout or a flat `{name: number}`), markdown text,
plotly figures or paths (a checkpoint folder); None is a table the run did not write."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from ocr2_kedro.reporting.tables import markdown_table
from ocr2_kedro.schemas import REJECT

Table = pl.DataFrame | pl.LazyFrame | Mapping | str | Any | None

# A REJECT table is recognised by the columns it is grouped on.
_REJECT_KEYS = ("stage", "reason")


def stage_summary(title: str, tables: Mapping[str, Table], shown: Sequence[str] = ()) -> str:
    """The markdown summary of one stage from its named `tables` (see the module's docstring); the
    frames named in `shown` (small metric tables, such as a comparison of models) are also written
    out whole."""
    frames = {name: t for name, t in tables.items() if isinstance(t, pl.DataFrame | pl.LazyFrame)}
    metrics = {name: t for name, t in tables.items() if isinstance(t, Mapping)}
    files = {name: str(t) for name, t in tables.items() if isinstance(t, Path)}
    reports = {
        name: _report_title(t)
        for name, t in tables.items()
        if t is not None and name not in {**frames, **metrics, **files}
    }
    missing = sorted(name for name, t in tables.items() if t is None)

    sections = [f"# {title}"]
    if frames:
        rows = pl.DataFrame(
            {"table": list(frames), "rows": [row_count(f) for f in frames.values()]},
            schema={"table": pl.String, "rows": pl.Int64},
        )
        sections.append("## Rows\n\n" + markdown_table(None, rows))
    rejects = rejects_by_reason(frames)
    if rejects is not None:
        body = markdown_table(None, rejects) if rejects.height else "No rejects.\n"
        sections.append("## Rejects\n\n" + body)
    for name in shown:
        if isinstance(tables.get(name), pl.LazyFrame | pl.DataFrame):
            sections.append(f"## {name}\n\n" + markdown_table(None, tables[name].lazy().collect()))
    for name, values in metrics.items():
        sections.append(
            f"## {name}\n\n" + markdown_table(None, metric_rows(values), number=_number)
        )
    if reports:
        listed = pl.DataFrame({"report": list(reports), "title": list(reports.values())})
        sections.append("## Reports\n\n" + markdown_table(None, listed))
    if files:
        listed = pl.DataFrame({"output": list(files), "path": list(files.values())})
        sections.append("## Files\n\n" + markdown_table(None, listed))
    if missing:
        sections.append("## Not written by this run\n\n" + "\n".join(f"- {n}" for n in missing))
    return "\n\n".join(section.rstrip("\n") for section in sections) + "\n"


def row_count(frame: pl.DataFrame | pl.LazyFrame) -> int:
    """Rows of `frame`; a lazy scan is counted in streaming mode, never loaded whole."""
    if isinstance(frame, pl.DataFrame):
        return frame.height
    return int(frame.select(pl.len()).collect(engine="streaming").item())


def rejects_by_reason(frames: Mapping[str, pl.DataFrame | pl.LazyFrame]) -> pl.DataFrame | None:
    """Rejects counted per (table, stage, reason), most first; None when no frame is a REJECT
    table."""
    counted = [
        frame.lazy()
        .group_by(*_REJECT_KEYS)
        .agg(pl.len().alias("rows"))
        .select(pl.lit(name).alias("table"), *_REJECT_KEYS, pl.col("rows").cast(pl.Int64))
        for name, frame in frames.items()
        if set(_REJECT_KEYS) <= set(frame.collect_schema().names())
        and set(frame.collect_schema().names()) <= set(REJECT.names())
    ]
    if not counted:
        return None
    return (
        pl.concat(counted)
        .collect(engine="streaming")
        .sort(["rows", "table", "stage", "reason"], descending=[True, False, False, False])
    )


def metric_rows(values: Mapping) -> pl.DataFrame:
    """A metric dict as name/value rows: kedro-mlflow's `{name: {"value", "step"}}` (a list of
    them: the last step's) or a flat `{name: value}`; nested plain dicts by dotted names."""
    rows = list(_flatten(values, ""))
    return pl.DataFrame(
        {"metric": [name for name, _ in rows], "value": [value for _, value in rows]},
        schema={"metric": pl.String, "value": pl.Float64},
    )


def _flatten(values: Mapping, prefix: str):
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            value = max(value, key=lambda point: point.get("step", 0))
        if isinstance(value, Mapping) and "value" in value:
            value = value["value"]
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{name}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield name, float(value)


def _report_title(report: Any) -> str:
    """The heading of a markdown report or the title of a plotly figure."""
    if isinstance(report, str):
        lines = [line.strip() for line in report.splitlines() if line.strip()]
        return lines[0].lstrip("#").strip() if lines else ""
    title = getattr(getattr(getattr(report, "layout", None), "title", None), "text", None)
    return title or type(report).__name__


def _number(value: float) -> str:
    # Counts stay whole numbers; rates and scores keep four decimals.
    return str(int(value)) if value.is_integer() else f"{value:.4f}"
