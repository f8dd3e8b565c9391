"""Dataset nodes: join generations, verdicts and questions into the OCR-2 export, with run metrics."""

from __future__ import annotations

import polars as pl

EXPORT_COLUMNS = (
    "id",
    "question_id",
    "question",
    "r1_generation",
    "qwq_critique",
    "solution",
    "judgement",
    "pass_rate",
    "verdict",
    "source",
    "license",
    "dataset",
    "split",
    "difficulty",
    "index",
    "language",
)


def build_export(
    problems: pl.DataFrame, generations: pl.DataFrame, verifications: pl.DataFrame
) -> pl.DataFrame:
    """One row per generation in the public OCR-2 column layout (critique columns filled by `critique`)."""
    joined = generations.join(verifications, on="generation_id", how="left").join(
        problems.select(
            "question_id", "question", "source", "source_id", "license", "split", "difficulty"
        ),
        on="question_id",
        how="left",
    )
    return joined.select(
        pl.col("generation_id").alias("id"),
        "question_id",
        "question",
        pl.col("output").alias("r1_generation"),
        pl.lit(None, dtype=pl.String).alias("qwq_critique"),
        "solution",
        pl.lit(None, dtype=pl.String).alias("judgement"),
        "pass_rate",
        "verdict",
        "source",
        "license",
        pl.col("source").alias("dataset"),
        "split",
        "difficulty",
        pl.col("source_id").alias("index"),
        "language",
    )


def split_by_language(export: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    return export.filter(pl.col("language") == "python"), export.filter(pl.col("language") == "cpp")


def summarize_dataset(export: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Run metrics for MLflow: sample counts, pass rates and acceptance per language."""
    metrics: dict[str, float] = {"samples": float(export.height)}
    for language in ("python", "cpp"):
        part = export.filter(pl.col("language") == language)
        metrics[f"{language}.samples"] = float(part.height)
        if part.height:
            metrics[f"{language}.mean_pass_rate"] = float(part["pass_rate"].fill_null(0.0).mean())
            metrics[f"{language}.accepted_share"] = float((part["verdict"] == "AC").mean())
            metrics[f"{language}.has_code_share"] = float(part["solution"].is_not_null().mean())
    return {name: {"value": value, "step": 0} for name, value in metrics.items()}
