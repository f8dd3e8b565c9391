"""Ingestion counts how problems are judged beyond text: checkers, any-answer problems that ship none
(kept and marked, never dropped), stated tolerances; per source and over all sources, in MLflow."""

from pathlib import Path

import mlflow
import polars as pl

from ocr2_kedro.parameters.ingestion import SourceSettings
from ocr2_kedro.pipelines.ingestion.nodes import combine_problems, normalize_source
from ocr2_kedro.sources.readers import RecordSource
from tests.support.bundled import bundled_problems

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sources"


def _source(name: str, kind: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    settings = SourceSettings(name=kind, kind=kind, enabled=True, limit=None)
    return normalize_source(RecordSource(path=str(FIXTURES / f"{name}.jsonl")), settings)


def test_checker_counts_per_source_and_in_total(tmp_path):
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        with mlflow.start_run() as run:
            codeforces, codeforces_rejects = _source("codeforces_checkers", "codeforces")
            codecontests, _ = _source("codecontests_checkers", "codecontests")
            combine_problems(codeforces=codeforces, codecontests=codecontests)
        metrics = mlflow.get_run(run.info.run_id).data.metrics
    finally:
        mlflow.set_tracking_uri(previous)
    # 5 open-r1 rows: the derangement and the broken judge ship checkers; "any split" says "print
    # any" and ships none; the average speed states 1e-6; the file-input problem is a reject.
    assert codeforces.height == 4
    assert codeforces_rejects.select("record_id", "reason").rows() == [
        ("train/3", "file_input_mode")
    ]
    assert {
        name: metrics[f"ingestion_codeforces_{name}"]
        for name in (
            "with_checker",
            "needs_checker",
            "needs_checker_without_checker",
            "with_float_tolerance",
        )
    } == {
        "with_checker": 2,
        "needs_checker": 3,
        "needs_checker_without_checker": 1,
        "with_float_tolerance": 1,
    }
    # The marked problem stays in the table: needs_checker true, checker null.
    marked = codeforces.filter(pl.col("needs_checker") & pl.col("checker").is_null())
    assert marked["source_id"].to_list() == ["1999C"]
    # CodeContests: one "print any" without a checker, one "10 - 6" tolerance.
    assert metrics["ingestion_codecontests_needs_checker_without_checker"] == 1
    assert metrics["ingestion_codecontests_with_float_tolerance"] == 1
    assert metrics["ingestion_needs_checker_without_checker"] == 2
    assert metrics["ingestion_with_checker"] == 2
    assert metrics["ingestion_with_float_tolerance"] == 2


def test_the_bundled_questions_carry_a_checker_and_a_marked_problem():
    problems, rejects = bundled_problems()
    assert rejects.is_empty()
    judged = problems.filter(pl.col("needs_checker").fill_null(False)).sort("source_id")
    assert judged.select("source_id", "checker_language").rows() == [
        ("ocr2-042", "python"),
        ("ocr2-043", None),
    ]
    assert judged["checker"][0].startswith('"""Checker, testlib')
