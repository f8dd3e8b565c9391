"""Two driver processes split one generation job (a job array on loopback): `kedro run --tags shards`
with driver index 0 and 1 of 2 against one OpenAI-compatible server, then a collecting run that must
find every chunk done and send nothing; its table equals a single-driver run's. Then the critique
of that table, split the same way by two driver processes and collected."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import mlflow
import polars as pl
import pytest
import yaml
from kedro.config import OmegaConfigLoader

from ocr2_kedro.generation import Completion
from ocr2_kedro.parameters import validate_settings
from ocr2_kedro.parameters.generation import GenerationSettings
from ocr2_kedro.pipelines.generation.nodes import (
    build_generation_requests,
    collect_generations,
    generate_solutions,
)
from ocr2_kedro.schemas import PROBLEM, conform
from ocr2_kedro.settings import CONFIG_LOADER_ARGS
from tests.conftest import run_kedro
from tests.support.kedro_logging import write_plain_logging
from tests.support.openai_server import serve
from tests.support.versions import save_versioned

ENV = "loopback"


class ScriptedModel:
    """Teacher and critic: a solution in the asked language, or a critique with a judgement (every
    third one without, so the follow-up turn runs), derived from the prompt alone."""

    model_name = "scripted"

    def generate(self, requests, sampling):
        out = []
        for request in requests:
            prompt = request.messages[0]["content"]
            number = sum(map(ord, prompt)) % 97
            if request.messages[-1]["role"] == "user" and len(request.messages) > 1:
                text = "Judgement: wrong"  # the follow-up turn
            elif prompt.startswith("You are reviewing"):
                verdict = ("right", "wrong", None)[number % 3]
                text = "<think>Checking.</think>\nLooks fine." + (
                    f"\nJudgement: {verdict}" if verdict else ""
                )
            elif "C++17" in prompt:
                text = f"<think>Easy.</think>\n```cpp\nint main(){{return {number % 2};}}\n```"
            else:
                text = f"<think>Easy.</think>\n```python\nprint({number})\n```"
            out.append(Completion(request.request_id, text, "stop", len(text.split()), "scripted"))
        return out


def problems() -> pl.DataFrame:
    return conform(
        [
            {
                "question_id": f"q{i}",
                "source": "bundled",
                "source_id": str(i),
                "question": f"Print the number {i} times {i}.",
                "test_type": "stdin",
                "tests": [{"input": "", "output": f"{i * i}\n"}],
            }
            for i in range(5)
        ],
        PROBLEM,
    )


def configure(project: Path, url: str) -> dict[str, str]:
    """A run environment pointing generation and critique at the loopback server, and plain logs."""
    conf = project / "conf" / ENV
    conf.mkdir()
    endpoint = {"endpoints": [url], "max_concurrency": 2, "backoff_s": 0.05}
    small = {"backend": "openai", "model": "scripted", "openai": endpoint}
    (conf / "parameters_generation.yml").write_text(
        yaml.safe_dump(
            {
                "generation": {
                    **small,
                    "max_question_tokens": None,  # no tokenizer to load in each process
                    "samples_per_question": 2,
                    "sampling": {"max_tokens": 32},
                    "resume": {"chunk_size": 3},  # 5 questions x 2 languages x 2: 7 chunks
                }
            }
        )
    )
    (conf / "parameters_critique.yml").write_text(
        yaml.safe_dump(
            {"critique": {**small, "resume": {"chunk_size": 3}}}
        )  # 20 critiques: 7 chunks
    )
    (conf / "mlflow.yml").write_text((project / "conf" / "test" / "mlflow.yml").read_text())
    logging_config = write_plain_logging(project)
    # The drivers start together: the tracking store and experiment exist before they do.
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    client.create_experiment("ocr2_kedro_test")
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "KEDRO_LOGGING_CONFIG": logging_config,
    }


def drivers(project: Path, env: dict[str, str], stage: str) -> list[str]:
    """Driver 0 and 1 of 2 of `stage`, as two concurrent `kedro run` processes; their logs."""
    kedro = Path(sys.executable).with_name("kedro")
    jobs = [
        subprocess.Popen(
            [
                str(kedro),
                "run",
                "--env",
                ENV,
                "--pipelines",
                stage,
                "--tags",
                "shards",
                "--params",
                f"{stage}.drivers.index={index},{stage}.drivers.count=2",
            ],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for index in (0, 1)
    ]
    logs = [job.communicate(timeout=300)[0] for job in jobs]
    for job, log in zip(jobs, logs, strict=True):
        assert job.returncode == 0, log[-6000:]
    return logs


def collect(project: Path, stage: str) -> None:
    """The collecting run of `stage`: it must find every chunk done (require_complete)."""
    run_kedro(
        project,
        "run",
        "--env",
        ENV,
        "--pipelines",
        stage,
        "--params",
        f"{stage}.drivers.require_complete=true",
    )


def completed_chunks(log: str) -> set[int]:
    [found] = re.findall(r"driver \d of 2 completed chunks \[([\d, -]*)\]", log)
    chunks: set[int] = set()
    for part in filter(None, found.split(", ")):
        first, _, last = part.partition("-")
        chunks.update(range(int(first), int(last or first) + 1))
    return chunks


def chunk_files(shard_root: Path) -> list[Path]:
    return sorted(shard_root.glob("*/chunk-*.parquet"))


def versions(path: Path) -> list[pl.DataFrame]:
    return [pl.read_parquet(v / path.name) for v in sorted(path.iterdir())]


@pytest.mark.slow
def test_two_driver_processes_split_generation_then_a_run_collects(project_copy, tmp_path):
    project = project_copy
    save_versioned(project / "data" / "03_primary" / "problems_dedup.parquet", problems())
    primary = project / "data" / "03_primary"
    with serve(ScriptedModel()) as (url, state):
        env = configure(project, url)
        logs = drivers(project, env, "generation")
        owned = [completed_chunks(log) for log in logs]
        assert owned == [{0, 2, 4, 6}, {1, 3, 5}]  # chunk i belongs to driver i % 2
        shards = chunk_files(project / "data" / "02_intermediate" / "generation_shards")
        assert sorted(int(p.name.split("-")[1]) for p in shards) == list(range(7))
        ids = [pl.read_parquet(p)["request_id"].to_list() for p in shards]
        assert sum(map(len, ids)) == len({i for chunk in ids for i in chunk}) == 20  # disjoint
        assert state.requests == 20  # every request sent once, by one driver
        assert not (primary / "generations.parquet").exists()  # drivers write shards only
        # Each driver's manifest is in its own MLflow run, tagged with the chunks it completed.
        client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
        experiment = client.get_experiment_by_name("ocr2_kedro_test")
        runs = {
            run.data.tags["generation.driver"]: run
            for run in client.search_runs([experiment.experiment_id])
        }
        assert sorted(runs) == ["0/2", "1/2"]
        assert runs["0/2"].data.tags["generation.completed_chunks"] == "0, 2, 4, 6"
        for driver, run in runs.items():
            index = driver.split("/")[0]
            names = [a.path for a in client.list_artifacts(run.info.run_id, "shards")]
            assert names == [f"shards/generation-driver-{index}-of-2.json"]

        collect(project, "generation")
        assert state.requests == 20  # the collecting run generated nothing

        # The same job by a single driver (a shard directory of its own) gives the same table.
        raw = OmegaConfigLoader(
            str(project / "conf"), **{**CONFIG_LOADER_ARGS, "default_run_env": ENV}
        )["parameters"]["generation"]
        raw["resume"]["shard_dir"] = str(tmp_path / "single_driver")
        params = validate_settings(GenerationSettings, raw, "generation")
        requests = pl.concat(
            build_generation_requests(problems(), language, params)[0].collect()
            for language in params.languages
        )
        single = pl.concat(
            collect_generations(requests, generate_solutions(requests, params), params)
        )
        assert state.requests == 40
        [collected] = versions(primary / "generations.parquet")
        assert collected.height == 20 and collected["solution"].null_count() == 0
        assert collected.equals(single)

        # The critique of those 20 solutions, split by two driver processes in the same way.
        logs = drivers(project, env, "critique")
        assert [completed_chunks(log) for log in logs] == [{0, 2, 4, 6}, {1, 3, 5}]
        sent = state.requests - 40  # 20 critiques and the follow-ups of those without a verdict
        assert sent > 20
        collect(project, "critique")
        assert state.requests == 40 + sent  # the collecting run sent nothing
    [critiques] = versions(primary / "critiques.parquet")
    assert critiques.height == 20
    assert set(critiques["generation_id"]) == set(collected["generation_id"])
