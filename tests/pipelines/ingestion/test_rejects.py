import mlflow
import polars as pl

from tests.support.bundled import bundled_problems

GOOD = {
    "source_id": "g1",
    "pool": "train",
    "difficulty": "easy",
    "contest_date": "2024-01-01",
    "question": "Print 1.",
    "starter_code": "",
    "test_type": "stdin",
    "fn_name": None,
    "time_limit_s": 1.0,
    "memory_limit_mb": 64,
    "tests": [{"input": "", "output": "1\n"}],
}


def test_bad_rows_become_rejects_with_reasons_and_logged_counts(tmp_path):
    rows = [
        GOOD,
        dict(GOOD, source_id="e1", question="  "),
        dict(GOOD, source_id="n1", tests=[]),
        dict(GOOD),  # duplicate id
        dict(
            GOOD,
            source_id="f1",
            test_type="functional",
            fn_name="f",
            tests=[{"input": "[1", "output": "2"}],
        ),
    ]
    raw = tmp_path / "problems.jsonl"
    pl.DataFrame(rows).write_ndjson(raw)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        with mlflow.start_run() as run:
            problems, rejects = bundled_problems(raw)
        metrics = mlflow.get_run(run.info.run_id).data.metrics
    finally:
        mlflow.set_tracking_uri(previous)
    assert problems["source_id"].to_list() == ["g1"]
    # Rejects are named by their place in the source: split/row index.
    assert sorted(zip(rejects["record_id"], rejects["reason"], strict=True)) == [
        ("train/1", "empty_statement"),
        ("train/2", "no_tests"),
        ("train/3", "duplicate_id"),
        ("train/4", "unparseable_tests"),
    ]
    assert (
        metrics["ingestion_bundled_problems"] == 1
        and metrics["ingestion_bundled_rejected_no_tests"] == 1
    )
