"""Verify pipeline: the node wraps verify_frame with the settings of every config environment, batch by
batch over a lazy scan of the generations, into a streaming dataset."""

from __future__ import annotations

import polars as pl
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from ocr2_kedro.datasets import StreamingParquetDataset
from ocr2_kedro.execution import verify_frame
from ocr2_kedro.parameters import ParametersError
from ocr2_kedro.pipelines.verify import create_pipeline
from ocr2_kedro.pipelines.verify.nodes import verdict_summary, verify_generations
from ocr2_kedro.schemas import GENERATION, PROBLEM, VERIFICATION, conform
from tests.support.parameters import stage_settings


def frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    problems = conform(
        [
            {
                "question_id": "q1",
                "test_type": "stdin",
                "tests": [{"input": "2\n", "output": "4\n"}],
                "time_limit_s": 1.0,
            }
        ],
        PROBLEM,
    )
    generations = conform(
        [
            {
                "generation_id": "g-ok",
                "question_id": "q1",
                "language": "python",
                "solution": "print(int(input()) * 2)",
            },
            {
                "generation_id": "g-wa",
                "question_id": "q1",
                "language": "python",
                "solution": "print(5)",
            },
            {
                "generation_id": "g-none",
                "question_id": "q1",
                "language": "python",
                "solution": None,
            },
        ],
        GENERATION,
    )
    return generations, problems


def settings(**overrides):
    """conf/base's verify settings, one sandbox, quiet, nothing stored unless asked."""
    return stage_settings(
        "verify",
        {"workers": 1, "progress": False, "resume": {"shard_dir": None}, **overrides},
    )


@pytest.mark.parametrize("env", ["base", "test", "paper"])
def test_every_environment_has_valid_verify_settings(env):
    verify = stage_settings("verify", env=env)
    assert verify.backend in ("local", "ray")
    assert verify.workers >= 1 and verify.batch_rows >= 1
    # The sandbox's isolation settings are spelled out, strict by default.
    assert verify.allow_weak_isolation is False and "sandbox_uids" in verify.model_fields_set
    assert verify.resume.shard_dir


def test_pipeline_runs_on_test_settings(tmp_path):
    """As the catalog runs it: generations scanned from a parquet file, verifications written by
    the streaming dataset batch by batch (one row per batch here)."""
    generations, problems = frames()
    verify = stage_settings(
        "verify",
        {
            "cache_dir": str(tmp_path / "cpp"),
            "batch_rows": 1,
            "resume": {"shard_dir": str(tmp_path / "verify_shards")},
        },
        env="test",
    )
    stored = StreamingParquetDataset(filepath=str(tmp_path / "generations.parquet"))
    stored.save(generations)
    verifications = StreamingParquetDataset(filepath=str(tmp_path / "verifications.parquet"))
    catalog = DataCatalog(
        {
            "generations": stored,
            "problems_dedup": MemoryDataset(problems),
            "params:verify": MemoryDataset(verify),
            "verifications": verifications,
        }
    )
    SequentialRunner().run(create_pipeline(), catalog)
    written = verifications.load().collect()
    assert written.schema == VERIFICATION
    assert written["verdict"].to_list() == ["AC", "WA", "CE"]


@pytest.mark.parametrize("batch_rows", [1, 2, 1000])
def test_batches_give_the_result_of_one_verify_frame_call(tmp_path, batch_rows):
    generations, problems = frames()
    # A second question whose generations interleave with the first's, and one with no problem.
    problems = pl.concat(
        [problems, problems.with_columns(pl.lit("q2").alias("question_id"))], how="vertical"
    )
    generations = pl.concat(
        [
            generations,
            generations.with_columns(
                pl.col("generation_id") + "-2", pl.lit("q2").alias("question_id")
            ),
            generations.head(1).with_columns(
                pl.lit("g-orphan").alias("generation_id"), pl.lit("q9").alias("question_id")
            ),
        ]
    )
    judging = {"progress": False, "cache_dir": str(tmp_path), "max_tests": 5}
    expected = verify_frame(generations, problems, **judging)
    batches = list(
        verify_generations(generations.lazy(), problems, settings(**judging, batch_rows=batch_rows))
    )
    assert len(batches) == -(-generations.height // batch_rows)
    result = pl.concat(batches)

    def deterministic(frame: pl.DataFrame) -> pl.DataFrame:
        # Per-test times vary run to run; `isolation` lists the layers of a sandbox once it has
        # started, and a batch holding only a missing solution never starts one.
        return frame.drop("isolation").with_columns(
            pl.col("tests").list.eval(pl.element().struct.field("verdict"))
        )

    assert deterministic(result).equals(deterministic(expected))
    assert result["verdict"].to_list() == ["AC", "WA", "CE", "AC", "WA", "CE", "SE"]


def test_bad_input_is_refused_before_any_batch_runs(tmp_path):
    generations, problems = frames()
    twice = pl.concat([generations, generations.head(1)])
    with pytest.raises(ValueError, match="duplicate generation_id values: \\['g-ok'\\]"):
        verify_generations(twice.lazy(), problems, settings())
    with pytest.raises(ValueError, match="lacks columns \\['solution'\\]"):
        verify_generations(generations.drop("solution"), problems, settings())
    # Settings that cannot work never reach the node: the model refuses them.
    with pytest.raises(ParametersError, match=r"verify\.batch_rows: "):
        settings(batch_rows=-1)
    # No generations: one empty batch with the verification schema.
    (empty,) = verify_generations(generations.head(0), problems, settings())
    assert empty.height == 0 and empty.schema == VERIFICATION


def test_node_with_lines_mode_and_summary(tmp_path):
    generations, problems = frames()
    result = pl.concat(
        verify_generations(
            generations,
            problems,
            settings(workers=2, compare_mode="lines", cache_dir=str(tmp_path)),
        )
    )
    summary = verdict_summary(result)
    assert summary["verify_share_AC"] == pytest.approx(1 / 3)
    assert summary["verify_mean_pass_rate"] == pytest.approx(1 / 3)
    with pytest.raises(ParametersError, match=r"verify\.compare_mode: "):
        settings(compare_mode="fuzzy")


def test_summary_counts_truncated_test_lists_and_isolation_layers(tmp_path):
    generations, problems = frames()
    five_tests = [{"input": f"{i}\n", "output": f"{2 * i}\n"} for i in range(5)]
    problems = problems.with_columns(pl.lit(five_tests).alias("tests"))
    result = pl.concat(
        verify_generations(generations, problems, settings(cache_dir=str(tmp_path), max_tests=2))
    )
    assert result["tests_truncated"].to_list() == [3, 3, 3]
    summary = verdict_summary(result)
    assert summary["verify_rows_tests_truncated"] == 3
    layers = set(result["isolation"][0])
    assert layers  # the sandbox started for the first row and says what was in force
    assert all(set(row) == layers for row in result["isolation"])
    assert {k for k in summary if k.startswith("verify_rows_isolation_")} == {
        f"verify_rows_isolation_{layer}" for layer in layers
    }
    assert all(summary[f"verify_rows_isolation_{layer}"] == 1.0 for layer in layers)
    # A row without layers (e.g. a table written before the column) lowers the share.
    older = pl.concat(
        [result, result.head(1).with_columns(pl.lit([], pl.List(pl.String)).alias("isolation"))]
    )
    assert verdict_summary(older)[f"verify_rows_isolation_{next(iter(layers))}"] == 0.75
