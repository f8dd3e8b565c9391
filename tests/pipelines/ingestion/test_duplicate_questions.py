"""A question reached through two sources (open-r1/codeforces read directly and through the OCR-2
rebuild) keeps one row and one reject, through the ingestion and dedup nodes."""

from pathlib import Path

import polars as pl
import pytest

from ocr2_kedro.pipelines.dedup.nodes import (
    find_benchmark_contamination,
    find_duplicate_clusters,
    select_deduplicated,
)
from ocr2_kedro.pipelines.ingestion.nodes import (
    combine_problems,
    combine_rejects,
    normalize_source,
    resolve_ocr2_questions,
    split_benchmark_pool,
)
from ocr2_kedro.schemas import PROBLEM
from ocr2_kedro.sources.readers import RecordSource
from tests.support.parameters import stage_settings

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "sources"


@pytest.fixture(scope="module")
def ingestion_params():
    return stage_settings(
        "ingestion", {"codeforces": {"source": {"enabled": True}}, "ocr2": {"enabled": True}}
    )


def _ingest(params) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    codeforces = RecordSource(path=str(FIXTURES / "codeforces.jsonl"))
    taco = RecordSource(path=str(FIXTURES / "taco.jsonl"))
    direct, direct_rejects = normalize_source(codeforces, params.codeforces.source)
    # The OCR-2 fixture references open-r1/codeforces train/0: the question read directly above.
    rebuilt, rebuilt_rejects = resolve_ocr2_questions(
        RecordSource(path=str(FIXTURES / "ocr2.jsonl")),
        params.ocr2,
        codeforces=codeforces,
        taco=taco,
    )
    assert direct["question_id"].to_list() == rebuilt["question_id"].to_list()
    everything, duplicates = combine_problems(
        bundled=pl.DataFrame(schema=PROBLEM), codeforces=direct, ocr2=rebuilt
    )
    train, benchmark, window = split_benchmark_pool(everything, params.benchmark_pools)
    rejects = combine_rejects(direct_rejects, rebuilt_rejects, duplicates, window)
    return train, benchmark, rejects


def test_second_copy_is_rejected_and_dedup_keeps_the_first(ingestion_params):
    train, benchmark, rejects = _ingest(ingestion_params)
    assert train["question_id"].is_unique().all()
    assert train.select("source", "source_id").rows() == [("codeforces", "2000A")]
    duplicate = rejects.filter(pl.col("reason") == "duplicate_question_id")
    assert duplicate.select("source", "record_id").rows() == [("ocr2", "codeforces/train/2000A")]
    assert duplicate["detail"][0].endswith("already read through codeforces")

    params = stage_settings("dedup")
    clusters = find_duplicate_clusters(train, params)
    contamination = find_benchmark_contamination(train, benchmark, params)
    kept = select_deduplicated(train, clusters, contamination)
    # The question leaves dedup once; before, both copies shared an id and both were removed.
    assert kept["source_id"].to_list() == ["2000A"]


def test_dedup_refuses_a_table_with_repeated_ids():
    problems = pl.DataFrame(
        [
            {"question_id": "q", "source": "taco", "source_id": "1", "question": "Print 1."},
            {"question_id": "q", "source": "ocr2", "source_id": "1", "question": "Print 1."},
        ]
    )
    with pytest.raises(ValueError, match="question ids must be unique per row"):
        find_duplicate_clusters(problems, stage_settings("dedup"))
    with pytest.raises(ValueError, match="Re-run the ingestion pipeline"):
        select_deduplicated(problems, pl.DataFrame(), pl.DataFrame())
