"""API keys stay out of MLflow: a real `kedro run` of the generation pipeline against an
OpenAI-compatible server on loopback takes its key from the environment (the server receives it), and
the run's local MLflow store (sqlite) holds it in no parameter, tag or anywhere else; a key given
as a parameter (conf or `--params`) stops the run before kedro-mlflow logs anything
(`SecretParametersHook`)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import yaml

from ocr2_kedro.generation import Completion
from ocr2_kedro.schemas import PROBLEM, conform
from tests.support.openai_server import serve
from tests.support.versions import save_versioned

ENV = "loopback"
KEY = "sk-test-3f9a1c7e5b2d4068"
LITERAL_KEY = "sk-literal-8e21d0c4a7f94b63"


class ScriptedTeacher:
    model_name = "scripted"

    def generate(self, requests, sampling):
        text = "<think>Print it.</think>\n```python\nprint(1)\n```"
        return [Completion(r.request_id, text, "stop", 5, "scripted") for r in requests]


def configure(project: Path, url: str) -> None:
    """A run environment whose generation goes to the loopback server, and its MLflow store."""
    conf = project / "conf" / ENV
    conf.mkdir()
    (conf / "parameters_generation.yml").write_text(
        yaml.safe_dump(
            {
                "generation": {
                    "backend": "openai",
                    "model": "scripted",
                    "openai": {"endpoints": [url], "backoff_s": 0.05},
                    "languages": ["python"],
                    "max_question_tokens": None,
                    "samples_per_question": 1,
                    "sampling": {"max_tokens": 16},
                }
            }
        )
    )
    (conf / "mlflow.yml").write_text((project / "conf" / "test" / "mlflow.yml").read_text())
    problems = conform(
        [
            {
                "question_id": "q1",
                "source": "bundled",
                "source_id": "1",
                "question": "Print 1.",
                "test_type": "stdin",
                "tests": [{"input": "", "output": "1\n"}],
            }
        ],
        PROBLEM,
    )
    save_versioned(project / "data" / "03_primary" / "problems_dedup.parquet", problems)


def store_text(project: Path) -> str:
    """Every value of every table of the MLflow sqlite store, and every artifact file, as text."""
    parts = []
    with sqlite3.connect(project / "mlflow.db") as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            parts += [repr(row) for row in db.execute(f'SELECT * FROM "{table}"')]
    for path in project.rglob("*"):
        if path.is_file() and "mlartifacts" in path.parts:
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def logged(project: Path) -> list[mlflow.entities.Run]:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("ocr2_kedro_test")
    return client.search_runs([experiment.experiment_id]) if experiment else []


@pytest.mark.slow
def test_the_key_from_the_environment_reaches_the_server_and_never_mlflow(project_copy):
    project = project_copy
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TEACHER_API_KEY": KEY}
    env.pop("OPENAI_API_KEY", None)
    with serve(ScriptedTeacher()) as (url, state):
        configure(project, url)
        kedro = Path(sys.executable).with_name("kedro")
        proc = subprocess.run(
            [
                str(kedro),
                "run",
                "--env",
                ENV,
                "--pipelines",
                "generation",
                # The variable's name is a setting like any other (and is logged); the key is not.
                "--params",
                "generation.openai.api_key_env=TEACHER_API_KEY",
            ],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert state.authorizations == [f"Bearer {KEY}"]
    [run] = logged(project)
    # The run logged the generation settings (so there was something to leak into) ...
    assert run.data.params["generation.openai.api_key_env"] == "TEACHER_API_KEY"
    assert run.data.params["generation.openai.endpoints"] == str([url])
    # ... and the key is in no parameter, no tag, nowhere in the store or its artifacts.
    for name, value in {**run.data.params, **run.data.tags}.items():
        assert KEY not in value, name
    assert KEY not in store_text(project)
    assert KEY not in proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("where", ["conf", "--params"])
def test_a_literal_key_stops_the_run_before_anything_is_logged(project_copy, where):
    project = project_copy
    with serve(ScriptedTeacher()) as (url, state):
        configure(project, url)
        args = ["run", "--env", ENV, "--pipelines", "generation"]
        if where == "conf":
            conf = project / "conf" / ENV / "parameters_generation.yml"
            parameters = yaml.safe_load(conf.read_text())
            parameters["generation"]["openai"]["api_key"] = LITERAL_KEY
            conf.write_text(yaml.safe_dump(parameters))
        else:
            args += ["--params", f"generation.openai.api_key={LITERAL_KEY}"]
        kedro = Path(sys.executable).with_name("kedro")
        proc = subprocess.run(
            [str(kedro), *args], cwd=project, capture_output=True, text=True, timeout=300
        )
    output = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0, output[-3000:]
    assert "generation.openai.api_key: an API key may not be given as a parameter" in output
    assert "api_key_env" in output
    assert state.requests == 0
    # Refused before kedro-mlflow opened its run: no run, no parameter, no tag with the key.
    assert logged(project) == []
    if (project / "mlflow.db").exists():
        assert LITERAL_KEY not in store_text(project)


def test_the_variable_name_is_the_only_key_setting_in_every_environment():
    """conf/base and conf/paper name the variable (OPENAI_API_KEY) and hold no key."""
    from kedro.config import OmegaConfigLoader

    from ocr2_kedro.generation.openai_backend import refuse_literal_api_keys
    from ocr2_kedro.settings import CONFIG_LOADER_ARGS
    from tests.conftest import REPO

    for env in ("base", "paper", "test"):
        args = {**CONFIG_LOADER_ARGS, "default_run_env": env}
        parameters = OmegaConfigLoader(str(REPO / "conf"), **args)["parameters"]
        refuse_literal_api_keys(parameters)
        for stage in ("generation", "critique", "evaluation"):
            assert parameters[stage]["openai"]["api_key_env"] == "OPENAI_API_KEY", (env, stage)
