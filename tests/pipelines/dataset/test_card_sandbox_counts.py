"""The dataset card and metrics count the verifications whose test list `max_tests` cut short and
the sandbox isolation layers the samples ran under; tables written before those columns existed
count none."""

from __future__ import annotations

import polars as pl

from ocr2_kedro.pipelines.dataset.nodes import (
    build_export,
    dataset_statistics,
    render_dataset_card,
    summarize_dataset,
)
from tests.pipelines.dataset.test_dataset_pipeline import dataset_settings, joins, tables

LAYERS = {
    "a": ["net_ns", "mount_ns", "rlimits"],
    "b": ["net_ns", "mount_ns", "rlimits"],
    "c": ["rlimits"],
    "d": ["rlimits", "rlimits"],  # a layer listed twice counts once for its row
    "e": [],  # nothing ran (e.g. no problem)
}


def statistics(verifications: pl.DataFrame) -> dict:
    problems, generations, critiques, _, rejects = tables()
    export = pl.concat(list(build_export(problems, generations, critiques, verifications, joins())))
    return dataset_statistics(
        problems, generations, critiques, verifications, rejects, export, joins()
    )


def test_truncated_tests_and_isolation_layers_are_counted_on_the_card_and_in_metrics():
    verifications = tables()[3].with_columns(
        pl.col("generation_id")
        .replace_strict(LAYERS, return_dtype=pl.List(pl.String))
        .alias("isolation"),
        pl.col("generation_id")
        .replace_strict({"a": 3, "c": 1}, default=0)
        .alias("tests_truncated"),
    )
    stats = statistics(verifications)
    assert stats["tests_truncated"] == 2
    assert stats["isolation"] == [
        ("rlimits", 4),
        ("mount_ns", 2),
        ("net_ns", 2),
        ("none recorded", 1),
    ]
    card = render_dataset_card(stats, dataset_settings(), "t", "c")
    assert "| verified on a truncated test list (max_tests) | 2 |" in card
    assert "## Sandbox isolation" in card
    assert "| rlimits | 4 |" in card and "| none recorded | 1 |" in card
    metrics = summarize_dataset(stats)
    assert metrics["verified.tests_truncated"]["value"] == 2
    assert metrics["verified.isolation.net_ns"]["value"] == 2
    assert metrics["verified.isolation.none_recorded"]["value"] == 1


def test_a_table_from_before_the_columns_counts_none():
    stats = statistics(tables()[3].drop("isolation", "tests_truncated"))
    assert stats["tests_truncated"] == 0 and stats["isolation"] == []
    card = render_dataset_card(stats, dataset_settings(), "t", "c")
    assert "## Sandbox isolation\n\nThe isolation layers" in card and "None recorded." in card


def test_unjudged_samples_are_counted_and_left_out_of_the_critic_agreement():
    """Sample b's problem needs a checker and ships none: verify leaves it unjudged (verdict and
    pass_rate null, judged_by "unjudged"). It is counted, and is neither a passed nor a failed
    sample for the critic's agreement: of a (right, passed), c (wrong, passed), d (wrong, failed)
    and e (no judgement, passed), precision(right) = 1/1, recall(right) = 1/3 (a of a, c, e) and
    accuracy over parsed judgements = 2/3 (a and d agree, c does not)."""
    verifications = (
        tables()[3]
        .with_columns(judged_by=pl.lit("tokens"))
        .with_columns(
            *(
                pl.when(pl.col("generation_id") == "b")
                .then(pl.lit(value, dtype))
                .otherwise(pl.col(name))
                .alias(name)
                for name, value, dtype in (
                    ("verdict", None, pl.String),
                    ("pass_rate", None, pl.Float64),
                    ("passed", None, pl.Int64),
                    ("judged_by", "unjudged", pl.String),
                )
            )
        )
    )
    stats = statistics(verifications)
    assert stats["unjudged"] == 1
    assert stats["agreement"]["pairs"] == 4
    assert stats["agreement"]["matrix"]["right"] == {"passed": 1, "failed": 0}
    assert stats["agreement"]["precision_right"] == 1.0
    assert stats["agreement"]["recall_right"] == 1 / 3
    assert stats["agreement"]["accuracy_judged"] == 2 / 3
    card = render_dataset_card(stats, dataset_settings(), "t", "c")
    assert "| unjudged (the problem accepts several answers and ships no checker) | 1 |" in card
    assert summarize_dataset(stats)["verified.unjudged"]["value"] == 1
    # A table from before `judged_by` counts none.
    assert statistics(tables()[3].drop("judged_by"))["unjudged"] == 0
