"""The dedup pipeline on the bundled set: planted near-duplicates removed, the planted leak caught."""

import polars as pl
import pytest

from ocr2_kedro.parameters import ParametersError
from ocr2_kedro.pipelines.dedup.nodes import (
    CONTAMINATION_AUDIT,
    DEDUP_AUDIT,
    find_benchmark_contamination,
    find_duplicate_clusters,
    select_deduplicated,
)
from tests.support.bundled import bundled_pools
from tests.support.parameters import stage_settings


@pytest.fixture(scope="module")
def params():
    return stage_settings("dedup")


@pytest.fixture(scope="module")
def pools() -> tuple[pl.DataFrame, pl.DataFrame]:
    return bundled_pools()


def _source_ids(problems: pl.DataFrame, question_ids) -> set[str]:
    return set(
        problems.filter(pl.col("question_id").is_in(list(question_ids)))["source_id"].to_list()
    )


def test_near_duplicates_are_removed_with_their_kept_twin(pools, params):
    train, _ = pools
    audit = find_duplicate_clusters(train, params)
    assert audit.schema == DEDUP_AUDIT
    removed = audit.filter(pl.col("removed"))
    pairs = {(row["question_id"], row["kept_question_id"]) for row in removed.iter_rows(named=True)}
    by_id = dict(zip(train["question_id"], train["source_id"], strict=True))
    # ocr2-039 and ocr2-040 restate ocr2-016 and ocr2-024 with other constraints (n <= 10^5 for
    # 2*10^5, len <= 10^5 for 10^4): a changed number makes them different problems (number_veto).
    assert {(by_id[a], by_id[b]) for a, b in pairs} == {("ocr2-038", "ocr2-013")}
    assert (removed["score"] >= params.near.fuzz_threshold).all()
    assert set(removed["method"]) == {"near"}
    # Without the veto (OCR-2's plain fuzz.ratio >= 80) they are near-duplicates too.
    ratio_only = stage_settings("dedup", {"near": {"number_veto": False}})
    removed = find_duplicate_clusters(train, ratio_only).filter(pl.col("removed"))
    assert {by_id[a] for a in removed["question_id"]} == {"ocr2-038", "ocr2-039", "ocr2-040"}


def test_exact_copies_keep_the_higher_priority_source(pools, params):
    train, _ = pools
    original = train.filter(pl.col("source_id") == "ocr2-001")
    copy = original.with_columns(
        pl.lit("taco").alias("source"),
        pl.lit("copy-id").alias("question_id"),
        pl.col("question").str.to_uppercase(),
    )
    audit = find_duplicate_clusters(pl.concat([copy, train]), params)
    row = audit.filter(pl.col("question_id") == "copy-id").row(0, named=True)
    assert (
        row["method"] == "exact"
        and row["kept_question_id"] == original["question_id"][0]
        and row["score"] == 100.0
    )


def test_leaked_benchmark_question_is_caught_and_dropped(pools, params):
    train, benchmark = pools
    contamination = find_benchmark_contamination(train, benchmark, params)
    assert contamination.schema == CONTAMINATION_AUDIT
    assert _source_ids(train, contamination["question_id"]) == {"ocr2-041"}
    assert _source_ids(benchmark, contamination["benchmark_question_id"]) == {"ocr2-030"}
    audit = find_duplicate_clusters(train, params)
    kept = select_deduplicated(train, audit, contamination)
    assert kept.height == train.height - 2
    assert not {"ocr2-038", "ocr2-041"} & set(kept["source_id"])


def test_undated_benchmark_questions_are_checked_for_leaks(pools, params):
    # conf/paper holds out CodeContests' test split, which has no dates: a training copy of one of
    # its questions is a leak like any other (evaluation scores the question).
    train, benchmark = pools
    undated = benchmark.with_columns(
        pl.lit("codecontests").alias("source"), pl.lit(None, pl.Date).alias("contest_date")
    )
    paper = stage_settings("dedup", env="paper")
    contamination = find_benchmark_contamination(train, undated, paper)
    assert _source_ids(train, contamination["question_id"]) == {"ocr2-041"}
    assert contamination["benchmark_contest_date"].null_count() == contamination.height
    assert set(contamination["benchmark_source"]) == {"codecontests"}


def test_a_date_window_for_decontamination_is_refused():
    window = {"contamination": {"benchmark_window": {"start": "2025-03-01", "end": None}}}
    with pytest.raises(ParametersError, match="every held-out question whatever its date"):
        stage_settings("dedup", window)


@pytest.mark.slow
def test_semantic_pass_flags_paraphrases(pools, params):
    train, _ = pools
    paraphrase = train.filter(pl.col("source_id") == "ocr2-002").with_columns(
        pl.lit("para").alias("question_id"),
        pl.lit("Reverse the given word of lowercase letters and print the result.").alias(
            "question"
        ),
    )
    settings = stage_settings("dedup", {"semantic": {"enabled": True, "threshold": 0.7}})
    audit = find_duplicate_clusters(pl.concat([train, paraphrase]), settings)
    semantic = audit.filter(pl.col("method") == "semantic")
    original = train.filter(pl.col("source_id") == "ocr2-002")["question_id"][0]
    flagged = semantic.filter(pl.col("question_id") == "para").row(0, named=True)
    assert flagged["kept_question_id"] == original and flagged["score"] >= 0.7
    assert not semantic["removed"].any()  # flagged only: remove is off
    # Pairs the text pass already clustered are not flagged again.
    near_pairs = {
        frozenset(pair)
        for pair in audit.filter(pl.col("method") == "near")
        .select("question_id", "kept_question_id")
        .rows()
    }
    assert near_pairs and not near_pairs & {
        frozenset(pair) for pair in semantic.select("question_id", "kept_question_id").rows()
    }
