"""What a paired comparison shows a person (the evaluation's models, an ablation sweep's variants):
the differences as markdown with "n.s." where the interval holds 0, a plot of the differences with
their intervals around a 0 line, and the MLflow metric names they are logged under. Kedro-free: the
`metrics.paired.DIFFERENCES` table in, text, a figure and a metrics dict out."""

from __future__ import annotations

import math
import re

import polars as pl
from plotly import graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from ocr2_kedro.metrics.evaluation import temperature_tag
from ocr2_kedro.metrics.paired import REFERENCE_LOSS_METRIC
from ocr2_kedro.reporting.tables import markdown_table

# The statistics of each row logged to MLflow; `significant` as 1.0 (interval excludes 0) or 0.0.
LOGGED = ("difference", "ci_low", "ci_high", "significant")
# Lower is better for these; higher for every per-problem metric (pass@k, select@k, critique@k).
LOWER_IS_BETTER = frozenset({REFERENCE_LOSS_METRIC})
# Characters MLflow accepts in a metric name (besides letters and digits).
_NOT_IN_A_METRIC_NAME = re.compile(r"[^\w\-. /]")


def metric_stem(row: dict) -> str:
    """`<comparison>.<language>.t<temperature>.<metric>`, or `<comparison>.<language>.<metric>`
    for the reference loss (no temperature), as the per-model headline names are written
    (`<language>.t<temperature>.<metric>`, `<language>.reference_loss`)."""
    parts = [row["comparison"], row["language"]]
    if row["temperature"] is not None:
        parts.append(temperature_tag(row["temperature"]))
    parts.append(row["metric"])
    return _NOT_IN_A_METRIC_NAME.sub("_", ".".join(parts))


def difference_metrics(table: pl.DataFrame) -> dict[str, dict[str, float]]:
    """`<stem>.difference`, `.ci_low`, `.ci_high` and `.significant` (1.0 or 0.0) of every row
    with shared units (`metric_stem`; the catalog adds the prefix, e.g. `evaluation.compare`)."""
    logged: dict[str, dict[str, float]] = {}
    for row in table.iter_rows(named=True):
        if row["units"] == 0 or math.isnan(row["difference"]):
            continue
        stem = metric_stem(row)
        for field in LOGGED:
            logged[f"{stem}.{field}"] = {"value": float(row[field]), "step": 0}
    return logged


def differences_markdown(title: str, table: pl.DataFrame, *, resamples: int) -> str:
    """The differences as a markdown table under `title`, with how to read it: each row's
    difference and interval (`label`), "(n.s.)" where the interval holds 0."""
    if table.is_empty():
        return f"# {title}\n\nNothing to compare: fewer than two models or variants.\n"
    confidence = table["confidence"][0]
    lower = ", ".join(sorted(LOWER_IS_BETTER))
    intro = (
        f"Each row is a variant minus its baseline (`difference` = variant - baseline), averaged "
        f"over the units both scored: the problems of a language at a temperature (`all`: every "
        f"language's problems), or for {lower} the reference solutions (token-weighted: loss per "
        f"token); `units` counts them. The interval is a {confidence:.0%} percentile bootstrap over {resamples} "
        f"resamples of those units, paired (both sides of a resample share its units). "
        f"**n.s.**: the interval holds 0, so this difference is not distinguishable from noise at "
        f"this number of units. Higher is better except for {lower}; `units` 0 means the two had "
        f"nothing in common to compare.\n\n"
    )
    shown = table.select(
        "comparison",
        "metric",
        "language",
        pl.col("temperature").alias("t"),
        "unit",
        "units",
        pl.col("baseline_mean").alias("baseline"),
        pl.col("variant_mean").alias("variant"),
        pl.col("label").alias(f"difference [{confidence:.0%} CI]"),
    )
    return (
        f"# {title}\n\n" + intro + markdown_table(None, shown, number=lambda value: f"{value:.4g}")
    )


def differences_plot(title: str, table: pl.DataFrame) -> go.Figure:
    """One panel per metric: per language, each comparison's difference as a bar with its
    interval as error bars, beside a 0 line; a bar whose interval holds 0 is faded and marked
    "n.s."."""
    metrics = table["metric"].unique(maintain_order=True).to_list() if table.height else []
    figure = make_subplots(
        rows=max(1, len(metrics)),
        cols=1,
        subplot_titles=[
            f"{metric} ({'lower' if metric in LOWER_IS_BETTER else 'higher'} is better)"
            for metric in metrics
        ],
    )
    several_temperatures = table["temperature"].drop_nulls().n_unique() > 1
    # One colour per comparison (and temperature) in every panel, one legend entry for it.
    colours: dict[str, str] = {}
    for row, metric in enumerate(metrics, start=1):
        rows = table.filter(pl.col("metric") == metric)
        for (comparison, temperature), group in rows.group_by(
            ["comparison", "temperature"], maintain_order=True
        ):
            name = comparison
            if several_temperatures and temperature is not None:
                name = f"{comparison} t={temperature:g}"
            difference = [None if math.isnan(x) else x for x in group["difference"]]
            first = name not in colours
            if first:
                colours[name] = qualitative.Plotly[len(colours) % len(qualitative.Plotly)]
            figure.add_trace(
                go.Bar(
                    x=group["language"].to_list(),
                    y=difference,
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": (group["ci_high"] - group["difference"]).fill_nan(None).to_list(),
                        "arrayminus": (group["difference"] - group["ci_low"])
                        .fill_nan(None)
                        .to_list(),
                    },
                    text=["" if s else "n.s." for s in group["significant"]],
                    hovertext=group["label"].to_list(),
                    marker={
                        "color": colours[name],
                        "opacity": [1.0 if s else 0.45 for s in group["significant"]],
                    },
                    name=name,
                    legendgroup=name,
                    showlegend=first,
                    offsetgroup=name,
                ),
                row=row,
                col=1,
            )
        figure.add_hline(y=0, line={"color": "black", "width": 1}, row=row, col=1)
        figure.update_yaxes(title_text="difference", row=row, col=1)
    figure.update_layout(
        title=f"{title} (bars: variant - baseline; error bars: bootstrap interval)",
        barmode="group",
        height=max(400, 260 * len(metrics)),
    )
    return figure


def report_differences(
    title: str, table: pl.DataFrame, *, resamples: int
) -> tuple[str, go.Figure, dict[str, dict[str, float]]]:
    """(markdown, plot, MLflow metrics) of a `metrics.paired.DIFFERENCES` table."""
    return (
        differences_markdown(title, table, resamples=resamples),
        differences_plot(title, table),
        difference_metrics(table),
    )
