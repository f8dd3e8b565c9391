"""Evaluation nodes: a model answers the held-out benchmark (n samples per problem, language and
temperature), judges its own samples with the critique prompt, the samples run in the sandbox (stopping
at the first failing test), and per-problem results become pass@k, pass@1|select@k, critique@k and
the critic's agreement with execution, with standard errors, per language, difficulty, platform and
date window. The model's per-token loss on reference solutions is measured beside them.

The heavy lifting lives in the engines (generation, execution, metrics, training.loss); these
functions only shape tables.
"""

from __future__ import annotations

import datetime
import logging
import math
from contextlib import ExitStack
from typing import Any

import polars as pl
from plotly import graph_objects as go
from plotly.subplots import make_subplots

from ocr2_kedro import metrics
from ocr2_kedro.execution import BadProblem, settings_from, verify_frame
from ocr2_kedro.execution.runner import prepare_tests
from ocr2_kedro.generation import SamplingConfig, create_backend
from ocr2_kedro.generation.critique import chat_request, opened_once, run_critiques
from ocr2_kedro.generation.prompts import FENCE_TAGS, critique_prompt, solution_prompt
from ocr2_kedro.generation.resumable import generate_resumable, run_key
from ocr2_kedro.models import resolve_model_path
from ocr2_kedro.parsing import parse_sample
from ocr2_kedro.schemas import LANGUAGES, PROBLEM, REJECT, conform, stable_id
from ocr2_kedro.training.loss import per_token_loss, reference_losses

logger = logging.getLogger(__name__)

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
    }
)

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

GROUP_COLUMNS = ("model", "language", "temperature", "breakdown", "group")


def _reject(record_id: str, source: str, reason: str, detail: str) -> dict:
    return {
        "stage": "evaluation",
        "source": source,
        "record_id": record_id,
        "reason": reason,
        "detail": detail,
    }


def _rejects(rows: list[dict]) -> pl.DataFrame:
    return conform(rows, REJECT) if rows else pl.DataFrame(schema=REJECT)


# ------------------------------------------------------------------------------ benchmark (shared)


def check_evaluation_settings(params: dict) -> dict:
    """Settings that cannot work, refused before anything runs (also by the preflight hook); returns
    them, as the settings every model's evaluation runs with."""
    problems = []
    unknown = sorted(set(params["languages"]) - set(LANGUAGES))
    if unknown:
        problems.append(f"languages has {unknown}; the sandbox runs {list(LANGUAGES)} only")
    n = int(params["samples_per_problem"])
    too_large = [k for k in params["ks"] if not 1 <= int(k) <= n]
    if too_large:
        problems.append(f"ks {too_large} are not within 1..samples_per_problem ({n})")
    if not params["temperatures"]:
        problems.append("temperatures is empty")
    fallback = (params.get("self_critique") or {}).get("fallback", "random")
    if fallback not in metrics.FALLBACKS:
        problems.append(f"self_critique.fallback {fallback!r} is not one of {metrics.FALLBACKS}")
    for breakdown in params.get("breakdowns") or []:
        if breakdown not in ("difficulty", "platform", "source"):
            problems.append(f"breakdown {breakdown!r} is not difficulty, platform or source")
    SamplingConfig.from_dict({**params["sampling"], "temperature": 0.0})
    if problems:
        raise ValueError("evaluation settings: " + "; ".join(problems))
    return params


def prepare_benchmark(
    benchmark_problems: pl.DataFrame, params: dict
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The problems every model is evaluated on, and a reject row for each benchmark problem that
    cannot be scored (no tests, malformed tests, unknown test type)."""
    check_evaluation_settings(params)
    kept, rejects = [], []
    for row in benchmark_problems.iter_rows(named=True):
        try:
            prepare_tests(row["tests"], row["test_type"] or "stdin", row["fn_name"])
        except BadProblem as error:
            reason = "no_tests" if not row["tests"] else "malformed_tests"
            rejects.append(_reject(row["question_id"], row["source"], reason, str(error)))
            continue
        kept.append(row)
    problems = conform(kept, PROBLEM) if kept else pl.DataFrame(schema=PROBLEM)
    limit = params.get("max_problems")
    if limit is not None and problems.height > int(limit):
        # Deterministic: the same problems on every run and machine.
        problems = problems.sort("question_id").head(int(limit))
    logger.info("evaluation: %d benchmark problems, %d rejected", problems.height, len(rejects))
    return problems, _rejects(rejects)


def collect_references(
    references: pl.DataFrame, problems: pl.DataFrame, params: dict
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Reference solutions of the benchmark problems, long format (question_id, language, solution).

    Reads either that long format or the bundled layout (`source_id` + a `solutions` struct with one
    field per language, matched to benchmark problems of `references.source`). A solution in a
    language the sandbox does not run becomes a reject row.
    """
    if {"question_id", "language", "solution"} <= set(references.columns):
        long = references.select("question_id", "language", "solution")
    elif {"source_id", "solutions"} <= set(references.columns):
        source = (params.get("references") or {}).get("source", "bundled")
        ids = problems.filter(pl.col("source") == source).select("source_id", "question_id")
        long = (
            references.select("source_id", "solutions")
            .join(ids, on="source_id")
            .unnest("solutions")
            .unpivot(
                index=["source_id", "question_id"], variable_name="language", value_name="solution"
            )
            .drop("source_id")
        )
    else:
        raise ValueError(
            "evaluation_references needs columns (question_id, language, solution) or "
            f"(source_id, solutions); it has {references.columns}"
        )
    long = long.filter(
        pl.col("solution").is_not_null()
        & (pl.col("solution").str.strip_chars() != "")
        & pl.col("question_id").is_in(problems["question_id"].implode())
    )
    known = pl.col("language").is_in(list(LANGUAGES))
    rejects = [
        _reject(row["question_id"], "references", "unknown_language", str(row["language"]))
        for row in long.filter(~known).iter_rows(named=True)
    ]
    return conform(long.filter(known), REFERENCE), _rejects(rejects)


def combine_evaluation_rejects(*rejects: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([conform(frame, REJECT) for frame in rejects])


def resolve_untrained_student(student: str) -> str:
    """The student before training (training.student) as a loadable model reference."""
    return resolve_model_path(student)


# ------------------------------------------------------------------------------ per model (template)


def resolve_model(checkpoint: str | None, model: dict) -> dict[str, Any]:
    """What this namespace evaluates: `model.path` when set, else the checkpoint it is wired to (the
    latest version of a training stage, or the untrained student)."""
    path = model.get("path") or checkpoint
    if path is None:
        raise FileNotFoundError(
            f"evaluation.{model['name']} has no checkpoint to evaluate: train first "
            f"(`kedro run --pipelines training`) or set evaluation.{model['name']}.model.path"
        )
    backend = model.get("backend")
    return {
        "name": model["name"],
        # A served model is addressed by its served name, not a local path.
        "path": str(path) if backend == "openai" else resolve_model_path(str(path)),
        "backend": backend,
    }


def _requests(
    problems: pl.DataFrame, params: dict, temperature: float, model_path: str
) -> list[dict]:
    samples = int(params["samples_per_problem"])
    base_seed = int(params["sampling"].get("seed", 0))
    rows = []
    for problem in problems.iter_rows(named=True):
        for language in params["languages"]:
            prompt = solution_prompt(
                problem["question"],
                language,
                problem["test_type"],
                problem["starter_code"] or "",
                problem["fn_name"],
            )
            for sample_idx in range(samples):
                sample_id = stable_id(
                    "evaluation",
                    model_path,
                    problem["question_id"],
                    language,
                    temperature,
                    sample_idx,
                )
                rows.append(
                    {
                        "sample_id": sample_id,
                        "question_id": problem["question_id"],
                        "language": language,
                        "temperature": temperature,
                        "sample_idx": sample_idx,
                        "seed": base_seed + sample_idx,
                        "prompt": prompt,
                    }
                )
    return rows


def _critique_length(reasoning: str, critique: str) -> int:
    return len(reasoning.strip()) if reasoning and reasoning.strip() else len(critique.strip())


def sample_and_critique(
    problems: pl.DataFrame, model_ref: dict, params: dict
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """n samples per problem, language and temperature, then the model's critique of each of its own
    samples that has code. One engine serves both (started once, only if anything is left to do);
    both steps resume from their shards like the `generation` pipeline."""
    system_prompt = params.get("system_prompt")
    resume = params.get("resume") or {}
    shard_root = resume.get("shard_dir", "data/02_intermediate/evaluation_shards")
    chunk_size = int(resume.get("chunk_size", 64))
    config = {
        **params,
        "backend": model_ref.get("backend") or params["backend"],
        "model": model_ref["path"],
    }
    rows: list[dict] = []
    with ExitStack() as stack:
        backend = opened_once(stack, lambda: create_backend(config))
        for temperature in params["temperatures"]:
            sampling = {**params["sampling"], "temperature": float(temperature)}
            requests = _requests(problems, params, float(temperature), model_ref["path"])
            key = run_key("samples", model_ref["path"], sampling, system_prompt)
            completions = generate_resumable(
                [
                    chat_request(r["sample_id"], r["prompt"], r["seed"], system_prompt)
                    for r in requests
                ],
                SamplingConfig.from_dict(sampling),
                backend,
                shard_dir=f"{shard_root}/{key}",
                chunk_size=chunk_size,
                description=f"{model_ref['name']} samples t={temperature:g}",
            )
            for request, completion in zip(requests, completions, strict=True):
                parsed = parse_sample(
                    completion.text,
                    request["language"],
                    completion.finish_reason,
                    error=completion.error,
                )
                rows.append(
                    {
                        **request,
                        "model": model_ref["name"],
                        "model_path": model_ref["path"],
                        "output": completion.text,
                        "solution": parsed.solution,
                        "finish_reason": completion.finish_reason,
                        "num_output_tokens": completion.num_output_tokens,
                        "flags": parsed.flags,
                    }
                )
        samples = conform(rows, EVAL_SAMPLE) if rows else pl.DataFrame(schema=EVAL_SAMPLE)
        critiques = _self_critiques(samples, problems, model_ref, params, backend)
    return samples, critiques


def _self_critiques(samples, problems, model_ref, params, backend) -> pl.DataFrame:
    settings = params.get("self_critique") or {}
    if not settings.get("enabled", True):
        return pl.DataFrame(schema=SELF_CRITIQUE)
    candidates = samples.filter(pl.col("solution").is_not_null()).join(
        problems.select("question_id", "question"), on="question_id"
    )
    system_prompt = params.get("system_prompt")
    requests = [
        chat_request(
            row["sample_id"],
            critique_prompt(row["question"], row["language"], row["solution"]),
            row["seed"],
            system_prompt,
        )
        for row in candidates.iter_rows(named=True)
    ]
    sampling = settings.get("sampling") or {}
    follow_up = settings.get("judgement_follow_up") or {}
    resume = params.get("resume") or {}
    key = run_key("self-critique", model_ref["path"], sampling, system_prompt)
    judged = run_critiques(
        requests,
        SamplingConfig.from_dict(sampling),
        backend,
        shard_dir=f"{resume.get('shard_dir', 'data/02_intermediate/evaluation_shards')}/{key}",
        chunk_size=int(resume.get("chunk_size", 64)),
        follow_up_max_tokens=int(follow_up.get("max_tokens", 16))
        if follow_up.get("enabled")
        else None,
        description=f"{model_ref['name']} self-critique",
    )
    rows = [
        {
            "sample_id": request.request_id,
            "critique": item.completion.text,
            "critique_reasoning": item.reasoning,
            "critique_length": _critique_length(item.reasoning, item.completion.text),
            "judgement": item.judgement,
            "judgement_source": item.source,
        }
        for request, item in zip(requests, judged, strict=True)
    ]
    return conform(rows, SELF_CRITIQUE) if rows else pl.DataFrame(schema=SELF_CRITIQUE)


def execute_samples(samples: pl.DataFrame, problems: pl.DataFrame, params: dict) -> pl.DataFrame:
    """Run every sample in the sandbox (the `verify` pipeline's, stopping at the first failing test
    by default: pass/fail is all pass@k needs). Samples without code are judged CE there."""
    execution = params.get("execution") or {}
    settings = settings_from(execution)
    frame = samples.select(
        pl.col("sample_id").alias("generation_id"), "question_id", "language", "solution"
    )
    return verify_frame(
        frame,
        problems,
        workers=int(execution.get("workers", 1)),
        progress=bool(execution.get("progress", True)),
        **settings,
    ).rename({"generation_id": "sample_id"})


def score_samples(
    samples: pl.DataFrame,
    critiques: pl.DataFrame,
    executions: pl.DataFrame,
    problems: pl.DataFrame,
    params: dict,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(one row per sample: passed, judged right, critique length; one row per problem, language and
    temperature with its sample counts and per-problem metrics)."""
    sample_results = (
        samples.select(
            "sample_id",
            "model",
            "question_id",
            "language",
            "temperature",
            "sample_idx",
            pl.col("solution").is_not_null().alias("has_solution"),
        )
        .join(executions.select("sample_id", "verdict"), on="sample_id", how="left")
        .join(
            critiques.select("sample_id", "judgement", "critique_length"),
            on="sample_id",
            how="left",
        )
        .with_columns(
            (pl.col("verdict") == "AC").fill_null(False).alias("passed"),
            (pl.col("judgement") == "right").fill_null(False).alias("judged_right"),
        )
        .sort("question_id", "language", "temperature", "sample_idx")
    )
    ks = [int(k) for k in params["ks"]]
    fallback = (params.get("self_critique") or {}).get("fallback", "random")
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
        passed = group["passed"].to_list()
        right = group["judged_right"].to_list()
        # No critique (no code, or critique off): never preferred by the shortest-critique rule.
        lengths = [math.inf if x is None else x for x in group["critique_length"].to_list()]
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
                **metrics.problem_metrics(passed, right, lengths, ks, fallback=fallback),
            }
        )
    if not rows:
        return sample_results, pl.DataFrame()
    problem_results = pl.DataFrame(rows, infer_schema_length=None).join(
        info, on="question_id", how="left"
    )
    return sample_results, problem_results


def _metric_columns(problem_results: pl.DataFrame) -> list[str]:
    prefixes = ("pass_at_", "random_select_at_", "critique_at_")
    return [c for c in problem_results.columns if c.startswith(prefixes)]


def _in_windows(problem_results: pl.DataFrame, windows: dict) -> pl.DataFrame:
    """The problem rows of every date window, `group` = the window's name (a problem can sit in
    several windows: LiveCodeBench's v5 and v6 windows overlap)."""
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


def summarize_evaluation(
    problem_results: pl.DataFrame, sample_results: pl.DataFrame, params: dict
) -> pl.DataFrame:
    """Long table: per model, language ("all" = both), temperature, breakdown and group, each metric's
    mean over problems with its standard error and bootstrap interval; plus the critic's agreement
    with execution over samples."""
    if problem_results.is_empty():
        return pl.DataFrame()
    bootstrap = params.get("bootstrap") or {}
    framed = pl.concat(
        [problem_results, problem_results.with_columns(pl.lit("all").alias("language"))]
    )
    parts = [framed.with_columns(pl.lit("all").alias("breakdown"), pl.lit("all").alias("group"))]
    for breakdown in params.get("breakdowns") or []:
        parts.append(
            framed.with_columns(
                pl.lit(breakdown).alias("breakdown"),
                pl.col(breakdown).cast(pl.String).fill_null("unknown").alias("group"),
            )
        )
    if params.get("windows"):
        parts.append(_in_windows(framed, params["windows"]))
    table = metrics.summarize_problem_metrics(
        pl.concat(parts, how="diagonal_relaxed"),
        list(GROUP_COLUMNS),
        _metric_columns(problem_results),
        resamples=int(bootstrap.get("resamples", 1000)),
        seed=int(bootstrap.get("seed", 0)),
    )
    return pl.concat([table, _agreement_rows(sample_results)], how="diagonal_relaxed").sort(
        list(GROUP_COLUMNS) + ["metric"]
    )


def _agreement_rows(sample_results: pl.DataFrame) -> pl.DataFrame:
    """The critic (the model itself) against execution, over the samples it judged."""
    judged = pl.concat(
        [sample_results, sample_results.with_columns(pl.lit("all").alias("language"))]
    ).filter(pl.col("has_solution"))
    rows = []
    for (model, language, temperature), group in judged.group_by(
        ["model", "language", "temperature"], maintain_order=True
    ):
        agreement = metrics.critic_agreement(
            group["passed"].to_list(), group["judged_right"].to_list()
        )
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
            for name in ("accuracy", "precision", "recall")
        ]
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def _reference_examples(rows: pl.DataFrame, language: str) -> list[dict]:
    """Question -> reference solution as the chat the student is trained on (same prompt builder)."""
    tag = FENCE_TAGS[language]
    return [
        {
            "prompt": [
                {
                    "role": "user",
                    "content": solution_prompt(
                        row["question"],
                        language,
                        row["test_type"],
                        row["starter_code"] or "",
                        row["fn_name"],
                    ),
                }
            ],
            "completion": [
                {"role": "assistant", "content": f"```{tag}\n{row['solution'].rstrip()}\n```"}
            ],
        }
        for row in rows.iter_rows(named=True)
    ]


def measure_reference_loss(
    references: pl.DataFrame, problems: pl.DataFrame, model_ref: dict, params: dict
) -> pl.DataFrame:
    """Per-token loss of the model on the reference solutions, per language (teacher forcing)."""
    settings = params.get("reference_loss") or {}
    backend = model_ref.get("backend") or params["backend"]
    reason = None
    if not settings.get("enabled", True):
        reason = "reference_loss.enabled is false"
    elif backend == "openai":
        reason = "the model is served over HTTP (openai backend): no weights to score"
    elif references.is_empty():
        reason = "no reference solutions for the benchmark problems"
    if reason:
        logger.warning("reference loss of %s not measured: %s", model_ref["name"], reason)
        rows = [
            {"model": model_ref["name"], "language": language, "skipped_reason": reason}
            for language in params["languages"]
        ]
        return conform(rows, REFERENCE_LOSS)
    joined = references.join(
        problems.select("question_id", "question", "test_type", "starter_code", "fn_name"),
        on="question_id",
    )
    rows = []
    for language in params["languages"]:
        examples = _reference_examples(joined.filter(pl.col("language") == language), language)
        if not examples:
            rows.append(
                {
                    "model": model_ref["name"],
                    "language": language,
                    "skipped_reason": f"no {language} reference solutions",
                }
            )
            continue
        losses = reference_losses(
            model_ref["path"],
            examples,
            max_length=int(settings.get("max_length", 1024)),
            batch_size=int(settings.get("batch_size", 4)),
            dtype=settings.get("dtype", "float32"),
        )
        rows.append(
            {
                "model": model_ref["name"],
                "language": language,
                "references": len(losses),
                "tokens": sum(loss.tokens for loss in losses),
                "truncated": sum(loss.truncated for loss in losses),
                "loss_per_token": per_token_loss(losses),
            }
        )
    return conform(rows, REFERENCE_LOSS)


def _temperature_tag(temperature: float) -> str:
    return f"t{float(temperature):g}"


def evaluation_metrics(
    summary: pl.DataFrame, reference_loss: pl.DataFrame
) -> dict[str, dict[str, float]]:
    """The headline numbers for MLflow, under the same names in every run (so the compare view lines
    runs up): `<language>.t<temperature>.<metric>` (+ `_stderr`) and `<language>.reference_loss`;
    the catalog prefixes them with `evaluation.<model>`. Breakdowns live in the metrics table."""
    logged: dict[str, dict[str, float]] = {}

    def put(name: str, value: float | None) -> None:
        if value is not None and not math.isnan(value):
            logged[name] = {"value": float(value), "step": 0}

    if not summary.is_empty():
        for row in summary.filter(pl.col("breakdown") == "all").iter_rows(named=True):
            name = f"{row['language']}.{_temperature_tag(row['temperature'])}.{row['metric']}"
            put(name, row["mean"])
            put(f"{name}_stderr", row.get("stderr"))
    for row in reference_loss.iter_rows(named=True):
        put(f"{row['language']}.reference_loss", row["loss_per_token"])
    return logged


SELECTION_SERIES = {
    "pass_at_": "pass@k (oracle)",
    "pass_at_1_select_at_": "pass@1|select@k (self-critique)",
    "random_select_at_": "random selection (= pass@1)",
    "critique_at_": "critique@k",
}


def _points(rows: pl.DataFrame, metric: str) -> pl.DataFrame:
    return rows.filter(pl.col("metric") == metric) if not rows.is_empty() else rows


def plot_evaluation(summary: pl.DataFrame, params: dict) -> tuple[go.Figure, ...]:
    """(selection plot, the same for MLflow, temperature plot, the same for MLflow).

    Selection: per language, pass@1|select@k against k beside pass@k (the oracle), random selection
    and critique@k, at the headline (first) temperature. Temperature: pass@1 and pass@1|select@k_max
    per sampling temperature."""
    languages = [*params["languages"], "all"]
    ks = sorted(int(k) for k in params["ks"])
    headline = float(params["temperatures"][0])
    overall = summary.filter(pl.col("breakdown") == "all") if not summary.is_empty() else summary
    selection = make_subplots(
        rows=1, cols=len(languages), subplot_titles=languages, shared_yaxes=True
    )
    for column, language in enumerate(languages, start=1):
        rows = (
            overall.filter((pl.col("language") == language) & (pl.col("temperature") == headline))
            if not overall.is_empty()
            else overall
        )
        for prefix, label in SELECTION_SERIES.items():
            points = [(k, _points(rows, f"{prefix}{k}")) for k in ks]
            points = [(k, match) for k, match in points if not match.is_empty()]
            if not points:
                continue
            selection.add_trace(
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
        selection.update_xaxes(title_text="k", type="log", row=1, col=column)
    selection.update_yaxes(title_text="pass rate", range=[0, 1], row=1, col=1)
    selection.update_layout(title=f"Self-critique selection (temperature {headline:g})")

    temperature = go.Figure()
    for language in languages:
        rows = overall.filter(pl.col("language") == language) if not overall.is_empty() else overall
        for metric, label in (
            ("pass_at_1", "pass@1"),
            (f"pass_at_1_select_at_{ks[-1]}", f"pass@1|select@{ks[-1]}"),
        ):
            points = _points(rows, metric)
            if points.is_empty():
                continue
            points = points.sort("temperature")
            temperature.add_trace(
                go.Scatter(
                    x=points["temperature"].to_list(),
                    y=points["mean"].to_list(),
                    error_y={"type": "data", "array": points["stderr"].fill_null(0.0).to_list()},
                    mode="lines+markers",
                    name=f"{language} {label}",
                )
            )
    temperature.update_layout(
        title="pass@1 per sampling temperature",
        xaxis_title="temperature",
        yaxis_title="pass rate",
        yaxis_range=[0, 1],
    )
    return selection, selection, temperature, temperature


# ------------------------------------------------------------------------------ across models


def compare_models(*tables: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """Every evaluated model's overall numbers side by side (one row per model, language and
    temperature), as a table and as markdown for the MLflow run. `tables` alternates each model's
    summary and reference loss."""
    summaries = [table for table in tables[0::2] if not table.is_empty()]
    losses = [table for table in tables[1::2] if not table.is_empty()]
    if not summaries:
        return pl.DataFrame(), "# Evaluation\n\nNo model was evaluated.\n"
    overall = pl.concat(summaries, how="diagonal_relaxed").filter(pl.col("breakdown") == "all")
    wide = overall.pivot(on="metric", index=["model", "language", "temperature"], values="mean")
    if losses:
        loss = pl.concat(losses).select(
            "model", "language", pl.col("loss_per_token").alias("reference_loss")
        )
        wide = wide.join(loss, on=["model", "language"], how="left")
    wide = wide.sort("language", "temperature", "model")
    return wide, markdown_table("Evaluation: models side by side", wide)


def markdown_table(title: str, table: pl.DataFrame) -> str:
    """A titled markdown table of `table` (floats to 4 decimals, NaN and null empty)."""
    lines = [f"# {title}", "", "| " + " | ".join(table.columns) + " |"]
    lines.append("|" + "---|" * len(table.columns))
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in table.iter_rows()]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4f}"
    return "" if value is None else str(value)
