"""Evaluation nodes: a model answers the held-out benchmark (n samples per problem, language and
temperature), judges its own samples with the critique prompt, the samples run in the sandbox (stopping
at the first failing test), and per-problem results become pass@k, pass@1|select@k, critique@k and
the critic's agreement with execution, with standard errors, per language, difficulty, platform and
date window. Samples the sandbox could not judge (SE) are left out of those metrics and counted
(`se_count`, `se_share`; see `score_samples`). The model's per-token loss on reference solutions is
measured beside them.

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
from ocr2_kedro.execution.batch import setting_problems
from ocr2_kedro.execution.runner import prepare_tests
from ocr2_kedro.generation import SamplingConfig, create_backend
from ocr2_kedro.generation.critique import chat_request, opened_once, run_critiques
from ocr2_kedro.generation.prompts import FENCE_TAGS, critique_prompt, solution_prompt
from ocr2_kedro.generation.resumable import (
    fingerprint_request,
    generate_resumable,
    prompt_fingerprint,
    request_fingerprint,
)
from ocr2_kedro.models import resolve_model_path
from ocr2_kedro.parsing import parse_sample
from ocr2_kedro.schemas import LANGUAGES, PROBLEM, REJECT, conform, run_key, stable_id
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
        # Of the exact request (model, messages, sampling, seed): part of sample_id.
        "request_fingerprint": pl.String,
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


# What evaluation.execution holds besides the judging settings (execution.batch.DEFAULT_SETTINGS).
EXECUTION_POOL_SETTINGS = ("workers", "progress")


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
    problems += setting_problems(
        params.get("execution") or {}, "evaluation.execution", EXECUTION_POOL_SETTINGS
    )
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
    problems: pl.DataFrame,
    params: dict,
    temperature: float,
    model_path: str,
    sampling: SamplingConfig,
) -> list[dict]:
    """n requests per problem and language; a sample_id is made from the fingerprint of the exact
    request (model, system prompt and prompt, sampling, seed), so a changed prompt or setting is
    sampled afresh and an unchanged one resumes from its shard."""
    samples = int(params["samples_per_problem"])
    base_seed = int(params["sampling"].get("seed", 0))
    system_prompt = params.get("system_prompt")
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
            messages = chat_request("", prompt, None, system_prompt).messages
            prompt_key = prompt_fingerprint(model_path, messages, sampling)
            for sample_idx in range(samples):
                fingerprint = request_fingerprint(prompt_key, base_seed + sample_idx)
                sample_id = stable_id(
                    "evaluation",
                    model_path,
                    problem["question_id"],
                    language,
                    temperature,
                    sample_idx,
                    fingerprint,
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
                        "request_fingerprint": fingerprint,
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
            settings = SamplingConfig.from_dict(sampling)
            requests = _requests(problems, params, float(temperature), model_ref["path"], settings)
            key = run_key("samples", model_ref["path"], sampling, system_prompt)
            completions = generate_resumable(
                [
                    chat_request(r["sample_id"], r["prompt"], r["seed"], system_prompt)
                    for r in requests
                ],
                settings,
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
    sampling = settings.get("sampling") or {}
    sampling_config = SamplingConfig.from_dict(sampling)
    # Each self-critique is stored under its sample and the fingerprint of its exact request, so a
    # changed critique prompt or setting asks again instead of reusing an old judgement.
    sample_ids, fingerprints, requests = [], [], []
    for row in candidates.iter_rows(named=True):
        prompt = critique_prompt(row["question"], row["language"], row["solution"])
        request = chat_request("", prompt, row["seed"], system_prompt)
        fingerprint = fingerprint_request(model_ref["path"], request, sampling_config)
        sample_ids.append(row["sample_id"])
        fingerprints.append(fingerprint)
        requests.append(
            chat_request(
                stable_id(row["sample_id"], fingerprint), prompt, row["seed"], system_prompt
            )
        )
    follow_up = settings.get("judgement_follow_up") or {}
    resume = params.get("resume") or {}
    key = run_key("self-critique", model_ref["path"], sampling, system_prompt)
    judged = run_critiques(
        requests,
        sampling_config,
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
            "sample_id": sample_id,
            "critique": item.completion.text,
            "critique_reasoning": item.reasoning,
            "critique_length": _critique_length(item.reasoning, item.completion.text),
            "judgement": item.judgement,
            "judgement_source": item.source,
            "request_fingerprint": fingerprint,
        }
        for sample_id, fingerprint, item in zip(sample_ids, fingerprints, judged, strict=True)
    ]
    return conform(rows, SELF_CRITIQUE) if rows else pl.DataFrame(schema=SELF_CRITIQUE)


def execute_samples(samples: pl.DataFrame, problems: pl.DataFrame, params: dict) -> pl.DataFrame:
    """Run every sample in the sandbox (the `verify` pipeline's, stopping at the first failing test
    by default: pass/fail is all pass@k needs). Samples without code are judged CE there."""
    execution = params.get("execution") or {}
    settings = settings_from(execution, "evaluation.execution", EXECUTION_POOL_SETTINGS)
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
    """(one row per sample: verdict, error, passed, judged right, critique length; one row per
    problem, language and temperature with its sample counts and per-problem metrics).

    An SE verdict (sandbox or system fault: a missing compiler, a malformed problem, a sandbox that
    failed after its retries) says nothing about the solution, so it is not a failure: SE samples
    are left out of n and c of their problem, and pass@k, select@k, random selection and critique@k
    are computed over the samples that got a verdict (`n` of the row; `se_count` beside it, with one
    of their errors in `se_error`). A k above that n is not estimated for the problem (null, like a k
    above samples_per_problem), and a problem whose every sample is SE has no metrics at all: the
    summary's `problems` column counts the problems behind each mean, and its `se_count` /
    `se_share` rows say how much was left out. Every SE is also logged as a warning, per model and
    language, with a sample of the errors.
    """
    execution_columns = ["sample_id", "verdict"] + (
        ["error"] if "error" in executions.columns else []
    )
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
    if "error" not in sample_results.columns:
        sample_results = sample_results.with_columns(pl.lit(None, pl.String).alias("error"))
    warn_about_system_errors(sample_results)
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
                    metrics.problem_metrics(passed, right, lengths, ks, fallback=fallback)
                    if passed
                    else {}
                ),
            }
        )
    if not rows:
        return sample_results, pl.DataFrame()
    problem_results = (
        pl.DataFrame(rows, infer_schema_length=None)
        .with_columns(pl.col("se_error").cast(pl.String))
        .join(info, on="question_id", how="left")
    )
    return sample_results, problem_results


SE_WARNING_EXAMPLES = 3


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
    grouped = pl.concat(parts, how="diagonal_relaxed")
    table = metrics.summarize_problem_metrics(
        grouped,
        list(GROUP_COLUMNS),
        _metric_columns(problem_results),
        resamples=int(bootstrap.get("resamples", 1000)),
        seed=int(bootstrap.get("seed", 0)),
    )
    return pl.concat(
        [table, _system_error_rows(grouped), _agreement_rows(sample_results)],
        how="diagonal_relaxed",
    ).sort(list(GROUP_COLUMNS) + ["metric"])


def _system_error_rows(grouped: pl.DataFrame) -> pl.DataFrame:
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


def _agreement_rows(sample_results: pl.DataFrame) -> pl.DataFrame:
    """The critic (the model itself) against execution, over the samples it judged that got a
    verdict (an SE sample has no ground truth to agree with)."""
    judged = pl.concat(
        [sample_results, sample_results.with_columns(pl.lit("all").alias("language"))]
    ).filter(pl.col("has_solution") & ~pl.col("system_error"))
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
    the catalog prefixes them with `evaluation.<model>`. Breakdowns live in the metrics table.
    `se_count` and `se_share` (samples left out of pass@k as SE) are logged in every run, 0 when
    there were none."""
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
    temperature), as a table and as markdown for the MLflow run, with a note under the markdown
    for every row whose pass@k left SE samples out (`se_count`, `se_share`). `tables` alternates
    each model's summary and reference loss."""
    summaries = [table for table in tables[0::2] if not table.is_empty()]
    losses = [table for table in tables[1::2] if not table.is_empty()]
    if not summaries:
        return pl.DataFrame(), "# Evaluation\n\nNo model was evaluated.\n"
    overall = pl.concat(summaries, how="diagonal_relaxed").filter(pl.col("breakdown") == "all")
    wide = overall.pivot(on="metric", index=["model", "language", "temperature"], values="mean")
    if "se_count" in wide.columns:
        wide = wide.with_columns(pl.col("se_count").cast(pl.Int64))
    if losses:
        loss = pl.concat(losses).select(
            "model", "language", pl.col("loss_per_token").alias("reference_loss")
        )
        wide = wide.join(loss, on=["model", "language"], how="left")
    wide = wide.sort("language", "temperature", "model")
    markdown = markdown_table("Evaluation: models side by side", wide)
    return wide, markdown + system_error_note(wide)


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
