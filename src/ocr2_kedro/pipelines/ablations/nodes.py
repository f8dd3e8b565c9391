"""Ablation nodes: a variant is a name plus overrides (data subset, training and evaluation settings).
Each variant selects its training data from the export (deterministic and nested: a smaller size is a
subset of a larger one), trains and evaluates through the training and evaluation templates, and
records itself on its own MLflow child run; the sweep's parent run gets the comparison.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import mlflow
import polars as pl
from plotly import graph_objects as go
from plotly.subplots import make_subplots

from ocr2_kedro.metrics import paired
from ocr2_kedro.parameters.ablations import AblationsSettings, VariantSettings
from ocr2_kedro.parameters.evaluation import BootstrapSettings
from ocr2_kedro.reporting import markdown_table
from ocr2_kedro.reporting.differences import report_differences

logger = logging.getLogger(__name__)


def _rank(seed: int, ids: pl.Series) -> pl.Series:
    """A seeded, order-free rank per row: the same row keeps its place whatever else is in the table,
    so every smaller subset is a prefix of every larger one. The first 8 bytes of
    sha256(seed:id), as an integer (the order of the hex digest's prefix); ties, about one in 10^7
    pairs at 2.5M rows, are broken by id."""
    return pl.Series(
        [
            int.from_bytes(hashlib.sha256(f"{seed}:{row_id}".encode()).digest()[:8], "big")
            for row_id in ids.cast(pl.String)
        ],
        dtype=pl.UInt64,
    )


def _ranked(seed: int) -> pl.Expr:
    return pl.col("id").map_batches(
        lambda ids: _rank(seed, ids), return_dtype=pl.UInt64, is_elementwise=True
    )


def select_variant_data(
    export: pl.LazyFrame | pl.DataFrame, ablations: AblationsSettings, variant: VariantSettings
) -> tuple[pl.LazyFrame | pl.DataFrame, dict[str, Any]]:
    """The variant's training rows (filters, then a seeded nested subset of the requested size) and
    what was selected (nominal and actual size, filters).

    The export is not loaded: the ranks are computed over its `id` column alone (streamed), and the
    subset is the export's filter `rank <= the actual-th smallest rank`, lazy, in the export's row
    order. Returns a LazyFrame for a LazyFrame (the pipeline's streaming export), a DataFrame for a
    DataFrame."""
    name, data = variant.name, variant.data
    rows = export.lazy()
    languages = data.languages
    if languages:
        rows = rows.filter(pl.col("language").is_in(list(languages)))
    execution_filter = data.execution_filter
    if execution_filter == "passing":
        rows = rows.filter(pl.col("pass_rate") == 1.0)
    elif execution_filter == "failing":
        rows = rows.filter(pl.col("pass_rate") < 1.0)
    seed = ablations.seed
    # (rank, id) of every candidate row: two narrow columns, never the export's text.
    ranks = (
        rows.select(_ranked(seed).alias("_rank"), "id")
        .collect(engine="streaming")
        .sort("_rank", "id")
    )
    available = ranks.height
    nominal = data.nominal_size
    if nominal is None:
        actual = available
    elif ablations.scale_to_available:
        # Each nominal size becomes the same fraction of what the export holds as it is of the
        # paper's full dataset (737K of 2.5M -> 29.5% of the export).
        actual = max(1, round(nominal / ablations.full_size * available))
    else:
        actual = int(nominal)
    if actual > available:
        raise ValueError(
            f"ablation variant {name!r} asks for {actual} rows and the export holds {available} "
            "after its filters: set ablations.scale_to_available: true or a smaller nominal_size"
        )
    if actual == 0:
        rows = rows.head(0)
    elif actual < available:
        last_rank, last_id = ranks.row(actual - 1)
        rank = pl.col("_rank")
        rows = (
            rows.with_columns(_ranked(seed).alias("_rank"))
            .filter((rank < last_rank) | ((rank == last_rank) & (pl.col("id") <= last_id)))
            .drop("_rank")
        )
    del ranks
    selected = rows if isinstance(export, pl.LazyFrame) else rows.collect()
    info = {
        "variant": name,
        "nominal_size": int(nominal) if nominal is not None else available,
        "actual_size": int(actual),
        "available_rows": int(available),
        "languages": ",".join(languages) if languages else "all",
        "execution_filter": execution_filter,
    }
    logger.info("ablation %s: %s", name, info)
    return selected, info


def variant_settings(variant: VariantSettings) -> tuple[Any, Any]:
    """(training settings, evaluation settings) of a variant: the run's, then the sweep's common
    overrides (e.g. fewer steps on the embedded default), then the variant's own; merged and
    validated with every other setting when the run started (ocr2_kedro.parameters.project)."""
    return variant.training_settings, variant.evaluation_settings


def record_variant(
    selected: pl.LazyFrame | pl.DataFrame,
    selection: dict[str, Any],
    summary: pl.DataFrame,
    reference_loss: pl.DataFrame,
) -> pl.DataFrame:
    """The variant's row(s) for the sweep table, one per language; on the variant's MLflow child run
    (made active by ProjectMlflowHook, which also logs the variant's settings: its other nodes
    read them) what was selected and the training data it read, as an MLflow dataset
    (name, digest, source, rows) so the UI's Datasets panel shows what each variant trained on."""
    overall = summary.filter(pl.col("breakdown") == "all") if not summary.is_empty() else summary
    headline = overall["temperature"].min() if not overall.is_empty() else None
    rows = []
    for language in sorted(set(reference_loss["language"]) | {"all"}):
        row: dict[str, Any] = {**selection, "language": language}
        if headline is not None:
            for metric in overall.filter(
                (pl.col("language") == language) & (pl.col("temperature") == headline)
            ).iter_rows(named=True):
                row[metric["metric"]] = metric["mean"]
        loss = reference_loss.filter(pl.col("language") == language)
        row["reference_loss"] = loss["loss_per_token"][0] if loss.height else None
        rows.append(row)
    if mlflow.active_run() is not None:
        mlflow.log_params({key: str(value)[:500] for key, value in selection.items()})
        names = selected.lazy().collect_schema().names()
        # The narrow lineage columns only: the selected export itself may be millions of long rows.
        lineage = [c for c in ("id", "question_id", "language", "pass_rate") if c in names]
        dataset = mlflow.data.from_polars(
            selected.lazy().select(lineage).collect(engine="streaming"),
            # The catalog entry it was selected from; the file version is the run's
            # data.read.ocr2_export tag.
            source="ocr2_export",
            name=f"ocr2_export[{selection['variant']}]",
        )
        mlflow.log_input(dataset, context="training")
    return pl.DataFrame(rows, infer_schema_length=None)


COMPARED = {
    "pass_at_1": "pass@1",
    "reference_loss": "held-out loss per token",
}


def compare_variants(*results: pl.DataFrame) -> tuple[pl.DataFrame, str, go.Figure]:
    """The sweep's table (CSV and markdown) and plot: pass@1 and held-out loss per variant and
    language, and data size against each, for the parent MLflow run."""
    table = pl.concat([r for r in results if not r.is_empty()], how="diagonal_relaxed")
    table = table.sort("language", "actual_size", "variant")
    figure = make_subplots(
        rows=2,
        cols=2,
        subplot_titles=[
            "pass@1 per variant",
            "held-out loss per variant",
            "pass@1 against data size",
            "held-out loss against data size",
        ],
    )
    for language in table["language"].unique(maintain_order=True).to_list():
        rows = table.filter(pl.col("language") == language)
        for column, (metric, label) in enumerate(COMPARED.items(), start=1):
            if metric not in rows.columns:
                continue
            figure.add_trace(
                go.Bar(
                    x=rows["variant"].to_list(),
                    y=rows[metric].to_list(),
                    name=f"{language} {label}",
                ),
                row=1,
                col=column,
            )
            by_size = rows.sort("actual_size")
            figure.add_trace(
                go.Scatter(
                    x=by_size["actual_size"].to_list(),
                    y=by_size[metric].to_list(),
                    mode="lines+markers",
                    text=by_size["variant"].to_list(),
                    name=f"{language} {label} by size",
                ),
                row=2,
                col=column,
            )
    figure.update_xaxes(title_text="training rows", type="log", row=2)
    figure.update_layout(title="Ablations", height=800)
    return table, markdown_table("Ablations: variants side by side", table), figure


def compare_variants_paired(
    bootstrap: BootstrapSettings, *tables: pl.DataFrame
) -> tuple[pl.DataFrame, str, go.Figure, dict[str, dict[str, float]]]:
    """Whether the sweep's differences are real: every variant against the sweep's first declared
    one, paired over the same problems (every per-problem metric) and the same reference solutions
    (reference loss), with bootstrap intervals (`metrics.paired.paired_comparison`, the run's
    `evaluation.bootstrap`); as a table, markdown, plot and MLflow metrics for the parent run.
    `tables` are, per variant in declared order, its result rows (`record_variant`: named by
    their `variant` column), problem results and per-reference losses."""
    if len(tables) % 3:
        raise ValueError(
            f"compare_variants_paired needs 3 tables per variant (result, problem results, "
            f"per-reference losses), got {len(tables)}"
        )
    names = [result["variant"][0] for result in tables[0::3]]
    table = paired.paired_comparison(
        dict(zip(names, tables[1::3], strict=True)),
        dict(zip(names, tables[2::3], strict=True)),
        paired.comparison_pairs(names, previous=False),
        resamples=bootstrap.resamples,
        seed=bootstrap.seed,
        confidence=paired.CONFIDENCE,
    )
    markdown, figure, metrics = report_differences(
        f"Ablations: paired differences against {names[0]}", table, resamples=bootstrap.resamples
    )
    return table, markdown, figure, metrics
