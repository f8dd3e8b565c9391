"""Dataset nodes: join questions, accepted generations, critiques and verdicts into the OCR-2 export
(per language, parquet + JSONL) and a dataset card with the statistics of the run.

Generations flagged for rejection are not exported; they stay in `generations` with their flags and
in `generation_rejects`, and the card counts them by reason.

Bounded memory: generations, critiques, verifications and the export are read as lazy scans (a
DataFrame works too). The export is built by a partitioned join and written bucket by bucket; the
per-language tables are lazy filters sunk by the streaming datasets; the card's statistics and the
overview plot are streaming aggregations over narrow columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from ocr2_kedro.metrics.patterns import card_section as _patterns_section
from ocr2_kedro.schemas import LANGUAGES, VERDICTS
from ocr2_kedro.tables import bucket_count, histogram_bins, partitioned_join, summary, value_counts
from ocr2_kedro.training.preferences import build_preference_pairs as _build_pairs

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
    # What the teacher's prompt was built from (generation.prompts.solution_prompt): training
    # rebuilds the same prompt from these, so the student is asked what the teacher answered.
    "test_type",
    "starter_code",
    "fn_name",
)


# How the large joins are bucketed (parameters_dataset.yml, dataset.export).
DEFAULT_JOIN_PARAMS = {"bucket_megabytes": 256, "work_dir": None}

PROBLEM_COLUMNS = (
    "question_id",
    "question",
    "source",
    "source_id",
    "license",
    "split",
    "difficulty",
    "test_type",
    "starter_code",
    "fn_name",
)

Frame = pl.LazyFrame | pl.DataFrame


def _join_settings(params: dict | None) -> tuple[int, str | None]:
    """(bytes one join bucket may hold, folder for the bucket files)."""
    settings = {**DEFAULT_JOIN_PARAMS, **(params or {})}
    return int(float(settings["bucket_megabytes"]) * 2**20), settings.get("work_dir")


def _is_accepted() -> pl.Expr:
    return (pl.col("flags").list.len() == 0) & pl.col("solution").is_not_null()


def _collect(query: pl.LazyFrame) -> pl.DataFrame:
    return query.collect(engine="streaming")


def build_export(
    problems: Frame,
    generations: Frame,
    critiques: Frame,
    verifications: Frame,
    params: dict | None = None,
) -> Iterator[pl.DataFrame]:
    """One row per accepted generation in the public OCR-2 column layout, as DataFrame batches.

    Generations and critiques are joined by a partitioned hash join (`ocr2_kedro.tables`), so only
    one bucket of them is in memory at a time (`params`: bucket_megabytes, work_dir); the problems
    (one row per question) are joined inside each bucket. Rows are sorted by language, question_id
    and id within a bucket; the global order is by bucket (one bucket, as on the embedded default:
    sorted throughout). Returns a generator: the writer pulls one bucket at a time.
    """
    bucket_bytes, work_dir = _join_settings(params)
    accepted = (
        generations.lazy()
        .filter(_is_accepted())
        .select("generation_id", "question_id", "language", "output", "solution")
    )
    judged = critiques.lazy().select("generation_id", "critique", "judgement")
    verified = verifications.lazy().select("generation_id", "verdict", "pass_rate")
    questions = _collect(problems.lazy().select(PROBLEM_COLUMNS))

    def to_export(joined: pl.LazyFrame) -> pl.LazyFrame:
        return (
            joined.join(questions.lazy(), on="question_id", how="left")
            .select(
                pl.col("generation_id").alias("id"),
                "question_id",
                "question",
                pl.col("output").alias("r1_generation"),
                pl.col("critique").alias("qwq_critique"),
                "solution",
                "judgement",
                "pass_rate",
                "verdict",
                "source",
                "license",
                pl.col("source").alias("dataset"),
                "split",
                "difficulty",
                pl.col("source_id").alias("index"),
                "language",
                "test_type",
                "starter_code",
                "fn_name",
            )
            .sort("language", "question_id", "id")
        )

    return partitioned_join(
        accepted,
        [judged, verified],
        on="generation_id",
        buckets=bucket_count([accepted, judged, verified], bucket_bytes),
        work_dir=work_dir,
        how="left",
        finish=to_export,
    )


def split_by_language(
    export: Frame,
) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
    """(python parquet, cpp parquet, python JSONL, cpp JSONL): the same rows in both formats, as
    lazy filters of the export that the streaming datasets sink without collecting."""
    export = export.lazy()
    python = export.filter(pl.col("language") == "python")
    cpp = export.filter(pl.col("language") == "cpp")
    return python, cpp, python, cpp


def build_preference_pairs(
    export: Frame, params: dict | None, system_prompt: str | None = None
) -> tuple[Iterator[pl.DataFrame], pl.DataFrame, dict]:
    """(pairs, rejects, counts): chosen/rejected solutions per question and language in TRL's
    conversational preference layout (`ocr2_kedro.training.preferences`), with a rejects row for
    every (question, language) without a pair. `system_prompt` is training.system_prompt, so a
    pair's prompt is the SFT stage-1 example's. The pairs are a generator the catalog writes batch
    by batch."""
    result = _build_pairs(export, params, system_prompt)
    return result.pairs, result.rejects, result.statistics


# ------------------------------------------------------------------------------------ statistics
# Streaming aggregations over narrow columns only: counts per group, value counts of the token
# lengths (exact quantiles from them), and a partitioned join of the narrow per-generation columns
# (judgement, pass_rate, language) aggregated bucket by bucket.


def _summed(parts: Iterable[pl.DataFrame], by: list[str]) -> pl.DataFrame:
    """Per-bucket counts (`by`, count) added up over the buckets (a partitioned join yields at
    least one frame, so the columns are there when no bucket has rows)."""
    return pl.concat(list(parts)).group_by(by).agg(pl.col("count").sum()).sort(by, nulls_last=True)


def _agreement(counts: pl.DataFrame) -> dict:
    """Critic judgement against execution, where tests exist (total > 0), from the counts of
    (judgement, passed) pairs.

    Positive = pass_rate == 1. A null judgement counts as "not right" for precision and recall and
    has its own row in the confusion matrix.
    """

    def total(frame: pl.DataFrame) -> int:
        return int(frame["count"].sum()) if frame.height else 0

    matrix = {}
    for judgement in ("right", "wrong", None):
        rows = counts.filter(
            pl.col("judgement").is_null() if judgement is None else pl.col("judgement") == judgement
        )
        matrix[judgement or "null"] = {
            "passed": total(rows.filter(pl.col("passed") == True)),  # noqa: E712 - null is neither
            "failed": total(rows.filter(pl.col("passed") == False)),  # noqa: E712
        }
    tp = matrix["right"]["passed"]
    predicted = matrix["right"]["passed"] + matrix["right"]["failed"]
    actual = total(counts.filter(pl.col("passed") == True))  # noqa: E712
    judged = counts.filter(pl.col("judgement").is_not_null() & pl.col("passed").is_not_null())
    agreeing = total(judged.filter((pl.col("judgement") == "right") == pl.col("passed")))
    return {
        "pairs": total(counts),
        "matrix": matrix,
        "precision_right": tp / predicted if predicted else None,
        "recall_right": tp / actual if actual else None,
        "accuracy_judged": agreeing / total(judged) if total(judged) else None,
    }


def _critique_counts(
    generations: Frame, critiques: Frame, verifications: Frame, params: dict | None
) -> pl.DataFrame:
    """Per (language, judgement, tested, passed): how many critiques. language is null for a
    critique of no known generation; tested marks a verification with tests (total > 0)."""
    bucket_bytes, work_dir = _join_settings(params)
    judged = critiques.lazy().select("generation_id", "judgement")
    tested = (
        verifications.lazy()
        .filter(pl.col("total") > 0)
        .select("generation_id", "pass_rate", pl.lit(True).alias("tested"))
    )
    languages = generations.lazy().select("generation_id", "language")
    parts = partitioned_join(
        judged,
        [tested, languages],
        on="generation_id",
        buckets=bucket_count([judged, tested, languages], bucket_bytes),
        work_dir=work_dir,
        finish=lambda joined: joined.group_by(
            "language",
            "judgement",
            pl.col("tested").fill_null(False),
            (pl.col("pass_rate") == 1.0).alias("passed"),
        ).agg(pl.len().alias("count")),
    )
    return _summed(parts, ["language", "judgement", "tested", "passed"])


def _count(frame: pl.DataFrame, **equal: object) -> int:
    for column, value in equal.items():
        frame = frame.filter(pl.col(column).is_null() if value is None else pl.col(column) == value)
    return int(frame["count"].sum()) if frame.height else 0


def dataset_statistics(
    problems: Frame,
    generations: Frame,
    critiques: Frame,
    verifications: Frame,
    generation_rejects: Frame,
    export: Frame,
    params: dict | None = None,
) -> dict:
    """Everything the card and the MLflow metrics report, as plain Python values, by streaming
    aggregations over the narrow columns (no table is loaded whole)."""
    generations, critiques, verifications = (
        generations.lazy(),
        critiques.lazy(),
        verifications.lazy(),
    )
    # (language, accepted, num_output_tokens, count): per-language counts and token statistics.
    tokens = _collect(
        generations.select("language", _is_accepted().alias("accepted"), "num_output_tokens")
        .group_by("language", "accepted", "num_output_tokens")
        .agg(pl.len().alias("count"))
    )
    exported = _collect(
        export.lazy().group_by("source", "difficulty", "language").agg(pl.len().alias("count"))
    )
    judged = _critique_counts(generations, critiques, verifications, params)
    tested = judged.filter(pl.col("tested"))

    def token_stats(part: pl.DataFrame) -> dict[str, float]:
        values = (
            part.drop_nulls("num_output_tokens")
            .group_by("num_output_tokens")
            .agg(pl.col("count").sum())
        )
        return summary(values, "num_output_tokens")

    by_language = {}
    for language in LANGUAGES:
        part = tokens.filter(pl.col("language") == language)
        crit = judged.filter(pl.col("language") == language)
        by_language[language] = {
            "generated": _count(part),
            "accepted": _count(part, accepted=True),
            "exported": _count(exported, language=language),
            "tokens_all": token_stats(part),
            "tokens_accepted": token_stats(part.filter(pl.col("accepted"))),
            "critiques": _count(crit),
            "judgements": {
                "right": _count(crit, judgement="right"),
                "wrong": _count(crit, judgement="wrong"),
                "null": _count(crit, judgement=None),
            },
            "agreement": _agreement(tested.filter(pl.col("language") == language)),
        }

    def counts(column: str) -> list[tuple]:
        return (
            exported.with_columns(pl.col(column).fill_null("unknown"))
            .group_by(column, "language")
            .agg(pl.col("count").sum())
            .sort(column, "language")
            .rows()
        )

    reasons = _collect(
        generation_rejects.lazy()
        .group_by("stage", "reason")
        .agg(pl.len().alias("len"))
        .sort(["len", "stage", "reason"], descending=[True, False, False])
    ).rows()
    critique_totals = _collect(
        critiques.select(
            pl.len().alias("critiques"),
            pl.col("judgement").null_count().alias("null"),
            (pl.col("judgement_source") == "follow_up").sum().alias("follow_up"),
        )
    ).row(0, named=True)
    verification_totals = _collect(
        verifications.select(
            pl.len().alias("verified"), (pl.col("verdict") == "AC").sum().alias("accepted")
        )
    ).row(0, named=True)
    truncated, isolation = _sandbox_counts(verifications)

    def n_unique(frame: Frame) -> int:
        return _collect(frame.lazy().select(pl.col("question_id").n_unique())).item()

    critiques_total = int(critique_totals["critiques"])
    return {
        "questions": _collect(problems.lazy().select(pl.len())).item(),
        "questions_generated": n_unique(generations),
        "questions_exported": n_unique(export),
        "generations": _count(tokens),
        "exported": _count(exported),
        "by_language": by_language,
        "by_source": counts("source"),
        "by_difficulty": counts("difficulty"),
        "rejections": reasons,
        "critiques": critiques_total,
        "judgement_parse_rate": (
            1 - int(critique_totals["null"]) / critiques_total if critiques_total else None
        ),
        "judgements_from_follow_up": int(critique_totals["follow_up"] or 0),
        "agreement": _agreement(tested),
        "verified": int(verification_totals["verified"]),
        "accepted_by_execution": int(verification_totals["accepted"] or 0),
        "tests_truncated": truncated,
        "isolation": isolation,
    }


def _sandbox_counts(verifications: pl.LazyFrame) -> tuple[int, list[tuple[str, int]]]:
    """(verified rows whose test list `max_tests` cut short, [(isolation layer, rows judged with
    it)] most common first, "none recorded" for rows without layers). Tables written before these
    columns existed count no truncation and no layers."""
    present = verifications.collect_schema()
    truncated = 0
    if "tests_truncated" in present:
        truncated = _collect(
            verifications.select((pl.col("tests_truncated").fill_null(0) > 0).sum())
        ).item()
    if "isolation" not in present:
        return int(truncated or 0), []
    layers = verifications.select(
        pl.when(pl.col("isolation").list.len().fill_null(0) == 0)
        .then(pl.lit(["none recorded"]))
        .otherwise(pl.col("isolation").list.unique())
        .alias("layer")
    ).explode("layer")
    counts = _collect(layers.group_by("layer").agg(pl.len().alias("rows")))
    return int(truncated or 0), counts.sort(["rows", "layer"], descending=[True, False]).rows()


# ---------------------------------------------------------------------------------------- card


def _table(headers: list[str], rows: list[list]) -> str:
    def cell(value) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def render_dataset_card(
    stats: dict,
    params: dict,
    teacher: str,
    critic: str,
    preference_stats: dict | None = None,
    patterns_summary: dict | None = None,
) -> tuple[str, str]:
    """The dataset card (markdown): what is in the export and how it was filtered and judged, then
    one section per optional report (preference pairs, reasoning patterns) that was given.

    Returned twice: the versioned card on disk and the copy logged to MLflow."""
    name = params.get("name", "ocr2_kedro distilled dataset")
    lang = stats["by_language"]
    sections = [
        f"# {name}\n",
        "Reasoning traces and solutions distilled from a teacher model, each judged by an LLM critic "
        "and by execution against unit tests, in the OpenCodeReasoning-II column layout "
        "(`question, r1_generation, qwq_critique, solution, judgement, pass_rate, source, license, "
        "dataset, split, difficulty, index, id, question_id`), one table per language.\n",
        f"Teacher: `{teacher}` · critic: `{critic}`\n",
        "## Counts\n",
        _table(
            ["", "value"],
            [
                ["questions (after dedup)", stats["questions"]],
                ["questions with generations", stats["questions_generated"]],
                ["questions in the export", stats["questions_exported"]],
                ["generations", stats["generations"]],
                ["exported samples", stats["exported"]],
                ["critiques", stats["critiques"]],
                ["verified samples", stats["verified"]],
                ["accepted by execution (AC)", stats["accepted_by_execution"]],
                ["verified on a truncated test list (max_tests)", stats["tests_truncated"]],
            ],
        ),
        "\n### Per language\n",
        _table(
            ["language", "generated", "accepted", "exported", "critiques"],
            [
                [language, v["generated"], v["accepted"], v["exported"], v["critiques"]]
                for language, v in lang.items()
            ],
        ),
        "\n### Exported samples per source\n",
        _table(["source", "language", "samples"], [list(r) for r in stats["by_source"]]),
        "\n### Exported samples per difficulty\n",
        _table(["difficulty", "language", "samples"], [list(r) for r in stats["by_difficulty"]]),
        "\n## Output token lengths\n",
        _table(
            ["language", "set", "n", "mean", "p50", "p90", "max"],
            [
                [language, which, *(t.get(k) for k in ("n", "mean", "p50", "p90", "max"))]
                for language, v in lang.items()
                for which, t in (("all", v["tokens_all"]), ("accepted", v["tokens_accepted"]))
            ],
        ),
        "\n## Rejection reasons\n",
        "A question dropped before generation (over the prompt token budget) or a sample flagged "
        "after it (cut by the length limit, unclosed `<think>`, no code block, syntax error, "
        "placeholder code, code in the reasoning when configured, backend error). A sample may have "
        "several reasons; flagged samples stay in `generations` and `generation_rejects`.\n",
        _table(["stage", "reason", "count"], [list(r) for r in stats["rejections"]])
        if stats["rejections"]
        else "None.",
        "\n## Critic judgements\n",
        f"Judgement parse rate: {_table_value(stats['judgement_parse_rate'])} "
        "(unparseable critiques are kept with a null judgement); "
        f"{stats['judgements_from_follow_up']} judgements were asked for in a second turn because "
        "the critique ended without one.\n",
        _table(
            ["language", "right", "wrong", "null"],
            [[language, *v["judgements"].values()] for language, v in lang.items()],
        ),
        "\n## Sandbox isolation\n",
        "The isolation layers in force when each verified sample ran (as recorded on its row).\n",
        _table(["layer", "verified samples"], [list(r) for r in stats["isolation"]])
        if stats["isolation"]
        else "None recorded.",
        "\n## Critic vs execution\n",
        "Where the question has tests: positive = pass_rate == 1. Precision and recall of "
        '"right"; a null judgement counts as not "right".\n',
        _agreement_section("all", stats["agreement"]),
        *[_agreement_section(language, v["agreement"]) for language, v in lang.items()],
    ]
    # Optional sections: (report, its renderer); a report that is None adds nothing.
    for report, render in (
        (preference_stats, _preference_section),
        (patterns_summary, _patterns_section),
    ):
        if report is not None:
            sections.append(render(report))
    card = "\n".join(sections) + "\n"
    return card, card


def _table_value(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def _agreement_section(title: str, agreement: dict) -> str:
    matrix = agreement["matrix"]
    return (
        f"\n### {title} ({agreement['pairs']} pairs)\n\n"
        + _table(
            ["judgement \\ execution", "pass_rate == 1", "pass_rate < 1"],
            [[j, m["passed"], m["failed"]] for j, m in matrix.items()],
        )
        + f"\n\nprecision(right) = {_table_value(agreement['precision_right'])} · "
        f"recall(right) = {_table_value(agreement['recall_right'])} · "
        f"accuracy over parsed judgements = {_table_value(agreement['accuracy_judged'])}\n"
    )


def _preference_section(prefs: dict) -> str:
    settings = [f"mode `{prefs['mode']}`"]
    if prefs.get("max_pairs_per_question") is not None:
        settings.append(f"at most {prefs['max_pairs_per_question']} pairs per question")
    if prefs.get("balance_by_difficulty"):
        per_bucket = prefs.get("pairs_per_difficulty")
        settings.append(
            f"{per_bucket} pairs per difficulty"
            if per_bucket is not None
            else "difficulty buckets cut to the smallest"
        )
    settings.append(f"critique-only pairs {'on' if prefs['critique_pairs'] else 'off'}")
    settings.append(f"seed {prefs['seed']}")
    by_reason = sorted(prefs["rejects_by_reason"].items(), key=lambda item: (-item[1], item[0]))
    return "\n".join(
        [
            "\n## Preference pairs\n",
            "Per question and language, a chosen sample that passed every test against a rejected "
            "one that did not (`execution`); where no sample has an execution label, one the critic "
            "judged right against one it judged wrong (`critique`). In TRL's conversational "
            "preference layout (`prompt`, `chosen`, `rejected`), with the critic's judgements and "
            f"pass rates as extra columns. {'; '.join(settings)}.\n",
            _table(
                ["", "value"],
                [
                    ["pairs", prefs["pairs"]],
                    *[[f"pairs from {source}", n] for source, n in prefs["by_source"].items()],
                    *[[f"pairs in {language}", n] for language, n in prefs["by_language"].items()],
                    ["(question, language) groups", prefs["questions"]],
                    ["groups with pairs", prefs["questions_with_pairs"]],
                    ["groups without a pair", prefs["questions_without_pairs"]],
                    ["identical-text pairs dropped", prefs["identical_pairs_dropped"]],
                    ["samples unusable (no question or reasoning text)", prefs["unusable_samples"]],
                ],
            ),
            "\n### Pairs per difficulty\n",
            _table(["difficulty", "pairs"], [list(r) for r in prefs["by_difficulty"].items()])
            if prefs["by_difficulty"]
            else "None.",
            "\n### Groups without a pair, by reason\n",
            _table(["reason", "groups"], [list(r) for r in by_reason]) if by_reason else "None.",
        ]
    )


def summarize_dataset(
    stats: dict, preference_stats: dict | None = None
) -> dict[str, dict[str, float]]:
    """Run metrics for MLflow (MlflowMetricsHistoryDataset)."""
    metrics: dict[str, float | None] = {
        "samples": stats["exported"],
        "generations": stats["generations"],
        "critiques": stats["critiques"],
        "judgement_parse_rate": stats["judgement_parse_rate"],
        "judgements_from_follow_up": stats["judgements_from_follow_up"],
        "critic.precision_right": stats["agreement"]["precision_right"],
        "critic.recall_right": stats["agreement"]["recall_right"],
        "critic.accuracy_judged": stats["agreement"]["accuracy_judged"],
        "accepted_by_execution": stats["accepted_by_execution"],
        "verified.tests_truncated": stats["tests_truncated"],
    }
    for layer, rows in stats["isolation"]:
        metrics[f"verified.isolation.{layer.replace(' ', '_')}"] = rows
    for language, values in stats["by_language"].items():
        metrics[f"{language}.samples"] = values["exported"]
        metrics[f"{language}.generated"] = values["generated"]
        metrics[f"{language}.accept_rate"] = (
            values["accepted"] / values["generated"] if values["generated"] else None
        )
        metrics[f"{language}.mean_output_tokens"] = values["tokens_all"].get("mean")
        for judgement, count in values["judgements"].items():
            metrics[f"{language}.judgement.{judgement}"] = count
    for stage, reason, count in stats["rejections"]:
        metrics[f"rejected.{stage}.{reason}"] = count
    if preference_stats is not None:
        metrics["preferences.pairs"] = preference_stats["pairs"]
        metrics["preferences.questions_with_pairs"] = preference_stats["questions_with_pairs"]
        metrics["preferences.questions_without_pairs"] = preference_stats["questions_without_pairs"]
        metrics["preferences.identical_pairs_dropped"] = preference_stats["identical_pairs_dropped"]
        for group in ("by_source", "by_language"):
            for key, count in preference_stats[group].items():
                metrics[f"preferences.pairs.{key}"] = count
        for reason, count in preference_stats["rejects_by_reason"].items():
            metrics[f"preferences.rejected.{reason}"] = count
    return {
        name: {"value": float(value), "step": 0}
        for name, value in metrics.items()
        if value is not None
    }


# ----------------------------------------------------------------------------------------- plots


def plot_dataset_overview(
    generations: Frame, verifications: Frame, params: dict | None = None
) -> tuple[go.Figure, go.Figure]:
    """Output-token lengths and execution verdicts per language, one figure (kedro-viz previews the
    versioned JSON copy; the HTML copy goes to the MLflow run).

    The figure gets counts, not values: token lengths binned from their streaming value counts
    (one histogram bar per bin, the same bins for both languages) and verdicts counted per language
    bucket by bucket over a partitioned join of the narrow columns."""
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=("output tokens per sample", "execution verdicts")
    )
    tokens = value_counts(generations, "num_output_tokens", by=["language"])
    start, width, bins = histogram_bins(tokens, "num_output_tokens", "language")
    bucket_bytes, work_dir = _join_settings(params)
    verdicts_of = verifications.lazy().select("generation_id", "verdict")
    languages = generations.lazy().select("generation_id", "language")
    verdicts = _summed(
        partitioned_join(
            verdicts_of,
            languages,
            on="generation_id",
            how="inner",
            buckets=bucket_count([verdicts_of, languages], bucket_bytes),
            work_dir=work_dir,
            finish=lambda joined: joined.group_by("language", "verdict").agg(
                pl.len().alias("count")
            ),
        ),
        ["language", "verdict"],
    )
    for language in LANGUAGES:
        binned = bins.get(language)
        figure.add_trace(
            go.Histogram(
                # Bin centres weighted by their counts, in bins of the same edges.
                x=[] if binned is None else (binned["bin_start"] + width / 2).to_list(),
                y=[] if binned is None else binned["count"].to_list(),
                histfunc="sum",
                xbins={"start": start, "size": width},
                name=language,
                opacity=0.6,
                legendgroup=language,
            ),
            row=1,
            col=1,
        )
        figure.add_trace(
            go.Bar(
                x=list(VERDICTS),
                y=[_count(verdicts, language=language, verdict=verdict) for verdict in VERDICTS],
                name=language,
                legendgroup=language,
                showlegend=False,
            ),
            row=1,
            col=2,
        )
    figure.update_layout(barmode="overlay", title="Distilled dataset overview")
    figure.update_xaxes(title_text="tokens", row=1, col=1)
    figure.update_yaxes(title_text="samples", row=1, col=1)
    figure.update_yaxes(title_text="solutions", row=1, col=2)
    return figure, figure
