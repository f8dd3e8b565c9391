"""What a person reads of a reasoning-patterns run: the dataset card's "Reasoning patterns" section
(markdown) and the grouped-bar figure, both from the summary `metrics.patterns.build_summary`
builds. Kedro-free."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from ocr2_kedro.metrics.patterns import ENTROPY_OFF, GROUPS, METHODS
from ocr2_kedro.reporting.tables import markdown_table

FREQUENCY_COLUMNS = ("behaviour", "method", "passed", "failed", "difference", "p (BH)", "kappa")


def _percent(entry: dict) -> str:
    if not entry["n"]:
        return "–"
    return f"{100 * entry['freq']:.0f}% ({entry['k']}/{entry['n']})"


def _number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}g}" if abs(value) < 0.01 else f"{value:.{digits}f}"


def is_plumbing(summary: dict) -> bool:
    """Whether the numbers only show that the machinery runs: the embedded default classified
    them, or a group is under the minimum size for a test."""
    sample = summary.get("sample", {})
    smallest = min((sample.get(g, 0) for g in GROUPS), default=0)
    return bool(summary.get("run", {}).get("embedded")) or smallest < summary.get("run", {}).get(
        "min_group_size", 1
    )


def frequency_table(summary: dict) -> pl.DataFrame:
    """One row per behaviour and method: the passed and failed frequencies, their difference,
    the adjusted p and (llm rows) the kappa with the lexical method, as display text."""
    rows = []
    for name, entry in summary.get("behaviours", {}).items():
        for method in METHODS:
            stats = entry[method]
            rows.append(
                (
                    name,
                    method,
                    _percent(stats["passed"]),
                    _percent(stats["failed"]),
                    "–" if stats["diff"] is None else f"{100 * stats['diff']:+.0f} pp",
                    _number(stats["p_adj"]) + (" (n too small)" if stats["too_small"] else ""),
                    _number(entry["agreement"]["kappa"]) if method == "llm" else "",
                )
            )
    return pl.DataFrame(rows, schema=dict.fromkeys(FREQUENCY_COLUMNS, pl.String), orient="row")


def card_section(summary: dict) -> str:
    """The dataset card's "Reasoning patterns" section (markdown) from the patterns summary."""
    run, sample = summary.get("run", {}), summary.get("sample", {})
    lines = ["## Reasoning patterns", ""]
    if not sample.get("traces"):
        lines.append(
            "No trace to analyse: no verified sample passed or failed its tests "
            f"({summary.get('population', {})})."
        )
        return "\n".join(lines) + "\n"
    lines += [
        f"{sample['traces']} teacher traces ({sample.get('passed', 0)} whose solution passed every "
        f"test, {sample.get('failed', 0)} that failed one; stratified sample of "
        f"{summary['population']['passed']} passed and {summary['population']['failed']} failed "
        f"verified samples, seed {run.get('seed')}). Methods: `lexical` (regex markers, "
        f"`ocr2_kedro.patterns.behaviours`) and `llm` (classifier `{run.get('critic_model')}`, "
        f"traces cut to {run.get('max_chars')} characters; {sample.get('truncated', 0)} were "
        "cut). p: Fisher's exact test, Benjamini-Hochberg adjusted across behaviours per method; "
        "kappa: Cohen's, LLM vs lexical.",
        "",
        markdown_table(None, frequency_table(summary)).rstrip("\n"),
    ]
    llm = summary.get("llm", {})
    lines += [
        "",
        f"LLM answers: {llm.get('answers', 0)}, of which {llm.get('errors', 0)} failed requests; "
        f"{llm.get('unparsed_labels', 0)} behaviour labels unparsed (left out of that behaviour's "
        "counts, never read as no).",
    ]
    entropy = summary.get("entropy", {})
    if entropy.get("available"):
        lines.append(
            f"Mean per-token entropy (nats): passed {_number(entropy['passed']['mean'], 3)} "
            f"(n={entropy['passed']['n']}), failed {_number(entropy['failed']['mean'], 3)} "
            f"(n={entropy['failed']['n']}); Mann-Whitney U p = {_number(entropy['p'])}"
            + (" (n too small)." if entropy.get("too_small") else ".")
        )
    else:
        lines.append(entropy.get("note", ENTROPY_OFF) + ".")
    if is_plumbing(summary):
        lines += [
            "",
            "On the embedded default (a 135M-parameter model as teacher and classifier, a handful "
            "of traces) these numbers are plumbing: they show the analysis runs, not how correct "
            "and wrong traces differ.",
        ]
    return "\n".join(lines) + "\n"


def patterns_figure(summary: dict) -> go.Figure:
    """Grouped bars: per behaviour, the share of passed and failed traces showing it, by each
    method (hatched: the classifier's)."""
    names = list(summary.get("behaviours", {}))
    figure = go.Figure()
    colours = {"passed": "#2ca02c", "failed": "#d62728"}
    for method in METHODS:
        for group in GROUPS:
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
    if is_plumbing(summary):
        title += " (embedded default or tiny sample: plumbing)"
    figure.update_layout(barmode="group", title=title, yaxis_title="% of traces")
    return figure
