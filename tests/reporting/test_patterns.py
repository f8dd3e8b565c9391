"""The reasoning-patterns card section and figure: frequencies per behaviour and method, the
entropy note, and "plumbing" said of the embedded default or groups too small to test."""

from __future__ import annotations

from ocr2_kedro.metrics.patterns import ENTROPY_OFF
from ocr2_kedro.reporting.patterns import card_section, patterns_figure
from tests.metrics.test_patterns import labels_table, summary_of


def test_card_section_tables_frequencies_and_says_when_numbers_are_plumbing():
    summary = summary_of(labels_table())
    card = card_section(summary)
    assert "| subgoal_setting | lexical | 80% (8/10) | 20% (2/10) | +60 pp |" in card
    assert "| subgoal_setting | llm | 80% (8/10) | 25% (2/8) | +55 pp |" in card
    assert ENTROPY_OFF in card
    assert "plumbing" not in card
    # The embedded default, or groups under the minimum size, are said to be plumbing.
    embedded = {**summary, "run": {**summary["run"], "embedded": True}}
    assert "these numbers are plumbing" in card_section(embedded)
    tiny = summary_of(labels_table(), min_group_size=50)
    assert "(n too small)" in card_section(tiny)
    assert "these numbers are plumbing" in card_section(tiny)


def test_card_table_is_the_shared_markdown_table():
    card = card_section(summary_of(labels_table()))
    assert (
        "| behaviour | method | passed | failed | difference | p (BH) | kappa |\n"
        "|---|---|---|---|---|---|---|\n" in card
    )
    # The lexical rows leave the kappa cell empty.
    assert any(
        line.startswith("| backtracking | lexical |") and line.endswith("|  |")
        for line in card.splitlines()
    )


def test_card_without_traces_says_so():
    card = card_section({"sample": {"traces": 0}, "population": {"passed": 0, "failed": 0}})
    assert "No trace to analyse" in card


def test_figure_has_one_bar_series_per_method_and_group():
    summary = summary_of(labels_table(), embedded=True)
    figure = patterns_figure(summary)
    assert [bar.name for bar in figure.data] == [
        "lexical, passed",
        "lexical, failed",
        "llm, passed",
        "llm, failed",
    ]
    assert list(figure.data[0].x) == ["subgoal_setting", "backtracking"]
    assert figure.data[0].y[0] == 80.0
    assert "plumbing" in figure.layout.title.text
