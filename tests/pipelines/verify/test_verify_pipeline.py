"""Verify pipeline: the node wraps verify_frame with the settings of every config environment."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from ocr2_kedro.execution.batch import DEFAULT_SETTINGS
from ocr2_kedro.pipelines.verify import create_pipeline
from ocr2_kedro.pipelines.verify.nodes import verdict_summary, verify_generations
from ocr2_kedro.schemas import GENERATION, PROBLEM, VERIFICATION, conform
from ocr2_kedro.settings import CONFIG_LOADER_ARGS

CONF = Path(__file__).resolve().parents[3] / "conf"


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


def verify_params(env: str) -> dict:
    loader = OmegaConfigLoader(str(CONF), **{**CONFIG_LOADER_ARGS, "default_run_env": env})
    return loader["parameters"]["verify"]


@pytest.mark.parametrize("env", ["base", "test", "paper"])
def test_every_environment_has_valid_verify_settings(env):
    params = verify_params(env)
    assert params["backend"] in ("local", "ray")
    assert int(params["workers"]) >= 1
    unknown = (
        set(params)
        - set(DEFAULT_SETTINGS)
        - {"workers", "backend", "ray_address", "ray_batch_size", "progress"}
    )
    assert not unknown


def test_pipeline_runs_on_test_settings(tmp_path):
    generations, problems = frames()
    params = dict(verify_params("test"), cache_dir=str(tmp_path / "cpp"))
    catalog = DataCatalog(
        {
            "generations": MemoryDataset(generations),
            "problems_dedup": MemoryDataset(problems),
            "params:verify": MemoryDataset(params),
            "verifications": MemoryDataset(),
        }
    )
    SequentialRunner().run(create_pipeline(), catalog)
    verifications = catalog.load("verifications")
    assert verifications.schema == VERIFICATION
    assert verifications["verdict"].to_list() == ["AC", "WA", "CE"]


def test_node_with_lines_mode_and_summary(tmp_path):
    generations, problems = frames()
    result = verify_generations(
        generations,
        problems,
        {"workers": 2, "compare_mode": "lines", "progress": False, "cache_dir": str(tmp_path)},
    )
    summary = verdict_summary(result)
    assert summary["verify_share_AC"] == pytest.approx(1 / 3)
    assert summary["verify_mean_pass_rate"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="compare_mode"):
        verify_generations(generations, problems, {"compare_mode": "fuzzy", "progress": False})
