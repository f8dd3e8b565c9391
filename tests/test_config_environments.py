"""Every config environment loads, resolves its catalog and parameters, and validates without a GPU."""

from __future__ import annotations

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog

from ocr2_kedro import preflight
from ocr2_kedro.parameters.project import validate_parameters
from ocr2_kedro.pipeline_registry import register_pipelines
from ocr2_kedro.settings import CONFIG_LOADER_ARGS
from tests.conftest import REPO
from tests.support.parameters import stage_settings

ENVIRONMENTS = ("base", "paper", "test")


def load(env: str) -> OmegaConfigLoader:
    args = {**CONFIG_LOADER_ARGS, "default_run_env": env}
    return OmegaConfigLoader(conf_source=str(REPO / "conf"), **args)


@pytest.fixture(scope="module")
def pipelines():
    from kedro.framework.project import configure_project

    configure_project("ocr2_kedro")
    return register_pipelines()


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_resolves_catalog_and_parameters(env, pipelines):
    config = load(env)
    parameters = config["parameters"]
    catalog = DataCatalog.from_config(config["catalog"])
    catalog["parameters"] = parameters

    # Every dataset a registered pipeline reads or writes is either declared (or matched by a
    # factory) or an intermediate kept in memory; every parameter it asks for exists.
    flat = _flatten(parameters)
    for name, pipeline in pipelines.items():
        for dataset in pipeline.datasets():
            if dataset.startswith("params:"):
                assert dataset.removeprefix("params:") in flat, f"{env}: {name} needs {dataset}"

    # Every stage's settings validate (types, ranges, cross-field rules, ablation variants).
    settings = validate_parameters(parameters)
    assert settings["generation"].samples_per_question >= 1


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_versioned_tables_are_versioned(env):
    catalog = load(env)["catalog"]
    for name in ("problems", "problems_dedup", "generations", "verifications", "ocr2_export"):
        assert catalog[name].get("versioned") is True, f"{env}: {name} must be versioned"


def test_paper_environment_overrides_the_embedded_default():
    base, paper = load("base")["parameters"], load("paper")["parameters"]
    assert base["generation"]["model"] == "embedded"
    # Overrides merge into the base settings instead of replacing the whole block.
    assert load("test")["parameters"]["generation"]["languages"] == base["generation"]["languages"]
    assert paper["generation"]["model"] != "embedded"
    assert paper["generation"]["sampling"]["temperature"] == 0.6
    assert paper["generation"]["sampling"]["top_p"] == 0.95
    assert paper["generation"]["vllm"]["tensor_parallel_size"] > 1
    # The bundled toy questions (with their planted leak) stay out of a paper-scale run.
    assert paper["ingestion"]["bundled"]["source"]["enabled"] is False
    assert paper["ingestion"]["ocr2"]["enabled"] is True
    # Evaluation as the papers report it: 64 samples at 0.6 / 0.95, LiveCodeBench windows.
    evaluation = paper["evaluation"]
    assert evaluation["samples_per_problem"] == 64 and evaluation["temperatures"][0] == 0.6
    assert (
        evaluation["sampling"]["top_p"] == 0.95
        and evaluation["execution"]["compare_mode"] == "lines"
    )
    assert set(evaluation["windows"]) == {"lcb_2408_2502", "lcb_2408_2505"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_training_settings_validate(env, monkeypatch):
    monkeypatch.chdir(REPO)  # model and DeepSpeed config paths are relative to the project
    settings = stage_settings("training", env=env)
    # Stage settings merge over the environment's common ones; none may leak in from conf/base.
    length = load(env)["parameters"]["training"]["trainer"]["max_length"]
    assert settings.trainer_for("stage1").max_length == length
    assert settings.trainer_for("stage2").max_length == length


def test_paper_training_without_flash_attn_is_reported_at_start(monkeypatch):
    monkeypatch.chdir(REPO)
    real = preflight.importlib.util.find_spec
    monkeypatch.setattr(
        preflight.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "flash_attn" else real(name, *args),
    )
    needs = stage_settings("training", env="paper").requirements()
    message = "\n".join(preflight.check_requirements(r for r in needs if r.kind == "component"))
    assert "training.trainer.attn_implementation: component 'flash_attn'" in message
    assert "`flash_attn` module, which is not installed" in message
    assert "flash-attn" in message and ".[gpu,dev]" in message


SITE = {
    "OCR2_TEACHER_BACKEND": "openai",
    "OCR2_TEACHER_ENDPOINTS": "http://node1:8000/v1, http://node2:8000/v1",
    "OCR2_TEACHER_MODEL": "/shared/models/DeepSeek-R1",
    "OCR2_CRITIC_MODEL": "/shared/models/QwQ-32B",
    "OCR2_CRITIC_BACKEND": "openai",
    "OCR2_CRITIC_ENDPOINTS": "http://node3:8000/v1",
    "OCR2_STUDENT_MODEL": "/shared/models/Qwen2.5-7B-Instruct",
    "MLFLOW_TRACKING_URI": "http://mlflow.internal:5000",
}


def test_paper_reads_site_settings_from_the_environment(monkeypatch):
    """`--env paper` never reads conf/local: endpoints, model paths and the tracking server come
    from environment variables (README: Pointing the project at a GPU cluster)."""
    for name in SITE:
        monkeypatch.delenv(name, raising=False)
    default = load("paper")["parameters"]
    assert default["generation"]["backend"] == "vllm"
    assert default["generation"]["openai"]["endpoints"] == []
    assert default["generation"]["tokenizer"] == default["generation"]["model"]
    assert default["training"]["student"] == "Qwen/Qwen2.5-7B-Instruct"

    for name, value in SITE.items():
        monkeypatch.setenv(name, value)
    config = load("paper")
    parameters = config["parameters"]
    generation, critique = parameters["generation"], parameters["critique"]
    assert generation["backend"] == "openai"
    assert generation["openai"]["endpoints"] == ["http://node1:8000/v1", "http://node2:8000/v1"]
    assert generation["model"] == generation["tokenizer"] == "/shared/models/DeepSeek-R1"
    # Everything else in the block still comes from conf/paper and conf/base.
    assert generation["sampling"]["temperature"] == 0.6
    assert generation["openai"]["max_concurrency"] == 512
    assert (critique["backend"], critique["model"]) == ("openai", "/shared/models/QwQ-32B")
    assert critique["openai"]["endpoints"] == ["http://node3:8000/v1"]
    judge = parameters["dedup"]["semantic"]["llm_judge"]["generation"]
    assert judge["model"] == "/shared/models/QwQ-32B"
    assert judge["openai"]["endpoints"] == ["http://node3:8000/v1"]
    assert parameters["training"]["student"] == "/shared/models/Qwen2.5-7B-Instruct"
    config.config_patterns["mlflow"] = ["mlflow*", "mlflow*/**"]
    assert config["mlflow"]["server"]["mlflow_tracking_uri"] == "http://mlflow.internal:5000"
    # The resolved generation settings build the HTTP backend they name.
    from ocr2_kedro.generation import create_backend

    backend = create_backend(generation)
    assert backend.endpoints == ["http://node1:8000/v1", "http://node2:8000/v1"]


def test_mlflow_config_uses_sqlite_store():
    config = load("base")
    config.config_patterns["mlflow"] = ["mlflow*", "mlflow*/**"]
    assert config["mlflow"]["server"]["mlflow_tracking_uri"].startswith("sqlite:///")


def _flatten(params: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in params.items():
        name = f"{prefix}{key}"
        keys.add(name)
        if isinstance(value, dict):
            keys |= _flatten(value, f"{name}.")
    return keys
