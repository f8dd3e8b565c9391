"""Evaluation nodes: a model answers the held-out benchmark (n samples per problem, language and
temperature), judges its own samples with the critique prompt, the samples run in the sandbox
(stopping at the first failing test), and the results are scored (pass@k, pass@1|select@k,
critique@k, the critic's agreement with execution, SE counts) and reported (plots, the models side
by side). The model's per-token loss on reference solutions is measured beside them.

Thin adapters: requests and sampling are the generation engine's, judging the execution engine's,
scoring `ocr2_kedro.metrics.evaluation` (and `metrics.reference_loss`), plots and tables
`ocr2_kedro.reporting.evaluation`. Settings arrive validated (`EvaluationSettings`).
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import Any

import polars as pl
from plotly import graph_objects as go

from ocr2_kedro.execution import BadProblem, verify_frame
from ocr2_kedro.execution.runner import prepare_tests
from ocr2_kedro.generation import create_backend
from ocr2_kedro.generation.critique import BackendOpener, opened_once, run_critiques
from ocr2_kedro.generation.genselect import pick_candidates
from ocr2_kedro.generation.requests import (
    chat_request,
    critique_request,
    solution_prompts,
    solution_requests,
)
from ocr2_kedro.generation.resumable import generate_resumable
from ocr2_kedro.metrics import evaluation as scoring
from ocr2_kedro.metrics import ioi, paired, selection
from ocr2_kedro.metrics.evaluation import EVAL_SAMPLE, REFERENCE, SELF_CRITIQUE
from ocr2_kedro.metrics.reference_loss import reference_loss_tables, skipped_reference_loss
from ocr2_kedro.models import resolve_model_path
from ocr2_kedro.parameters.evaluation import EvaluationSettings, SubsetSettings
from ocr2_kedro.parsing import parse_sample
from ocr2_kedro.reporting import evaluation as report
from ocr2_kedro.reporting.differences import report_differences
from ocr2_kedro.schemas import (
    LANGUAGES,
    PROBLEM,
    REJECT,
    conform,
    reject,
    rejects_frame,
    run_key,
    seeded_first,
)

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------------------ benchmark (shared)


def prepare_benchmark(
    benchmark_problems: pl.DataFrame, settings: EvaluationSettings
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The problems every model is evaluated on, and a reject row for each benchmark problem that
    cannot be scored (no tests, malformed tests, unknown test type, none of the evaluated languages
    is one its source can be asked in, or `needs_checker`: it accepts several answers and ships no
    checker, so no output of it can be judged by text)."""
    kept, rejects = [], []
    for row in benchmark_problems.iter_rows(named=True):
        if row.get("needs_checker") and not (row.get("checker") or "").strip():
            rejects.append(
                reject(
                    stage="evaluation",
                    source=row["source"],
                    record_id=row["question_id"],
                    reason="needs_checker",
                    detail="accepts several answers and ships no checker: outputs cannot be "
                    "judged by text",
                )
            )
            continue
        if not settings.languages_of(row["source"]):
            rejects.append(
                reject(
                    stage="evaluation",
                    source=row["source"],
                    record_id=row["question_id"],
                    reason="language_not_evaluated",
                    detail=f"{row['source']} is asked in "
                    f"{settings.source_languages[row['source']]}; evaluation.languages is "
                    f"{settings.languages}",
                )
            )
            continue
        try:
            prepare_tests(row["tests"], row["test_type"] or "stdin", row["fn_name"])
        except BadProblem as error:
            rejects.append(
                reject(
                    stage="evaluation",
                    source=row["source"],
                    record_id=row["question_id"],
                    reason="no_tests" if not row["tests"] else "malformed_tests",
                    detail=str(error),
                )
            )
            continue
        kept.append(row)
    problems = benchmark_subset(
        conform(kept, PROBLEM) if kept else pl.DataFrame(schema=PROBLEM), settings.subset
    )
    logger.info("evaluation: %d benchmark problems, %d rejected", problems.height, len(rejects))
    return problems, rejects_frame(rejects)


def benchmark_subset(problems: pl.DataFrame, subset: SubsetSettings) -> pl.DataFrame:
    """The problems evaluated (`evaluation.subset`): of each source named in `per_source` with a
    size, that many, those whose hash of (seed, question_id) ranks first; every problem of any
    other source. Ranked by id, never by position: the same problems on every run and machine, and
    a smaller size picks a subset of what a larger one picks. Input order is kept."""
    chosen: list[str] = []
    for (source,), group in problems.group_by("source", maintain_order=True):
        ids = group["question_id"].to_list()
        size = subset.per_source.get(source)
        if size is not None and len(ids) > size:
            ids = seeded_first(ids, size, subset.seed)
        logger.info(
            "evaluation: %s, %d of its %d benchmark problems", source, len(ids), group.height
        )
        chosen += ids
    sized = {source for source, size in subset.per_source.items() if size is not None}
    absent = sorted(sized - set(problems["source"]))
    if absent:
        logger.warning(
            "evaluation.subset.per_source names %s, which has no benchmark problem in this run "
            "(a disabled source, or a name that is not a source's)",
            ", ".join(absent),
        )
    return problems.filter(pl.col("question_id").is_in(chosen))


def collect_references(
    references: pl.DataFrame, problems: pl.DataFrame, settings: EvaluationSettings
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Reference solutions of the benchmark problems, long format (question_id, language, solution).

    Reads either that long format or the bundled layout (`source_id` + a `solutions` struct with one
    field per language, matched to benchmark problems of `references.source`). A solution in a
    language the sandbox does not run becomes a reject row.
    """
    if {"question_id", "language", "solution"} <= set(references.columns):
        long = references.select("question_id", "language", "solution")
    elif {"source_id", "solutions"} <= set(references.columns):
        source = settings.references.source
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
        reject(
            stage="evaluation",
            source="references",
            record_id=row["question_id"],
            reason="unknown_language",
            detail=str(row["language"]),
        )
        for row in long.filter(~known).iter_rows(named=True)
    ]
    return conform(long.filter(known), REFERENCE), rejects_frame(rejects)


def combine_evaluation_rejects(*rejects: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([conform(frame, REJECT) for frame in rejects])


def resolve_untrained_student(student: str) -> str:
    """The student before training (training.student) as a loadable model reference."""
    return resolve_model_path(student)


# ------------------------------------------------------------------------------ per model (template)


def resolve_model(checkpoint: str | None, model: Any) -> dict[str, Any]:
    """What this namespace evaluates (`model`: its settings, with name, path and backend): `path`
    when set, else the checkpoint it is wired to (the latest version of a training stage, or the
    untrained student)."""
    path = model.path or checkpoint
    if path is None:
        raise FileNotFoundError(
            f"evaluation.{model.name} has no checkpoint to evaluate: train first "
            f"(`kedro run --pipelines training`) or set evaluation.models.{model.name}.path"
        )
    return {
        "name": model.name,
        # A served model is addressed by its served name, not a local path.
        "path": str(path) if model.backend == "openai" else resolve_model_path(str(path)),
        "backend": model.backend,
    }


def _samples(
    problems: pl.DataFrame, model_ref: dict, settings: EvaluationSettings, temperature: float
) -> pl.DataFrame:
    """n requests per problem and language at `temperature` (the generation engine's builder), in
    the languages its source is asked in (`evaluation.source_languages`, else `languages`): a
    sample_id is made from the fingerprint of the exact request (model, system prompt and prompt,
    sampling, seed), so a changed prompt or setting is sampled afresh and an unchanged one
    resumes from its shard."""
    asked = pl.DataFrame(
        [
            {"question_id": question_id, "language": language}
            for question_id, source in zip(problems["question_id"], problems["source"], strict=True)
            for language in settings.languages_of(source)
        ],
        schema={"question_id": pl.String, "language": pl.String},
    )
    prompts = solution_prompts(
        problems,
        settings.languages,
        model=model_ref["path"],
        sampling=settings.sampling.at(temperature),
        system_prompt=settings.system_prompt,
    ).join(asked, on=["question_id", "language"], how="semi", maintain_order="left")
    return (
        solution_requests(
            prompts,
            samples=settings.samples_per_problem,
            base_seed=settings.sampling.seed,
            id_column="sample_id",
            id_scope=("evaluation", model_ref["path"]),
            temperature=temperature,
        )
        .with_columns(pl.lit(temperature).alias("temperature"))
        .collect()
    )


def sample_and_critique(
    problems: pl.DataFrame, model_ref: dict, settings: EvaluationSettings
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """n samples per problem, language and temperature, then the model's critique of each of its own
    samples that has code, and its GenSelect picks among seeded k-subsets of them
    (`evaluation.genselect`). One engine serves all three (started once, only if anything is left
    to do); every step resumes from its shards like the `generation` pipeline."""
    system_prompt = settings.system_prompt
    config = settings.backend_config(model_ref["path"], model_ref["backend"])
    rows: list[dict] = []
    with ExitStack() as stack:
        backend = opened_once(stack, lambda: create_backend(config))
        for temperature in map(float, settings.temperatures):
            requests = _samples(problems, model_ref, settings, temperature).to_dicts()
            key = run_key(
                "samples",
                model_ref["path"],
                settings.sampling.with_temperature(temperature),
                system_prompt,
            )
            completions = generate_resumable(
                [
                    chat_request(r["sample_id"], r["prompt"], r["seed"], system_prompt)
                    for r in requests
                ],
                settings.sampling.at(temperature),
                backend,
                shard_dir=settings.resume.shard_path(key),
                chunk_size=settings.resume.chunk_size,
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
        critiques = _self_critiques(samples, problems, model_ref, settings, backend)
        picks = genselect_picks(samples, problems, model_ref, settings, backend)
    return samples, critiques, picks


def _self_critiques(
    samples: pl.DataFrame,
    problems: pl.DataFrame,
    model_ref: dict,
    settings: EvaluationSettings,
    backend: BackendOpener,
) -> pl.DataFrame:
    critique = settings.self_critique
    if not critique.enabled:
        return pl.DataFrame(schema=SELF_CRITIQUE)
    candidates = samples.filter(pl.col("solution").is_not_null()).join(
        problems.select("question_id", "question"), on="question_id"
    )
    sampling = critique.sampling.config()
    # Each self-critique is stored under its sample and the fingerprint of its exact request, so a
    # changed critique prompt or setting asks again instead of reusing an old judgement.
    built = [
        critique_request(
            row["sample_id"],
            row["question"],
            row["language"],
            row["solution"],
            seed=row["seed"],
            model=model_ref["path"],
            sampling=sampling,
            system_prompt=settings.system_prompt,
        )
        for row in candidates.iter_rows(named=True)
    ]
    key = run_key(
        "self-critique", model_ref["path"], critique.sampling.as_dict(), settings.system_prompt
    )
    judged = run_critiques(
        [item.request for item in built],
        sampling,
        backend,
        shard_dir=settings.resume.shard_path(key),
        chunk_size=settings.resume.chunk_size,
        follow_up_max_tokens=critique.judgement_follow_up.max_tokens_if_enabled,
        description=f"{model_ref['name']} self-critique",
    )
    rows = [
        {
            "sample_id": sample_id,
            "critique": item.completion.text,
            "critique_reasoning": item.reasoning,
            "critique_length": scoring.critique_length(item.reasoning, item.completion.text),
            "judgement": item.judgement,
            "judgement_source": item.source,
            "num_output_tokens": item.completion.num_output_tokens,
            "request_fingerprint": request.fingerprint,
        }
        for sample_id, request, item in zip(candidates["sample_id"], built, judged, strict=True)
    ]
    return conform(rows, SELF_CRITIQUE) if rows else pl.DataFrame(schema=SELF_CRITIQUE)


def genselect_picks(
    samples: pl.DataFrame,
    problems: pl.DataFrame,
    model_ref: dict,
    settings: EvaluationSettings,
    backend: BackendOpener,
) -> pl.DataFrame:
    """GenSelect's pick in each drawn k-subset of every unit's samples
    (`generation.genselect.pick_candidates`, resuming from the shards of these settings)."""
    options = settings.genselect
    if not options.enabled:
        return pl.DataFrame(schema=selection.GENSELECT)
    skipped = [k for k in options.ks if k > settings.samples_per_problem]
    if skipped:
        logger.warning(
            "genselect.ks %s exceed samples_per_problem (%d): no subset of that size, skipped",
            skipped,
            settings.samples_per_problem,
        )
    key = run_key(
        "genselect", model_ref["path"], options.sampling.as_dict(), settings.system_prompt
    )
    return pick_candidates(
        samples,
        problems,
        model_name=model_ref["name"],
        model_path=model_ref["path"],
        ks=options.ks,
        subsets=options.subsets,
        seed=options.seed,
        problems_per_language=options.problems_per_language,
        sampling=options.sampling.config(),
        sampling_seed=options.sampling.seed,
        system_prompt=settings.system_prompt,
        backend=backend,
        shard_dir=settings.resume.shard_path(key),
        chunk_size=settings.resume.chunk_size,
        fallback=options.fallback,
    )


def execute_samples(
    samples: pl.DataFrame, problems: pl.DataFrame, settings: EvaluationSettings
) -> pl.DataFrame:
    """Run every sample in the sandbox (the `verify` pipeline's, stopping at the first failing test
    by default: pass/fail is all pass@k needs). Samples without code are judged CE there. The
    samples of problems with subtasks (IOI) run every test whatever that setting says: a
    subtask's score needs each of its own tests (`metrics.ioi`)."""
    frame = samples.select(
        pl.col("sample_id").alias("generation_id"), "question_id", "language", "solution"
    )
    options = settings.execution.verify_kwargs()
    scored = (
        problems.filter(pl.col("subtasks").is_not_null())["question_id"]
        if "subtasks" in problems.columns
        else pl.Series("question_id", [], pl.String)
    )
    whole = pl.col("question_id").is_in(scored.implode())
    if not options.get("stop_at_first_failure") or frame.filter(whole).is_empty():
        executions = verify_frame(frame, problems, **options)
    else:
        parts = [
            verify_frame(frame.filter(~whole), problems, **options),
            verify_frame(
                frame.filter(whole), problems, **{**options, "stop_at_first_failure": False}
            ),
        ]
        order = frame.select("generation_id").with_row_index("_order")
        executions = (
            pl.concat([part for part in parts if part.height], how="vertical_relaxed")
            .join(order, on="generation_id", how="left")
            .sort("_order")
            .drop("_order")
        )
    return executions.rename({"generation_id": "sample_id"})


def score_samples(
    samples: pl.DataFrame,
    critiques: pl.DataFrame,
    executions: pl.DataFrame,
    problems: pl.DataFrame,
    settings: EvaluationSettings,
    genselect: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per-sample results, per-problem results): `metrics.evaluation.score_samples`, which says
    how samples the sandbox could not judge (SE) are left out and counted; with GenSelect's picks,
    each problem row also holds the selectors on its drawn subsets (`metrics.selection`)."""
    sample_results, problem_results = scoring.score_samples(
        samples,
        critiques,
        executions,
        problems,
        ks=settings.ks,
        fallback=settings.self_critique.fallback,
    )
    return sample_results, with_selectors(sample_results, problem_results, genselect, settings)


def with_selectors(
    sample_results: pl.DataFrame,
    problem_results: pl.DataFrame,
    genselect: pl.DataFrame | None,
    settings: EvaluationSettings,
) -> pl.DataFrame:
    """`problem_results` with the selectors' per-unit means on GenSelect's drawn subsets and their
    counts (`metrics.selection.unit_metrics`) joined on, when there are GenSelect picks."""
    if genselect is None or genselect.is_empty() or problem_results.is_empty():
        return problem_results
    units = selection.unit_metrics(
        sample_results,
        genselect,
        fallback=settings.genselect.fallback,
        critique_fallback=settings.self_critique.fallback,
    )
    return problem_results.join(units, on=list(selection.UNIT), how="left")


def compare_selectors(
    problem_results: pl.DataFrame,
    sample_results: pl.DataFrame,
    critiques: pl.DataFrame,
    model_ref: dict,
    settings: EvaluationSettings,
) -> tuple[pl.DataFrame, str, dict[str, dict[str, float]]]:
    """GenSelect beside the self-critique selector, random and oracle on the same drawn subsets,
    per language (and pooled) and temperature, with bootstrap intervals resampling problems and
    each selector's generated tokens (`metrics.selection.selector_table`): as a table, markdown
    and MLflow metrics (`selection.<language>.t<temperature>.<metric>`)."""
    tokens = critiques.join(
        sample_results.select("sample_id", "model", "question_id", "language", "temperature"),
        on="sample_id",
    ).select("model", "question_id", "language", "temperature", "num_output_tokens")
    table = selection.selector_table(
        problem_results,
        tokens,
        settings.genselect.ks if settings.genselect.enabled else [],
        resamples=settings.bootstrap.resamples,
        seed=settings.bootstrap.seed,
        confidence=paired.CONFIDENCE,
    )
    return (
        table,
        selection.selector_markdown(table, model_ref["name"]),
        selection.selector_metrics(table),
    )


def score_ioi(
    samples: pl.DataFrame,
    critiques: pl.DataFrame,
    executions: pl.DataFrame,
    problems: pl.DataFrame,
    settings: EvaluationSettings,
) -> tuple[pl.DataFrame, dict[str, dict[str, float]]]:
    """(the IOI table: one row per problem with subtasks, language and temperature, its score
    under `evaluation.ioi.choose` beside every choice; its MLflow metrics `ioi.*`, logged with the
    headline numbers by `evaluation_metrics`): `metrics.ioi.ioi_scores` and `ioi_metrics`. Empty
    when no benchmark problem has subtasks."""
    table = ioi.ioi_scores(
        samples,
        critiques,
        executions,
        problems,
        choose=settings.ioi.choose,
        limit=settings.ioi.submission_limit,
        seed=settings.ioi.seed,
        fallback=settings.self_critique.fallback,
    )
    if table.height:
        logger.info("IOI scores:\n%s", table.drop("question_id"))
    return table, ioi.ioi_metrics(table)


def summarize_evaluation(
    problem_results: pl.DataFrame, sample_results: pl.DataFrame, settings: EvaluationSettings
) -> pl.DataFrame:
    """Long table: per model, language ("all" = both), temperature, breakdown and group, each metric's
    mean over problems with its standard error and bootstrap interval; plus SE counts and the
    critic's agreement with execution over samples (`metrics.evaluation.summarize`)."""
    return scoring.summarize(
        problem_results,
        sample_results,
        breakdowns=settings.breakdowns,
        windows=settings.windows,
        resamples=settings.bootstrap.resamples,
        seed=settings.bootstrap.seed,
    )


def measure_reference_loss(
    references: pl.DataFrame, problems: pl.DataFrame, model_ref: dict, settings: EvaluationSettings
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per-token loss of the model on the reference solutions per language, each reference's
    summed loss and tokens): teacher forcing; the second pairs models over the same references."""
    options = settings.reference_loss
    if not options.enabled:
        reason = "reference_loss.enabled is false"
    elif (model_ref["backend"] or settings.backend) == "openai":
        reason = "the model is served over HTTP (openai backend): no weights to score"
    else:
        return reference_loss_tables(
            references,
            problems,
            model=model_ref["name"],
            model_path=model_ref["path"],
            languages=settings.languages,
            max_length=options.max_length,
            batch_size=options.batch_size,
            dtype=options.dtype,
        )
    return skipped_reference_loss(model_ref["name"], settings.languages, reason)


def evaluation_metrics(
    summary: pl.DataFrame,
    reference_loss: pl.DataFrame,
    ioi_metrics: dict[str, dict[str, float]] | None = None,
    selector_metrics: dict[str, dict[str, float]] | None = None,
) -> dict[str, dict[str, float]]:
    """The headline numbers for MLflow (`metrics.evaluation.headline_metrics`), the IOI scores
    (`ioi.*`, `score_ioi`; none without IOI problems) and the selectors side by side
    (`selection.*`, `compare_selectors`); the catalog prefixes them with `evaluation.<model>`."""
    return {
        **scoring.headline_metrics(summary, reference_loss),
        **(ioi_metrics or {}),
        **(selector_metrics or {}),
    }


def plot_evaluation(
    summary: pl.DataFrame, settings: EvaluationSettings
) -> tuple[go.Figure, go.Figure]:
    """(selection plot at the headline (first) temperature, pass@1 per temperature plot)."""
    return (
        report.selection_plot(summary, settings.languages, settings.ks, settings.temperatures[0]),
        report.temperature_plot(summary, settings.languages, settings.ks),
    )


# ------------------------------------------------------------------------------ across models


def compare_models(*tables: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """Every evaluated model's overall numbers side by side (one row per model, language and
    temperature), as a table and as markdown for the MLflow run, with a note under the markdown
    for every row whose pass@k left SE samples out. `tables` alternates each model's summary and
    reference loss."""
    wide = report.comparison_table(tables[0::2], tables[1::2])
    return wide, report.comparison_markdown(wide)


def compare_models_paired(
    settings: EvaluationSettings, *tables: pl.DataFrame
) -> tuple[pl.DataFrame, str, go.Figure, dict[str, dict[str, float]]]:
    """Whether the models' differences are real: each model against the first of
    `evaluation.models` and against the one before it, paired over the same problems (every
    per-problem metric) and the same reference solutions (reference loss), with bootstrap
    intervals (`metrics.paired.paired_comparison`, `evaluation.bootstrap`'s resamples and seed); as
    a table, markdown, plot and MLflow metrics.
    `tables` alternate each model's problem results and per-reference losses, in the order of
    `evaluation.models`."""
    names = list(settings.models)
    if len(tables) != 2 * len(names):
        raise ValueError(
            f"compare_models_paired needs 2 tables per model of evaluation.models ({names}), got "
            f"{len(tables)}"
        )
    table = paired.paired_comparison(
        dict(zip(names, tables[0::2], strict=True)),
        dict(zip(names, tables[1::2], strict=True)),
        paired.comparison_pairs(names, previous=True),
        resamples=settings.bootstrap.resamples,
        seed=settings.bootstrap.seed,
        confidence=paired.CONFIDENCE,
    )
    markdown, figure, metrics = report_differences(
        "Evaluation: paired differences between models",
        table,
        resamples=settings.bootstrap.resamples,
    )
    return table, markdown, figure, metrics
