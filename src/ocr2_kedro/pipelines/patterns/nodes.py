"""Reasoning-pattern nodes: which behaviours (subgoal setting, self-evaluation, backtracking, ...)
the teacher's traces show, by regex markers and by the critic model, and how their frequency
differs between traces whose solutions passed every test and those that failed. The engines:
`ocr2_kedro.patterns` (behaviours, labelling), `ocr2_kedro.metrics.patterns` (statistics),
`ocr2_kedro.reporting.patterns` (figure, card text).

Bounded memory: `generations` is read lazily. The outcome table holds narrow columns only (ids,
verdict, trace length, entropy); the traces' text is read for the sampled rows alone, chunk by
chunk, and the classifier's answers are stored in resumable shards like every generation job.
"""

from __future__ import annotations

import logging

import plotly.graph_objects as go
import polars as pl

from ocr2_kedro.generation import create_backend
from ocr2_kedro.generation.resumable import frame_chunks
from ocr2_kedro.metrics import patterns as statistics
from ocr2_kedro.parameters.critique import CritiqueSettings
from ocr2_kedro.parameters.patterns import PatternsSettings
from ocr2_kedro.patterns.behaviours import behaviours_named
from ocr2_kedro.patterns.labelling import label_traces, prompt_key
from ocr2_kedro.reporting.patterns import patterns_figure
from ocr2_kedro.schemas import run_key

logger = logging.getLogger(__name__)

Frame = pl.LazyFrame | pl.DataFrame


def _trace_field(settings: PatternsSettings) -> pl.Expr:
    if settings.trace_field != "auto":
        return pl.lit(settings.trace_field)
    # Models that write no <think> block (the embedded default) reason in their answer.
    has_reasoning = pl.col("reasoning").fill_null("").str.len_chars() > 0
    return pl.when(has_reasoning).then(pl.lit("reasoning")).otherwise(pl.lit("output"))


def _trace(field: pl.Expr) -> pl.Expr:
    return (
        pl.when(field == "reasoning").then(pl.col("reasoning")).otherwise(pl.col("output"))
    ).fill_null("")


def trace_outcomes(
    generations: Frame, verifications: Frame, settings: PatternsSettings
) -> pl.DataFrame:
    """One narrow row per generation with a trace: question_id, language, verdict, outcome
    ("passed" every test, "failed", null for SE or unverified), trace_field, trace_chars and
    mean_token_entropy (null when the generations carry none). With `only_unflagged`, flagged
    samples (cut by the length limit, no code...) are left out, as from the exported dataset."""
    lazy = generations.lazy()
    has_entropy = "mean_token_entropy" in lazy.collect_schema().names()
    field = _trace_field(settings)
    if settings.only_unflagged:
        lazy = lazy.filter(pl.col("flags").list.len() == 0)
    narrow = lazy.select(
        "generation_id",
        "question_id",
        "language",
        field.alias("trace_field"),
        _trace(field).str.len_chars().cast(pl.Int64).alias("trace_chars"),
        (pl.col("mean_token_entropy") if has_entropy else pl.lit(None, pl.Float64)).alias(
            "mean_token_entropy"
        ),
    )
    verdicts = verifications.lazy().select("generation_id", "verdict")
    return (
        narrow.filter(pl.col("trace_chars") > 0)
        .join(verdicts, on="generation_id", how="left")
        .with_columns(statistics.outcome(pl.col("verdict")).alias("outcome"))
        .collect(engine="streaming")
    )


def sample_traces(outcomes: pl.DataFrame, settings: PatternsSettings) -> pl.DataFrame:
    """Up to `max_traces` traces, stratified by outcome (half passed, half failed), seeded."""
    sample = statistics.stratified_sample(outcomes, settings.max_traces, settings.seed)
    counts = dict(sample.group_by("outcome").len().iter_rows())
    logger.info(
        "patterns: %d traces sampled (%s) of %d passed and %d failed",
        sample.height,
        counts,
        (outcomes["outcome"] == "passed").sum(),
        (outcomes["outcome"] == "failed").sum(),
    )
    return sample


def _shard_dir(settings: PatternsSettings, model: str, behaviours) -> str:
    key = run_key(
        "patterns",
        model,
        settings.sampling.as_dict(),
        settings.system_prompt,
        prompt_key(behaviours, settings.max_chars),
    )
    return settings.resume.shard_path(key)


def classify_traces(
    sample: pl.DataFrame,
    generations: Frame,
    settings: PatternsSettings,
    critique: CritiqueSettings,
) -> pl.DataFrame:
    """The `reasoning_patterns` table: per sampled trace its outcome, its lexical labels (presence
    and matches per 1,000 words per behaviour) and the classifier's (yes/no, null when unparsed),
    with the classifier's answer. Classifications are resumable (`resume.shard_dir`): a rerun sends
    only the missing ones and starts no engine when none is."""
    behaviours = behaviours_named(settings.behaviours)
    classifier = settings.classifier(critique)
    chunk_size = settings.resume.chunk_size
    field = _trace_field(settings)
    texts = (
        generations.lazy()
        .filter(pl.col("generation_id").is_in(sample["generation_id"].to_list()))
        .select("generation_id", field.alias("trace_field"), _trace(field).alias("trace"))
    )
    labels, report = label_traces(
        frame_chunks(texts, chunk_size),
        settings.sampling.config(),
        lambda: create_backend(classifier.config()),
        shard_dir=_shard_dir(settings, classifier.model, behaviours),
        chunk_size=chunk_size,
        max_chars=settings.max_chars,
        system_prompt=settings.system_prompt,
        behaviours=behaviours,
        total=sample.height,
    )
    if report.requests_failed:
        logger.warning(
            "patterns: %d classifications failed (kept as unparsed; a rerun retries them)",
            report.requests_failed,
        )
    context = sample.select(
        "generation_id", "question_id", "language", "verdict", "outcome", "mean_token_entropy"
    )
    table = context.join(labels, on="generation_id", how="inner", maintain_order="left")
    if table.height != sample.height:
        raise ValueError(
            f"patterns: {sample.height - table.height} sampled traces are missing from "
            "generations (the generations table changed during the run?)"
        )
    return table.with_columns(pl.lit(classifier.model).alias("critic_model"))


def _entropy(outcomes: pl.DataFrame, min_group_size: int) -> dict:
    values = outcomes.filter(
        pl.col("outcome").is_not_null() & pl.col("mean_token_entropy").is_not_null()
    )
    if values.is_empty():
        return {"available": False, "note": statistics.ENTROPY_OFF}
    by_group = {
        g: values.filter(pl.col("outcome") == g)["mean_token_entropy"].to_list()
        for g in statistics.GROUPS
    }
    summary = statistics.compare_entropy(by_group["passed"], by_group["failed"], min_group_size)
    # Over every verified trace carrying an entropy, not only the classified sample.
    summary["scope"] = "all verified traces with an entropy"
    summary["missing"] = int(
        outcomes.filter(pl.col("outcome").is_not_null())["mean_token_entropy"].null_count()
    )
    return summary


def summarize_patterns(
    labels: Frame,
    outcomes: pl.DataFrame,
    settings: PatternsSettings,
    critique: CritiqueSettings,
) -> dict:
    """The `reasoning_patterns_summary` (JSON): run settings, population and sample sizes, per
    behaviour x method x outcome frequencies with Fisher's p (Benjamini-Hochberg across
    behaviours), LLM-vs-lexical kappa, unparsed counts, and the entropy comparison."""
    behaviours = behaviours_named(settings.behaviours)
    # The classifier's answers stay on disk: everything counted here is narrow.
    table = labels.lazy().drop("llm_answer", strict=False).collect()
    classifier = settings.classifier(critique)
    population = {
        "passed": int((outcomes["outcome"] == "passed").sum()),
        "failed": int((outcomes["outcome"] == "failed").sum()),
        "excluded": int(outcomes["outcome"].null_count()),
    }
    run = {
        "critic_model": classifier.model,
        "backend": classifier.backend,
        "embedded": classifier.model == "embedded",
        "max_traces": settings.max_traces,
        "max_chars": settings.max_chars,
        "seed": settings.seed,
        "min_group_size": settings.min_group_size,
        "only_unflagged": settings.only_unflagged,
        "behaviours": [b.name for b in behaviours],
    }
    summary = statistics.build_summary(
        table,
        population=population,
        entropy=_entropy(outcomes, settings.min_group_size),
        run=run,
        behaviours=behaviours,
    )
    logger.info(
        "patterns: %d traces, %d unparsed LLM labels; %s",
        summary["sample"]["traces"],
        summary["llm"]["unparsed_labels"],
        "entropy compared" if summary["entropy"]["available"] else statistics.ENTROPY_OFF,
    )
    return summary


def plot_patterns(summary: dict) -> go.Figure:
    """Grouped bars: per behaviour, the share of passed and failed traces showing it, by each
    method (one catalog entry saves it locally and logs it to the MLflow run)."""
    return patterns_figure(summary)


def pattern_metrics(summary: dict) -> dict[str, dict[str, float]]:
    """Frequencies, differences, adjusted p-values, kappas and entropies for MLflow."""
    return {
        name: {"value": value, "step": 0} for name, value in statistics.metrics(summary).items()
    }
