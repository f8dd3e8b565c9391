"""`kedro run --pipelines verify` in a copy of the project: a run SIGKILLed after some batches are
stored resumes from them (the rerun judges only the rest, says so in its log and in MLflow, and
writes the table a clean run writes); a `verify` setting that does not exist stops the run before
any node, naming its full path."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import polars as pl
import pytest
import yaml

from ocr2_kedro.pipelines.verify.nodes import verify_generations
from ocr2_kedro.schemas import GENERATION, PROBLEM, conform
from tests.conftest import kedro_failure
from tests.support.kedro_logging import write_plain_logging
from tests.support.parameters import stage_settings
from tests.support.versions import read_latest, save_versioned

ENV = "resume"
ROWS, BATCH_ROWS = 16, 2


def problems() -> pl.DataFrame:
    return conform(
        [
            {
                "question_id": f"q{i}",
                "source": "bundled",
                "source_id": str(i),
                "question": f"Echo the number, {i}.",
                "test_type": "stdin",
                "tests": [{"input": f"{i}\n", "output": f"{i}\n"}],
                "time_limit_s": 2.0,
            }
            for i in range(4)
        ],
        PROBLEM,
    )


def generations() -> pl.DataFrame:
    # Slow enough (0.4 s a row) that the run can be killed between its batches.
    right = "import time\ntime.sleep(0.4)\nprint(input())"
    wrong = "import time\ntime.sleep(0.4)\nprint(-1)"
    return conform(
        [
            {
                "generation_id": f"g{i:02d}",
                "question_id": f"q{i % 4}",
                "language": "python",
                "sample_idx": i,
                "solution": wrong if i % 3 == 0 else right,
            }
            for i in range(ROWS)
        ],
        GENERATION,
    )


def configure(project: Path, cache_dir: Path) -> dict[str, str]:
    primary = project / "data" / "03_primary"
    save_versioned(primary / "problems_dedup.parquet", problems())
    save_versioned(primary / "generations.parquet", generations())
    conf = project / "conf" / ENV
    conf.mkdir()
    verify = {
        "workers": 1,
        "batch_rows": BATCH_ROWS,
        "progress": False,
        "cache_dir": str(cache_dir),
    }
    (conf / "parameters_verify.yml").write_text(yaml.safe_dump({"verify": verify}))
    (conf / "mlflow.yml").write_text((project / "conf" / "test" / "mlflow.yml").read_text())
    logging_config = write_plain_logging(project)
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "KEDRO_LOGGING_CONFIG": logging_config,
    }


def stored_rows(shard_root: Path) -> int:
    return sum(pl.read_parquet(p).height for p in shard_root.glob("*/batch-*.parquet"))


def deterministic(frame: pl.DataFrame) -> pl.DataFrame:
    # Per-test times vary from run to run.
    return frame.with_columns(pl.col("tests").list.eval(pl.element().struct.field("verdict")))


@pytest.mark.slow
def test_a_killed_verify_run_resumes_from_its_stored_batches(project_copy, tmp_path):
    project = project_copy
    env = configure(project, tmp_path / "cpp")
    shard_root = project / "data" / "02_intermediate" / "verify_shards"
    verifications = project / "data" / "03_primary" / "verifications.parquet"
    command = [str(Path(sys.executable).with_name("kedro")), "run", "--env", ENV]
    command += ["--pipelines", "verify"]
    # A session of its own: the kill reaches kedro and the sandboxes it started, nothing else.
    job = subprocess.Popen(command, cwd=project, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while len(list(shard_root.glob("*/batch-*.parquet"))) < 2:
            assert job.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no batch stored"
            time.sleep(0.02)
        os.killpg(job.pid, signal.SIGKILL)
        job.wait(timeout=60)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
    assert job.returncode == -signal.SIGKILL
    assert not list(verifications.glob("*/verifications.parquet"))  # no table from the killed run
    before = stored_rows(shard_root)
    assert BATCH_ROWS * 2 <= before < ROWS

    rerun = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=600
    )
    log = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, log[-6000:]
    [(rows, resumed, judged)] = re.findall(
        r"verify: (\d+) rows, (\d+) read back from stored batches, (\d+) judged in this run", log
    )
    assert (int(rows), int(resumed), int(judged)) == (ROWS, before, ROWS - before)
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("ocr2_kedro_test")
    [finished] = client.search_runs([experiment.experiment_id], "attributes.status = 'FINISHED'")
    assert finished.data.metrics["verify_rows_resumed"] == before
    assert finished.data.metrics["verify_rows_judged"] == ROWS - before

    # The resumed table is the table of a clean run (same inputs, nothing stored).
    resumed_table = read_latest(verifications)
    clean = pl.concat(
        verify_generations(
            generations().lazy(),
            problems(),
            stage_settings(
                "verify",
                {
                    "workers": 1,
                    "progress": False,
                    "batch_rows": 5,
                    "cache_dir": str(tmp_path / "cpp"),
                    "resume": {"shard_dir": None},
                },
            ),
        )
    )
    assert deterministic(resumed_table).equals(deterministic(clean))
    assert resumed_table["verdict"].to_list() == ["WA" if i % 3 == 0 else "AC" for i in range(ROWS)]


@pytest.mark.slow
def test_an_unknown_verify_setting_stops_the_run_before_any_node(project_copy, tmp_path):
    project = project_copy
    configure(project, tmp_path / "cpp")
    output = kedro_failure(
        project,
        "run",
        "--env",
        ENV,
        "--pipelines",
        "verify",
        "--params",
        "verify.time_limt_s=2,verify.max_tests=-1",
    )
    assert "verify.time_limt_s: unknown key" in output
    assert "verify.max_tests: Input should be greater than 0 (got -1)" in output
    assert "before_pipeline_run" in output  # the start-of-run check, not the node
    assert "verify: batch" not in output
