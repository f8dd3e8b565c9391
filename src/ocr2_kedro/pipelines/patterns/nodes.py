"""Reasoning-pattern nodes: which behaviours (subgoal setting, self-evaluation, backtracking, ...)
the teacher's traces show, by regex markers and by the critic model, and how their frequency
differs between traces whose solutions passed every test and those that failed
(`ocr2_kedro.metrics.patterns` holds the engine).

Bounded memory: `generations` is read lazily. The outcome table holds narrow columns only (ids,
verdict, trace length, entropy); the traces' text is read for the sampled rows alone, chunk by
chunk, and the classifier's answers are stored in resumable shards like every generation job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import plotly.graph_objects as go
import polars as pl

from ocr2_kedro.generation import BACKENDS, SamplingConfig, create_backend
from ocr2_kedro.generation.resumable import frame_chunks
from ocr2_kedro.metrics import patterns
from ocr2_kedro.schemas import run_key

logger = logging.getLogger(__name__)

DEFAULT_SHARD_DIR = "data/02_intermediate/pattern_shards"
TRACE_FIELDS = ("auto", "reasoning", "output")
Frame = pl.LazyFrame | pl.DataFrame


def critic_config(critique_params: Mapping, params: Mapping) -> dict:
    """The classifier's backend settings: the critique pipeline's critic (backend, model and the
    per-backend options), with `patterns.critic` overriding single settings."""
    config = {
        key: critique_params[key]
        for key in ("backend", "model", *BACKENDS)
        if critique_params.get(key) is not None
    }
    for key, value in (params.get("critic") or {}).items():
        if isinstance(value, Mapping) and isinstance(config.get(key), Mapping):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def _trace_field(params: Mapping) -> pl.Expr:
    choice = params.get("trace_field", "auto")
    if choice not in TRACE_FIELDS:
        raise ValueError(f"patterns.trace_field must be one of {TRACE_FIELDS}, got {choice!r}")
    if choice != "auto":
        return pl.lit(choice)
    # Models that write no <think> block (the embedded default) reason in their answer.
    has_reasoning = pl.col("reasoning").fill_null("").str.len_chars() > 0
    return pl.when(has_reasoning).then(pl.lit("reasoning")).otherwise(pl.lit("output"))


def _trace(field: pl.Expr) -> pl.Expr:
    return (
        pl.when(field == "reasoning").then(pl.col("reasoning")).otherwise(pl.col("output"))
    ).fill_null("")


def trace_outcomes(generations: Frame, verifications: Frame, params: dict) -> pl.DataFrame:
    """One narrow row per generation with a trace: question_id, language, verdict, outcome
    ("passed" every test, "failed", null for SE or unverified), trace_field, trace_chars and
    mean_token_entropy (null when the generations carry none). With `only_unflagged`, flagged
    samples (cut by the length limit, no code...) are left out, as from the exported dataset."""
    lazy = generations.lazy()
    has_entropy = "mean_token_entropy" in lazy.collect_schema().names()
    field = _trace_field(params)
    if params.get("only_unflagged", True):
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
        .with_columns(patterns.outcome(pl.col("verdict")).alias("outcome"))
        .collect(engine="streaming")
    )


def sample_traces(outcomes: pl.DataFrame, params: dict) -> pl.DataFrame:
    """Up to `max_traces` traces, stratified by outcome (half passed, half failed), seeded."""
    max_traces = params.get("max_traces")
    sample = patterns.stratified_sample(
        outcomes, None if max_traces is None else int(max_traces), int(params.get("seed", 0))
    )
    counts = dict(sample.group_by("outcome").len().iter_rows())
    logger.info(
        "patterns: %d traces sampled (%s) of %d passed and %d failed",
        sample.height,
        counts,
        (outcomes["outcome"] == "passed").sum(),
        (outcomes["outcome"] == "failed").sum(),
    )
    return sample


def _shard_dir(params: dict, config: dict, behaviours) -> str:
    resume = params.get("resume") or {}
    key = run_key(
        "patterns",
        config["model"],
        params["sampling"],
        params.get("system_prompt"),
        patterns.prompt_fingerprint(behaviours, params.get("max_chars")),
    )
    return f"{resume.get('shard_dir', DEFAULT_SHARD_DIR)}/{key}"


def classify_traces(
    sample: pl.DataFrame, generations: Frame, params: dict, critique_params: dict
) -> pl.DataFrame:
    """The `reasoning_patterns` table: per sampled trace its outcome, its lexical labels (presence
    and matches per 1,000 words per behaviour) and the classifier's (yes/no, null when unparsed),
    with the classifier's answer. Classifications are resumable (`resume.shard_dir`): a rerun sends
    only the missing ones and starts no engine when none is."""
    behaviours = patterns.behaviours_named(params.get("behaviours"))
    config = critic_config(critique_params, params)
    chunk_size = int((params.get("resume") or {}).get("chunk_size", 64))
    field = _trace_field(params)
    texts = (
        generations.lazy()
        .filter(pl.col("generation_id").is_in(sample["generation_id"].to_list()))
        .select("generation_id", field.alias("trace_field"), _trace(field).alias("trace"))
    )
    labels, report = patterns.label_traces(
        frame_chunks(texts, chunk_size),
        SamplingConfig.from_dict(params["sampling"]),
        lambda: create_backend(config),
        shard_dir=_shard_dir(params, config, behaviours),
        chunk_size=chunk_size,
        max_chars=params.get("max_chars"),
        system_prompt=params.get("system_prompt"),
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
    return table.with_columns(pl.lit(config["model"]).alias("critic_model"))


def _entropy(outcomes: pl.DataFrame, min_group_size: int) -> dict:
    values = outcomes.filter(
        pl.col("outcome").is_not_null() & pl.col("mean_token_entropy").is_not_null()
    )
    if values.is_empty():
        return {"available": False, "note": patterns.ENTROPY_OFF}
    by_group = {
        g: values.filter(pl.col("outcome") == g)["mean_token_entropy"].to_list()
        for g in patterns.GROUPS
    }
    summary = patterns.compare_entropy(by_group["passed"], by_group["failed"], min_group_size)
    # Over every verified trace carrying an entropy, not only the classified sample.
    summary["scope"] = "all verified traces with an entropy"
    summary["missing"] = int(
        outcomes.filter(pl.col("outcome").is_not_null())["mean_token_entropy"].null_count()
    )
    return summary


def summarize_patterns(
    labels: Frame, outcomes: pl.DataFrame, params: dict, critique_params: dict
) -> dict:
    """The `reasoning_patterns_summary` (JSON): run settings, population and sample sizes, per
    behaviour x method x outcome frequencies with Fisher's p (Benjamini-Hochberg across
    behaviours), LLM-vs-lexical kappa, unparsed counts, and the entropy comparison."""
    behaviours = patterns.behaviours_named(params.get("behaviours"))
    # The classifier's answers stay on disk: everything counted here is narrow.
    table = labels.lazy().drop("llm_answer", strict=False).collect()
    config = critic_config(critique_params, params)
    min_group_size = int(params.get("min_group_size", 10))
    population = {
        "passed": int((outcomes["outcome"] == "passed").sum()),
        "failed": int((outcomes["outcome"] == "failed").sum()),
        "excluded": int(outcomes["outcome"].null_count()),
    }
    run = {
        "critic_model": config["model"],
        "backend": config["backend"],
        "embedded": config["model"] == "embedded",
        "max_traces": params.get("max_traces"),
        "max_chars": params.get("max_chars"),
        "seed": int(params.get("seed", 0)),
        "min_group_size": min_group_size,
        "only_unflagged": bool(params.get("only_unflagged", True)),
        "behaviours": [b.name for b in behaviours],
    }
    summary = patterns.build_summary(
        table,
        population=population,
        entropy=_entropy(outcomes, min_group_size),
        run=run,
        behaviours=behaviours,
    )
    logger.info(
        "patterns: %d traces, %d unparsed LLM labels; %s",
        summary["sample"]["traces"],
        summary["llm"]["unparsed_labels"],
        "entropy compared" if summary["entropy"]["available"] else patterns.ENTROPY_OFF,
    )
    return summary


def plot_patterns(summary: dict) -> tuple[go.Figure, go.Figure]:
    """Grouped bars: per behaviour, the share of passed and failed traces showing it, by each
    method (versioned plotly JSON for kedro viz, the same figure as HTML on the MLflow run)."""
    names = list(summary.get("behaviours", {}))
    figure = go.Figure()
    colours = {"passed": "#2ca02c", "failed": "#d62728"}
    for method in patterns.METHODS:
        for group in patterns.GROUPS:
            stats = [summary["behaviours"][n][method][group] for n in names]
            figure.add_trace(
                go.Bar(
                    x=names,
                    y=[None if s["freq"] is None else 100 * s["freq"] for s in stats],
                    text=[f"n={s['n']}" for s in stats],
                    name=f"{method}, {group}",
                    offsetgroup=f"{method}-{group}",
                    marker={
                        "color": colours[group],
                        "pattern": {"shape": "/" if method == "llm" else ""},
                    },
                )
            )
    title = "Reasoning behaviours in passed vs failed teacher traces"
    if patterns.is_plumbing(summary):
        title += " (embedded default or tiny sample: plumbing)"
    figure.update_layout(barmode="group", title=title, yaxis_title="% of traces")
    return figure, figure


def pattern_metrics(summary: dict) -> dict[str, dict[str, float]]:
    """Frequencies, differences, adjusted p-values, kappas and entropies for MLflow."""
    return {name: {"value": value, "step": 0} for name, value in patterns.metrics(summary).items()}
