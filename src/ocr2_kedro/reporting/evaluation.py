"""What an evaluation shows a person: per model, the self-critique selection plot and the pass@1 per
temperature plot; across models, the comparison table, its markdown and a note naming every row
whose pass@k left SE samples out. Kedro-free: summary frames in, figures, frames and text out."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from plotly import graph_objects as go
from plotly.subplots import make_subplots

from ocr2_kedro.reporting.tables import markdown_table

# Metric prefix (completed by k) -> the selection plot's series name.
SELECTION_SERIES = {
    "pass_at_": "pass@k (oracle)",
    "pass_at_1_select_at_": "pass@1|select@k (self-critique)",
    # At the ks of evaluation.genselect, over its drawn subsets (metrics.selection).
    "pass_at_1_genselect_at_": "pass@1|genselect@k (GenSelect)",
    "random_select_at_": "random selection (= pass@1)",
    "critique_at_": "critique@k",
}


def _points(rows: pl.DataFrame, metric: str) -> pl.DataFrame:
    return rows.filter(pl.col("metric") == metric) if not rows.is_empty() else rows


def _overall(summary: pl.DataFrame) -> pl.DataFrame:
    return summary.filter(pl.col("breakdown") == "all") if not summary.is_empty() else summary


def selection_plot(
    summary: pl.DataFrame, languages: Sequence[str], ks: Sequence[int], temperature: float
) -> go.Figure:
    """Per language (and "all"), pass@1|select@k against k beside pass@k (the oracle), random
    selection and critique@k, at `temperature` (the headline one)."""
    columns = [*languages, "all"]
    ks = sorted(int(k) for k in ks)
    overall = _overall(summary)
    figure = make_subplots(rows=1, cols=len(columns), subplot_titles=columns, shared_yaxes=True)
    for column, language in enumerate(columns, start=1):
        rows = (
            overall.filter(
                (pl.col("language") == language) & (pl.col("temperature") == temperature)
            )
            if not overall.is_empty()
            else overall
        )
        for prefix, label in SELECTION_SERIES.items():
            points = [(k, _points(rows, f"{prefix}{k}")) for k in ks]
            points = [(k, match) for k, match in points if not match.is_empty()]
            if not points:
                continue
            figure.add_trace(
                go.Scatter(
                    x=[k for k, _ in points],
                    y=[match["mean"][0] for _, match in points],
                    error_y={
                        "type": "data",
                        "array": [match["stderr"].fill_null(0.0)[0] for _, match in points],
                    },
                    mode="lines+markers",
                    name=label,
                    legendgroup=label,
                    showlegend=column == 1,
                ),
                row=1,
                col=column,
            )
        figure.update_xaxes(title_text="k", type="log", row=1, col=column)
    figure.update_yaxes(title_text="pass rate", range=[0, 1], row=1, col=1)
    figure.update_layout(title=f"Self-critique selection (temperature {temperature:g})")
    return figure


def temperature_plot(
    summary: pl.DataFrame, languages: Sequence[str], ks: Sequence[int]
) -> go.Figure:
    """pass@1 and pass@1|select@k_max per sampling temperature, per language (and "all")."""
    k_max = max(int(k) for k in ks)
    overall = _overall(summary)
    figure = go.Figure()
    for language in [*languages, "all"]:
        rows = overall.filter(pl.col("language") == language) if not overall.is_empty() else overall
        for metric, label in (
            ("pass_at_1", "pass@1"),
            (f"pass_at_1_select_at_{k_max}", f"pass@1|select@{k_max}"),
        ):
            points = _points(rows, metric)
            if points.is_empty():
                continue
            points = points.sort("temperature")
            figure.add_trace(
                go.Scatter(
                    x=points["temperature"].to_list(),
                    y=points["mean"].to_list(),
                    error_y={"type": "data", "array": points["stderr"].fill_null(0.0).to_list()},
                    mode="lines+markers",
                    name=f"{language} {label}",
                )
            )
    figure.update_layout(
        title="pass@1 per sampling temperature",
        xaxis_title="temperature",
        yaxis_title="pass rate",
        yaxis_range=[0, 1],
    )
    return figure


def comparison_table(
    summaries: Sequence[pl.DataFrame], reference_losses: Sequence[pl.DataFrame]
) -> pl.DataFrame:
    """Every evaluated model's overall numbers side by side: one row per model, language and
    temperature, one column per metric, plus the model's reference loss in that language."""
    summaries = [table for table in summaries if not table.is_empty()]
    losses = [table for table in reference_losses if not table.is_empty()]
    if not summaries:
        return pl.DataFrame()
    overall = pl.concat(summaries, how="diagonal_relaxed").filter(pl.col("breakdown") == "all")
    wide = overall.pivot(on="metric", index=["model", "language", "temperature"], values="mean")
    if "se_count" in wide.columns:
        wide = wide.with_columns(pl.col("se_count").cast(pl.Int64))
    if losses:
        loss = pl.concat(losses).select(
            "model", "language", pl.col("loss_per_token").alias("reference_loss")
        )
        wide = wide.join(loss, on=["model", "language"], how="left")
    return wide.sort("language", "temperature", "model")


def comparison_markdown(wide: pl.DataFrame) -> str:
    """The comparison table as markdown, with the SE note under it."""
    if wide.is_empty():
        return "# Evaluation\n\nNo model was evaluated.\n"
    return markdown_table("Evaluation: models side by side", wide) + system_error_note(wide)


def system_error_note(wide: pl.DataFrame) -> str:
    """Markdown lines naming every model, language and temperature with SE samples ("" for none)."""
    if "se_count" not in wide.columns:
        return ""
    faulty = wide.filter((pl.col("se_count") > 0) & (pl.col("language") != "all"))
    if faulty.is_empty():
        return ""
    lines = [
        "",
        "**SE samples (sandbox or system faults, not verdicts) were left out of n and c of their "
        "problems:**",
        "",
    ]
    lines += [
        f"- {row['model']} {row['language']} t={row['temperature']:g}: {row['se_count']} samples "
        f"({row['se_share']:.1%}); see the run's warnings and `se_error` in problem_results"
        for row in faulty.iter_rows(named=True)
    ]
    return "\n".join(lines) + "\n"
