"""Every config environment loads, resolves its catalog and parameters, and validates without a GPU."""

from __future__ import annotations

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog

from ocr2_kedro.generation import BACKENDS, SamplingConfig
from ocr2_kedro.pipeline_registry import register_pipelines
from ocr2_kedro.pipelines.training.nodes import validate_training_config
from ocr2_kedro.settings import CONFIG_LOADER_ARGS
from tests.conftest import REPO

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

    generation = parameters["generation"]
    assert generation["backend"] in BACKENDS
    SamplingConfig.from_dict(generation["sampling"])
    assert set(generation["languages"]) <= {"python", "cpp"}
    assert generation["samples_per_question"] >= 1


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


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_training_plan_validates(env, monkeypatch):
    monkeypatch.chdir(REPO)  # model and DeepSpeed config paths are relative to the project
    training = load(env)["parameters"]["training"]
    plan = validate_training_config(training)
    # Stage settings merge over the environment's common ones; none may leak in from conf/base.
    length = training["trainer"]["max_length"]
    assert plan["stage1"]["max_length"] == plan["stage2"]["max_length"] == length


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
