"""`kedro run --pipelines ingestion` over a copy of the bundled source with one truncated line and
rows that break the PROBLEM contract: every good row is kept, each bad one is a reject with its
reason, and the run is tracked in MLflow (counts per reason, where the source was read from)."""

from __future__ import annotations

import json

import mlflow
import polars as pl

from tests.conftest import run_kedro
from tests.support.versions import read_latest


def _bad_rows(good: list[dict]) -> dict[str, tuple[dict | str, str]]:
    """source_id -> (the row, or a raw line, and the reason its reject must give)."""
    stdin = next(r for r in good if r["test_type"] == "stdin" and r["pool"] == "train")
    functional = next(r for r in good if r["test_type"] == "functional")

    def bad(template: dict, source_id: str) -> dict:
        return dict(template, source_id=source_id, question=f"{source_id}: {template['question']}")

    return {
        "bad-truncated": (json.dumps(bad(stdin, "bad-truncated"))[:-25], "unreadable_line"),
        "bad-no-output": (
            dict(bad(stdin, "bad-no-output"), tests=[{"input": "1 2\n"}]),
            "unparseable_tests",
        ),
        "bad-test-type": (
            dict(bad(stdin, "bad-test-type"), test_type="interactive"),
            "contract_violation",
        ),
        "bad-bare-argument": (
            dict(bad(functional, "bad-bare-argument"), tests=[{"input": "5", "output": "5"}]),
            "contract_violation",
        ),
        "bad-no-function": (
            dict(bad(functional, "bad-no-function"), fn_name=None),
            "contract_violation",
        ),
        "bad-time-limit": (
            dict(bad(stdin, "bad-time-limit"), time_limit_s=-1),
            "contract_violation",
        ),
        "bad-memory": (
            dict(bad(stdin, "bad-memory"), memory_limit_mb="lots"),
            "contract_violation",
        ),
        "bad-date": (dict(bad(stdin, "bad-date"), contest_date="2024-13-45"), "bad_date"),
        "bad-question-type": (
            dict(bad(stdin, "bad-question-type"), question=["not", "text"]),
            "malformed_field",
        ),
        "bad-not-an-object": ("[1, 2, 3]", "unreadable_line"),
    }


def test_a_truncated_line_and_contract_breaking_rows_become_rejects(project_copy):
    source = project_copy / "data" / "01_raw" / "bundled" / "problems.jsonl"
    good_lines = [line for line in source.read_text().splitlines() if line.strip()]
    good = [json.loads(line) for line in good_lines]
    bad = _bad_rows(good)
    # Bad rows spread through the file, the truncated line in the middle.
    bad_lines = {
        source_id: row if isinstance(row, str) else json.dumps(row)
        for source_id, (row, _) in bad.items()
    }
    lines = list(good_lines)
    for offset, line in enumerate(bad_lines.values()):
        lines.insert(3 + offset * 4, line)
    # Where each bad line landed: its reject is named "<split>/<row index>".
    expected = {
        f"train/{lines.index(line)}": (bad[source_id][1], source_id)
        for source_id, line in bad_lines.items()
    }
    source.write_text("\n".join(lines) + "\n")

    run_kedro(project_copy, "run", "--env", "test", "--pipelines", "ingestion")

    intermediate = project_copy / "data" / "02_intermediate"
    everything = read_latest(intermediate / "all_problems.parquet").filter(
        pl.col("source") == "bundled"
    )
    rejects = read_latest(intermediate / "ingestion_rejects.parquet").filter(
        pl.col("source") == "bundled"
    )
    # Every good row is kept, and nothing else (HumanEval, also read by default, aside).
    assert sorted(everything["source_id"]) == sorted(r["source_id"] for r in good)
    # Each bad row is one reject at its place, with its reason and a detail saying what is wrong.
    got = {row["record_id"]: row for row in rejects.iter_rows(named=True)}
    assert {record_id: row["reason"] for record_id, row in got.items()} == {
        record_id: reason for record_id, (reason, _) in expected.items()
    }
    assert all(row["detail"] for row in got.values())
    truncated = next(r for r, (_, source_id) in expected.items() if source_id == "bad-truncated")
    line_number = int(truncated.split("/")[1]) + 1
    assert got[truncated]["detail"].startswith(f"{source}:{line_number}: not JSON")
    assert "fn_name" in next(
        got[r]["detail"] for r, (_, sid) in expected.items() if sid == "bad-no-function"
    )
    assert "not an array of arguments" in next(
        got[r]["detail"] for r, (_, sid) in expected.items() if sid == "bad-bare-argument"
    )

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project_copy / 'mlflow.db'}")
    [experiment] = [e for e in client.search_experiments() if e.name == "ocr2_kedro_test"]
    [run] = client.search_runs([experiment.experiment_id])
    assert run.data.metrics["ingestion_bundled_problems"] == len(good)
    assert run.data.metrics["ingestion_bundled_rejected_contract_violation"] == 5
    assert run.data.metrics["ingestion_bundled_rejected_unreadable_line"] == 2
    assert run.data.params["ingestion_bundled_revision"] == "unpinned"
    assert run.data.params["ingestion_bundled_location"].endswith(
        "data/01_raw/bundled/problems.jsonl"
    )
