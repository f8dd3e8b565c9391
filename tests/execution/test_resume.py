"""Stored verdicts: what a row's key and a run's directory depend on, and a verify node run that
reads back every stored row (whatever the batching) and judges only what changed."""

from __future__ import annotations

import logging
import re
import socket

import polars as pl

from ocr2_kedro.execution.resume import ROW_KEY, VerdictStore, row_keys, verdict_key
from ocr2_kedro.pipelines.verify.nodes import verify_generations
from ocr2_kedro.schemas import GENERATION, PROBLEM, VERIFICATION, conform
from tests.support.parameters import stage_settings

TESTS = [{"input": "2\n", "output": "4\n"}, {"input": "3\n", "output": "6\n"}]


def problems() -> pl.DataFrame:
    return conform(
        [
            {"question_id": "q1", "test_type": "stdin", "tests": TESTS, "time_limit_s": 1.0},
            {"question_id": "q2", "test_type": "stdin", "tests": TESTS[:1], "time_limit_s": 1.0},
        ],
        PROBLEM,
    )


def generations(n: int = 6) -> pl.DataFrame:
    solutions = ["print(int(input()) * 2)", "print(4)", "print(int(input()) + 2)"]
    return conform(
        [
            {
                "generation_id": f"g{i}",
                "question_id": f"q{1 + i % 2}",
                "language": "python",
                "solution": solutions[i % 3],
            }
            for i in range(n)
        ],
        GENERATION,
    )


def test_the_directory_changes_with_what_changes_a_verdict_only():
    assert verdict_key({}) == verdict_key({"compare_mode": "tokens", "max_tests": None})
    assert verdict_key({}) == verdict_key({"cache_dir": "/elsewhere", "use_pch": False})
    assert verdict_key({}) == verdict_key({"sandbox_uids": "62000-62999"})
    for changed in (
        {"compare_mode": "lines"},
        {"max_tests": 3},
        {"time_limit_factor": 2.0},
        {"allow_weak_isolation": True},
        {"stop_at_first_failure": True},
    ):
        assert verdict_key(changed) != verdict_key({}), changed


def test_a_row_key_follows_its_solution_and_its_problem():
    batch, questions = generations(2), problems()
    keys = row_keys(batch, questions)
    assert len(set(keys)) == 2 and keys == row_keys(batch, questions)
    edited = batch.with_columns(pl.lit("print(0)").alias("solution"))
    assert row_keys(edited, questions) != keys
    harder = questions.with_columns(pl.lit(2.0).alias("time_limit_s"))
    assert row_keys(batch, harder) != keys
    new_tests = questions.with_columns(pl.col("tests").list.head(1))
    assert row_keys(batch, new_tests)[1] == keys[1]  # q2 had one test already
    assert row_keys(batch, new_tests)[0] != keys[0]
    assert row_keys(batch, questions.head(0)) != keys  # no problem is part of the key too


def judged_counts(caplog) -> tuple[int, int]:
    [line] = [r.getMessage() for r in caplog.records if "read back from stored" in r.getMessage()]
    rows, resumed, judged = map(int, re.findall(r"\d+", line))
    assert rows == resumed + judged
    return resumed, judged


def deterministic(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("tests").list.eval(pl.element().struct.field("verdict")))


def test_a_rerun_reads_back_every_stored_row_and_judges_only_what_changed(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ocr2_kedro.pipelines.verify.nodes")
    shards = tmp_path / "shards"
    params = {
        "workers": 1,
        "progress": False,
        "cache_dir": str(tmp_path / "cpp"),
        "batch_rows": 2,
        "resume": {"shard_dir": str(shards)},
    }

    def run(frame: pl.DataFrame, **changes) -> pl.DataFrame:
        caplog.clear()
        settings = stage_settings("verify", {**params, **changes})
        return pl.concat(verify_generations(frame.lazy(), problems(), settings))

    first = run(generations())
    assert first.schema == VERIFICATION
    assert first["verdict"].to_list() == ["AC", "AC", "WA", "AC", "WA", "AC"]
    assert judged_counts(caplog) == (0, 6)
    [directory] = shards.iterdir()
    assert len(list(directory.glob("batch-*.parquet"))) == 3

    # Batches cut differently: every row is found in the files of the earlier cut.
    again = run(generations(), batch_rows=4)
    assert judged_counts(caplog) == (6, 0)
    assert deterministic(again).equals(deterministic(first))

    # One solution edited, two generations added: only those three are judged.
    grown = pl.concat(
        [
            generations().with_columns(
                pl.when(pl.col("generation_id") == "g2")
                .then(pl.lit("print(int(input()) * 2)"))
                .otherwise(pl.col("solution"))
                .alias("solution")
            ),
            generations(8).tail(2),
        ]
    )
    third = run(grown)
    assert judged_counts(caplog) == (5, 3)
    assert third["verdict"].to_list() == ["AC", "AC", "AC", "AC", "WA", "AC", "AC", "AC"]

    # A verdict setting changed: a directory of its own, every row judged again.
    run(generations(), max_tests=1)
    assert judged_counts(caplog) == (0, 6)
    assert len(list(shards.iterdir())) == 2

    # Off: nothing stored, nothing read back.
    stored = sorted(shards.rglob("*"))
    run(generations(), resume={"shard_dir": None})
    assert judged_counts(caplog) == (0, 6)
    assert sorted(shards.rglob("*")) == stored


def test_the_store_keeps_whole_batches_and_drops_dead_writers_temporaries(tmp_path):
    store = VerdictStore(tmp_path)
    rows = conform(
        [{"generation_id": f"g{i}", "verdict": "AC", "passed": 1, "total": 1} for i in range(3)],
        VERIFICATION,
    ).with_columns(pl.Series(ROW_KEY, ["k0", "k1", "k2"]))
    store.write(0, rows)
    assert store.read(0, ["k0", "k1", "k2"]).sort(ROW_KEY).equals(rows)
    # Keys looked up across files when the batch has no file of its own.
    found = VerdictStore(tmp_path).read(5, ["k2", "k9", "k0"])
    assert sorted(found[ROW_KEY]) == ["k0", "k2"]
    # A temporary left by a process that no longer exists is removed when the store opens.
    dead = tmp_path / f".tmp-batch-000001-x.parquet@{socket.gethostname()}@999999999"
    dead.write_bytes(b"partial")
    VerdictStore(tmp_path)
    assert not dead.exists()


def test_a_stored_sandbox_fault_is_judged_again(tmp_path):
    store = VerdictStore(tmp_path)
    rows = conform(
        [
            {"generation_id": "g0", "verdict": "AC", "passed": 1, "total": 1},
            {"generation_id": "g1", "verdict": "SE", "passed": 0, "total": 1},
        ],
        VERIFICATION,
    ).with_columns(pl.Series(ROW_KEY, ["k0", "k1"]))
    store.write(0, rows)
    assert store.read(0, ["k0", "k1"])[ROW_KEY].to_list() == ["k0"]
