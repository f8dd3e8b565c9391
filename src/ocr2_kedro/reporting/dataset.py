"""What the dataset stage shows a person: the dataset card (markdown), its MLflow metrics and the
overview figure, from the statistics the dataset nodes aggregate (plain Python values and small
count frames). Kedro-free."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from ocr2_kedro.reporting.patterns import card_section as patterns_section
from ocr2_kedro.reporting.tables import markdown_table
from ocr2_kedro.schemas import LANGUAGES, VERDICTS

# ----------------------------------------------------------------------------------- statistics


def critic_agreement(counts: pl.DataFrame) -> dict:
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


# ---------------------------------------------------------------------------------------- card


def _number(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def _table(headers: list[str], rows: Sequence[Sequence]) -> str:
    """A card table: missing values as "–", floats to 3 decimals (1 from 10 up)."""
    # Column by column: a row-oriented frame would rename the empty header ("column_0").
    frame = pl.DataFrame(
        {header: [row[index] for row in rows] for index, header in enumerate(headers)}
    )
    return markdown_table(None, frame, missing="–", number=_number).rstrip("\n")


def _table_value(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def dataset_card(
    stats: dict,
    name: str,
    teacher: str,
    critic: str,
    preference_stats: dict | None = None,
    patterns_summary: dict | None = None,
) -> str:
    """The dataset card (markdown): what is in the export and how it was filtered and judged, then
    one section per optional report (preference pairs, reasoning patterns) that was given."""
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
                [
                    "unjudged (the problem accepts several answers and ships no checker)",
                    stats.get("unjudged", 0),
                ],
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
        _table(["source", "language", "samples"], stats["by_source"]),
        "\n### Exported samples per difficulty\n",
        _table(["difficulty", "language", "samples"], stats["by_difficulty"]),
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
        _table(["stage", "reason", "count"], stats["rejections"])
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
        _table(["layer", "verified samples"], stats["isolation"])
        if stats["isolation"]
        else "None recorded.",
        "\n## Critic vs execution\n",
        "Where the question has tests and the run judged the solution (unjudged samples are "
        'left out): positive = pass_rate == 1. Precision and recall of "right"; a null judgement '
        'counts as not "right".\n',
        _agreement_section("all", stats["agreement"]),
        *[_agreement_section(language, v["agreement"]) for language, v in lang.items()],
    ]
    # Optional sections: (report, its renderer); a report that is None adds nothing.
    for report, render in (
        (preference_stats, _preference_section),
        (patterns_summary, patterns_section),
    ):
        if report is not None:
            sections.append(render(report))
    return "\n".join(sections) + "\n"


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
    if prefs["critique_pairs"] and prefs.get("critique_pairs_when_all_fail"):
        settings.append("critique pairs also where every sample failed a test")
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
            _table(["difficulty", "pairs"], list(prefs["by_difficulty"].items()))
            if prefs["by_difficulty"]
            else "None.",
            "\n### Groups without a pair, by reason\n",
            _table(["reason", "groups"], by_reason) if by_reason else "None.",
        ]
    )


# ------------------------------------------------------------------------------------- metrics


def dataset_metrics(
    stats: dict, preference_stats: dict | None = None
) -> dict[str, dict[str, float]]:
    """Run metrics for MLflow (MlflowMetricsHistoryDataset's layout)."""
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
        # Neither passed nor failed: kept out of the critic agreement and of execution pairs.
        "verified.unjudged": stats.get("unjudged", 0),
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


# -------------------------------------------------------------------------------------- figure


def overview_figure(
    token_bins: tuple[float, float, dict[object, pl.DataFrame]], verdicts: pl.DataFrame
) -> go.Figure:
    """Output-token lengths and execution verdicts per language, one figure. `token_bins`: the
    shared histogram bins of the token lengths (`tables.histogram_bins`: start, width, per language
    a frame of bin_start and count); `verdicts`: (language, verdict, count)."""
    start, width, bins = token_bins
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=("output tokens per sample", "execution verdicts")
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
        counts = dict(
            verdicts.filter(pl.col("language") == language).select("verdict", "count").rows()
        )
        figure.add_trace(
            go.Bar(
                x=list(VERDICTS),
                y=[int(counts.get(verdict) or 0) for verdict in VERDICTS],
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
    return figure
