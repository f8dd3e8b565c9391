"""Dataset nodes: join questions, accepted generations, critiques and verdicts into the OCR-2 export
(per language, parquet + JSONL) and a dataset card with the statistics of the run.

Generations flagged for rejection are not exported; they stay in `generations` with their flags and
in `generation_rejects`, and the card counts them by reason.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from ocr2_kedro.schemas import LANGUAGES, VERDICTS

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


def _accepted(generations: pl.DataFrame) -> pl.DataFrame:
    return generations.filter((pl.col("flags").list.len() == 0) & pl.col("solution").is_not_null())


def build_export(
    problems: pl.DataFrame,
    generations: pl.DataFrame,
    critiques: pl.DataFrame,
    verifications: pl.DataFrame,
) -> pl.DataFrame:
    """One row per accepted generation in the public OCR-2 column layout."""
    joined = (
        _accepted(generations)
        .join(
            critiques.select("generation_id", "critique", "judgement"),
            on="generation_id",
            how="left",
        )
        .join(
            verifications.select("generation_id", "verdict", "pass_rate"),
            on="generation_id",
            how="left",
        )
        .join(
            problems.select(
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
            ),
            on="question_id",
            how="left",
        )
    )
    return joined.select(
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
    ).sort("language", "question_id", "id")


def split_by_language(
    export: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(python parquet, cpp parquet, python JSONL, cpp JSONL): the same tables in both formats."""
    python = export.filter(pl.col("language") == "python")
    cpp = export.filter(pl.col("language") == "cpp")
    return python, cpp, python, cpp


# ------------------------------------------------------------------------------------ statistics


def _token_stats(frame: pl.DataFrame) -> dict[str, float]:
    tokens = frame["num_output_tokens"].drop_nulls()
    if tokens.is_empty():
        return {"n": 0}
    return {
        "n": tokens.len(),
        "mean": float(tokens.mean()),
        "p50": float(tokens.quantile(0.5, "nearest")),
        "p90": float(tokens.quantile(0.9, "nearest")),
        "max": float(tokens.max()),
    }


def _agreement(critiques: pl.DataFrame, verifications: pl.DataFrame) -> dict:
    """Critic judgement against execution, where tests exist (total > 0).

    Positive = pass_rate == 1. A null judgement counts as "not right" for precision and recall and
    has its own row in the confusion matrix.
    """
    both = critiques.select("generation_id", "judgement").join(
        verifications.filter(pl.col("total") > 0).select("generation_id", "pass_rate"),
        on="generation_id",
        how="inner",
    )
    passed = both["pass_rate"] == 1.0
    matrix = {}
    for judgement in ("right", "wrong", None):
        is_j = both["judgement"].is_null() if judgement is None else both["judgement"] == judgement
        matrix[judgement or "null"] = {
            "passed": int((is_j & passed).sum()),
            "failed": int((is_j & ~passed).sum()),
        }
    tp = matrix["right"]["passed"]
    predicted = matrix["right"]["passed"] + matrix["right"]["failed"]
    actual = int(passed.sum())
    judged = both.filter(pl.col("judgement").is_not_null())
    agree = (
        ((judged["judgement"] == "right") == (judged["pass_rate"] == 1.0)).mean()
        if judged.height
        else None
    )
    return {
        "pairs": both.height,
        "matrix": matrix,
        "precision_right": tp / predicted if predicted else None,
        "recall_right": tp / actual if actual else None,
        "accuracy_judged": float(agree) if agree is not None else None,
    }


def dataset_statistics(
    problems: pl.DataFrame,
    generations: pl.DataFrame,
    critiques: pl.DataFrame,
    verifications: pl.DataFrame,
    generation_rejects: pl.DataFrame,
    export: pl.DataFrame,
) -> dict:
    """Everything the card and the MLflow metrics report, as plain Python values."""
    accepted = _accepted(generations)
    reasons = (
        generation_rejects.group_by("stage", "reason").len().sort("len", descending=True).rows()
    )
    by_language = {}
    for language in LANGUAGES:
        part = generations.filter(pl.col("language") == language)
        crit = critiques.join(part.select("generation_id"), on="generation_id", how="semi")
        by_language[language] = {
            "generated": part.height,
            "accepted": accepted.filter(pl.col("language") == language).height,
            "exported": export.filter(pl.col("language") == language).height,
            "tokens_all": _token_stats(part),
            "tokens_accepted": _token_stats(accepted.filter(pl.col("language") == language)),
            "critiques": crit.height,
            "judgements": {
                "right": int((crit["judgement"] == "right").sum()),
                "wrong": int((crit["judgement"] == "wrong").sum()),
                "null": int(crit["judgement"].null_count()),
            },
            "agreement": _agreement(crit, verifications),
        }

    def counts(column: str) -> list[tuple]:
        return (
            export.with_columns(pl.col(column).fill_null("unknown"))
            .group_by(column, "language")
            .len()
            .sort(column, "language")
            .rows()
        )

    return {
        "questions": problems.height,
        "questions_generated": generations["question_id"].n_unique(),
        "questions_exported": export["question_id"].n_unique(),
        "generations": generations.height,
        "exported": export.height,
        "by_language": by_language,
        "by_source": counts("source"),
        "by_difficulty": counts("difficulty"),
        "rejections": reasons,
        "critiques": critiques.height,
        "judgement_parse_rate": (
            1 - critiques["judgement"].null_count() / critiques.height if critiques.height else None
        ),
        "judgements_from_follow_up": int((critiques["judgement_source"] == "follow_up").sum()),
        "agreement": _agreement(critiques, verifications),
        "verified": verifications.height,
        "accepted_by_execution": int((verifications["verdict"] == "AC").sum()),
    }


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


def render_dataset_card(stats: dict, params: dict, teacher: str, critic: str) -> tuple[str, str]:
    """The dataset card (markdown): what is in the export and how it was filtered and judged.

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
        "\n## Critic vs execution\n",
        "Where the question has tests: positive = pass_rate == 1. Precision and recall of "
        '"right"; a null judgement counts as not "right".\n',
        _agreement_section("all", stats["agreement"]),
        *[_agreement_section(language, v["agreement"]) for language, v in lang.items()],
    ]
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


def summarize_dataset(stats: dict) -> dict[str, dict[str, float]]:
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
    }
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
    return {
        name: {"value": float(value), "step": 0}
        for name, value in metrics.items()
        if value is not None
    }


# ----------------------------------------------------------------------------------------- plots


def plot_dataset_overview(
    generations: pl.DataFrame, verifications: pl.DataFrame
) -> tuple[go.Figure, go.Figure]:
    """Output-token lengths and execution verdicts per language, one figure (kedro-viz previews the
    versioned JSON copy; the HTML copy goes to the MLflow run)."""
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=("output tokens per sample", "execution verdicts")
    )
    verdicts = generations.select("generation_id", "language").join(
        verifications.select("generation_id", "verdict"), on="generation_id", how="inner"
    )
    for language in LANGUAGES:
        tokens = generations.filter(pl.col("language") == language)["num_output_tokens"]
        figure.add_trace(
            go.Histogram(x=tokens.to_list(), name=language, opacity=0.6, legendgroup=language),
            row=1,
            col=1,
        )
        counts = dict(
            verdicts.filter(pl.col("language") == language).group_by("verdict").len().rows()
        )
        figure.add_trace(
            go.Bar(
                x=list(VERDICTS),
                y=[counts.get(verdict, 0) for verdict in VERDICTS],
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
