"""Scoring of an evaluation: per-sample and per-problem results, the summary table (means with
standard errors and bootstrap intervals per language, temperature, breakdown and date window), the
SE counts and the critic's agreement with execution, and the headline numbers logged to MLflow.
The evaluation tables' schemas live here too. Kedro-free: polars frames and plain values in and out.

Samples the sandbox could not judge (SE: a missing compiler, a malformed problem, a sandbox that
failed after its retries) say nothing about the solution, so they are not failures: they are left out
of n and c of their problem and counted (`se_count`, `se_share`; see `score_samples`).
"""

from __future__ import annotations

import datetime
import logging
import math
from collections.abc import Mapping, Sequence

import polars as pl

from ocr2_kedro.metrics.aggregate import summarize_problem_metrics
from ocr2_kedro.metrics.passk import critic_agreement, problem_metrics

logger = logging.getLogger(__name__)

# One row per sample a model wrote for the benchmark.
EVAL_SAMPLE = pl.Schema(
    {
        "sample_id": pl.String,
        "model": pl.String,  # the evaluated model's name (its namespace)
        "model_path": pl.String,
        "question_id": pl.String,
        "language": pl.String,
        "temperature": pl.Float64,
        "sample_idx": pl.Int64,
        "seed": pl.Int64,
        "output": pl.String,
        "solution": pl.String,
        "finish_reason": pl.String,
        "num_output_tokens": pl.Int64,
        "flags": pl.List(pl.String),
        # Of the exact request (model, messages, sampling, seed): part of sample_id.
        "request_fingerprint": pl.String,
    }
)

# The model's critique of one of its own samples.
SELF_CRITIQUE = pl.Schema(
    {
        "sample_id": pl.String,
        "critique": pl.String,
        "critique_reasoning": pl.String,
        # What "shortest critique reasoning" measures: characters of the reasoning (the whole
        # critique when the model writes no <think> block).
        "critique_length": pl.Int64,
        "judgement": pl.String,
        "judgement_source": pl.String,
        # Tokens the critique generated (its follow-up turn's few tokens not included): the
        # self-critique selector's cost beside GenSelect's (metrics.selection).
        "num_output_tokens": pl.Int64,
        # Of the exact self-critique request (model, messages, sampling, seed).
        "request_fingerprint": pl.String,
    }
)

REFERENCE = pl.Schema({"question_id": pl.String, "language": pl.String, "solution": pl.String})

REFERENCE_LOSS = pl.Schema(
    {
        "model": pl.String,
        "language": pl.String,
        "references": pl.Int64,
        "tokens": pl.Int64,
        "truncated": pl.Int64,
        "loss_per_token": pl.Float64,
        "skipped_reason": pl.String,
    }
)

# One row per reference solution a model scored: the loss summed over its assistant tokens (teacher
# forcing) and their number, so two models are paired over the very same references
# (`metrics.paired`): the per-language loss per token is sum(nll) / sum(tokens) of these rows.
REFERENCE_TOKEN_LOSS = pl.Schema(
    {
        "model": pl.String,
        "question_id": pl.String,
        "language": pl.String,
        # A problem may have several references in a language: their order in the references.
        "reference_idx": pl.Int64,
        "tokens": pl.Int64,
        "nll": pl.Float64,
        "truncated": pl.Boolean,
    }
)

# The summary's row key, beside `metric`.
GROUP_COLUMNS = ("model", "language", "temperature", "breakdown", "group")
# What a summary can be broken down by (besides contest-date windows).
BREAKDOWNS = ("difficulty", "platform", "source")

SE_WARNING_EXAMPLES = 3


def critique_length(reasoning: str, critique: str) -> int:
    """Characters of the critique's reasoning, or of the whole critique when it has none."""
    return len(reasoning.strip()) if reasoning and reasoning.strip() else len(critique.strip())


def sample_results_of(
    samples: pl.DataFrame, critiques: pl.DataFrame, executions: pl.DataFrame
) -> pl.DataFrame:
    """One row per sample: its verdict and error, whether it passed, was judged right or ended in
    SE, and its critique's length."""
    execution_columns = ["sample_id", "verdict"] + (
        ["error"] if "error" in executions.columns else []
    )
    results = (
        samples.select(
            "sample_id",
            "model",
            "question_id",
            "language",
            "temperature",
            "sample_idx",
            pl.col("solution").is_not_null().alias("has_solution"),
        )
        .join(executions.select(execution_columns), on="sample_id", how="left")
        .join(
            critiques.select("sample_id", "judgement", "critique_length"),
            on="sample_id",
            how="left",
        )
        .with_columns(
            (pl.col("verdict") == "AC").fill_null(False).alias("passed"),
            (pl.col("judgement") == "right").fill_null(False).alias("judged_right"),
            (pl.col("verdict") == "SE").fill_null(False).alias("system_error"),
        )
        .sort("question_id", "language", "temperature", "sample_idx")
    )
    if "error" not in results.columns:
        results = results.with_columns(pl.lit(None, pl.String).alias("error"))
    return results


def problem_results_of(
    sample_results: pl.DataFrame, problems: pl.DataFrame, ks: Sequence[int], fallback: str
) -> pl.DataFrame:
    """One row per model, problem, language and temperature: its sample counts, SE count (with one
    of their errors) and per-problem metrics over the samples that got a verdict, joined to the
    problem's source, difficulty, contest date and platform (what the breakdowns group by)."""
    info = problems.select(
        "question_id",
        "source",
        "difficulty",
        "contest_date",
        (pl.col("platform") if "platform" in problems.columns else pl.lit(None, pl.String)).alias(
            "platform"
        ),
    )
    rows = []
    for (model, question_id, language, temperature), group in sample_results.group_by(
        ["model", "question_id", "language", "temperature"], maintain_order=True
    ):
        judged = group.filter(~pl.col("system_error"))
        faults = group.filter(pl.col("system_error"))
        passed = judged["passed"].to_list()
        right = judged["judged_right"].to_list()
        # No critique (no code, or critique off): never preferred by the shortest-critique rule.
        lengths = [math.inf if x is None else x for x in judged["critique_length"].to_list()]
        rows.append(
            {
                "model": model,
                "question_id": question_id,
                "language": language,
                "temperature": temperature,
                "n": len(passed),
                "correct": sum(passed),
                "judged_right": sum(right),
                "correct_and_judged_right": sum(
                    p and r for p, r in zip(passed, right, strict=True)
                ),
                "se_count": faults.height,
                "se_error": faults["error"].drop_nulls().first() if faults.height else None,
                **(
                    problem_metrics(passed, right, lengths, list(ks), fallback=fallback)
                    if passed
                    else {}
                ),
            }
        )
    if not rows:
        return pl.DataFrame()
    return (
        pl.DataFrame(rows, infer_schema_length=None)
        .with_columns(pl.col("se_error").cast(pl.String))
        .join(info, on="question_id", how="left")
    )


def score_samples(
    samples: pl.DataFrame,
    critiques: pl.DataFrame,
    executions: pl.DataFrame,
    problems: pl.DataFrame,
    *,
    ks: Sequence[int],
    fallback: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(one row per sample: verdict, error, passed, judged right, critique length; one row per
    problem, language and temperature with its sample counts and per-problem metrics).

    An SE verdict says nothing about the solution, so it is not a failure: SE samples are left out
    of n and c of their problem, and pass@k, select@k, random selection and critique@k are computed
    over the samples that got a verdict (`n` of the row; `se_count` beside it, with one of their
    errors in `se_error`). A k above that n is not estimated for the problem (null, like a k above
    samples_per_problem), and a problem whose every sample is SE has no metrics at all: the
    summary's `problems` column counts the problems behind each mean, and its `se_count` /
    `se_share` rows say how much was left out. Every SE is also logged as a warning, per model and
    language, with a sample of the errors.
    """
    sample_results = sample_results_of(samples, critiques, executions)
    warn_about_system_errors(sample_results)
    return sample_results, problem_results_of(sample_results, problems, ks, fallback)


def warn_about_system_errors(sample_results: pl.DataFrame) -> None:
    """One warning per model and language with SE samples: how many, and a few distinct errors."""
    faults = sample_results.filter(pl.col("system_error"))
    if faults.is_empty():
        return
    totals = sample_results.group_by("model", "language").len("samples")
    for (model, language), group in faults.group_by(["model", "language"], maintain_order=True):
        samples = totals.filter((pl.col("model") == model) & (pl.col("language") == language))
        errors = group["error"].fill_null("(no error text)").unique(maintain_order=True)
        logger.warning(
            "evaluation of %s: %d of %d %s samples ended in SE (a sandbox or system fault, not a "
            "verdict on the solution); they are left out of n and c of their problems, so pass@k "
            "stands on fewer samples. Errors, e.g.:\n%s",
            model,
            group.height,
            int(samples["samples"][0]),
            language,
            "\n".join(f"  - {error[:300]}" for error in errors.head(SE_WARNING_EXAMPLES).to_list()),
        )


def metric_columns(problem_results: pl.DataFrame) -> list[str]:
    """The per-problem metric columns (pass@k, select@k, random selection, critique@k, and the
    selectors on GenSelect's drawn subsets: `metrics.selection.metric_names`)."""
    prefixes = ("pass_at_", "random_select_at_", "critique_at_", "oracle_select_at_")
    return [c for c in problem_results.columns if c.startswith(prefixes)]


def in_windows(
    problem_results: pl.DataFrame, windows: Mapping[str, Mapping[str, object]]
) -> pl.DataFrame:
    """The problem rows of every contest-date window (`from` inclusive, `to` exclusive, either may
    be absent), `group` = the window's name (a problem can sit in several windows: LiveCodeBench's
    v5 and v6 windows overlap)."""
    parts = []
    for name, window in windows.items():
        keep = pl.col("contest_date").is_not_null()
        if window.get("from"):
            keep &= pl.col("contest_date") >= datetime.date.fromisoformat(str(window["from"]))
        if window.get("to"):
            keep &= pl.col("contest_date") < datetime.date.fromisoformat(str(window["to"]))
        parts.append(
            problem_results.filter(keep).with_columns(
                pl.lit("window").alias("breakdown"), pl.lit(name).alias("group")
            )
        )
    return pl.concat(parts)


def summarize(
    problem_results: pl.DataFrame,
    sample_results: pl.DataFrame,
    *,
    breakdowns: Sequence[str],
    windows: Mapping[str, Mapping[str, object]] | None,
    resamples: int,
    seed: int,
) -> pl.DataFrame:
    """Long table: per model, language ("all" = every language), temperature, breakdown and group,
    each metric's mean over problems with its standard error and bootstrap interval; the SE counts
    of every group; and the critic's agreement with execution over samples."""
    if problem_results.is_empty():
        return pl.DataFrame()
    framed = pl.concat(
        [problem_results, problem_results.with_columns(pl.lit("all").alias("language"))]
    )
    parts = [framed.with_columns(pl.lit("all").alias("breakdown"), pl.lit("all").alias("group"))]
    for breakdown in breakdowns:
        parts.append(
            framed.with_columns(
                pl.lit(breakdown).alias("breakdown"),
                pl.col(breakdown).cast(pl.String).fill_null("unknown").alias("group"),
            )
        )
    if windows:
        parts.append(in_windows(framed, windows))
    grouped = pl.concat(parts, how="diagonal_relaxed")
    table = summarize_problem_metrics(
        grouped,
        list(GROUP_COLUMNS),
        metric_columns(problem_results),
        resamples=resamples,
        seed=seed,
    )
    return pl.concat(
        [table, system_error_rows(grouped), agreement_rows(sample_results)],
        how="diagonal_relaxed",
    ).sort(list(GROUP_COLUMNS) + ["metric"])


def system_error_rows(grouped: pl.DataFrame) -> pl.DataFrame:
    """Per group, the samples that ended in SE and were left out of pass@k: `se_count` (their
    number, in `mean` like every other value) and `se_share` (of all the group's samples), with
    `samples` = all samples and `problems` = all problems of the group. Always present, 0 when
    there were none, so every run logs the same names."""
    counts = grouped.group_by(list(GROUP_COLUMNS), maintain_order=True).agg(
        pl.col("se_count").sum().cast(pl.Int64).alias("se"),
        (pl.col("n") + pl.col("se_count")).sum().cast(pl.Int64).alias("samples"),
        pl.len().cast(pl.Int64).alias("problems"),
    )
    share = pl.when(pl.col("samples") > 0).then(pl.col("se") / pl.col("samples"))
    return pl.concat(
        [
            counts.select(
                *GROUP_COLUMNS,
                pl.lit(name).alias("metric"),
                value.cast(pl.Float64).alias("mean"),
                "samples",
                "problems",
            )
            for name, value in (("se_count", pl.col("se")), ("se_share", share))
        ]
    )


# The critic's confusion counts ("right" is the positive class, passing the tests the truth): in
# every summary, 0 when none, so a run where a ratio is undefined still says why (no sample passed:
# no recall; nothing judged right: no precision) and runs line up in MLflow's compare view.
AGREEMENT_COUNTS = ("tp", "fp", "fn", "tn")


def agreement_rows(sample_results: pl.DataFrame) -> pl.DataFrame:
    """The critic (the model itself) against execution, over the samples it judged that got a
    verdict (an SE sample has no ground truth to agree with): its confusion counts, and accuracy,
    precision and recall (NaN where undefined, which MLflow then leaves out)."""
    both = pl.concat([sample_results, sample_results.with_columns(pl.lit("all").alias("language"))])
    rows = []
    for (model, language, temperature), group in both.group_by(
        ["model", "language", "temperature"], maintain_order=True
    ):
        judged = group.filter(pl.col("has_solution") & ~pl.col("system_error"))
        agreement = critic_agreement(judged["passed"].to_list(), judged["judged_right"].to_list())
        rows += [
            {
                "model": model,
                "language": language,
                "temperature": temperature,
                "breakdown": "all",
                "group": "all",
                "metric": f"critic_{name}",
                "mean": float(agreement[name]),
                "samples": int(agreement["n"]),
            }
            for name in ("accuracy", "precision", "recall", *AGREEMENT_COUNTS)
        ]
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def temperature_tag(temperature: float) -> str:
    return f"t{float(temperature):g}"


def headline_metrics(
    summary: pl.DataFrame, reference_loss: pl.DataFrame
) -> dict[str, dict[str, float]]:
    """The headline numbers for MLflow, under the same names in every run (so the compare view lines
    runs up): `<language>.t<temperature>.<metric>` (+ `_stderr`) and `<language>.reference_loss`
    (the catalog prefixes them with the model's namespace). Breakdowns live in the summary table.
    `se_count` and `se_share` (samples left out of pass@k as SE) are in every run, 0 when there
    were none."""
    logged: dict[str, dict[str, float]] = {}

    def put(name: str, value: float | None) -> None:
        if value is not None and not math.isnan(value):
            logged[name] = {"value": float(value), "step": 0}

    if not summary.is_empty():
        for row in summary.filter(pl.col("breakdown") == "all").iter_rows(named=True):
            name = f"{row['language']}.{temperature_tag(row['temperature'])}.{row['metric']}"
            put(name, row["mean"])
            put(f"{name}_stderr", row.get("stderr"))
    for row in reference_loss.iter_rows(named=True):
        put(f"{row['language']}.reference_loss", row["loss_per_token"])
    return logged
