"""Dataset nodes: join questions, accepted generations, critiques and verdicts into the OCR-2 export
(per language, parquet + JSONL), preference pairs (`ocr2_kedro.preferences`) and the statistics
behind the dataset card (rendered by `ocr2_kedro.reporting.dataset`).

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

from ocr2_kedro.parameters.dataset import DatasetSettings, JoinSettings, PreferenceSettings
from ocr2_kedro.preferences import PairingSettings
from ocr2_kedro.preferences import build_preference_pairs as _build_pairs
from ocr2_kedro.reporting.dataset import (
    critic_agreement,
    dataset_card,
    dataset_metrics,
    overview_figure,
)
from ocr2_kedro.schemas import LANGUAGES
from ocr2_kedro.tables import bucket_count, histogram_bins, partitioned_join, summary, value_counts

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


def _is_accepted() -> pl.Expr:
    return (pl.col("flags").list.len() == 0) & pl.col("solution").is_not_null()


def _collect(query: pl.LazyFrame) -> pl.DataFrame:
    return query.collect(engine="streaming")


def build_export(
    problems: Frame,
    generations: Frame,
    critiques: Frame,
    verifications: Frame,
    settings: JoinSettings,
) -> Iterator[pl.DataFrame]:
    """One row per accepted generation in the public OCR-2 column layout, as DataFrame batches.

    Generations and critiques are joined by a partitioned hash join (`ocr2_kedro.tables`), so only
    one bucket of them is in memory at a time (`settings`: bucket_megabytes, work_dir); the problems
    (one row per question) are joined inside each bucket. Rows are sorted by language, question_id
    and id within a bucket; the global order is by bucket (one bucket, as on the embedded default:
    sorted throughout). Returns a generator: the writer pulls one bucket at a time.
    """
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
        buckets=bucket_count([accepted, judged, verified], settings.bucket_bytes),
        work_dir=settings.work_dir,
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
    export: Frame, settings: PreferenceSettings, system_prompt: str | None = None
) -> tuple[Iterator[pl.DataFrame], pl.DataFrame, dict]:
    """(pairs, rejects, counts): chosen/rejected solutions per question and language in TRL's
    conversational preference layout (`ocr2_kedro.preferences`), with a rejects row for every
    (question, language) without a pair. `system_prompt` is training.system_prompt, so a pair's
    prompt is the SFT stage-1 example's. The pairs are a generator the catalog writes batch by
    batch."""
    result = _build_pairs(export, PairingSettings(**settings.model_dump()), system_prompt)
    return result.pairs, result.rejects, result.statistics


# ------------------------------------------------------------------------------------ statistics
# Streaming aggregations over narrow columns only: counts per group, value counts of the token
# lengths (exact quantiles from them), and a partitioned join of the narrow per-generation columns
# (judgement, pass_rate, language) aggregated bucket by bucket.


def _summed(parts: Iterable[pl.DataFrame], by: list[str]) -> pl.DataFrame:
    """Per-bucket counts (`by`, count) added up over the buckets (a partitioned join yields at
    least one frame, so the columns are there when no bucket has rows)."""
    return pl.concat(list(parts)).group_by(by).agg(pl.col("count").sum()).sort(by, nulls_last=True)


def _critique_counts(
    generations: Frame, critiques: Frame, verifications: Frame, settings: JoinSettings
) -> pl.DataFrame:
    """Per (language, judgement, tested, passed): how many critiques. language is null for a
    critique of no known generation; tested marks a verification with tests (total > 0) that
    judged the solution (a pass rate: an "unjudged" row, a problem that needs a checker and ships
    none, has none and is neither passed nor failed)."""
    judged = critiques.lazy().select("generation_id", "judgement")
    tested = (
        verifications.lazy()
        .filter((pl.col("total") > 0) & pl.col("pass_rate").is_not_null())
        .select("generation_id", "pass_rate", pl.lit(True).alias("tested"))
    )
    languages = generations.lazy().select("generation_id", "language")
    parts = partitioned_join(
        judged,
        [tested, languages],
        on="generation_id",
        buckets=bucket_count([judged, tested, languages], settings.bucket_bytes),
        work_dir=settings.work_dir,
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
    settings: JoinSettings,
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
    judged = _critique_counts(generations, critiques, verifications, settings)
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
            "agreement": critic_agreement(tested.filter(pl.col("language") == language)),
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
    unjudged = _unjudged_count(verifications)

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
        "agreement": critic_agreement(tested),
        "verified": int(verification_totals["verified"]),
        "accepted_by_execution": int(verification_totals["accepted"] or 0),
        "unjudged": unjudged,
        "tests_truncated": truncated,
        "isolation": isolation,
    }


def _unjudged_count(verifications: pl.LazyFrame) -> int:
    """Verified rows not judged at all (`judged_by` "unjudged": the problem accepts several answers
    and ships no checker): neither passed nor failed. Tables written before the column count none."""
    if "judged_by" not in verifications.collect_schema():
        return 0
    return int(
        _collect(verifications.select((pl.col("judged_by") == "unjudged").sum())).item() or 0
    )


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


# -------------------------------------------------------------------------------- card and plot
# Rendering is ocr2_kedro.reporting.dataset's; the nodes hand it the statistics and counts.


def render_dataset_card(
    stats: dict,
    settings: DatasetSettings,
    teacher: str,
    critic: str,
    preference_stats: dict | None = None,
    patterns_summary: dict | None = None,
) -> str:
    """The dataset card (markdown): what is in the export and how it was filtered and judged, then
    one section per optional report (preference pairs, reasoning patterns) that was given. One
    catalog entry keeps the versioned card and logs it to MLflow."""
    return dataset_card(stats, settings.name, teacher, critic, preference_stats, patterns_summary)


def summarize_dataset(
    stats: dict, preference_stats: dict | None = None
) -> dict[str, dict[str, float]]:
    """Run metrics for MLflow (MlflowMetricsHistoryDataset)."""
    return dataset_metrics(stats, preference_stats)


def plot_dataset_overview(
    generations: Frame, verifications: Frame, settings: JoinSettings
) -> go.Figure:
    """Output-token lengths and execution verdicts per language, one figure (kedro-viz previews the
    versioned copy; the same entry logs it to the MLflow run).

    The figure gets counts, not values: token lengths binned from their streaming value counts
    (one histogram bar per bin, the same bins for both languages) and verdicts counted per language
    bucket by bucket over a partitioned join of the narrow columns."""
    tokens = value_counts(generations, "num_output_tokens", by=["language"])
    verdicts_of = verifications.lazy().select("generation_id", "verdict")
    languages = generations.lazy().select("generation_id", "language")
    verdicts = _summed(
        partitioned_join(
            verdicts_of,
            languages,
            on="generation_id",
            how="inner",
            buckets=bucket_count([verdicts_of, languages], settings.bucket_bytes),
            work_dir=settings.work_dir,
            finish=lambda joined: joined.group_by("language", "verdict").agg(
                pl.len().alias("count")
            ),
        ),
        ["language", "verdict"],
    )
    return overview_figure(histogram_bins(tokens, "num_output_tokens", "language"), verdicts)
