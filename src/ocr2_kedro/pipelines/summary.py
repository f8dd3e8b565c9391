"""The node that closes every stage: `write_<stage>_summary` reads the stage's report-only outputs
(rejects, metric and summary tables, plots, markdown) and writes one `<stage>_summary` page
(reporting.summary). Reading them also draws them inside the stage's box in `kedro viz` (a dataset
sits in a box only when a node of that box reads it), so the first screen reads as the recipe.

MLflow metric datasets load only while a run is active; their numbers come from what feeds them
instead (`metrics`: the function that computed them and the datasets it read). A summary reads
only what its own pipeline writes, so `kedro run --pipelines <stage>` still runs alone."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kedro.pipeline import Node

from ocr2_kedro.reporting.summary import stage_summary

# name of a metric table -> (the function that computes it, the datasets it reads)
MetricSources = Mapping[str, tuple[Callable[..., dict], Sequence[str]]]


def summary_node(
    stage: str,
    reads: Sequence[str],
    metrics: MetricSources | None = None,
    shown: Sequence[str] = (),
    files: Sequence[str] = (),
) -> Node:
    """`write_<stage>_summary`: `reads` (by their dataset names) and `metrics` -> `<stage>_summary`;
    the tables of `reads` named in `shown` are written out whole; `files` are datasets that load as
    a path (a checkpoint folder), listed with it."""
    metrics = metrics or {}
    # Node inputs are keyword arguments: dataset names as they are, dots included, by position.
    reads = [*reads, *files]
    names = list(dict.fromkeys([*reads, *(n for _, inputs in metrics.values() for n in inputs)]))

    def write_summary(*loaded: Any) -> str:
        data = dict(zip(names, loaded, strict=True))
        tables = {name: data[name] for name in reads}
        tables |= {name: Path(data[name]) for name in files if data[name] is not None}
        for table, (compute, inputs) in metrics.items():
            arguments = [data[name] for name in inputs]
            # An optional input this run did not write (the pattern summary when the patterns
            # pipeline did not run): no numbers, listed as not written.
            missing = all(argument is None for argument in arguments)
            tables[table] = None if missing else compute(*arguments)
        return stage_summary(f"{stage.capitalize()} summary", tables, shown)

    write_summary.__name__ = write_summary.__qualname__ = f"write_{stage}_summary"
    return Node(
        write_summary, inputs=names, outputs=f"{stage}_summary", name=f"write_{stage}_summary"
    )
